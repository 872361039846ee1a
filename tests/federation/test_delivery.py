"""Tests for federation.delivery: the retry table, backoff bounds and the circuit breaker."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from federation.delivery import (
    FORBIDDEN_ADDRESS,
    BreakerPolicy,
    Decision,
    Outcome,
    RetryPolicy,
    breaker_open,
    breaker_retry_at,
    decide,
    is_host_failure,
    nominal_delays,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy()
DAY = 86400.0


def attempt(
    *,
    attempts_made: int = 1,
    status: int | None = None,
    error: str | None = None,
    retry_after: float | None = None,
    now: datetime = T0,
    seed: int = 0,
    policy: RetryPolicy = POLICY,
) -> Decision:
    return decide(
        policy,
        attempts_made=attempts_made,
        first_attempt_at=T0,
        now=now,
        status=status,
        retry_after=retry_after,
        error=error,
        rng=random.Random(seed),
    )


def test_schedule_spans_two_to_three_days() -> None:
    delays = nominal_delays(POLICY)
    assert len(delays) == POLICY.max_attempts - 1 == 15
    assert delays[:3] == (60.0, 120.0, 240.0)
    assert max(delays) == POLICY.max_interval_seconds
    assert list(delays) == sorted(delays)
    total = sum(delays)
    assert 2 * DAY <= total <= 3 * DAY
    # Even with every wait at the jitter's extremes, the whole schedule stays in range and
    # inside the give-up deadline.
    assert total * (1 - POLICY.jitter) > 1.8 * DAY
    assert total * (1 + POLICY.jitter) < POLICY.give_up_after_seconds


def test_full_schedule_with_jitter_reaches_max_attempts_before_deadline() -> None:
    for seed in range(20):
        rng_seed = seed
        now = T0
        attempts = 1
        while True:
            decision = attempt(attempts_made=attempts, status=503, now=now, seed=rng_seed)
            rng_seed += 1000
            if decision.outcome is Outcome.GIVE_UP:
                break
            assert decision.next_attempt_at is not None
            now = decision.next_attempt_at
            attempts += 1
        assert attempts == POLICY.max_attempts
        assert 1.8 * DAY < (now - T0).total_seconds() < 3 * DAY


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    decision = attempt(status=status)
    assert decision.outcome is Outcome.DELIVERED
    assert decision.next_attempt_at is None


@pytest.mark.parametrize("status", [400, 403, 404, 405, 410, 413, 415, 422, 451, 501])
def test_unsalvageable_gives_up_at_once(status: int) -> None:
    decision = attempt(status=status)
    assert decision.outcome is Outcome.GIVE_UP
    assert decision.next_attempt_at is None
    assert str(status) in decision.reason


@pytest.mark.parametrize("status", [401, 408, 429, 500, 502, 503, 504, 520, 301, 302])
def test_retryable_statuses(status: int) -> None:
    decision = attempt(status=status)
    assert decision.outcome is Outcome.RETRY
    assert decision.next_attempt_at is not None


@pytest.mark.parametrize("error", ["timeout", "connection refused", None])
def test_network_errors_retry(error: str | None) -> None:
    assert attempt(status=None, error=error).outcome is Outcome.RETRY


def test_forbidden_address_gives_up() -> None:
    decision = attempt(status=None, error=FORBIDDEN_ADDRESS)
    assert decision.outcome is Outcome.GIVE_UP
    assert not is_host_failure(status=None, error=FORBIDDEN_ADDRESS)


@pytest.mark.parametrize("attempts_made", range(1, 16))
def test_backoff_is_exponential_with_bounded_jitter(attempts_made: int) -> None:
    nominal = nominal_delays(POLICY)[attempts_made - 1]
    for seed in range(50):
        decision = attempt(attempts_made=attempts_made, status=500, seed=seed)
        assert decision.next_attempt_at is not None
        waited = (decision.next_attempt_at - T0).total_seconds()
        assert nominal * 0.8 <= waited <= nominal * 1.2


def test_jitter_spreads_retries() -> None:
    seen = {attempt(status=500, seed=s).next_attempt_at for s in range(10)}
    assert len(seen) > 5


def test_no_jitter_is_exact() -> None:
    policy = RetryPolicy(jitter=0.0)
    decision = attempt(attempts_made=3, status=500, policy=policy)
    assert decision.next_attempt_at == T0 + timedelta(seconds=240)


def test_retry_after_is_honoured() -> None:
    decision = attempt(status=429, retry_after=3600)
    assert decision.next_attempt_at == T0 + timedelta(seconds=3600)


def test_retry_after_shorter_than_backoff_does_not_shorten_it() -> None:
    decision = attempt(attempts_made=10, status=503, retry_after=5)
    assert decision.next_attempt_at is not None
    assert decision.next_attempt_at - T0 >= timedelta(hours=8 * 0.8)


def test_retry_after_is_capped() -> None:
    decision = attempt(status=503, retry_after=30 * DAY)
    assert decision.next_attempt_at == T0 + timedelta(seconds=POLICY.max_retry_after_seconds)


def test_max_attempts() -> None:
    assert attempt(attempts_made=15, status=500).outcome is Outcome.RETRY
    decision = attempt(attempts_made=16, status=500)
    assert decision.outcome is Outcome.GIVE_UP
    assert "16 attempts" in decision.reason
    # A success on the last attempt still counts.
    assert attempt(attempts_made=16, status=202).outcome is Outcome.DELIVERED


def test_give_up_deadline() -> None:
    late = T0 + timedelta(days=2, hours=23)
    decision = attempt(attempts_made=3, status=500, now=late)
    assert decision.outcome is Outcome.RETRY  # 4 minutes later is still in time
    decision = attempt(attempts_made=3, status=429, retry_after=7200, now=late)
    assert decision.outcome is Outcome.GIVE_UP
    assert "deadline" in decision.reason


def test_huge_attempt_counts_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=10_000, factor=10.0, give_up_after_seconds=1e9)
    decision = attempt(attempts_made=5000, status=500, policy=policy)
    assert decision.next_attempt_at is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_seconds": 0},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"give_up_after_seconds": 0},
        {"max_retry_after_seconds": -1},
    ],
)
def test_invalid_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_attempts_made_must_count_the_attempt() -> None:
    with pytest.raises(ValueError):
        attempt(attempts_made=0, status=500)


def test_outcome_values() -> None:
    assert [o.value for o in Outcome] == ["delivered", "retry", "give_up"]


@pytest.mark.parametrize(
    ("status", "error", "failing"),
    [
        (None, "timeout", True),
        (500, None, True),
        (503, None, True),
        (429, None, True),
        (408, None, True),
        (404, None, False),
        (410, None, False),
        (401, None, False),
        (202, None, False),
    ],
)
def test_is_host_failure(status: int | None, error: str | None, failing: bool) -> None:
    assert is_host_failure(status=status, error=error) is failing


def test_breaker_opens_after_threshold_and_half_opens() -> None:
    policy = BreakerPolicy(failure_threshold=10, open_seconds=3600)
    last = T0
    assert not breaker_open(policy, consecutive_failures=9, last_failure_at=last, now=T0)
    assert breaker_retry_at(policy, consecutive_failures=9, last_failure_at=last, now=T0) is None
    assert breaker_open(policy, consecutive_failures=10, last_failure_at=last, now=T0)
    assert breaker_retry_at(
        policy, consecutive_failures=10, last_failure_at=last, now=T0
    ) == T0 + timedelta(hours=1)
    just_before = T0 + timedelta(seconds=3599)
    assert breaker_open(policy, consecutive_failures=25, last_failure_at=last, now=just_before)
    # Half-open: one probe may go; its failure moves last_failure_at and reopens.
    reopen = T0 + timedelta(seconds=3600)
    assert not breaker_open(policy, consecutive_failures=10, last_failure_at=last, now=reopen)
    assert (
        breaker_retry_at(policy, consecutive_failures=10, last_failure_at=last, now=reopen) is None
    )
    assert breaker_open(policy, consecutive_failures=11, last_failure_at=reopen, now=reopen)


def test_breaker_without_failure_time_is_closed() -> None:
    assert not breaker_open(BreakerPolicy(), consecutive_failures=100, last_failure_at=None, now=T0)


def test_invalid_breaker_policy() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(failure_threshold=0)
    with pytest.raises(ValueError):
        BreakerPolicy(open_seconds=0)
