"""Home timeline page reads on SQLite at 10k and 1M posts: p50, p99, their ratio, and RSS.

    .venv/bin/python bench/timeline_bench.py                 # generate (or --reuse) and measure
    .venv/bin/python bench/timeline_bench.py --reuse --posts 10000,1000000 --reads 2000

Targets (issue 4 "Benchmark", issue 7 items 5 and 6): p50(1M) / p50(10k) <= 1.5, p50 <= 5 ms at
1M posts, RSS <= 150 MB idle and <= 400 MB after loading 1M posts. Latencies are measured in
one child process that alternates between the datasets in blocks, so a busy neighbour slows
both sizes alike; RSS is measured in a fresh child process per dataset. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import importlib.metadata
import io
import json
import math
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from timeline_data import DATASET_SETTING, URLS, Shape, dataset_path, generate, stored_dataset

from fedipoly.models import Account, utc_now
from fedipoly.services.delivery import Deliverer
from fedipoly.services.posts import PAGE_SIZE, PostService, encode_cursor
from fedipoly.store.sqlite import SqliteStore
from fedipoly.store.sqlite.core import from_db_time

TARGET_RATIO = 1.5
TARGET_P50_MS = 5.0
TARGET_RSS_IDLE_MB = 150
TARGET_RSS_LOADED_MB = 400
DEEP_SHARE = 0.5  # half the reads ask for a deeper page, at a random cursor
BLOCK = 10  # reads per dataset before switching to the other one

Sample = tuple[bool, float, float]  # (deeper page?, wall ms, process CPU ms)
Read = tuple[str, Any]  # (owner account id, (published, post id) cursor or None)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def memory_status() -> dict[str, float]:
    """VmRSS and friends from /proc/self/status, in MB (Linux)."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[name] = int(value.split()[0]) / 1024
    return fields


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "aiosqlite": importlib.metadata.version("aiosqlite"),
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(samples: list[Sample]) -> dict[str, float]:
    wall = sorted(ms for _, ms, _ in samples)
    first = [ms for deep, ms, _ in samples if not deep]
    deep = [ms for is_deep, ms, _ in samples if is_deep]
    return {
        "p50": statistics.median(wall),
        "p99": percentile(wall, 0.99),
        "mean": statistics.fmean(wall),
        "first_p50": statistics.median(first) if first else math.nan,
        "deep_p50": statistics.median(deep) if deep else math.nan,
        "cpu_p50": statistics.median(cpu for _, _, cpu in samples),
    }


def read_through(path: Path) -> int:
    """Bring the file into the OS page cache (the bench measures the hot path; a cold read is
    a disk benchmark). read() into one reused buffer, so none of it stays in our RSS."""
    buffer = bytearray(8 << 20)
    with open(path, "rb", buffering=0) as file:
        while file.readinto(buffer):
            pass
    return path.stat().st_size


# --- the measuring children -----------------------------------------------------------------


