"""Soak: mixed load at half the measured maximum for five minutes; zero errors, RSS growth < 10%.

    .venv/bin/python bench/soak.py                      # 300 s
    .venv/bin/python bench/soak.py --seconds 60         # a quick check

Target (issue 7, item 7): no failed request and no failed activity, and the server's resident
memory grows by less than 10% over the run.

How it measures:

* One `fedipoly serve` (with its background workers, as deployed) on SQLite pinned to CPU 0,
  holding `alice` and `--actors` remote actors she follows (keys cached, so nothing is
  fetched). The mix, by share of requests: WebFinger 30%, actor document 30%, alice's profile
  page (HTML) 20%, signed Create{Note} POSTs to the shared inbox 20% (each a new note, which
  the workers store and put on alice's home timeline).
* Maximum: wrk (CPU 1) replays `--calibration` requests of that mix (the POSTs signed in
  advance) with 50 connections, closed-loop; the workers then drain what it posted. The
  maximum is the mix's sustainable rate: requests / (wrk's time + the time to drain), since
  the same core serves the requests and runs the workers.
* Soak: after the queue from the calibration has drained, an open-loop generator in this
  process, pinned to CPU 1, starts requests at a fixed rate of `--share` (0.5) x the maximum
  for `--seconds`, whatever the answers' latency (at most 512 in flight; a request that could
  not start on time is counted as "late"). POSTs are signed as they are sent.
* Errors: any answer other than the expected status (200 for GETs, 202 for POSTs), any
  connection error or timeout (10 s), and any activity that ends `failed`. After the load
  stops, the queue must drain completely.
* RSS: the server's VmRSS every 5 s; growth is measured from the sample after a warm-up of
  a quarter of the run, at most 30 s (caches, pools and SQLite's page cache fill at the
  start), to the last sample, and also from the first sample.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from benchlib import (
    ACTIVITY_JSON,
    LOAD_CPU,
    Peer,
    Site,
    create_note,
    log,
    machine,
    new_site,
    pin_self,
    presign_creates,
    print_how,
    replay_with_wrk,
    rss_mb,
    verdict,
    write_raw_requests,
)
from inbox_bench import peers_for, seed

from federation.httpsig import sign_request
from fedipoly.models import utc_now

TARGET_RSS_GROWTH = 0.10
MIX = (("webfinger", 0.3), ("actor", 0.3), ("profile", 0.2), ("inbox", 0.2))
MAX_IN_FLIGHT = 512


def count(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        return int(db.execute(sql).fetchone()[0])


def get_request(site: Site, kind: str) -> tuple[str, dict[str, str]]:
    if kind == "webfinger":
        return f"/.well-known/webfinger?resource=acct:alice@{site.host}", {}
    if kind == "actor":
        return "/users/alice", {"Accept": ACTIVITY_JSON}
    return "/@alice", {"Accept": "text/html"}


def raw_get(site: Site, kind: str) -> bytes:
    path, headers = get_request(site, kind)
    lines = [f"GET {path} HTTP/1.1", f"Host: {site.host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def mixed_requests(site: Site, peers: list[Peer], total: int, rng: random.Random) -> list[bytes]:
    kinds = rng.choices([k for k, _ in MIX], [w for _, w in MIX], k=total)
    posts = iter(presign_creates(peers, f"{site.base}/inbox", kinds.count("inbox"), start=10**6))
    return [next(posts) if kind == "inbox" else raw_get(site, kind) for kind in kinds]


@dataclass
class Tally:
    started: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    late: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    error_samples: list[str] = field(default_factory=list)


class Generator:
    def __init__(self, site: Site, peers: list[Peer], rng: random.Random) -> None:
        self.site, self.peers, self.rng = site, peers, rng
        self.tally = Tally()
        self.serial = 2 * 10**6

    async def one(self, session: aiohttp.ClientSession, kind: str) -> None:
        started = time.perf_counter()
        expected = 202 if kind == "inbox" else 200
        try:
            if kind == "inbox":
                self.serial += 1
                peer = self.peers[self.serial % len(self.peers)]
                now = utc_now()
                body = json.dumps(create_note(peer, self.serial, now)).encode()
                url = f"{self.site.base}/inbox"
                headers = {"Content-Type": ACTIVITY_JSON}
                headers |= sign_request(
                    method="POST",
                    url=url,
                    headers=headers,
                    body=body,
                    key_id=peer.key_id,
                    private_key_pem=peer.private_pem,
                    now=now,
                )
                answer = session.post(url, data=body, headers=headers)
            else:
                path, headers = get_request(self.site, kind)
                answer = session.get(self.site.base + path, headers=headers)
            async with answer as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as failure:
            self.fail(kind, f"{type(failure).__name__}: {failure}")
            return
        if status != expected:
            self.fail(kind, f"HTTP {status}")
            return
        self.tally.ok[kind] += 1
        self.tally.latencies[kind].append((time.perf_counter() - started) * 1000)

    def fail(self, kind: str, why: str) -> None:
        self.tally.errors[kind] += 1
        if len(self.tally.error_samples) < 10:
            self.tally.error_samples.append(f"{kind}: {why}")

    async def run(self, rate: float, seconds: float, on_tick: object) -> None:
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        in_flight: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            loop = asyncio.get_running_loop()
            start = loop.time()
            sent = 0
            while (now := loop.time()) < start + seconds:
                due = int((now - start) * rate) + 1
                while sent < due:
                    sent += 1
                    if len(in_flight) >= MAX_IN_FLIGHT:
                        self.tally.late += 1
                        continue
                    kind = self.rng.choices(kinds, weights)[0]
                    self.tally.started[kind] += 1
                    task = asyncio.create_task(self.one(session, kind))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                on_tick()  # type: ignore[operator]
                await asyncio.sleep(0.002)
            if in_flight:
                await asyncio.wait(in_flight)


@dataclass(frozen=True)
class RssSample:
    at: float
    mb: float


def wait_drained(site: Site, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'pending'"):
        if time.monotonic() > deadline:
            raise RuntimeError("the inbox queue did not drain")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--share", type=float, default=0.5, help="of the measured maximum")
    parser.add_argument("--rate", type=float, help="requests/s; skips the calibration")
    parser.add_argument("--actors", type=int, default=100)
    parser.add_argument("--calibration", type=int, default=10000, help="requests for the max")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    host = machine()

    peers = peers_for(args.actors)
    site = new_site({"workers": {"poll_interval_seconds": 0.2}})
    log(f"seeding alice and {len(peers)} followed remote actors in {site.directory}")
    asyncio.run(seed(site, peers))
    with site.serving(workers=True) as server:
        maximum = None
        sustainable = 0.0
        if args.rate is None:
            log(f"calibrating: wrk replays {args.calibration} requests of the mix")
            with tempfile.TemporaryDirectory() as scratch:
                requests_file = Path(scratch) / "mix.bin"
                write_raw_requests(
                    requests_file, mixed_requests(site, peers, args.calibration, rng)
                )
                maximum = replay_with_wrk(
                    f"{site.base}/",
                    requests_file,
                    answers=args.calibration,
                    connections=50,
                    timeout=600,
                )
            drain_started = time.monotonic()
            wait_drained(site, 600)
            sustainable = args.calibration / (maximum.seconds + time.monotonic() - drain_started)
            rate = args.share * sustainable
        else:
            rate = args.rate
        wait_drained(site, 600)
        pin_self(LOAD_CPU)
        log(f"soaking at {rate:.0f} requests/s for {args.seconds:g} s")
        samples: list[RssSample] = []
        last = [0.0]

        def tick() -> None:
            now = time.monotonic()
            if now - last[0] >= 5:
                last[0] = now
                samples.append(RssSample(now, rss_mb(server.pid)))

        generator = Generator(site, peers, rng)
        started = time.monotonic()
        asyncio.run(generator.run(rate, args.seconds, tick))
        elapsed = time.monotonic() - started
        samples.append(RssSample(time.monotonic(), rss_mb(server.pid)))
        wait_drained(site, 600)
        failed = count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'failed'")
        done = count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'done'")
    warm_up = min(30.0, 0.25 * args.seconds)
    warm = next(s for s in samples if s.at - samples[0].at >= warm_up or s is samples[-1])
    growth = samples[-1].mb / warm.mb - 1
    growth_from_start = samples[-1].mb / samples[0].mb - 1
    tally = generator.tally
    errors = sum(tally.errors.values()) + failed
    sent = sum(tally.started.values())
    ok = errors == 0 and tally.late == 0 and growth < TARGET_RSS_GROWTH

    print(f"machine: {json.dumps(host)}")
    print("fedipoly serve (with workers) on CPU 0; load from CPU 1")
    if maximum is not None:
        print(f"the mix under wrk -c50, closed loop: {maximum.line()}")
        print(f"sustainable maximum (requests / (wrk + drain time)): {sustainable:.0f} req/s")
    print(
        f"soak: {rate:.0f} requests/s ({args.share:.0%} of the maximum) for {elapsed:.0f} s: "
        f"{sent} sent ({sent / elapsed:.0f}/s), {tally.late} late"
    )
    for kind, _ in MIX:
        latencies = sorted(tally.latencies[kind]) or [float("nan")]
        print(
            f"  {kind:<10} {tally.ok[kind]:>7} ok  {tally.errors[kind]:>4} errors  "
            f"p50 {statistics.median(latencies):6.1f} ms  "
            f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:6.1f} ms"
        )
    everything = sorted(ms for values in tally.latencies.values() for ms in values)
    overall_p99 = everything[int(0.99 * (len(everything) - 1))] if everything else float("nan")
    print(f"  all requests: p99 {overall_p99:.1f} ms")
    for sample in tally.error_samples:
        print(f"  error: {sample}")
    print(f"  inbox activities: {done} done, {failed} failed, queue drained")
    print(
        f"RSS: {samples[0].mb:.1f} MB at the start, {warm.mb:.1f} MB after warm-up, "
        f"{samples[-1].mb:.1f} MB at the end, max {max(s.mb for s in samples):.1f} MB: "
        f"growth {growth:+.1%} after warm-up ({growth_from_start:+.1%} from the start); "
        f"target < {TARGET_RSS_GROWTH:.0%}"
    )
    print(f"errors: {errors} (target 0)")
    print_how(__doc__)
    print(f"soak: {verdict(ok)}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "max_rps": round(sustainable) if maximum else None,
                    "rate": round(rate),
                    "seconds": round(elapsed),
                    "sent": sent,
                    "errors": errors,
                    "late": tally.late,
                    "p99_ms": round(overall_p99, 1),
                    "rss_start_mb": round(samples[0].mb, 1),
                    "rss_end_mb": round(samples[-1].mb, 1),
                    "rss_growth": round(growth, 4),
                    "rss_growth_from_start": round(growth_from_start, 4),
                    "ok": ok,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
