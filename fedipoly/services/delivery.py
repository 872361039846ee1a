"""Outbound delivery: one durable row per target inbox, leased by workers, retried with backoff.

Persist, then process: `publish` only writes the activity and its delivery rows; `run_once`
(called by any number of worker processes) claims due rows with a lease, signs each request
afresh (so `Date` stays inside the receiver's window), sends it and records the outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from federation.client import FederationClient, RequestSigner
from federation.delivery import (
    BreakerPolicy,
    Outcome,
    RetryPolicy,
    breaker_retry_at,
    decide,
    is_host_failure,
)
from federation.errors import FederationError, ForbiddenAddress, PeerUnreachable
from fedipoly.models import (
    ClaimedDelivery,
    Clock,
    DeliveryState,
    FinishedDelivery,
    OutboundActivity,
    new_id,
)
from fedipoly.services.badge_keys import badge_id_of_signer, badge_keys
from fedipoly.services.keys import make_signer
from fedipoly.services.moderation_policy import blocked_hosts
from fedipoly.store.base import Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

HostHealth = tuple[int, datetime | None]  # consecutive failures, time of the last one


@dataclass(frozen=True)
class _Outgoing:
    """What every delivery of one activity in a batch sends: the body once encoded, and its
    signer (None when the signing key is gone). Each delivery is still signed on its own."""

    body: bytes
    signer: RequestSigner | None


class _Finisher:
    """Writes finished attempts in batches (group commit): the first attempt to finish writes
    its outcome, and every attempt that finishes while that write is in flight goes into the
    next one. A batch of 50 deliveries costs a handful of writes instead of 50. Each attempt
    still waits until its own outcome is written before giving up its concurrency slot, so
    a crash leaves at most one sent-but-unrecorded delivery per slot, as before."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[FinishedDelivery, asyncio.Future[None]]] = []
        self._writing = False

    async def add(self, finished: FinishedDelivery) -> None:
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((finished, written))
        if not self._writing:
            await self._write_waiting()
        await written

    async def _write_waiting(self) -> None:
        self._writing = True
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._store.finish_deliveries([finished for finished, _ in batch])
                except BaseException as error:
                    # Everyone waiting learns of it (e.g. StoreUnavailable); their leases
                    # expire and the deliveries are tried again.
                    for _, written in batch + self._waiting:
                        if isinstance(error, Exception):
                            written.set_exception(error)
                        else:
                            written.cancel()
                    self._waiting = []
                    if not isinstance(error, Exception):
                        raise
                    return  # the caller's own `written` raises it
                for _, written in batch:
                    written.set_result(None)
        finally:
            self._writing = False


@dataclass(frozen=True)
class DeliverySettings:
    batch_size: int = 50
    concurrency: int = 16
    lease_seconds: float = 120.0


