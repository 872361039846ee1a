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
  advance) with `--connections` (50), closed-loop; the workers then drain what it posted. The
  maximum is the mix's sustainable rate: requests / (wrk's time + the time to drain), since
  the same core serves the requests and runs the workers.
* Soak: after the queue from the calibration has drained, wrk (CPU 1) replays a fresh set of
  requests of the mix (signed in advance, each POST a new note) for `--seconds` with
  bench/replay_paced.lua: each of `--soak-connections` (200) connections pauses
  connections / rate before each request, so the load stays near `--share` (0.5) x the
  maximum whatever else happens (each answer's latency adds to its connection's pause, so
  the rate reached is a little lower; many connections with long pauses keep that small);
  it must reach at least 90% of that rate.
* Errors: any answer that is not 2xx (GETs answer 200, POSTs 202), any socket error or
  timeout (10 s), and any activity that ends `failed`. After the load stops, the queue must
  drain completely. Latency: wrk's p50 and p99 over the whole mix.
* RSS: the server's VmRSS every 5 s; growth is measured from the sample after a warm-up of
  a quarter of the run, at most 30 s (caches, pools and SQLite's page cache fill at the
  start), to the last sample, and also from the first sample.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    ACTIVITY_JSON,
    BENCH_DIR,
    Peer,
    Site,
    WrkResult,
    log,
    machine,
    parse_wrk,
    presign_creates,
    print_how,
    replay_with_wrk,
    rss_mb,
    verdict,
    write_raw_requests,
    wrk_command,
)
from inbox_bench import seeded_site

TARGET_RSS_GROWTH = 0.10
MIX = (("webfinger", 0.3), ("actor", 0.3), ("profile", 0.2), ("inbox", 0.2))
PACED_SCRIPT = BENCH_DIR / "replay_paced.lua"


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


def mixed_requests(
    site: Site, peers: list[Peer], total: int, rng: random.Random, first_serial: int
) -> list[bytes]:
    """`total` requests in the MIX's proportions, in random order; each POST a new note."""
    kinds = rng.choices([k for k, _ in MIX], [w for _, w in MIX], k=total)
    url = f"{site.base}/inbox"
    posts = iter(presign_creates(peers, url, kinds.count("inbox"), start=first_serial))
    return [next(posts) if kind == "inbox" else raw_get(site, kind) for kind in kinds]


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


