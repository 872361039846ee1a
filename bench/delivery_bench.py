"""One post to 10,000 remote followers on 1,000 loopback hosts: deliveries per second, as a
ratio to raw RSA-2048 signatures per second measured in the same run.

    .venv/bin/python bench/delivery_bench.py                          # 10,000 followers, 1,000 hosts
    .venv/bin/python bench/delivery_bench.py --followers 2000 --hosts 200 --modes shared

Target (issue 7, item 4): deliveries/s >= 70% of signatures/s (every delivery is signed anew).

How it measures:

* bench/sink_server.py, pinned to CPU 1, listens on `--hosts` loopback ports, one remote
  server each. It verifies every request's signature with the sender's public key (and that
  the signer is the activity's actor), answers 202, and records the wall-clock time of the
  first and last accepted request and any duplicate.
* A fresh SQLite instance holds `alice` and `--followers` remote actors that follow her,
  spread evenly over the hosts; every host has a shared inbox (``/inbox``) and each actor a
  personal one (``/users/f<n>/inbox``). alice writes one public post through `PostService`,
  which queues one delivery per distinct preferred inbox: with shared inboxes that is one per
  host (1,000 for 10,000 followers: Mastodon sends one copy per server, not per follower);
  mode `personal` gives the same followers no shared inbox, so every follower gets their own
  delivery (10,000).
* `fedipoly worker` (default settings: batches of 50, 16 at a time), pinned to CPU 0, sends
  them. Deliveries/s = accepted deliveries / (last - first accepted request at the sinks).
* Raw signatures/s: a child process pinned to CPU 0 signs the signing string of such a
  request (RSASSA-PKCS1-v1_5 SHA-256 with alice's RSA-2048 key, the key already loaded, as the
  worker's key cache has it) in a loop for `--sign-seconds`, before and after the deliveries;
  the ratio uses their mean.
* CPU: the signing loop's CPU time and the worker's (from /proc, from the first delivery seen
  at the sinks to the last) give per-CPU-second rates too, whose ratio holds on a busy
  machine. The worker's CPU per delivery is printed next to the signature's, with the share
  spent in the kernel (sockets, loopback TCP), which no client code can remove.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import (
    LOAD_CPU,
    SERVER_CPU,
    Peer,
    Site,
    add_follow,
    add_member,
    add_peers,
    cpu_seconds,
    keypairs,
    log,
    machine,
    new_site,
    opened_app,
    pinned,
    print_how,
    profiled,
    running,
    verdict,
)

from federation.keys import public_pem_from_private
from fedipoly import appkeys
from fedipoly.models import DeliveryState, Visibility

TARGET = 0.70
BENCH_DIR = Path(__file__).resolve().parent

SIGN_LOOP = """
import sys, time
from federation.keys import load_private_key, rsa_sha256_sign
pem, seconds = open(sys.argv[1]).read(), float(sys.argv[2])
base = (b"(request-target): post /inbox\\nhost: 127.0.0.1:40000\\n"
        b"date: Thu, 26 Nov 2026 18:00:00 GMT\\n"
        b"digest: SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\\n"
        b"content-type: application/activity+json")
load_private_key(pem)
count, start, cpu = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - start < seconds:
    rsa_sha256_sign(pem, base)
    count += 1