@dataclass
class Dataset:
    """One open database, its readers, and the reads chosen for it before any timing."""

    path: Path
    store: SqliteStore
    service: PostService
    rng: random.Random
    owners: list[str] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)

    @classmethod
    async def open(cls, path: Path, seed: int) -> Dataset:
        store = SqliteStore(str(path))
        await store.open()
        # Reads never deliver: the deliverer (which needs an HTTP client) is left out.
        service = PostService(store, cast(Deliverer, None), URLS, utc_now)
        dataset = cls(path, store, service, random.Random(seed))
        dataset.owners = [row["id"] for row in await store.fetch_all("SELECT id FROM accounts")]
        return dataset

    async def _length(self, owner: str) -> int:
        if owner not in self.lengths:
            row = await self.store.fetch_one(
                "SELECT COUNT(*) AS n FROM timeline_entries WHERE owner_id = ?", (owner,)
            )
            self.lengths[owner] = int(row["n"]) if row else 0
        return self.lengths[owner]

    async def sample(self, count: int) -> list[Read]:
        """Random readers; first pages, or deeper pages at a random cursor. Every page asked
        for has PAGE_SIZE posts after its cursor."""
        reads: list[Read] = []
        while len(reads) < count:
            owner = self.rng.choice(self.owners)
            deep = self.rng.random() < DEEP_SHARE
            length = await self._length(owner)
            if length < (2 if deep else 1) * PAGE_SIZE:
                continue  # another reader: this one has no such page
            if owner not in self.accounts:
                account = await self.store.get_account(owner)
                assert account is not None
                self.accounts[owner] = account
            if not deep:
                reads.append((owner, None))
                continue
            # The last post of an earlier page: PAGE_SIZE..length-PAGE_SIZE posts lie above it.
            above = self.rng.randint(PAGE_SIZE, length - PAGE_SIZE)
            row = await self.store.fetch_one(
                "SELECT published, post_id FROM timeline_entries WHERE owner_id = ?"
                " ORDER BY published DESC, post_id DESC LIMIT 1 OFFSET ?",
                (owner, above - 1),
            )
            assert row is not None
            reads.append((owner, (from_db_time(row["published"]), row["post_id"])))
        return reads

    async def store_read(self, owner: str, cursor: Any) -> int:
        return len(await self.store.home_timeline(owner, before=cursor, limit=PAGE_SIZE))

    async def service_read(self, owner: str, cursor: Any) -> int:
        # The opaque cursor the API hands out, decoded inside the timed service call.
        text = encode_cursor(*cursor) if cursor is not None else None
        page = await self.service.home_timeline(self.accounts[owner], before=text)
        return len(page.posts)

    async def description(self) -> dict[str, Any]:
        described: dict[str, Any] = json.loads(
            await self.store.get_setting(DATASET_SETTING) or "{}"
        )
        settings = {}
        for pragma in ("page_size", "cache_size", "mmap_size", "journal_mode"):
            row = await self.store.fetch_one(f"PRAGMA {pragma}")
            settings[pragma] = row[0] if row else None
        version = await self.store.fetch_one("SELECT sqlite_version() AS v")
        return {"dataset": described, "settings": settings, "sqlite": version["v"]}

    async def query_plans(self, read: Read) -> list[dict[str, Any]]:
        """EXPLAIN QUERY PLAN of the exact SQL home_timeline runs (caught by wrapping
        fetch_all), for a first page and for a page after a cursor."""
        store, plans = self.store, []
        for before in (None, read[1]):
            caught: list[tuple[str, tuple[Any, ...]]] = []
            original = store.fetch_all

            async def spy(
                sql: str, params: Any = (), original: Any = original, caught: Any = caught
            ):
                caught.append((sql, tuple(params)))
                return await original(sql, params)

            store.fetch_all = spy  # type: ignore[method-assign]
            try:
                await store.home_timeline(read[0], before=before, limit=PAGE_SIZE)
            finally:
                del store.fetch_all
            sql, params = caught[0]
            rows = await store.fetch_all(f"EXPLAIN QUERY PLAN {sql}", params)
            plans.append({"sql": sql, "plan": [row["detail"] for row in rows]})
        return plans


async def timed(
    reads: list[Read], read: Any, profile: cProfile.Profile | None = None
) -> list[Sample]:
    """One read at a time: wall time and the CPU time of the whole process (both threads)."""
    samples = []
    bad_pages = 0
    if profile is not None:
        profile.enable()
    for owner, cursor in reads:
        cpu = time.process_time_ns()
        started = time.perf_counter_ns()
        size = await read(owner, cursor)
        wall = time.perf_counter_ns() - started
        samples.append((cursor is not None, wall / 1e6, (time.process_time_ns() - cpu) / 1e6))
        bad_pages += size != PAGE_SIZE
    if profile is not None:
        profile.disable()
    assert bad_pages == 0, f"{bad_pages} pages did not hold {PAGE_SIZE} posts"
    return samples


