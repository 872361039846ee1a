"""Delivery under faults (issues 3 and 7): crashes, failing peers, Retry-After, breaker, 2 workers.

Every peer here is a real aiohttp "sink" on 127.0.0.1 (tests/sinks.py) that verifies each
request's signature against the member's public key and records what arrived. Crash tests run
`fedipoly worker` as a child process on a queue prepared in-process; retry, Retry-After and
breaker tests drive a `Deliverer` in-process with short policies so that they take seconds.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from federation.client import FederationClient
from federation.delivery import BreakerPolicy, RetryPolicy
from federation.keys import KeyPair, generate_rsa_keypair
from federation.ssrf import HostPolicy
from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import parse_config
from fedipoly.models import (
    Account,
    Delivery,
    DeliveryState,
    Follow,
    FollowState,
    NewAccount,
    RemoteActor,
    Role,
    Visibility,
    new_id,
    utc_now,
)
from fedipoly.services.delivery import Deliverer, DeliverySettings
from fedipoly.store import Store
from fedipoly.store.sqlite import SqliteStore
from fedipoly.urls import Urls
from tests.sinks import (
    Sink,
    accepted_pairs,
    always,
    fail_first,
    fail_for,
    fail_requests,
    local_tcp_ports,
    received_pairs,
    running_sinks,
    write_config,
)
from tests.support import FAST_HASHING, SecantusServer, ServerProcess

SENDER = "http://fedipoly.test"
NOTE_CONTEXT = "https://www.w3.org/ns/activitystreams"

# --- crash tests (child `fedipoly worker` processes) ------------------------------------------
#: Issue 3 asks for 500 inboxes, issue 7 for 2,000; both run (about 10 s and 25 s here).
KILL_FANOUTS = (500, 2_000)
#: Sink hosts the fan-out is spread over (distinct inbox URLs, never shared inboxes).
KILL_SINKS = 4
#: Each sink holds every request this long before answering, so requests are in flight when
#: the worker dies -- those (and only those) may be delivered twice.
KILL_SINK_DELAY = 0.02
#: The worker's delivery concurrency: at most this many requests are in flight at the kill,
#: because a delivery holds its concurrency slot until its outcome is committed.
KILL_CONCURRENCY = 8
#: A dead worker's claims come back after this long.
KILL_LEASE_SECONDS = 3

# --- two workers on one MongoDB queue --------------------------------------------------------
#: 1,000 deliveries (the queue's unit of work): 100 activities, each to 10 inboxes on 5 hosts.
#: SecantusDB answers every query by scanning, so each row costs tens of milliseconds of its
#: time; 1,000 separately published activities would add about 30 s of inserts without
#: exercising anything the claim path does not already see here (batches spanning activities).
MONGO_ACTIVITIES = 100
MONGO_SINKS = 5
MONGO_INBOXES_PER_SINK = 2

# --- in-process retry tests ------------------------------------------------------------------
#: Issue 7's peer answers 500 "for a minute". Scaled down 30x: 2 s of 500s with backoff from
#: 0.25 s (the default policy starts at 60 s), so attempts land at about 0, 0.25, 0.75, 1.75
#: and 3.75 s: still several failed attempts at growing intervals, then one success.
OUTAGE_SECONDS = 2.0
OUTAGE_RETRY = RetryPolicy(base_seconds=0.25, jitter=0.1)
#: How long the breaker stays open in the breaker test.
BREAKER_OPEN_SECONDS = 1.0
#: Scheduling slack when comparing timestamps taken in different places.
SLACK = 0.05


@functools.cache
def member_keys() -> KeyPair:
    return generate_rsa_keypair()


def create_note(activity_id: str, actor: str, text: str) -> dict[str, Any]:
    return {
        "@context": NOTE_CONTEXT,
        "id": activity_id,
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{activity_id}/note",
            "type": "Note",
            "attributedTo": actor,
            "content": f"<p>{text}</p>",
        },
    }


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# ==============================================================================================
# In-process: a member in the store, a Deliverer with short policies, sinks as peers


@dataclass
class Sender:
    store: Store
    member: Account
    urls: Urls

    @property
    def actor(self) -> str:
        return self.urls.actor(self.member.username)

    @property
    def keys(self) -> dict[str, str]:
        return {self.urls.key_id(self.member.username): self.member.public_key_pem}

    async def publish(self, deliverer: Deliverer, inboxes: list[str]) -> str:
        activity_id = f"{SENDER}/activities/{uuid.uuid4().hex}"
        await deliverer.publish(
            create_note(activity_id, self.actor, "hello"),
            signer_account_id=self.member.id,
            inboxes=inboxes,
        )
        return activity_id

    async def deliveries(self, activity_id: str) -> dict[str, Delivery]:
        return {d.inbox_url: d for d in await self.store.list_deliveries(activity_id)}


@pytest.fixture
async def sender(store: Store) -> Sender:
    now = utc_now()
    keys = member_keys()
    member = await store.create_account(
        NewAccount(
            id=new_id(now),
            username="alice",
            email="alice@fedipoly.test",
            role=Role.MEMBER,
            display_name="alice",
            password_hash="unused",
            public_key_pem=keys.public_pem,
            private_key_pem=keys.private_pem,
            created_at=now,
        ),
        invite_code=None,
        now=now,
    )
    return Sender(store, member, Urls(SENDER))


@asynccontextmanager
async def deliverer_for(
    sender: Sender,
    sinks: list[Sink],
    *,
    retry: RetryPolicy,
    breaker: BreakerPolicy = BreakerPolicy(),
    concurrency: int = 4,
    settings: DeliverySettings | None = None,
) -> AsyncIterator[Deliverer]:
    policy = HostPolicy(frozenset(sink.host for sink in sinks))
    async with FederationClient(
        policy, f"Fedipoly-test (+{SENDER}/)", connect_timeout=5.0, total_timeout=10.0
    ) as client:
        yield Deliverer(
            sender.store,
            client,
            sender.urls,
            utc_now,
            member_keys().private_pem,
            settings=settings or DeliverySettings(concurrency=concurrency, lease_seconds=30.0),
            retry=retry,
            breaker=breaker,
            rng=random.Random(20261126),
        )


async def drive(
    deliverer: Deliverer, done: Callable[[], Awaitable[bool]], *, timeout: float
) -> None:
    """Run the delivery loop like a worker (polling every 10 ms) until `done` or timeout."""
    deadline = time.monotonic() + timeout
    while not await done():
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries not settled within {timeout} s")
        if not await deliverer.run_once():
            await asyncio.sleep(0.01)


def settled(sender: Sender, activity_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        deliveries = await sender.store.list_deliveries(activity_id)
        return bool(deliveries) and all(d.state is not DeliveryState.PENDING for d in deliveries)

    return check


async def test_a_peer_answering_503_for_a_while_gets_the_activity_once_after_backoff(
    sender: Sender,
) -> None:
    retry = RetryPolicy(base_seconds=0.2, jitter=0.1)
    async with (
        running_sinks(1, sender.keys, respond=fail_first(3, 503)) as [sink],
        deliverer_for(sender, [sink], retry=retry) as deliverer,
    ):
        activity_id = await sender.publish(deliverer, [sink.inbox("/users/bob/inbox")])
        await drive(deliverer, settled(sender, activity_id), timeout=20)

    assert [r.status for r in sink.received] == [503, 503, 503, 202]
    assert len(sink.accepted()) == 1
    assert not sink.rejected
    [delivery] = (await sender.deliveries(activity_id)).values()
    assert delivery.state is DeliveryState.DELIVERED
    assert (delivery.attempts, delivery.last_status) == (4, 202)
    # Backoff: each wait at least the jittered nominal delay (0.2, 0.4, 0.8 s), and growing.
    waits = gaps([r.at for r in sink.received])
    for n, wait in enumerate(waits):
        assert wait >= retry.base_seconds * retry.factor**n * (1 - retry.jitter) - SLACK
    assert waits == sorted(waits) and waits[0] < waits[-1]


async def test_a_peer_answering_500_for_an_outage_gets_the_activity_once_it_recovers(
    sender: Sender,
) -> None:
    async with (
        running_sinks(1, sender.keys, respond=fail_for(OUTAGE_SECONDS, 500)) as [sink],
        deliverer_for(sender, [sink], retry=OUTAGE_RETRY) as deliverer,
    ):
        activity_id = await sender.publish(deliverer, [sink.inbox("/inbox")])
        await drive(deliverer, settled(sender, activity_id), timeout=30)

    statuses = [r.status for r in sink.received]
    assert statuses[-1] == 202 and set(statuses[:-1]) == {500}
    assert len(statuses) >= 4, "several failed attempts during the outage"
    assert len(sink.accepted()) == 1
    times = [r.at for r in sink.received]
    assert times[-1] - times[0] >= OUTAGE_SECONDS
    waits = gaps(times)
    assert waits == sorted(waits), f"backoff intervals must grow: {waits}"
    [delivery] = (await sender.deliveries(activity_id)).values()
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, len(statuses))


async def test_a_peer_answering_410_is_not_retried(sender: Sender) -> None:
    retry = RetryPolicy(base_seconds=0.05, jitter=0.0)
    async with (
        running_sinks(1, sender.keys, respond=always(410)) as [sink],
        deliverer_for(sender, [sink], retry=retry) as deliverer,
    ):
        activity_id = await sender.publish(deliverer, [sink.inbox("/users/gone/inbox")])
        await drive(deliverer, settled(sender, activity_id), timeout=10)
        # Keep the worker loop going for many retry periods: nothing more may be sent.
        await asyncio.wait_for(_run_for(deliverer, 0.5), timeout=5)

    assert [r.status for r in sink.received] == [410]
    [delivery] = (await sender.deliveries(activity_id)).values()
    assert delivery.state is DeliveryState.GAVE_UP
    assert (delivery.attempts, delivery.last_status) == (1, 410)


async def _run_for(deliverer: Deliverer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await deliverer.run_once():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("retry_after", "cap"),
    [("1", 24 * 3600.0), ("86400", 1.0)],
    ids=["honoured", "capped"],
)
async def test_retry_after_delays_the_next_attempt_up_to_the_cap(
    sender: Sender, retry_after: str, cap: float
) -> None:
    # Without Retry-After the retry would come after about 50 ms.
    retry = RetryPolicy(base_seconds=0.05, jitter=0.0, max_retry_after_seconds=cap)
    respond = fail_first(1, 429, {"Retry-After": retry_after})
    async with (
        running_sinks(1, sender.keys, respond=respond) as [sink],
        deliverer_for(sender, [sink], retry=retry) as deliverer,
    ):
        activity_id = await sender.publish(deliverer, [sink.inbox("/inbox")])
        await drive(deliverer, settled(sender, activity_id), timeout=10)

    assert [r.status for r in sink.received] == [429, 202]
    [wait] = gaps([r.at for r in sink.received])
    assert 1.0 <= wait < 2.0, f"waited {wait:.3f} s"
    [delivery] = (await sender.deliveries(activity_id)).values()
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 2)


@pytest.mark.parametrize("failure", [503, 429])
async def test_the_breaker_holds_a_failing_hosts_deliveries_until_it_half_opens(
    sender: Sender, failure: int
) -> None:
    breaker = BreakerPolicy(failure_threshold=3, open_seconds=BREAKER_OPEN_SECONDS)
    # Retries alone would come back every 50 ms; only the breaker can hold them for a second.
    retry = RetryPolicy(base_seconds=0.05, factor=1.0, jitter=0.0)
    async with (
        running_sinks(1, sender.keys, respond=fail_requests(3, failure)) as [failing],
        running_sinks(1, sender.keys) as [healthy],
        deliverer_for(
            sender, [failing, healthy], retry=retry, breaker=breaker, concurrency=1
        ) as deliverer,
    ):
        failing_paths = [f"/users/u{i}/inbox" for i in range(4)]
        healthy_inboxes = [healthy.inbox(f"/users/h{i}/inbox") for i in range(2)]
        activity_id = await sender.publish(
            deliverer, [failing.inbox(path) for path in failing_paths] + healthy_inboxes
        )
        await drive(deliverer, settled(sender, activity_id), timeout=20)

    statuses = [r.status for r in failing.received]
    # Three failures trip the breaker; nothing is sent while it is open; then the half-open
    # probe succeeds, the breaker closes and the four inboxes get the activity once each.
    assert statuses == [failure] * 3 + [202] * 4, statuses
    third, probe = failing.received[2].at, failing.received[3].at
    assert probe - third >= BREAKER_OPEN_SECONDS - SLACK
    assert sorted(r.path for r in failing.accepted()) == failing_paths
    # Another host is not held by this host's breaker.
    assert len(healthy.accepted()) == 2
    assert all(r.at < third + BREAKER_OPEN_SECONDS for r in healthy.received)
    deliveries = await sender.deliveries(activity_id)
    assert all(d.state is DeliveryState.DELIVERED for d in deliveries.values())
    # Postponing is not an attempt: a delivery first tried after the breaker opened took one.
    untried = [path for path in failing_paths if len(failing.on(path)) == 1]
    assert untried and all(deliveries[failing.inbox(path)].attempts == 1 for path in untried)


async def test_rows_left_waiting_past_their_lease_are_not_sent_twice(sender: Sender) -> None:
    # Two workers; each claims more than it can send within the lease (20 rows, one at a
    # time, 0.2 s each, 2 s lease). Rows still waiting when the lease runs out can be claimed
    # by the other worker, so the first must not send them any more.
    settings = DeliverySettings(batch_size=20, concurrency=1, lease_seconds=2.0)
    retry = RetryPolicy(base_seconds=0.05, jitter=0.0)
    async with (
        running_sinks(1, sender.keys, delay=0.2) as [sink],
        deliverer_for(sender, [sink], retry=retry, settings=settings) as first,
        deliverer_for(sender, [sink], retry=retry, settings=settings) as second,
    ):
        activity_id = await sender.publish(
            first, [sink.inbox(f"/users/u{n}/inbox") for n in range(25)]
        )
        done = settled(sender, activity_id)
        await asyncio.gather(drive(first, done, timeout=20), drive(second, done, timeout=20))

    counts = received_pairs([sink])
    assert len(counts) == 25
    assert [pair for pair, n in counts.items() if n > 1] == []
    deliveries = await sender.deliveries(activity_id)
    assert all(d.state is DeliveryState.DELIVERED for d in deliveries.values())


# ==============================================================================================
# Child processes: `fedipoly worker` on a queue prepared in-process


def worker_sections(
    tmp_path: Path,
    sinks: list[Sink],
    *,
    concurrency: int,
    lease_seconds: float,
    mongo_url: str | None = None,
) -> dict[str, dict[str, Any]]:
    storage: dict[str, Any] = {"sqlite_path": str(tmp_path / "queue.sqlite3")}
    if mongo_url is not None:
        storage |= {
            "backend": "mongodb",
            "mongodb_url": mongo_url,
            "mongodb_database": f"faults_{uuid.uuid4().hex[:12]}",
        }
    return {
        "server": {"public_url": SENDER},
        "storage": storage,
        "security": dict(FAST_HASHING),
        "federation": {"allowed_private_hosts": [sink.host for sink in sinks]},
        "workers": {
            "poll_interval_seconds": 0.05,
            "delivery_concurrency": concurrency,
            "delivery_lease_seconds": lease_seconds,
            "inbox_lease_seconds": 5.0,
        },
        "logging": {"level": "INFO"},
    }


@asynccontextmanager
async def prepared_app(sections: dict[str, dict[str, Any]]) -> AsyncIterator[web.Application]:
    """The app's services in-process (no port, no workers), for writing the queue."""
    runner = web.AppRunner(create_app(parse_config(sections, {}), run_workers=False))
    await runner.setup()
    try:
        yield runner.app
    finally:
        await runner.cleanup()


