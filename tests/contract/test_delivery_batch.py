"""Deliveries recorded in batches, per adapter: `finish_deliveries` records each attempt as
`finish_delivery` would (counted, lease released, stale leases ignored) in one write, and
`hosts_failures` reads the breaker state of many hosts at once."""

from __future__ import annotations

from datetime import timedelta

from fedipoly.models import DeliveryState, FinishedDelivery, utc_now
from fedipoly.store import Store
from tests.contract.test_federation_store import delivery, outbound, seconds


async def test_a_batch_records_each_attempt_and_releases_each_lease(store: Store) -> None:
    now = utc_now()
    activity = outbound(now)
    inboxes = [f"https://h{i}.example/inbox" for i in range(4)]
    await store.create_outbound(activity, inboxes, now=now)
    claimed = await store.claim_deliveries(now=now, lease_seconds=600, limit=10)
    by_inbox = {item.delivery.inbox_url: item for item in claimed}
    finished_at = now + seconds(1)
    retry_at = now + timedelta(minutes=5)
    await store.finish_deliveries(
        [
            FinishedDelivery(by_inbox[inboxes[0]], DeliveryState.DELIVERED, finished_at, 202, None, finished_at),
            FinishedDelivery(by_inbox[inboxes[1]], DeliveryState.DELIVERED, finished_at, 202, None, finished_at),
            FinishedDelivery(by_inbox[inboxes[2]], DeliveryState.PENDING, retry_at, 503, "unavailable", finished_at),
            FinishedDelivery(by_inbox[inboxes[3]], DeliveryState.GAVE_UP, retry_at, None, "domain_blocked", finished_at),
        ]
    )  # fmt: skip

    delivered = await delivery(store, activity.id, inboxes[0])
    assert delivered.state is DeliveryState.DELIVERED and delivered.attempts == 1
    assert delivered.first_attempt_at == finished_at and delivered.last_status == 202
    retried = await delivery(store, activity.id, inboxes[2])
    assert retried.state is DeliveryState.PENDING and retried.attempts == 1
    assert retried.next_attempt_at == retry_at and retried.last_error == "unavailable"
    gave_up = await delivery(store, activity.id, inboxes[3])
    assert gave_up.state is DeliveryState.GAVE_UP and gave_up.last_error == "domain_blocked"
    assert await store.count_deliveries(DeliveryState.DELIVERED) == 2
    # Every lease is released: only the retry comes back, and only once it is due.
    assert await store.claim_deliveries(now=retry_at - seconds(1), lease_seconds=60, limit=10) == []
    [again] = await store.claim_deliveries(now=retry_at, lease_seconds=60, limit=10)
    assert again.delivery.inbox_url == inboxes[2]

    await store.finish_deliveries(
        [FinishedDelivery(again, DeliveryState.DELIVERED, retry_at, 202, None, retry_at)]
    )
    done = await delivery(store, activity.id, inboxes[2])
    assert done.attempts == 2 and done.first_attempt_at == finished_at  # the first time is kept


async def test_a_batch_leaves_rows_whose_lease_another_worker_took_over(store: Store) -> None:
    now = utc_now()
    activity = outbound(now)
    inboxes = ["https://a.example/inbox", "https://b.example/inbox"]
    await store.create_outbound(activity, inboxes, now=now)
    stale = await store.claim_deliveries(now=now, lease_seconds=30, limit=10)
    stale_by_inbox = {item.delivery.inbox_url: item for item in stale}
    # The first worker stalls past its lease; a second one takes a.example over.
    [current] = await store.claim_deliveries(now=now + seconds(31), lease_seconds=30, limit=1)
    taken_over = current.delivery.inbox_url
    kept = next(inbox for inbox in inboxes if inbox != taken_over)
    untouched = await delivery(store, activity.id, taken_over)

    late = now + seconds(32)
    await store.finish_deliveries(
        [
            FinishedDelivery(stale_by_inbox[inbox], DeliveryState.GAVE_UP, late, 410, "gone", late)
            for inbox in inboxes
        ]
    )
    assert await delivery(store, activity.id, taken_over) == untouched
    # The row nobody else had claimed still carries the first worker's lease: recorded.
    assert (await delivery(store, activity.id, kept)).state is DeliveryState.GAVE_UP


async def test_an_empty_batch_writes_nothing(store: Store) -> None:
    await store.finish_deliveries([])
    assert await store.count_deliveries(DeliveryState.DELIVERED) == 0


async def test_host_failures_of_many_hosts_are_read_at_once(store: Store) -> None:
    now = utc_now()
    await store.record_host_result("down.example", ok=False, now=now)
    await store.record_host_result("down.example", ok=False, now=now + seconds(1))
    await store.record_host_result("flaky.example:8443", ok=False, now=now)
    failures = await store.hosts_failures(
        ["down.example", "fine.example", "flaky.example:8443", "down.example"]
    )
    assert failures == {"down.example": (2, now + seconds(1)), "flaky.example:8443": (1, now)}
    assert failures["down.example"] == await store.host_failures("down.example")
    assert await store.hosts_failures([]) == {}