async def measure_latency(
    paths: list[Path], reads: int, warmup: int, seed: int, profile: bool
) -> dict[str, Any]:
    """Both paths on every dataset, alternating between datasets every BLOCK reads."""
    datasets = [await Dataset.open(path, seed) for path in paths]
    try:
        plans = []
        chosen = []
        for dataset in datasets:
            warm, store_reads, service_reads = [
                await dataset.sample(n) for n in (warmup, reads, reads)
            ]
            chosen.append((warm, store_reads, service_reads))
            deep = next(read for read in store_reads if read[1] is not None)
            plans.append(await dataset.query_plans(deep))
        for dataset, (warm, _, _) in zip(datasets, chosen, strict=True):
            await timed(warm, dataset.store_read)
            await timed(warm, dataset.service_read)
        load_before = os.getloadavg()
        samples: list[dict[str, list[Sample]]] = [{"store": [], "service": []} for _ in datasets]
        for number, start in enumerate(range(0, reads, BLOCK)):
            order = list(range(len(datasets)))
            if number % 2:
                order.reverse()
            for index in order:
                dataset, (_, store_reads, service_reads) = datasets[index], chosen[index]
                samples[index]["store"] += await timed(
                    store_reads[start : start + BLOCK], dataset.store_read
                )
                samples[index]["service"] += await timed(
                    service_reads[start : start + BLOCK], dataset.service_read
                )
        load_after = os.getloadavg()
        results = []
        for dataset, collected, plan, (_, store_reads, _) in zip(
            datasets, samples, plans, chosen, strict=True
        ):
            described = await dataset.description()
            results.append(
                {
                    **described,
                    "path": str(dataset.path),
                    "store": summary(collected["store"]),
                    "service": summary(collected["service"]),
                    "deep_share": sum(1 for _, c in store_reads if c is not None) / reads,
                    "plans": plan,
                }
            )
        profile_text = ""
        if profile:  # a separate, untimed pass: the profiler's overhead would skew the figures
            profiler = cProfile.Profile()
            await timed(chosen[-1][2], datasets[-1].service_read, profiler)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
            profile_text = out.getvalue()
    finally:
        for dataset in datasets:
            await dataset.store.close()
    return {
        "results": results,
        "loadavg": [load_before[0], load_after[0]],
        "profile": profile_text,
    }


async def measure_memory(path: Path, reads: int, seed: int) -> dict[str, Any]:
    """RSS after importing the whole server and opening the store, then after page reads."""
    importlib.import_module("fedipoly.app")
    dataset = await Dataset.open(path, seed)
    idle = memory_status()
    try:
        sample = await dataset.sample(reads)
        await timed(sample, dataset.store_read)
        await timed(sample, dataset.service_read)
        loaded = memory_status()
    finally:
        await dataset.store.close()
    return {"idle": idle, "loaded": loaded, "reads": 2 * reads}


# --- the orchestrating parent ---------------------------------------------------------------


async def _description(path: Path) -> dict[str, Any] | None:
    store = SqliteStore(str(path))
    await store.open()
    try:
        return await stored_dataset(store)
    finally:
        await store.close()


def ensure_dataset(directory: Path, shape: Shape, reuse: bool) -> Path:
    """The database for `shape`: made earlier (with --reuse, when complete) or generated now."""
    path = dataset_path(directory, shape)
    if reuse and path.exists():
        description = asyncio.run(_description(path))
        if description is not None and description["shape"] == shape.as_dict():
            log(f"reusing {path} ({path.stat().st_size / 1e9:.2f} GB)")
            return path
        log(f"{path} is incomplete or was made differently: generating it again")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    log(f"generating {path}: {shape}")
    description = asyncio.run(generate(path, shape, log))
    log(
        f"  done in {description['generation_seconds']:.0f}s,"
        f" {path.stat().st_size / 1e9:.2f} GB,"
        f" peak RSS of this process so far {memory_status()['VmHWM']:.0f} MB"
    )
    return path