async def register_alice(app: web.Application, sinks: list[Sink]) -> Account:
    alice = await app[appkeys.ACCOUNTS].register(
        username="alice",
        email="alice@fedipoly.test",
        password="correct horse battery",
        invite_code=None,
        bypass_registration_mode=True,
    )
    key_id = app[appkeys.URLS].key_id("alice")
    for sink in sinks:
        sink.keys[key_id] = alice.public_key_pem
    return alice


async def add_remote_followers(app: web.Application, alice: Account, inboxes: list[str]) -> None:
    """One remote follower per inbox, each with its own inbox and no shared inbox."""
    store, urls, now = app[appkeys.STORE], app[appkeys.URLS], utc_now()
    for n, inbox in enumerate(inboxes):
        uri = inbox.removesuffix("/inbox")
        await store.upsert_remote_actor(
            RemoteActor(
                uri=uri,
                actor_type="Person",
                username=f"f{n}",
                domain=uri.split("/")[2],
                inbox=inbox,
                shared_inbox=None,
                followers_url=None,
                display_name=f"f{n}",
                summary_html="",
                profile_url=None,
                icon_url=None,
                key_id=f"{uri}#main-key",
                public_key_pem="",
                manually_approves_followers=False,
                fetched_at=now,
            )
        )
        await store.upsert_follow(
            Follow(
                id=new_id(now),
                follower=uri,
                followed=urls.actor(alice.username),
                activity_id=f"{uri}#follows/{n}",
                state=FollowState.ACCEPTED,
                created_at=now,
            ),
            None,
        )


