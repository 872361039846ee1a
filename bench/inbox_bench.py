"""Signed Create{Note} POSTs from 1,000 known remote actors: accepted/s, p99, and the drain.

    .venv/bin/python bench/inbox_bench.py                         # 1,000 actors, 20,000 POSTs
    .venv/bin/python bench/inbox_bench.py --actors 200 --requests 3000   # a quick check

Targets (issue 7, item 3): accepted/s >= 25% of the framework ceiling, and the workers drain
the backlog at least as fast as the inbox accepts it.

How it measures:

* Requests are built before any timing: `--requests` distinct Create{Note} activities (each
  with its own id, ~1 KB, shaped like Mastodon's), round-robin over `--actors` remote actors
  whose RSA-2048 keys are generated once and cached in $TMPDIR/fedipoly-bench. Each is signed
  with draft-cavage rsa-sha256 by `federation.httpsig.sign_request` (what the peers we talk to
  send) and saved as a complete HTTP/1.1 request. Signatures stay valid for 5 minutes plus an
  hour of clock-skew margin, far longer than a run.
* The actors are already in the store with their keys (so verification fetches nothing), and
  the local member `alice` follows every one of them, so every note is relevant: processing
  stores it and puts it on alice's home timeline, the full work of a followed post.
* Load: `wrk -t1 -c<connections>` pinned to CPU 1 runs bench/replay.lua, which sends the
  requests in order until the last one has been answered (see benchlib.replay_with_wrk).
* Ceiling: bench/hello_server.py pinned to CPU 0 gets exactly the same replay (the same
  bytes; it reads each body and answers JSON with 202); the GET hello-world ceiling is printed
  too. The ratio uses the POST ceiling, so both sides pay for the same request sizes.
* Accept: `fedipoly serve --no-workers` on SQLite pinned to CPU 0, so the rate is that of the
  HTTP handler alone (verify + store); wrk gives the rate and latency percentiles.
* CPU: the server's and the worker's CPU time (/proc) is read around their timed windows;
  per-CPU-second rates and ratios are printed too, as they hold on a busy machine.
* Drain: the server is stopped with the backlog stored, and `fedipoly worker` is started on
  CPU 0 alone. The pending count is read every 50 ms; the drain rate is the backlog that
  remained at the first observed decrease divided by the time from then until the queue was
  empty (so the worker's start-up is not counted). Every activity must end `done` and every
  note must be on alice's timeline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    Peer,
    Site,
    WrkResult,
    add_follow,
    add_member,
    add_peers,
    cpu_seconds,
    get_ceiling,
    keypairs,
    log,
    machine,
    new_site,
    opened_app,
    percent,
    post_ceiling,
    presign_creates,
    print_how,
    profiled,
    replay_with_wrk,
    running,
    verdict,
    with_cpu,
    write_raw_requests,
)

TARGET = 0.25


def peers_for(count: int) -> list[Peer]:
    """`count` remote actors on 100 made-up hosts (nothing is ever fetched from them)."""
    peers = []
    for serial, (private_pem, public_pem) in enumerate(keypairs(count)):
        host = f"peer{serial % 100}.example"
        uri = f"https://{host}/users/p{serial}"
        peers.append(
            Peer(
                uri=uri,
                key_id=f"{uri}#main-key",
                private_pem=private_pem,
                public_pem=public_pem,
                inbox=f"{uri}/inbox",
                shared_inbox=f"https://{host}/inbox",
            )
        )
    return peers


async def seed(site: Site, peers: list[Peer]) -> None:
    async with opened_app(site.write()) as app:
        alice = await add_member(app, "alice")
        await add_peers(app, peers)
        alice_uri = f"{site.base}/users/alice"
        for peer in peers:
            await add_follow(app, alice_uri, peer.uri, alice.id)


def seeded_site(
    actors: int, extra: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[Site, list[Peer]]:
    """A new site whose member alice follows `actors` remote actors, their keys stored."""
    peers = peers_for(actors)
    site = new_site(extra)
    log(f"seeding alice and {len(peers)} followed remote actors in {site.directory}")
    asyncio.run(seed(site, peers))
    return site, peers


def count(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        return int(db.execute(sql).fetchone()[0])


def replay_to_inbox(
    site: Site, server_pid: int, requests_file: Path, *, answers: int, connections: int
) -> WrkResult:
    """The saved requests replayed to the site's shared inbox, with the server's CPU time."""
    return with_cpu(
        server_pid,
        lambda: replay_with_wrk(
            f"{site.base}/inbox",
            requests_file,
            answers=answers,
            connections=connections,
            timeout=3600,
        ),
    )


@dataclass(frozen=True)
class Drain:
    backlog: int
    timed: int
    seconds: float
    cpu: float
    done: int
    failed: int
    timeline_rows: int

    @property
    def rate(self) -> float:
        return self.timed / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.timed / self.cpu if self.cpu else 0.0


def drain(site: Site, timeout: float, profile: Path | None = None) -> Drain:
    pending_sql = "SELECT COUNT(*) FROM inbox_items WHERE state = 'pending'"
    backlog = count(site.database, pending_sql)
    first: tuple[float, int, float] | None = None
    worker = running(site.worker_command(), None, log_path=site.directory / "worker.log")
    with worker as process, profiled(process.pid, profile):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = count(site.database, pending_sql)
            now, cpu = time.monotonic(), cpu_seconds(process.pid)
            if first is None and pending < backlog:
                first = (now, pending, cpu)
            if pending == 0:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the backlog did not drain in {timeout} s")
    assert first is not None
    return Drain(
        backlog=backlog,
        timed=first[1],
        seconds=now - first[0],
        cpu=cpu - first[2],
        done=count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'done'"),
        failed=count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'failed'"),
        timeline_rows=count(site.database, "SELECT COUNT(*) FROM timeline_entries"),
    )


@dataclass(frozen=True)
class InboxFigures:
    get_ceiling: WrkResult
    post_ceiling: WrkResult
    accept: WrkResult
    stored: int
    drain: Drain

    def ok(self, requests: int) -> bool:
        return (
            self.accept.rate >= TARGET * self.post_ceiling.rate
            and self.drain.rate >= self.accept.rate
            and self.stored == requests
            and self.drain.done == requests
            and self.accept.non_2xx == 0
        )


def measure(args: argparse.Namespace) -> InboxFigures:
    site, peers = seeded_site(args.actors, {"workers": {"poll_interval_seconds": 0.2}})
    log(f"signing {args.requests} Create{{Note}} requests")
    requests = presign_creates(peers, f"{site.base}/inbox", args.requests)
    with tempfile.TemporaryDirectory() as scratch:
        requests_file = Path(scratch) / "requests.bin"
        write_raw_requests(requests_file, requests)
        log("ceiling: hello-world JSON, GET and the same POST replay")
        ceiling_get = get_ceiling(args.seconds, args.connections)
        # At least 20,000 answers, so the (fast) ceiling run lasts a few seconds too.
        ceiling_post = post_ceiling(requests_file, max(args.requests, 20000), args.connections)
        log("accepting: fedipoly serve --no-workers")
        accept_profile = Path(f"{args.profile}.accept.txt") if args.profile else None
        with site.serving(workers=False) as server, profiled(server.pid, accept_profile):
            accept = replay_to_inbox(
                site, server.pid, requests_file, answers=args.requests, connections=args.connections
            )
    stored = count(site.database, "SELECT COUNT(*) FROM inbox_items")
    log(f"draining {stored} stored activities: fedipoly worker")
    drain_profile = Path(f"{args.profile}.drain.txt") if args.profile else None
    drained = drain(site, args.drain_timeout, drain_profile)
    return InboxFigures(ceiling_get, ceiling_post, accept, stored, drained)


def report(figures: InboxFigures, args: argparse.Namespace) -> dict[str, object]:
    ok = figures.ok(args.requests)
    accept, ceiling = figures.accept, figures.post_ceiling
    print(f"machine: {json.dumps(machine())}")
    print(
        f"{args.requests} signed Create{{Note}} POSTs from {args.actors} actors, "
        f"wrk -t1 -c{args.connections} + bench/replay.lua; server on CPU 0, wrk on CPU 1"
    )
    print(f"ceiling, GET hello-world JSON         {figures.get_ceiling.line()}")
    print(f"ceiling, same POSTs to hello-world    {ceiling.line()}")
    print(f"inbox accept (verify + store)         {accept.line()}")
    print(
        f"  = {percent(accept.rate, ceiling.rate)} of the POST ceiling "
        f"({percent(accept.rate, figures.get_ceiling.rate)} of the GET one); "
        f"target >= {TARGET:.0%} {verdict(accept.rate >= TARGET * ceiling.rate)}"
    )
    print(
        f"  per server CPU-second: {accept.cpu_rate:.0f} accepted vs {ceiling.cpu_rate:.0f} "
        f"for the POST ceiling = {percent(accept.cpu_rate, ceiling.cpu_rate)}"
    )
    print(f"  stored {figures.stored} of {args.requests} (each activity once)")
    d = figures.drain
    print(
        f"drain (fedipoly worker, CPU 0)        {d.rate:8.0f} activities/s "
        f"({d.timed} in {d.seconds:.1f} s; backlog {d.backlog}; done {d.done}, "
        f"failed {d.failed}; {d.timeline_rows} timeline rows; "
        f"{d.cpu_rate:.0f} per worker CPU-s)"
    )
    print(
        f"  drain / accept = {d.rate / accept.rate:.2f} (target >= 1) "
        f"{verdict(d.rate >= accept.rate)}; per CPU-second: "
        f"{d.cpu_rate / accept.cpu_rate:.2f}"
    )
    print_how(__doc__)
    print(f"inbox: {verdict(ok)}")
    return {
        "ceiling_get_rps": round(figures.get_ceiling.rate),
        "ceiling_post_rps": round(ceiling.rate),
        "accept_rps": round(accept.rate),
        "accept_p50_ms": accept.p50_ms,
        "accept_p99_ms": accept.p99_ms,
        "accept_ratio": round(accept.rate / ceiling.rate, 3),
        "accept_cpu_ratio": round(accept.cpu_rate / ceiling.cpu_rate, 3),
        "drain_rps": round(d.rate),
        "drain_over_accept": round(d.rate / accept.rate, 2),
        "drain_over_accept_cpu": round(d.cpu_rate / accept.cpu_rate, 2),
        "ok": ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="the GET ceiling run")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--profile", help="py-spy the server and the worker into PROFILE.{accept,drain}.txt"
    )
    args = parser.parse_args(argv)
    figures = measure(args)
    summary = report(figures, args)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