def run_child(*arguments: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def size_label(posts: int) -> str:
    if posts >= 1_000_000 and posts % 1_000_000 == 0:
        return f"{posts // 1_000_000}M"
    if posts >= 1000 and posts % 1000 == 0:
        return f"{posts // 1000}k"
    return str(posts)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


PATHS = (
    ("store", "SqliteStore.home_timeline"),
    ("service", "PostService.home_timeline (+ cursor decode)"),
)


def report(
    latency: dict[str, Any],
    memory: list[dict[str, Any]],
    sizes: dict[str, int],
    args: argparse.Namespace,
    command: str,
) -> bool:
    info = machine()
    results = latency["results"]
    small, large = results[0], results[-1]
    little = size_label(small["dataset"]["posts"])
    big = size_label(large["dataset"]["posts"])
    print("Home timeline page read (20 posts) on SQLite — bench/timeline_bench.py")
    print(f"command: {command}")
    print(
        f"machine: nproc {info['nproc']} ({info['cpu']}), {info['memory_gib']} GiB RAM,"
        f" {info['platform']}; load average {latency['loadavg'][0]:.1f} before and"
        f" {latency['loadavg'][1]:.1f} after the timed reads"
    )
    print(
        f"software: Python {info['python']}, SQLite {large['sqlite']}, aiosqlite"
        f" {info['aiosqlite']}; connection as the app opens it: {large['settings']}"
    )
    print()
    print(
        "datasets (made through SqliteStore, schema from the migrations; bench/timeline_data.py):"
    )
    for result in results:
        data = result["dataset"]
        lengths = data["timeline_length"]
        print(
            f"  {size_label(data['posts']):>4}: {data['members']:,} members,"
            f" {data['follows']:,} follows ({data['shape']['follows']} each, Zipf popularity),"
            f" {data['posts']:,} posts (Zipf activity, 10% followers-only, over"
            f" {data['shape']['span_days']} days), {data['timeline_rows']:,} timeline rows"
            f" (fan-out share {data['share']:.2f}; rows per reader min/median/max"
            f" {lengths['min']}/{lengths['median']}/{lengths['max']}),"
            f" {sizes[result['path']] / 1e9:.2f} GB, generated in {data['generation_seconds']:.0f}s"
        )
    print()
    print(
        f"reads: {args.reads:,} timed per path and dataset after {args.warmup:,} warm-up reads,"
        f" one at a time on the store's one connection, alternating datasets every {BLOCK};"
        f" random readers; {large['deep_share']:.0%} deeper pages at a random cursor, the rest"
        " first pages; every page holds 20 posts; OS page cache warm (each file read once"
        " first). cpu = CPU time of the process (both threads) per read."
    )
    print()
    print(f"query plan of SqliteStore.home_timeline (EXPLAIN QUERY PLAN, {big} dataset):")
    plans_ok = True
    for plan in large["plans"]:
        print(f"  {plan['sql']}")
        for line in plan["plan"]:
            print(f"    {line}")
        text = " | ".join(plan["plan"])
        plans_ok &= "SEARCH t USING PRIMARY KEY (owner_id=?" in text and "TEMP B-TREE" not in text
    print(f"  -> one range scan on the timeline_entries primary key, no sort: {verdict(plans_ok)}")
    print()
    print(
        f"  {'path':<44} {'posts':>5} {'p50 ms':>7} {'p99 ms':>7} {'mean':>6}"
        f" {'first p50':>9} {'deep p50':>9} {'cpu p50':>8}"
    )
    for key, label in PATHS:
        for result in results:
            figures = result[key]
            print(
                f"  {label:<44} {size_label(result['dataset']['posts']):>5}"
                f" {figures['p50']:7.3f} {figures['p99']:7.3f} {figures['mean']:6.3f}"
                f" {figures['first_p50']:9.3f} {figures['deep_p50']:9.3f}"
                f" {figures['cpu_p50']:8.3f}"
            )
    print()
    all_ok = plans_ok
    for key, label in PATHS:
        ratio = large[key]["p50"] / small[key]["p50"]
        p50 = large[key]["p50"]
        ok_ratio, ok_p50 = ratio <= TARGET_RATIO, p50 <= TARGET_P50_MS
        all_ok &= ok_ratio and ok_p50
        print(
            f"  {label}: p50 ratio {big}/{little} = {ratio:.2f} (target <= {TARGET_RATIO})"
            f" {verdict(ok_ratio)}; p50 at {big} = {p50:.3f} ms (target <= {TARGET_P50_MS})"
            f" {verdict(ok_p50)}"
        )
    small_memory, large_memory = memory[0], memory[-1]
    idle, loaded = large_memory["idle"], large_memory["loaded"]
    ok_idle = idle["VmRSS"] <= TARGET_RSS_IDLE_MB
    ok_loaded = loaded["VmRSS"] <= TARGET_RSS_LOADED_MB
    all_ok &= ok_idle and ok_loaded
    print()
    print(
        f"RSS, fresh process on the {big} dataset: idle (fedipoly.app imported, store open)"
        f" {idle['VmRSS']:.1f} MB (target <= {TARGET_RSS_IDLE_MB}) {verdict(ok_idle)};"
        f" after {large_memory['reads']:,} page reads {loaded['VmRSS']:.1f} MB (anon"
        f" {loaded['RssAnon']:.1f}, file-backed {loaded['RssFile']:.1f}; peak"
        f" {loaded['VmHWM']:.1f}) (target <= {TARGET_RSS_LOADED_MB}) {verdict(ok_loaded)}"
    )
    print(
        f"  ({little} dataset: idle {small_memory['idle']['VmRSS']:.1f} MB, after reads"
        f" {small_memory['loaded']['VmRSS']:.1f} MB.) RSS is this Python process's resident"
        " memory: interpreter, imported modules (file-backed: shared libraries), aiosqlite's"
        f" thread and SQLite's page cache (cache_size {large['settings']['cache_size']} = 2 MB"
        " per connection; mmap_size 0). The database file is read with pread into that cache;"
        " the OS page cache that holds the file is not in any process's RSS."
    )
    if latency["profile"]:
        print()
        print(f"cProfile of the service-path reads at {big}, an extra untimed pass (event-loop")
        print("thread only: SQLite runs on aiosqlite's thread and shows here as waiting):")
        print(latency["profile"])
    print()
    print(f"overall: {verdict(all_ok)}")
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", default="10000,1000000", help="dataset sizes, comma-separated")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--follows", type=int, default=50, help="members each member follows")
    parser.add_argument(
        "--max-fanout-rows",
        type=int,
        default=10_000_000,
        help="budget of follower timeline rows per dataset (above it, followers get a share)",
    )
    parser.add_argument("--reads", type=int, default=2000, help="timed reads per path and size")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-dir", type=Path, default=Path("/tmp/fedipoly-bench"))
    parser.add_argument("--reuse", action="store_true", help="keep databases made earlier")
    parser.add_argument("--profile", action="store_true", help="cProfile the service reads")
    parser.add_argument("--latency-of", help=argparse.SUPPRESS)  # child: paths, comma-separated
    parser.add_argument("--memory-of", type=Path, help=argparse.SUPPRESS)  # child: one path
    args = parser.parse_args()

    if args.latency_of:
        paths = [Path(path) for path in args.latency_of.split(",")]
        sizes = {str(path): read_through(path) for path in paths}
        result = asyncio.run(
            measure_latency(paths, args.reads, args.warmup, args.seed, args.profile)
        )
        print(json.dumps({**result, "sizes": sizes}))
        return 0
    if args.memory_of:
        read_through(args.memory_of)
        print(json.dumps(asyncio.run(measure_memory(args.memory_of, args.reads, args.seed))))
        return 0

    sizes = sorted(int(value) for value in args.posts.split(","))
    paths = []
    for posts in sizes:
        shape = Shape(args.members, posts, args.follows, args.max_fanout_rows, args.seed)
        paths.append(ensure_dataset(args.db_dir, shape, args.reuse))
    common = ["--reads", str(args.reads), "--warmup", str(args.warmup), "--seed", str(args.seed)]
    log("measuring latency in a fresh process (datasets alternate)")
    profile = ["--profile"] if args.profile else []
    latency = run_child("--latency-of", ",".join(str(p) for p in paths), *common, *profile)
    memory = []
    for path in paths:
        log(f"measuring RSS on {path.name} in a fresh process")
        memory.append(run_child("--memory-of", str(path), *common))
    command = " ".join([".venv/bin/python", "bench/timeline_bench.py", *sys.argv[1:]])
    return 0 if report(latency, memory, latency["sizes"], args, command) else 1


if __name__ == "__main__":
    sys.exit(main())
