"""Summarise a py-spy "raw" profile (collapsed stacks): where each thread spends its samples.

    python bench/profile_summary.py PROFILE.txt [--top 40] [--thread MainThread]

Prints, per thread, the share of samples in which each function appears (inclusive) and the
share in which it is the innermost frame (self). Idle time in the event loop shows up as
``EpollSelector.select``.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict


def frame_name(frame: str) -> str:
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]}" + (")" if where else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--thread", help="only threads whose name contains this")
    args = parser.parse_args()
    inclusive: dict[str, Counter[str]] = defaultdict(Counter)
    innermost: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    with open(args.profile, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            thread = frames[0]
            if args.thread and args.thread not in thread:
                continue
            count = int(count_text)
            totals[thread] += count
            for name in {frame_name(frame) for frame in frames[1:]}:
                inclusive[thread][name] += count
            innermost[thread][frame_name(frames[-1])] += count
    for thread, total in totals.most_common():
        print(f"== {thread}: {total} samples")
        print("-- inclusive")
        for name, count in inclusive[thread].most_common(args.top):
            print(f"{100 * count / total:5.1f}%  {name}")
        print("-- self")
        for name, count in innermost[thread].most_common(args.top // 2):
            print(f"{100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