print(count / (time.perf_counter() - start), count / (time.process_time() - cpu))
"""


def signatures_per_second(private_pem_file: Path, seconds: float) -> tuple[float, float]:
    """(signatures per wall second, per CPU-second) in a child pinned to the server CPU."""
    command = pinned(
        SERVER_CPU, [sys.executable, "-c", SIGN_LOOP, str(private_pem_file), str(seconds)]
    )
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=BENCH_DIR.parent)
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def followers_on(ports: list[int], count: int, *, shared: bool, public_pem: str) -> list[Peer]:
    peers = []
    for serial in range(count):
        host = f"127.0.0.1:{ports[serial % len(ports)]}"
        uri = f"http://{host}/users/f{serial}"
        peers.append(
            Peer(
                uri=uri,
                key_id=f"{uri}#main-key",
                private_pem="",
                public_pem=public_pem,  # never used: followers sign nothing here
                inbox=f"{uri}/inbox",
                shared_inbox=f"http://{host}/inbox" if shared else None,
            )
        )
    return peers


async def seed_and_post(site: Site, peers: list[Peer]) -> tuple[int, str, str]:
    """alice, her followers and her post; returns (queued deliveries, keyId, private PEM)."""
    async with opened_app(site.write()) as app:
        alice = await add_member(app, "alice")
        await add_peers(app, peers)
        alice_uri = app[appkeys.URLS].actor("alice")
        for peer in peers:
            await add_follow(app, peer.uri, alice_uri, None)
        private_pem = await app[appkeys.STORE].get_private_key(alice.id)
        assert private_pem is not None
        await app[appkeys.POSTS].create(alice, "One post for everyone.", Visibility.PUBLIC)
        queued = await app[appkeys.STORE].count_deliveries(DeliveryState.PENDING)
        return queued, app[appkeys.URLS].key_id("alice"), private_pem


def user_system_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def sink_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        return dict(json.load(answer))


@dataclass(frozen=True)
class Run:
    mode: str
    followers: int
    hosts: int
    queued: int
    stats: dict[str, Any]
    sign_rate: float
    sign_cpu_rate: float
    timed: int
    worker_cpu: float
    worker_system: float

    @property
    def seconds(self) -> float:
        return float(self.stats["last"] - self.stats["first"])

    @property
    def rate(self) -> float:
        return self.stats["received"] / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        """Deliveries per CPU-second of the worker (from the first delivery seen to the end)."""
        return self.timed / self.worker_cpu if self.worker_cpu else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.stats["distinct"] == self.queued
            and self.stats["duplicates"] == 0
            and self.stats["rejected"] == 0
            and self.rate >= TARGET * self.sign_rate
        )


def run_mode(mode: str, args: argparse.Namespace) -> Run:
    scratch = Path(tempfile.mkdtemp(prefix="fedipoly-bench-sinks-"))
    keys_file = scratch / "keys.json"
    keys_file.write_text("{}", encoding="utf-8")  # alice's key is added once she exists
    sinks_command = pinned(
        LOAD_CPU,
        [sys.executable, str(BENCH_DIR / "sink_server.py"), str(args.hosts), str(keys_file)],
    )
    follower_public = keypairs(1)[0][1]
    sinks = subprocess.Popen(sinks_command, stdout=subprocess.PIPE, cwd=BENCH_DIR.parent)
    try:
        assert sinks.stdout is not None
        ports: list[int] = json.loads(sinks.stdout.readline())
        peers = followers_on(
            ports, args.followers, shared=mode == "shared", public_pem=follower_public
        )
        site = new_site(
            {
                "federation": {"allowed_private_hosts": [f"127.0.0.1:{port}" for port in ports]},
                "workers": {"poll_interval_seconds": 0.2},
            }
        )
        log(f"[{mode}] seeding alice and {len(peers)} followers on {len(ports)} hosts; posting")
        queued, key_id, private_pem = asyncio.run(seed_and_post(site, peers))
        pem_file = scratch / "alice.pem"
        pem_file.write_text(private_pem, encoding="utf-8")
        keys_file.write_text(
            json.dumps({key_id: public_pem_from_private(private_pem)}), encoding="utf-8"
        )
        log(f"[{mode}] {queued} deliveries queued; raw signatures/s on CPU 0, then the worker")
        before = signatures_per_second(pem_file, args.sign_seconds)
        worker = running(site.worker_command(), None, log_path=site.directory / "worker.log")
        profile = Path(args.profile).with_suffix(f".{mode}.txt") if args.profile else None
        first: tuple[int, float, float] | None = None
        with worker as process, profiled(process.pid, profile):
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                stats = sink_stats(ports[0])
                cpu = cpu_seconds(process.pid)
                system = user_system_seconds(process.pid)[1]
                if first is None and stats["distinct"]:
                    first = (stats["distinct"], cpu, system)
                if stats["distinct"] >= queued:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"only {stats['distinct']} of {queued} arrived in time")
        after = signatures_per_second(pem_file, args.sign_seconds)
        stats = sink_stats(ports[0])
    finally:
        sinks.terminate()
        sinks.wait()
    assert first is not None
    return Run(
        mode,
        args.followers,
        args.hosts,
        queued,
        stats,
        sign_rate=(before[0] + after[0]) / 2,
        sign_cpu_rate=(before[1] + after[1]) / 2,
        timed=queued - first[0],
        worker_cpu=cpu - first[1],
        worker_system=system - first[2],
    )


def report(runs: list[Run], args: argparse.Namespace) -> dict[str, object]:
    print(f"machine: {json.dumps(machine())}")
    print(
        f"one post by alice to {args.followers} followers on {args.hosts} loopback hosts; "
        "fedipoly worker on CPU 0, sinks (verifying every signature) on CPU 1"
    )
    figures: dict[str, object] = {}
    for run in runs:
        s = run.stats
        ratio = run.rate / run.sign_rate
        print(
            f"[{run.mode}] {run.queued} deliveries queued "
            f"({'one per host: shared inboxes' if run.mode == 'shared' else 'one per follower'})"
        )
        print(
            f"  delivered {s['distinct']} in {run.seconds:.2f} s = {run.rate:.0f} deliveries/s "
            f"(= {run.rate * run.followers / max(run.queued, 1):.0f} followers reached/s); "
            f"duplicates {s['duplicates']}, rejected {s['rejected']}"
        )
        print(
            f"  raw RSA-2048 signatures/s on CPU 0: {run.sign_rate:.0f} "
            f"({run.sign_cpu_rate:.0f} per CPU-second)"
        )
        print(
            f"  deliveries/s / signatures/s = {ratio:.0%} (target >= {TARGET:.0%}) "
            f"{verdict(run.ok)}; per CPU-second: {run.cpu_rate:.0f} deliveries "
            f"= {run.cpu_rate / run.sign_cpu_rate:.0%} of signatures"
        )
        print(
            f"  worker CPU in the timed window: {run.worker_cpu:.2f} s, of which system (kernel) "
            f"{run.worker_system:.2f} s; {1e6 * run.worker_cpu / max(run.timed, 1):.0f} µs "
            f"per delivery against {1e6 / run.sign_cpu_rate:.0f} µs per signature"
        )
        figures[run.mode] = {
            "queued": run.queued,
            "deliveries_per_s": round(run.rate),
            "signatures_per_s": round(run.sign_rate),
            "ratio": round(ratio, 3),
            "cpu_ratio": round(run.cpu_rate / run.sign_cpu_rate, 3),
            "seconds": round(run.seconds, 2),
            "ok": run.ok,
        }
    ok = all(run.ok for run in runs)
    print_how(__doc__)
    print(f"delivery: {verdict(ok)}")
    figures["ok"] = ok
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--followers", type=int, default=10000)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument(
        "--modes", default="shared,personal", help="shared: one per host; personal: per follower"
    )
    parser.add_argument("--sign-seconds", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--profile", help="py-spy the worker into PROFILE.<mode>.txt")
    args = parser.parse_args(argv)
    runs = [run_mode(mode, args) for mode in args.modes.split(",")]
    figures = report(runs, args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
