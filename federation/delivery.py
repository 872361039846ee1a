"""Delivery retry policy and per-host circuit breaker: pure decisions, no I/O, no storage.

The application keeps one delivery row per (activity, inbox) with its attempt count, first
attempt time and next attempt time, and one breaker row per host; after every attempt it
calls :func:`decide` and persists the :class:`Decision`. Every attempt is re-signed, so the
``Date`` header stays inside the receiver's window however late the retry.

What counts as final follows Mastodon's ``ActivityPub::DeliveryWorker`` (mastodon-interop
§4.1): any 2xx is success; a 4xx other than 401, 408 and 429 is "unsalvageable" and dropped
without retry, and so is 501; everything else -- other 5xx, 401 (the receiver may not have our
new key yet), 408, 429, timeouts and connection errors -- is retried with backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "FORBIDDEN_ADDRESS",
    "BreakerPolicy",
    "Decision",
    "Outcome",
    "RetryPolicy",
    "breaker_open",
    "breaker_retry_at",
    "decide",
    "is_host_failure",
    "nominal_delays",
]

#: The ``error`` the application passes when the client refused the address (SSRF policy).
FORBIDDEN_ADDRESS = "forbidden_address"

_RETRYABLE_4XX = frozenset({401, 408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, a ``Retry-After`` cap and a give-up deadline.

    ``max_attempts`` counts every attempt, the first included. The nominal wait after
    attempt *n* is ``base_seconds * factor**(n-1)``, capped at ``max_interval_seconds``;
    each wait is then scaled by a random factor in ``[1 - jitter, 1 + jitter]`` so that
    deliveries failing together do not retry together.

    With the defaults the 15 waits are 1, 2, 4, 8, 16, 32, 64, 128 and 256 minutes, then six
    of 8 hours: 203,460 s, about 2.35 days (1.9 to 2.8 days with jitter) -- the span of
    Mastodon's DeliveryWorker (16 retries after ``n**4 + 15 + rand(0.5 * n**4)`` seconds,
    about 2.1 to 3.1 days), with more of the attempts early, when most outages end.
    ``give_up_after_seconds`` bounds the total whatever ``Retry-After`` asks for.
    """

    max_attempts: int = 16
    base_seconds: float = 60.0
    factor: float = 2.0
    max_interval_seconds: float = 8 * 3600.0
    jitter: float = 0.2
    max_retry_after_seconds: float = 24 * 3600.0
    give_up_after_seconds: float = 3 * 86400.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_seconds <= 0 or self.max_interval_seconds <= 0:
            raise ValueError("base_seconds and max_interval_seconds must be positive")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.max_retry_after_seconds < 0 or self.give_up_after_seconds <= 0:
            raise ValueError("max_retry_after_seconds and give_up_after_seconds are durations")


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Decision:
    """What to do with a delivery after an attempt; ``next_attempt_at`` is set for RETRY."""

    outcome: Outcome
    next_attempt_at: datetime | None
    reason: str


def _nominal_delay(policy: RetryPolicy, attempts_made: int) -> float:
    """The un-jittered wait after ``attempts_made`` attempts; computed without overflow."""
    delay = policy.base_seconds
    for _ in range(max(0, attempts_made - 1)):
        if delay >= policy.max_interval_seconds:
            break
        delay *= policy.factor
    return min(delay, policy.max_interval_seconds)


def nominal_delays(policy: RetryPolicy) -> tuple[float, ...]:
    """The un-jittered waits between consecutive attempts (``max_attempts - 1`` of them)."""
    return tuple(_nominal_delay(policy, n) for n in range(1, policy.max_attempts))


def _classify(status: int | None, error: str | None) -> tuple[Outcome | None, str]:
    """DELIVERED or GIVE_UP when the answer is final, None when it is worth retrying."""
    if error == FORBIDDEN_ADDRESS:
        # The address policy will refuse it again; only the operator can change that.
        return Outcome.GIVE_UP, "the inbox address is not allowed (private or reserved)"
    if status is None:
        return None, f"no answer: {error or 'unknown error'}"
    if 200 <= status < 300:
        return Outcome.DELIVERED, f"HTTP {status}"
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        # Mastodon's response_error_unsalvageable?: the same request will be refused again.
        return Outcome.GIVE_UP, f"HTTP {status}: refused by the receiver"
    if status == 501:
        return Outcome.GIVE_UP, "HTTP 501: the receiver does not implement this"
    return None, f"HTTP {status}"