class Deliverer:
    def __init__(
        self,
        store: Store,
        client: FederationClient,
        urls: Urls,
        clock: Clock,
        instance_private_key: str,
        *,
        settings: DeliverySettings = DeliverySettings(),
        retry: RetryPolicy = RetryPolicy(),
        breaker: BreakerPolicy = BreakerPolicy(),
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._urls = urls
        self._clock = clock
        self._instance_key = instance_private_key
        self._settings = settings
        self._retry = retry
        self._breaker = breaker
        self._rng = rng or random.Random()
        self._keys: dict[str, tuple[str, str]] = {}

    async def publish(
        self,
        activity: dict[str, Any],
        *,
        signer_account_id: str | None,
        inboxes: list[str],
    ) -> int:
        """Queue an activity for every distinct inbox; returns how many deliveries were queued."""
        remote = [inbox for inbox in inboxes if not self._urls.is_local(inbox)]
        refused = await blocked_hosts(self._store, remote)  # domain blocks: nothing goes there
        targets = [inbox for inbox in remote if urlsplit(inbox).netloc.lower() not in refused]
        if not targets:
            return 0
        now = self._clock()
        outbound = OutboundActivity(
            id=str(activity.get("id") or f"{self._urls.base}/activities/{new_id(now)}"),
            actor=str(activity["actor"]),
            signer_account_id=signer_account_id,
            activity_type=str(activity.get("type", "")),
            raw=json.dumps(activity, separators=(",", ":")),
            created_at=now,
        )
        return await self._store.create_outbound(outbound, targets, now=now)

    async def run_once(self) -> bool:
        """Claim and attempt one batch of due deliveries; True when there was work."""
        claimed_at = self._clock()
        claimed = await self._store.claim_deliveries(
            now=claimed_at,
            lease_seconds=self._settings.lease_seconds,
            limit=self._settings.batch_size,
        )
        if not claimed:
            return False
        limit = asyncio.Semaphore(self._settings.concurrency)
        # Rows wait here for a concurrency slot; once their lease has run out another worker
        # may claim and send them, so a row is only started while half its lease remains
        # (an attempt takes at most the client's total timeout, which the lease is meant to
        # exceed twice over). Later rows are handed back untouched for the next claim.
        start_by = claimed_at + timedelta(seconds=self._settings.lease_seconds / 2)
        # The breaker's state and the domain blocks are read once for the whole batch; this
        # batch's own results then update `health`, so a host that fails now is held at once.
        health = await self._store.hosts_failures([item.delivery.host for item in claimed])
        refused = await blocked_hosts(self._store, [item.delivery.inbox_url for item in claimed])
        outgoing = await self._prepare({item.activity.id: item.activity for item in claimed})
        finisher = _Finisher(self._store)

        async def attempt(item: ClaimedDelivery) -> None:
            async with limit:
                if self._clock() >= start_by:
                    await self._store.postpone_delivery(item, self._clock())
                    return
                blocked = urlsplit(item.delivery.inbox_url).netloc.lower() in refused
                await self._attempt(item, outgoing[item.activity.id], health, blocked, finisher)

        await asyncio.gather(*(attempt(item) for item in claimed))
        return True

    async def _prepare(self, activities: dict[str, OutboundActivity]) -> dict[str, _Outgoing]:
        """Per activity of a batch rather than per delivery: most batches carry one."""
        prepared = {}
        for activity_id, activity in activities.items():
            key = await self._signing_key(activity)
            signer = None if key is None else make_signer(key[0], key[1], self._clock)
            prepared[activity_id] = _Outgoing(activity.raw.encode(), signer)
        return prepared

    async def _signing_key(self, activity: OutboundActivity) -> tuple[str, str] | None:
        """(keyId, private key PEM) of the activity's signer; member keys are cached."""
        account_id = activity.signer_account_id
        if account_id is None:
            return self._urls.instance_key_id, self._instance_key
        cached = self._keys.get(account_id)
        badge_id = badge_id_of_signer(account_id)
        if cached is None and badge_id is not None:
            pair = await badge_keys(self._store, badge_id)
            cached = (self._urls.badge_key_id(badge_id), pair.private_pem)
            self._keys[account_id] = cached
        if cached is None:
            account = await self._store.get_account(account_id)
            private = await self._store.get_private_key(account_id)
            if account is None or private is None:
                return None
            cached = (self._urls.key_id(account.username), private)
            self._keys[account_id] = cached
        return cached

    async def _attempt(
        self,
        claimed: ClaimedDelivery,
        outgoing: _Outgoing,
        health: dict[str, HostHealth],
        blocked: bool,
        finisher: _Finisher,
    ) -> None:
        delivery, now = claimed.delivery, self._clock()
        failures, last_failure = health.get(delivery.host, (0, None))
        reopens_at = breaker_retry_at(
            self._breaker, consecutive_failures=failures, last_failure_at=last_failure, now=now
        )
        if reopens_at is not None:
            # The host keeps failing: hold its deliveries until the breaker half-opens
            # instead of spending attempts (and the receiver's patience) on it.
            await self._store.postpone_delivery(claimed, reopens_at)
            return
        if blocked:
            # Queued before the domain was blocked: nothing more goes there.
            await finisher.add(
                FinishedDelivery(
                    claimed,
                    state=DeliveryState.GAVE_UP,
                    next_attempt_at=now + timedelta(days=3650),
                    last_status=None,
                    last_error="domain_blocked",
                    finished_at=now,
                )
            )
            return
        status: int | None = None
        retry_after: float | None = None
        error: str | None = None
        if outgoing.signer is None:
            error = "signer_missing"
        else:
            try:
                result = await self._client.post(
                    delivery.inbox_url, outgoing.body, signer=outgoing.signer
                )
                status, retry_after = result.status, result.retry_after
                if status >= 400:
                    log.info(
                        "delivery to %s answered %s: %s",
                        delivery.inbox_url,
                        status,
                        result.body_excerpt[:200],
                    )
            except ForbiddenAddress:
                error = "forbidden_address"
            except PeerUnreachable as failure:
                error = f"unreachable: {failure}"
            except FederationError as failure:
                error = f"failed: {failure}"
        await self._record(claimed, status, retry_after, error, health=health, finisher=finisher)

    async def _record(
        self,
        claimed: ClaimedDelivery,
        status: int | None,
        retry_after: float | None,
        error: str | None,
        *,
        health: dict[str, HostHealth],
        finisher: _Finisher,
    ) -> None:
        now = self._clock()
        delivery = claimed.delivery
        decision = decide(
            self._retry,
            attempts_made=delivery.attempts + 1,
            first_attempt_at=delivery.first_attempt_at or now,
            now=now,
            status=status,
            retry_after=retry_after,
            error=error,
            rng=self._rng,
        )
        state = {
            Outcome.DELIVERED: DeliveryState.DELIVERED,
            Outcome.RETRY: DeliveryState.PENDING,
            Outcome.GIVE_UP: DeliveryState.GAVE_UP,
        }[decision.outcome]
        await finisher.add(
            FinishedDelivery(
                claimed,
                state=state,
                next_attempt_at=decision.next_attempt_at or now + timedelta(days=3650),
                last_status=status,
                last_error=error
                or (None if decision.outcome is Outcome.DELIVERED else decision.reason),
                finished_at=now,
            )
        )
        host_ok = not is_host_failure(status=status, error=error)
        failures, _ = health.get(delivery.host, (0, None))
        if not host_ok or failures:
            # A success for a host with no failures on record would reset nothing: skipping
            # it saves a database write per delivery, most of them (bench/delivery_bench.py).
            await self._store.record_host_result(delivery.host, ok=host_ok, now=now)
            health[delivery.host] = (0, None) if host_ok else (failures + 1, now)
        if decision.outcome is Outcome.GIVE_UP:
            log.warning(
                "gave up delivering %s to %s: %s",
                claimed.activity.id,
                delivery.inbox_url,
                decision.reason,
            )
