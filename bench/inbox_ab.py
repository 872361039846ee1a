"""CPU per accepted inbox POST for several source trees, measured in turns: an A/B test.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/inbox_ab.py before=/tmp/before after=. --rounds 3

A change worth a few percent of an accepted POST is smaller than the run-to-run noise of
`inbox_bench.py` (its ceiling alone moves by ±8%), so two of its runs cannot tell such a
change from luck. Here every tree serves the same signed requests against the same database,
one after the other and round after round, and the median CPU time per POST is compared.

How it measures: one site is seeded as in inbox_bench.py (`--actors` followed actors, keys
stored) and a copy of its database is kept; `--requests` Create{Note} POSTs are signed once.
For each round and each tree: the database is restored from the copy, `fedipoly serve
--no-workers` starts on CPU 0 with the tree first on PYTHONPATH (so its `fedipoly` and
`federation` packages are the ones imported), wrk replays every request from CPU 1, and the
server's CPU time (/proc) is divided by the number of requests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchlib import log, presign_creates, source_trees, write_raw_requests
from inbox_bench import replay_to_inbox, seeded_site


def restore(database: Path, pristine: Path) -> None:
    for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(pristine, database)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="+", help="NAME=PATH of a source tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args(argv)
    trees = source_trees(args.trees)

    site, peers = seeded_site(args.actors)
    pristine = site.directory / "pristine.sqlite3"
    shutil.copy(site.database, pristine)
    requests = presign_creates(peers, f"{site.base}/inbox", args.requests)
    with tempfile.TemporaryDirectory() as scratch:
        requests_file = Path(scratch) / "requests.bin"
        write_raw_requests(requests_file, requests)
        cpu_us: dict[str, list[float]] = {name: [] for name in trees}
        for round_number in range(1, args.rounds + 1):
            for name, tree in trees.items():
                restore(site.database, pristine)
                os.environ["PYTHONPATH"] = tree
                with site.serving(workers=False) as server:
                    result = replay_to_inbox(
                        site,
                        server.pid,
                        requests_file,
                        answers=args.requests,
                        connections=args.connections,
                    )
                if result.non_2xx:
                    raise RuntimeError(f"{name}: {result.non_2xx} requests were refused")
                cpu_us[name].append(result.server_cpu / args.requests * 1e6)
                log(f"round {round_number}, {name}: {cpu_us[name][-1]:.1f} µs of CPU per POST")
    print(f"{args.requests} signed Create{{Note}} POSTs per run, {args.rounds} rounds, in turns")
    for name, runs in cpu_us.items():
        figures = ", ".join(f"{run:.1f}" for run in runs)
        print(f"{name:>12}: median {statistics.median(runs):.1f} µs per accepted POST ({figures})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