def start_worker(config_path: Path, cwd: Path) -> ServerProcess:
    worker = ServerProcess(["--config", str(config_path), "worker"], {}, cwd)
    worker.start()
    return worker


async def wait_running(worker: ServerProcess, timeout: float = 30.0) -> None:
    async def running() -> bool:
        assert worker.process is not None
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{worker.output()[-3000:]}")
        return "workers running" in worker.output()

    await wait_until(running, timeout=timeout, what="the worker to start")


def stop_worker(worker: ServerProcess) -> None:
    assert worker.process is not None
    if worker.process.poll() is None:
        worker.stop(signal.SIGTERM, timeout=20)


@pytest.mark.parametrize("fanout", KILL_FANOUTS)
async def test_sigkill_mid_fanout_then_restart_delivers_to_every_inbox(
    tmp_path: Path, fanout: int
) -> None:
    async with running_sinks(KILL_SINKS, {}, delay=KILL_SINK_DELAY) as sinks:
        sections = worker_sections(
            tmp_path, sinks, concurrency=KILL_CONCURRENCY, lease_seconds=KILL_LEASE_SECONDS
        )
        config_path = write_config(tmp_path / "worker.toml", sections)
        inboxes = [sinks[n % KILL_SINKS].inbox(f"/users/f{n}/inbox") for n in range(fanout)]
        async with prepared_app(sections) as app:
            alice = await register_alice(app, sinks)
            if fanout <= 500:
                # Through the services: remote followers, then a post fans out to them.
                await add_remote_followers(app, alice, inboxes)
                await app[appkeys.POSTS].create(alice, "a post for everyone", Visibility.PUBLIC)
            else:
                activity_id = f"{SENDER}/users/alice/statuses/{uuid.uuid4().hex}/activity"
                await app[appkeys.DELIVERER].publish(
                    create_note(activity_id, app[appkeys.URLS].actor("alice"), "fan-out"),
                    signer_account_id=alice.id,
                    inboxes=inboxes,
                )
            assert await app[appkeys.STORE].count_deliveries(DeliveryState.PENDING) == fanout

        def received() -> int:
            return sum(len(sink.received) for sink in sinks)

        # About a quarter in, and half-way through a claimed batch rather than between two.
        kill_after = fanout // 4 + DeliverySettings().batch_size // 2
        first = start_worker(config_path, tmp_path)
        try:

            async def partly_delivered() -> bool:
                assert first.process is not None and first.process.poll() is None
                return received() >= kill_after

            await wait_until(partly_delivered, timeout=60, what="a quarter of the fan-out")
            first.stop(signal.SIGKILL)
        finally:
            stop_worker(first)
        await asyncio.sleep(0.2)  # let the sinks take in whatever was already on the wire
        at_kill = received()
        restarted_at = time.monotonic()  # everything received before this came from `first`
        assert kill_after <= at_kill < fanout, "the kill must land in the middle of the fan-out"

        queue = SqliteStore(sections["storage"]["sqlite_path"])
        await queue.open()
        second = start_worker(config_path, tmp_path)
        try:

            async def all_delivered() -> bool:
                assert second.process is not None and second.process.poll() is None
                return await queue.count_deliveries(DeliveryState.DELIVERED) == fanout

            await wait_until(all_delivered, timeout=90, what="every delivery to be recorded")
        finally:
            stop_worker(second)
            await queue.close()
        await asyncio.sleep(0.1)

    assert not any(sink.rejected for sink in sinks), "every request must verify"
    counts = received_pairs(sinks)
    activity_ids = {activity for _host, _path, activity in counts}
    assert len(activity_ids) == 1
    expected = {(inbox.split("/")[2], "/" + inbox.split("/", 3)[3]) for inbox in inboxes}
    assert {(host, path) for host, path, _ in counts} == expected, "every inbox got it"
    # Duplicates only for requests in flight at the kill: first sent by the killed worker,
    # at most one per concurrency slot, and received at most twice.
    duplicated = {pair: n for pair, n in counts.items() if n > 1}
    assert len(duplicated) <= KILL_CONCURRENCY, duplicated
    assert all(n == 2 for n in duplicated.values())
    for host, path, _ in duplicated:
        [sink] = [s for s in sinks if s.host == host]
        assert min(r.at for r in sink.on(path)) < restarted_at < max(r.at for r in sink.on(path))