def paced_soak(
    site: Site, server_pid: int, requests_file: Path, rate: float, args: argparse.Namespace
) -> tuple[WrkResult, list[RssSample]]:
    """wrk replays the mix with every connection pausing so that the total is `rate`/s."""
    pause_ms = round(args.soak_connections / rate * 1000)
    command = wrk_command(
        f"{site.base}/",
        seconds=args.seconds,
        connections=args.soak_connections,
        script=PACED_SCRIPT,
        script_args=[str(requests_file), str(pause_ms)],
        timeout_seconds=10,
    )
    samples = [RssSample(time.monotonic(), rss_mb(server_pid))]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while True:
        try:
            stdout, stderr = wrk.communicate(timeout=5)
            break
        except subprocess.TimeoutExpired:
            samples.append(RssSample(time.monotonic(), rss_mb(server_pid)))
    samples.append(RssSample(time.monotonic(), rss_mb(server_pid)))
    if not stdout.strip():
        raise RuntimeError(f"wrk failed: {stderr.decode()}")
    return parse_wrk(stdout.decode()), samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--share", type=float, default=0.5, help="of the measured maximum")
    parser.add_argument("--rate", type=float, help="requests/s; skips the calibration")
    parser.add_argument("--actors", type=int, default=100)
    parser.add_argument("--connections", type=int, default=50, help="for the maximum")
    parser.add_argument(
        "--soak-connections",
        type=int,
        default=200,
        help="paced connections; many, so that latency barely slows the paced rate",
    )
    parser.add_argument("--calibration", type=int, default=10000, help="requests for the max")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    host = machine()

    site, peers = seeded_site(args.actors, {"workers": {"poll_interval_seconds": 0.2}})
    scratch = Path(tempfile.mkdtemp(prefix="fedipoly-bench-soak-"))
    maximum: WrkResult | None = None
    sustainable = 0.0
    with site.serving(workers=True) as server:
        if args.rate is None:
            log(f"calibrating: wrk replays {args.calibration} requests of the mix")
            calibration_file = scratch / "calibration.bin"
            write_raw_requests(
                calibration_file, mixed_requests(site, peers, args.calibration, rng, 10**6)
            )
            maximum = replay_with_wrk(
                f"{site.base}/",
                calibration_file,
                answers=args.calibration,
                connections=args.connections,
                timeout=600,
            )
            drain_started = time.monotonic()
            wait_drained(site, 600)
            sustainable = args.calibration / (maximum.seconds + time.monotonic() - drain_started)
            rate = args.share * sustainable
        else:
            rate = args.rate
        total = int(rate * args.seconds * 1.2) + 100
        log(f"signing and writing {total} requests of the mix for the soak")
        soak_file = scratch / "soak.bin"
        write_raw_requests(soak_file, mixed_requests(site, peers, total, rng, 2 * 10**6))
        wait_drained(site, 600)
        log(f"soaking at {rate:.0f} requests/s for {args.seconds:g} s")
        soaked, samples = paced_soak(site, server.pid, soak_file, rate, args)
        wait_drained(site, 600)
        failed = count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'failed'")
        done = count(site.database, "SELECT COUNT(*) FROM inbox_items WHERE state = 'done'")
    warm_up = min(30.0, 0.25 * args.seconds)
    warm = next(s for s in samples if s.at - samples[0].at >= warm_up or s is samples[-1])
    growth = samples[-1].mb / warm.mb - 1
    growth_from_start = samples[-1].mb / samples[0].mb - 1
    errors = soaked.non_2xx + soaked.socket_errors + failed
    kept_up = soaked.rate >= 0.9 * rate
    ok = errors == 0 and kept_up and growth < TARGET_RSS_GROWTH

    print(f"machine: {json.dumps(host)}")
    print("fedipoly serve (with workers) on CPU 0; wrk on CPU 1")
    if maximum is not None:
        print(f"the mix under wrk -c{args.connections}, closed loop: {maximum.line()}")
        print(f"sustainable maximum (requests / (wrk + drain time)): {sustainable:.0f} req/s")
    print(
        f"soak at {rate:.0f} req/s ({args.share:.0%} of the maximum), "
        f"{args.soak_connections} connections pausing "
        f"{round(args.soak_connections / rate * 1000)} ms "
        f"before each request: {soaked.line()}"
    )
    print(f"  kept up: {soaked.rate / rate:.0%} of the intended rate (at least 90%)")
    print(f"  inbox activities: {done} done, {failed} failed, queue drained")
    print(
        f"RSS: {samples[0].mb:.1f} MB at the start, {warm.mb:.1f} MB after warm-up, "
        f"{samples[-1].mb:.1f} MB at the end, max {max(s.mb for s in samples):.1f} MB: "
        f"growth {growth:+.1%} after warm-up ({growth_from_start:+.1%} from the start); "
        f"target < {TARGET_RSS_GROWTH:.0%}"
    )
    print(
        f"errors: {errors} (non-2xx {soaked.non_2xx}, socket {soaked.socket_errors}, "
        f"failed activities {failed}); target 0"
    )
    print_how(__doc__)
    print(f"soak: {verdict(ok)}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "max_rps": round(sustainable) if maximum else None,
                    "rate": round(rate),
                    "achieved_rps": round(soaked.rate),
                    "seconds": round(soaked.seconds),
                    "sent": soaked.requests,
                    "errors": errors,
                    "p50_ms": soaked.p50_ms,
                    "p99_ms": soaked.p99_ms,
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
