"""Run every load benchmark and print the README's Performance table (Markdown).

    .venv/bin/python bench/run_all.py            # full scale, as in the README (~20 min)
    .venv/bin/python bench/run_all.py --quick    # reduced scale and durations (~6 min)

Runs discovery_bench.py, inbox_bench.py, delivery_bench.py and soak.py one after the other
(each pins its server to CPU 0 and its load to CPU 1, so run nothing else meanwhile), keeps
each one's full output and JSON figures in `--out` (default $TMPDIR/fedipoly-bench/results),
and prints a table to paste into README.md. Timeline reads and memory at 1M posts have their
own, longer benchmark (bench/timeline_bench.py: ~8 min to generate the 1M dataset).
Exit status 1 when any target fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = Path(os.environ.get("TMPDIR", "/tmp")) / "fedipoly-bench" / "results"

FULL: dict[str, list[str]] = {
    "discovery": ["--seconds", "10"],
    "inbox": ["--actors", "1000", "--requests", "20000"],
    "delivery": ["--followers", "10000", "--hosts", "1000"],
    "soak": ["--seconds", "300"],
}
QUICK: dict[str, list[str]] = {
    "discovery": ["--seconds", "3", "--members", "200"],
    "inbox": ["--actors", "200", "--requests", "4000", "--seconds", "3"],
    "delivery": ["--followers", "2000", "--hosts", "200", "--sign-seconds", "2"],
    "soak": ["--seconds", "60", "--actors", "50", "--calibration", "3000"],
}
SCRIPTS = {
    "discovery": "discovery_bench.py",
    "inbox": "inbox_bench.py",
    "delivery": "delivery_bench.py",
    "soak": "soak.py",
}


def run(name: str, extra: list[str], out: Path) -> dict[str, Any]:
    figures = out / f"{name}.json"
    command = [sys.executable, str(BENCH_DIR / SCRIPTS[name]), *extra, "--json", str(figures)]
    print(f"== {' '.join(command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    with open(out / f"{name}.txt", "w", encoding="utf-8") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    print(
        f"   exit {status.returncode} after {time.monotonic() - started:.0f} s; "
        f"output in {out / f'{name}.txt'}",
        file=sys.stderr,
        flush=True,
    )
    if not figures.exists():
        raise RuntimeError(f"{name} wrote no figures; see {out / f'{name}.txt'}")
    return dict(json.loads(figures.read_text(encoding="utf-8")))


def pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def table(results: dict[str, dict[str, Any]]) -> str:
    d, i, v, s = (results.get(k, {}) for k in ("discovery", "inbox", "delivery", "soak"))
    rows = [
        "| what | figure | ratio (wall clock) | ratio per CPU-second | target |",
        "|---|---|---|---|---|",
    ]
    if d:
        rows += [
            f"| framework ceiling: aiohttp hello-world JSON, GET | {d['ceiling_rps']:,} req/s "
            "| 100% | 100% | (reference) |",
            f"| WebFinger GET | {d['webfinger_rps']:,} req/s, p99 {d['webfinger_p99_ms']:.0f} ms "
            f"| {pct(d['webfinger_ratio'])} | {pct(d['webfinger_cpu_ratio'])} | ≥ 60% |",
            f"| actor document GET | {d['actor_rps']:,} req/s, p99 {d['actor_p99_ms']:.0f} ms "
            f"| {pct(d['actor_ratio'])} | {pct(d['actor_cpu_ratio'])} | ≥ 60% |",
        ]
    if i:
        rows += [
            f"| inbox: signed Create{{Note}} accepted (verify + store) | {i['accept_rps']:,}/s, "
            f"p99 {i['accept_p99_ms']:.0f} ms | {pct(i['accept_ratio'])} of the POST ceiling "
            f"({i['ceiling_post_rps']:,}/s) | {pct(i['accept_cpu_ratio'])} | ≥ 25% |",
            f"| inbox: backlog drained by one worker | {i['drain_rps']:,}/s "
            f"| {i['drain_over_accept']:.2f} × accept rate | {i['drain_over_accept_cpu']:.2f} × "
            "| ≥ 1 × |",
        ]
    for mode, label in (("shared", "shared inboxes"), ("personal", "personal inboxes")):
        if mode in v:
            m = v[mode]
            rows.append(
                f"| delivery, {label}: {m['queued']:,} deliveries | {m['deliveries_per_s']:,}/s "
                f"(RSA-2048 signing: {m['signatures_per_s']:,}/s) | {pct(m['ratio'])} of "
                f"signatures/s | {pct(m['cpu_ratio'])} | ≥ 70% |"
            )
    if s:
        rows += [
            f"| soak: mixed load at {s['rate']:,} req/s (half of {s['max_rps'] or '?'}) for "
            f"{s['seconds']} s | {s['achieved_rps']:,} req/s reached, {s['errors']} errors, "
            f"p99 {s['p99_ms']:.0f} ms | | | 0 errors |",
            f"| soak: server RSS | {s['rss_start_mb']} → {s['rss_end_mb']} MB "
            f"| {s['rss_growth']:+.1%} after warm-up | | < 10% |",
        ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced scale, for a check")
    parser.add_argument("--only", help="comma-separated: discovery,inbox,delivery,soak")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    plan = QUICK if args.quick else FULL
    names = args.only.split(",") if args.only else list(plan)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        try:
            results[name] = run(name, plan[name], args.out)
        except RuntimeError as failure:
            print(f"   {failure}", file=sys.stderr)
    print(table(results))
    print(
        f"\n{'quick' if args.quick else 'full'} run, load average {os.getloadavg()[0]:.2f} "
        f"at the end; outputs in {args.out}"
    )
    return 0 if len(results) == len(names) and all(r.get("ok") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
