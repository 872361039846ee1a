"""Instructions per verified and stored inbox POST, counted by valgrind: an exact A/B measure.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/inbox_instructions.py before=/tmp/before after=.

CPU time per POST moves from run to run on a shared or virtual machine (on the reference
machine by 10–30% between two runs of the same code, minutes apart), so a change worth a few
percent is invisible to `inbox_bench.py` and needs many rounds of `inbox_ab.py`. Valgrind's
callgrind counts the instructions the process executes, which do not depend on what else the
machine is doing: two runs of the same tree, each with its own signed requests, agreed
within 1%.

How it measures: one site is seeded as in inbox_bench.py (`--actors` remote actors with their
keys stored, all followed by `alice`) and `--actors + --requests` Create{Note} POSTs are signed,
once for every tree. For each tree this script runs itself (`--child`) twice under
`valgrind --tool=callgrind`, with the tree first on PYTHONPATH. A child opens the app on a
fresh copy of the database and passes requests, 50 at a time, through `InboxVerifier.verify`
and `InboxService.accept` (the HTTP handler's work): first `--actors` of them, which puts every
actor's key in memory, then 0 more in one run and `--requests` more in the other. The
difference between the two runs' totals divided by `--requests` is the cost of one POST: start-
up, the database copy and the warm-up cancel out. aiohttp's own work (parsing, routing, the
middlewares, the answer) is not counted; it is the same for every tree, and `inbox_ab.py`
measures the whole server. Instructions are not time: RSA arithmetic runs several instructions
per cycle, Python's interpreter fewer, so compare trees with it, not paths with each other.

Needs Debian's `valgrind`; a run takes ~3 minutes per tree at the default sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import Site, log, opened_app, presign_creates, source_trees
from inbox_bench import seeded_site

BENCH_DIR = Path(__file__).resolve().parent
BATCH = 50  # requests in flight together, so the inserts are group-committed as under load


@dataclasses.dataclass(frozen=True)
class Fixture:
    site: Site
    requests: list[bytes]
    warmup: int


def split_request(raw: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name] = value.strip()
    return headers, body


def private_copy(fixture: Fixture, directory: Path) -> Site:
    """The fixture's site with its files copied to `directory`, for this child alone."""
    shutil.copytree(fixture.site.directory, directory, dirs_exist_ok=True)
    return dataclasses.replace(fixture.site, directory=directory)


async def verify_and_store(site: Site, raw_requests: list[bytes]) -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    from fedipoly import appkeys
    from fedipoly.cli import freeze_startup_heap

    requests = [
        (CIMultiDictProxy(CIMultiDict(headers)), body)
        for headers, body in map(split_request, raw_requests)
    ]
    async with opened_app(site.write()) as app:
        await freeze_startup_heap(app)  # as `fedipoly serve` does
        verifier, inbox = app[appkeys.VERIFIER], app[appkeys.INBOX]

        async def one(headers: CIMultiDictProxy[str], body: bytes) -> None:
            verified = await verifier.verify(
                method="POST", target="/inbox", headers=headers, body=body
            )
            if not await inbox.accept(verified):
                raise RuntimeError("a POST was not stored")

        for start in range(0, len(requests), BATCH):
            await asyncio.gather(*(one(h, b) for h, b in requests[start : start + BATCH]))


def child(fixture_path: Path, count: int) -> None:
    fixture: Fixture = pickle.loads(fixture_path.read_bytes())
    with tempfile.TemporaryDirectory(prefix="fedipoly-instructions-") as directory:
        site = private_copy(fixture, Path(directory))
        asyncio.run(verify_and_store(site, fixture.requests[: fixture.warmup + count]))


def counted_instructions(tree: str, fixture_path: Path, count: int, scratch: Path) -> int:
    out = scratch / f"callgrind.{os.getpid()}.{count}.{abs(hash(tree))}"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(fixture_path),
        str(count),
    ]
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{BENCH_DIR}"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    out.unlink(missing_ok=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None:
        raise RuntimeError(f"{tree}: the child failed:\n{done.stderr[-3000:]}")
    return int(collected.group(1))


def per_request(tree: str, fixture_path: Path, count: int, scratch: Path) -> float:
    # The two runs are independent: side by side on two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        base, full = pool.map(
            lambda n: counted_instructions(tree, fixture_path, n, scratch), (0, count)
        )
    return (full - base) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs="*", default=["current=."], help="NAME=PATH of a tree")
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--child", nargs=2, metavar=("FIXTURE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    trees = source_trees(args.trees)
    site, peers = seeded_site(args.actors)
    requests = presign_creates(peers, f"{site.base}/inbox", args.actors + args.requests)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        fixture_path = scratch / "fixture.pickle"
        fixture_path.write_bytes(pickle.dumps(Fixture(site, requests, warmup=args.actors)))
        results = {}
        for name, tree in trees.items():
            log(f"{name}: counting ({tree})")
            results[name] = per_request(tree, fixture_path, args.requests, scratch)
    print(
        f"instructions per verified and stored Create{{Note}} POST "
        f"({args.requests} POSTs after {args.actors} warm-up, valgrind callgrind)"
    )
    for name, value in results.items():
        print(f"{name:>12}: {value:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