async def test_two_workers_on_one_mongodb_queue_deliver_each_activity_exactly_once(
    tmp_path: Path, secantus: SecantusServer
) -> None:
    async with running_sinks(MONGO_SINKS, {}, delay=0.005) as sinks:
        sections = worker_sections(
            tmp_path, sinks, concurrency=4, lease_seconds=30.0, mongo_url=secantus.url
        )
        config_path = write_config(tmp_path / "worker.toml", sections)
        async with prepared_app(sections) as app:
            alice = await register_alice(app, sinks)
            # The whole queue first, then both workers start on it at once.
            actor, deliverer = app[appkeys.URLS].actor("alice"), app[appkeys.DELIVERER]
            inboxes = [
                (sink.host, f"/users/m{n}/inbox")
                for sink in sinks
                for n in range(MONGO_INBOXES_PER_SINK)
            ]
            expected = set()
            for n in range(MONGO_ACTIVITIES):
                activity_id = f"{SENDER}/activities/{n}"
                await deliverer.publish(
                    create_note(activity_id, actor, f"note {n}"),
                    signer_account_id=alice.id,
                    inboxes=[f"http://{host}{path}" for host, path in inboxes],
                )
                expected |= {(host, path, activity_id) for host, path in inboxes}
            assert len(expected) == 1_000
            workers = [start_worker(config_path, tmp_path) for _ in range(2)]
            ports: dict[int, int] = {}  # local port -> worker pid

            def note_ports() -> None:
                for worker in workers:
                    assert worker.process is not None
                    for port in local_tcp_ports(worker.process.pid):
                        ports[port] = worker.process.pid

            try:
                store = app[appkeys.STORE]

                async def all_received() -> bool:
                    note_ports()
                    for worker in workers:
                        assert worker.process is not None and worker.process.poll() is None
                    return len(received_pairs(sinks)) == len(expected)

                async def all_recorded() -> bool:
                    delivered = await store.count_deliveries(DeliveryState.DELIVERED)
                    return delivered == len(expected)

                # Poll the sinks (in memory), not the database, while the workers use it.
                await wait_until(all_received, timeout=120, what="1,000 deliveries", interval=0.1)
                await wait_until(all_recorded, timeout=30, what="1,000 outcomes", interval=0.2)
                await asyncio.sleep(0.5)  # room for a late duplicate to show up
                assert await store.count_deliveries(DeliveryState.PENDING) == 0
            finally:
                for worker in workers:
                    stop_worker(worker)

    assert not any(sink.rejected for sink in sinks)
    counts = received_pairs(sinks)
    assert set(counts) == expected, "none missed, nothing unexpected"
    assert [pair for pair, n in counts.items() if n > 1] == [], "no inbox got one twice"
    assert accepted_pairs(sinks) == counts
    senders = {ports.get(r.peer_port) for sink in sinks for r in sink.received}
    assert {w.process.pid for w in workers if w.process} <= senders, "both workers delivered"
