"""WebFinger and actor GETs per second on a real `fedipoly serve`, as a ratio to the ceiling.

    .venv/bin/python bench/discovery_bench.py                 # 10 s per figure
    .venv/bin/python bench/discovery_bench.py --seconds 3     # a quick check

Target (issue 7, item 2): each >= 60% of the framework ceiling measured in the same run.

How: the ceiling is bench/hello_server.py (aiohttp, one JSON handler) pinned to CPU 0 under
`wrk -t1 -c<connections>` pinned to CPU 1. `fedipoly serve --no-workers` on SQLite (a fresh
database with 1 member, `alice`, and `--members` - 1 others, so look-ups go through a real
index) runs beside it, also pinned to CPU 0, and the same wrk requests
``/.well-known/webfinger?resource=acct:alice@<host>`` and ``/users/alice`` with
``Accept: application/activity+json``. After a one-second warm-up each, the three runs take
turns for `--rounds` rounds and the best run of each counts (the one least disturbed by
anything else on the machine). The server keeps the documents rendered for
`server.document_cache_seconds` (default 5 s), so after the first request each run measures
cached answers; `--cache-seconds 0` measures rendering every request. Also printed: requests per CPU-second the server process used
during its run (from /proc), whose ratio holds even on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.request
from dataclasses import dataclass

from benchlib import (
    ACTIVITY_JSON,
    WrkResult,
    add_member,
    best,
    hello_server,
    log,
    machine,
    new_site,
    opened_app,
    percent,
    print_how,
    run_wrk,
    verdict,
    with_cpu,
)

from fedipoly.config import Config

TARGET = 0.60


@dataclass(frozen=True)
class Discovery:
    """The best of `rounds` runs of each; the ceiling and the two paths take turns."""

    ceiling: WrkResult
    webfinger: WrkResult
    actor: WrkResult

    def ratio(self, run: WrkResult) -> float:
        return run.rate / self.ceiling.rate

    def cpu_ratio(self, run: WrkResult) -> float:
        return run.cpu_rate / self.ceiling.cpu_rate

    @property
    def ok(self) -> bool:
        return all(
            self.ratio(run) >= TARGET and run.non_2xx == 0 and run.socket_errors == 0
            for run in (self.webfinger, self.actor)
        )


async def seed(site_config: Config, members: int) -> None:
    async with opened_app(site_config) as app:
        await add_member(app, "alice")
        for serial in range(members - 1):
            await add_member(app, f"member{serial}")


def measure(
    seconds: float, connections: int, members: int, rounds: int, cache_seconds: float | None
) -> Discovery:
    extra = {} if cache_seconds is None else {"server": {"document_cache_seconds": cache_seconds}}
    site = new_site(extra)
    config = site.write()
    log(f"seeding {members} members in {site.directory}")
    asyncio.run(seed(config, members))
    webfinger_url = f"{site.base}/.well-known/webfinger?resource=acct:alice@{config.server.domain}"
    actor_url = f"{site.base}/users/alice"
    runs: dict[str, list[WrkResult]] = {"ceiling": [], "webfinger": [], "actor": []}
    with hello_server() as (hello_base, hello_pid), site.serving(workers=False) as server:
        check(webfinger_url, {}, "subject")
        check(actor_url, {"Accept": ACTIVITY_JSON}, "publicKey")
        targets = {
            "ceiling": (f"{hello_base}/hello", {}, hello_pid),
            "webfinger": (webfinger_url, {}, server.pid),
            "actor": (actor_url, {"Accept": ACTIVITY_JSON}, server.pid),
        }
        for url, headers, _ in targets.values():
            run_wrk(url, seconds=1, connections=connections, headers=headers)  # warm-up
        for round_number in range(rounds):
            log(f"round {round_number + 1} of {rounds}")
            for name, (url, headers, pid) in targets.items():

                def one(url: str = url, headers: dict[str, str] = headers) -> WrkResult:
                    return run_wrk(url, seconds=seconds, connections=connections, headers=headers)

                runs[name].append(with_cpu(pid, one))
    return Discovery(best(runs["ceiling"]), best(runs["webfinger"]), best(runs["actor"]))


def check(url: str, headers: dict[str, str], field: str) -> None:
    """The URL answers the real document, so the benchmark measures real work."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
        document = json.load(answer)
    if field not in document:
        raise RuntimeError(f"{url} answered without {field}: {document}")


def report(result: Discovery, args: argparse.Namespace) -> dict[str, object]:
    print(f"machine: {json.dumps(machine())}")
    print(
        f"wrk -t1 -c{args.connections}, {args.seconds:g} s per run; "
        "server pinned to CPU 0, wrk to CPU 1"
    )
    print(f"best of {args.rounds} alternating rounds each")
    print(f"ceiling (aiohttp hello-world JSON)  {result.ceiling.line()}")
    for name, run in (("webfinger", result.webfinger), ("actor", result.actor)):
        ratio = result.ratio(run)
        print(
            f"{name:<34}  {run.line()}\n"
            f"{'':<34}  = {percent(run.rate, result.ceiling.rate)} of the ceiling "
            f"(target >= {TARGET:.0%}) {verdict(ratio >= TARGET)}; per server CPU-second: "
            f"{result.cpu_ratio(run):.0%}"
        )
    print_how(__doc__)
    print(f"discovery: {verdict(result.ok)}")
    return {
        "ceiling_rps": round(result.ceiling.rate),
        "webfinger_rps": round(result.webfinger.rate),
        "webfinger_p99_ms": result.webfinger.p99_ms,
        "actor_rps": round(result.actor.rate),
        "actor_p99_ms": result.actor.p99_ms,
        "webfinger_ratio": round(result.ratio(result.webfinger), 3),
        "actor_ratio": round(result.ratio(result.actor), 3),
        "webfinger_cpu_ratio": round(result.cpu_ratio(result.webfinger), 3),
        "actor_cpu_ratio": round(result.cpu_ratio(result.actor), 3),
        "ok": result.ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="the best round counts")
    parser.add_argument(
        "--cache-seconds",
        type=float,
        help="server.document_cache_seconds for the site (0 renders every request)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = measure(args.seconds, args.connections, args.members, args.rounds, args.cache_seconds)
    figures = report(result, args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