def decide(
    policy: RetryPolicy,
    *,
    attempts_made: int,
    first_attempt_at: datetime,
    now: datetime,
    status: int | None,
    retry_after: float | None,
    error: str | None,
    rng: random.Random,
) -> Decision:
    """Decide after an attempt. ``attempts_made`` includes the attempt just made.

    ``status`` is the HTTP status, or None when there was no answer (then ``error`` says why;
    pass :data:`FORBIDDEN_ADDRESS` for an SSRF refusal). ``retry_after`` is the answer's
    ``Retry-After`` in seconds: the next attempt is never earlier than it, up to
    ``max_retry_after_seconds`` (a peer asking for a week does not get to park our queue).
    """
    if attempts_made < 1:
        raise ValueError("attempts_made counts the attempt just made, so it is at least 1")
    final, reason = _classify(status, error)
    if final is not None:
        return Decision(final, None, reason)
    if attempts_made >= policy.max_attempts:
        return Decision(Outcome.GIVE_UP, None, f"{reason}; {attempts_made} attempts made")

    delay = _nominal_delay(policy, attempts_made)
    delay *= rng.uniform(1 - policy.jitter, 1 + policy.jitter)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, policy.max_retry_after_seconds))
    next_at = now + timedelta(seconds=delay)
    deadline = first_attempt_at + timedelta(seconds=policy.give_up_after_seconds)
    if next_at > deadline:
        return Decision(
            Outcome.GIVE_UP, None, f"{reason}; the next attempt would be past the deadline"
        )
    return Decision(Outcome.RETRY, next_at, reason)


def is_host_failure(*, status: int | None, error: str | None) -> bool:
    """Whether an attempt's result says the *host* is failing, for the circuit breaker.

    No answer, 5xx, 408 and 429 count; a 4xx refusal does not (the host is up and answering,
    it just does not want this activity) and neither does an address-policy refusal (no
    request was made).
    """
    if error == FORBIDDEN_ADDRESS:
        return False
    if status is None:
        return True
    return status >= 500 or status in (408, 429)


@dataclass(frozen=True)
class BreakerPolicy:
    """Per-host circuit breaker.

    After ``failure_threshold`` consecutive host failures the breaker opens: deliveries to
    the host are postponed, not failed, for ``open_seconds`` after the last failure. Then it
    is half-open: the next delivery goes through as a probe; a success resets the count (the
    application stores 0), a failure bumps it and re-opens the breaker for another period.
    Mastodon trips after 10 failures per inbox (Stoplight, 60 s cool-off); a longer period
    here spares the queue a dead host's timeouts, and postponed rows keep their own retry
    deadline, so nothing waits forever.
    """

    failure_threshold: int = 10
    open_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_seconds <= 0:
            raise ValueError("failure_threshold and open_seconds must be positive")


def breaker_retry_at(
    policy: BreakerPolicy,
    *,
    consecutive_failures: int,
    last_failure_at: datetime | None,
    now: datetime,
) -> datetime | None:
    """When an open breaker half-opens; None when it is closed or already half-open."""
    if consecutive_failures < policy.failure_threshold or last_failure_at is None:
        return None
    reopen = last_failure_at + timedelta(seconds=policy.open_seconds)
    return reopen if now < reopen else None


def breaker_open(
    policy: BreakerPolicy,
    *,
    consecutive_failures: int,
    last_failure_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether deliveries to the host must wait (until :func:`breaker_retry_at`)."""
    return (
        breaker_retry_at(
            policy,
            consecutive_failures=consecutive_failures,
            last_failure_at=last_failure_at,
            now=now,
        )
        is not None
    )
