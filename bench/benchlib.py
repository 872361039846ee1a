"""What the load benchmarks share: CPU pinning, `wrk` runs, the framework ceiling, a real
`fedipoly serve` process on SQLite, seeding, remote actors with keys, signed requests, RSS.

Pinning: the measured server process runs on CPU 0 (``taskset -c 0``) and the load tool on
CPU 1, so the server has one core to itself and the load tool never competes with it. Every
figure is a ratio to a limit of this machine measured in the same run (the ceiling: an aiohttp
hello-world JSON handler on the same core under the same tool), because absolute rates vary
from machine to machine and with whatever else runs on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from federation.httpsig import sign_request
from federation.keys import generate_rsa_keypair
from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config, load_config
from fedipoly.models import Account, Follow, FollowState, RemoteActor, new_id, utc_now

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BIN = Path(sys.executable).parent
SERVER_CPU = 0
LOAD_CPU = 1
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"
CACHE_DIR = Path(tempfile.gettempdir()) / "fedipoly-bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pinned(cpu: int, command: Sequence[str]) -> list[str]:
    """`command` run on one CPU (taskset), or unpinned on a one-CPU machine."""
    if len(os.sched_getaffinity(0)) < 2:
        return list(command)
    return ["taskset", "-c", str(cpu), *command]


def pin_self(cpu: int) -> None:
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": model,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "wrk": wrk_version(),
    }


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "missing (apt-get install wrk)"
    return (out.stdout + out.stderr).split("\n", 1)[0].strip()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- processes -------------------------------------------------------------------------------


def wait_http(
    url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running(
    command: Sequence[str], ready_url: str | None, *, log_path: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped with SIGTERM on exit; waits for `ready_url` to answer."""
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(list(command), stdout=output, stderr=output, cwd=ROOT)
    try:
        if ready_url:
            wait_http(ready_url, process=process)
        yield process
    finally:
        stop_process(process)
        if log_path:
            output.close()  # type: ignore[union-attr]


# --- wrk ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    #: CPU time (user + system) the server process used during the run; 0 when not measured.
    server_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        """Requests per CPU-second of the server: what it costs, whoever else used the core."""
        return self.requests / self.server_cpu if self.server_cpu else 0.0

    def line(self) -> str:
        cpu = f", {self.cpu_rate:.0f} per server CPU-s" if self.server_cpu else ""
        return (
            f"{self.rate:8.0f} req/s  ({self.requests} in {self.seconds:.1f} s{cpu}, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
            f"non-2xx {self.non_2xx}, socket errors {self.socket_errors})"
        )


def with_cpu(pid: int, run: Callable[[], WrkResult]) -> WrkResult:
    """`run()`, with the CPU time process `pid` used meanwhile."""
    before = cpu_seconds(pid)
    result = run()
    return dataclasses.replace(result, server_cpu=cpu_seconds(pid) - before)


def best(results: Sequence[WrkResult]) -> WrkResult:
    """The fastest of several runs: the one least slowed down by anything else on the machine."""
    return max(results, key=lambda result: result.rate)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s|m))\s*$", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        p50_ms=_ms(percentiles["50"]) if "50" in percentiles else float("nan"),
        p99_ms=_ms(percentiles["99"]) if "99" in percentiles else float("nan"),
    )


def wrk_command(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: Mapping[str, str] | None = None,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    timeout_seconds: int = 2,
) -> list[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command.append(f"--timeout={timeout_seconds}s")
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    return pinned(LOAD_CPU, command)


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    """A fixed-duration wrk run: one thread on the load CPU, keep-alive connections."""
    command = wrk_command(url, seconds=seconds, connections=connections, headers=headers)
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(out.stdout)


REPLAY_SCRIPT = BENCH_DIR / "replay.lua"


def source_trees(specs: Sequence[str]) -> dict[str, str]:
    """`NAME=PATH` arguments as {name: absolute path}, for the A/B scripts."""
    return {name: str(Path(path).resolve()) for name, _, path in (s.partition("=") for s in specs)}


def write_raw_requests(path: Path, requests: Sequence[bytes]) -> None:
    """Complete HTTP/1.1 requests, NUL-separated, for replay.lua (none contains a NUL)."""
    with open(path, "wb") as out:
        for raw in requests:
            if b"\0" in raw:
                raise ValueError("a request contains a NUL byte")
            out.write(raw + b"\0")


def raw_post(path: str, host: str, headers: Mapping[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def replay_with_wrk(
    url: str,
    requests_file: Path,
    *,
    answers: int,
    connections: int,
    timeout: float,
) -> WrkResult:
    """wrk sends the file's requests in order (cycling) until `answers` responses came back.

    replay.lua writes a marker file at the `answers`-th response and stops its thread; we then
    interrupt wrk (SIGINT), which ends its clock there and prints its statistics. When the
    file holds fewer requests than `answers`, later ones are repeats of earlier ones.
    """
    with tempfile.TemporaryDirectory() as scratch:
        done = Path(scratch) / "done"
        command = wrk_command(
            url,
            seconds=timeout,
            connections=connections,
            script=REPLAY_SCRIPT,
            script_args=[str(requests_file), str(done), str(answers)],
        )
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while process.poll() is None and not done.exists():
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    if not stdout.strip():
        raise RuntimeError(f"wrk failed: {stderr.decode()}")
    return parse_wrk(stdout.decode())


# --- the framework ceiling -------------------------------------------------------------------


@contextlib.contextmanager
def hello_server() -> Iterator[tuple[str, int]]:
    """bench/hello_server.py on the server CPU; yields its base URL and process id."""
    port = free_port()
    command = pinned(SERVER_CPU, [sys.executable, str(BENCH_DIR / "hello_server.py"), str(port)])
    base = f"http://127.0.0.1:{port}"
    with running(command, f"{base}/hello") as process:
        yield base, process.pid


def get_ceiling(seconds: float, connections: int) -> WrkResult:
    """wrk GETs of the hello-world JSON handler: the most one core serves through aiohttp."""
    with hello_server() as (base, pid):
        run_wrk(f"{base}/hello", seconds=1, connections=connections)  # warm-up
        return with_cpu(
            pid, lambda: run_wrk(f"{base}/hello", seconds=seconds, connections=connections)
        )


def post_ceiling(requests_file: Path, answers: int, connections: int) -> WrkResult:
    """The same POSTs replayed the same way to the hello-world handler (reads the body)."""
    with hello_server() as (base, pid):
        return with_cpu(
            pid,
            lambda: replay_with_wrk(
                f"{base}/inbox",
                requests_file,
                answers=answers,
                connections=connections,
                timeout=600,
            ),
        )


# --- a real fedipoly server ---------------------------------------------------------------------


def toml_text(sections: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for name, options in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Site:
    """One fedipoly instance's files: a config for `fedipoly serve`/`worker` and its database."""

    directory: Path
    port: int
    extra: Mapping[str, Mapping[str, Any]]

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.directory / "fedipoly.sqlite3"

    def write(self) -> Config:
        sections: dict[str, dict[str, Any]] = {
            "server": {"public_url": self.base, "host": "127.0.0.1", "port": self.port},
            "storage": {"backend": "sqlite", "sqlite_path": str(self.database)},
            "registration": {"mode": "closed"},
            "security": {"argon2_time_cost": 1, "argon2_memory_kib": 8},
            "media": {"directory": str(self.directory / "media")},
            "logging": {"level": "WARNING"},
        }
        for name, options in self.extra.items():
            sections.setdefault(name, {}).update(options)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(toml_text(sections), encoding="utf-8")
        return load_config(self.config_path, {})

    def serve_command(self, *, workers: bool) -> list[str]:
        command = [str(BIN / "fedipoly"), "--config", str(self.config_path), "serve"]
        return pinned(SERVER_CPU, command if workers else [*command, "--no-workers"])

    def worker_command(self) -> list[str]:
        return pinned(
            SERVER_CPU, [str(BIN / "fedipoly"), "--config", str(self.config_path), "worker"]
        )

    @contextlib.contextmanager
    def serving(self, *, workers: bool) -> Iterator[subprocess.Popen[bytes]]:
        with running(
            self.serve_command(workers=workers),
            f"{self.base}/healthz",
            log_path=self.directory / "server.log",
        ) as process:
            yield process


def new_site(extra: Mapping[str, Mapping[str, Any]] | None = None) -> Site:
    directory = Path(tempfile.mkdtemp(prefix="fedipoly-bench-"))
    return Site(directory=directory, port=free_port(), extra=extra or {})


@contextlib.asynccontextmanager
async def opened_app(config: Config) -> AsyncIterator[web.Application]:
    """The app's services on its store, without a listening socket or workers (for seeding)."""
    runner = web.AppRunner(create_app(config, run_workers=False))
    await runner.setup()
    try:
        yield runner.app
    finally:
        await runner.cleanup()


async def add_member(app: web.Application, username: str) -> Account:
    return await app[appkeys.ACCOUNTS].register(
        username=username,
        email=f"{username}@bench.invalid",
        password="correct horse battery staple",
        invite_code=None,
        bypass_registration_mode=True,
    )


# --- remote actors --------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """A remote actor the benchmark plays: its id, key and inboxes."""

    uri: str
    key_id: str
    private_pem: str
    public_pem: str
    inbox: str
    shared_inbox: str | None

    def actor(self, now: datetime) -> RemoteActor:
        host = self.uri.split("/")[2]
        return RemoteActor(
            uri=self.uri,
            actor_type="Person",
            username=self.uri.rsplit("/", 1)[1],
            domain=host,
            inbox=self.inbox,
            shared_inbox=self.shared_inbox,
            followers_url=f"{self.uri}/followers",
            display_name=self.uri.rsplit("/", 1)[1],
            summary_html="",
            profile_url=self.uri,
            icon_url=None,
            key_id=self.key_id,
            public_key_pem=self.public_pem,
            manually_approves_followers=False,
            fetched_at=now,
        )


def _keypair(_: int) -> tuple[str, str]:
    pair = generate_rsa_keypair()
    return pair.private_pem, pair.public_pem


def keypairs(count: int) -> list[tuple[str, str]]:
    """`count` RSA-2048 key pairs, generated once (on all CPUs) and kept in CACHE_DIR."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cache = CACHE_DIR / "keys.json"
    pairs: list[tuple[str, str]] = []
    if cache.exists():
        pairs = [(private, public) for private, public in json.loads(cache.read_text())]
    if len(pairs) < count:
        log(f"generating {count - len(pairs)} RSA-2048 key pairs (cached in {cache})")
        with multiprocessing.Pool() as pool:
            pairs += pool.map(_keypair, range(count - len(pairs)), chunksize=8)
        cache.write_text(json.dumps(pairs))
    return pairs[:count]


async def add_peers(app: web.Application, peers: Sequence[Peer]) -> None:
    store = app[appkeys.STORE]
    now = utc_now()
    for peer in peers:
        await store.upsert_remote_actor(peer.actor(now))


async def add_follow(
    app: web.Application, follower: str, followed: str, account_id: str | None
) -> None:
    now = utc_now()
    await app[appkeys.STORE].upsert_follow(
        Follow(
            id=new_id(now),
            follower=follower,
            followed=followed,
            activity_id=f"{follower}#follows/{new_id(now)}",
            state=FollowState.ACCEPTED,
            created_at=now,
        ),
        account_id,
    )


# --- signed requests ---------------------------------------------------------------------------


def create_note(peer: Peer, serial: int, now: datetime) -> dict[str, Any]:
    """A Create{Note} shaped like Mastodon's (public, to the author's followers)."""
    note_id = f"{peer.uri}/statuses/{serial}"
    published = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    note = {
        "id": note_id,
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": published,
        "url": note_id,
        "attributedTo": peer.uri,
        "to": [PUBLIC],
        "cc": [f"{peer.uri}/followers"],
        "sensitive": False,
        "content": f"<p>Load test note number {serial}: what I made this week, "
        "and what I learned from it. Nothing to see here, just a paragraph of typical "
        "length so the body is as large as a real post.</p>",
        "contentMap": {"en": f"<p>Load test note number {serial}.</p>"},
        "attachment": [],
        "tag": [],
    }
    return {
        "@context": ["https://www.w3.org/ns/activitystreams"],
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": peer.uri,
        "published": published,
        "to": [PUBLIC],
        "cc": [f"{peer.uri}/followers"],
        "object": note,
    }


def signed_post(peer: Peer, url: str, activity: Mapping[str, Any], now: datetime) -> bytes:
    """One complete HTTP request, signed (draft-cavage rsa-sha256) as Mastodon signs it."""
    body = json.dumps(activity, separators=(",", ":")).encode()
    content_type = {"Content-Type": ACTIVITY_JSON}
    headers = sign_request(
        method="POST",
        url=url,
        headers=content_type,
        body=body,
        key_id=peer.key_id,
        private_key_pem=peer.private_pem,
        now=now,
    )
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    return raw_post(path, host, {**headers, **content_type}, body)


def _sign_chunk(job: tuple[list[Peer], str, list[int], datetime]) -> list[bytes]:
    peers, url, serials, now = job
    return [
        signed_post(
            peers[serial % len(peers)],
            url,
            create_note(peers[serial % len(peers)], serial, now),
            now,
        )
        for serial in serials
    ]


def presign_creates(peers: Sequence[Peer], url: str, count: int, start: int = 0) -> list[bytes]:
    """`count` distinct Create{Note} POSTs to `url`, round-robin over `peers`, on all CPUs.

    The signatures are made now and replayed within minutes: draft-cavage requests stay valid
    for 5 minutes after their Date plus an hour of clock-skew margin (federation/httpsig.py).
    """
    now = utc_now()
    serials = list(range(start, start + count))
    step = 500
    jobs = [(list(peers), url, serials[i : i + step], now) for i in range(0, count, step)]
    with multiprocessing.Pool() as pool:
        chunks = pool.map(_sign_chunk, jobs)
    return [raw for chunk in chunks for raw in chunk]


# --- profiling ---------------------------------------------------------------------------------


@contextlib.contextmanager
def profiled(pid: int, output: Path | None, rate: int = 250) -> Iterator[None]:
    """py-spy samples process `pid` while the block runs (nothing when `output` is None).

    Writes py-spy's "raw" format (collapsed stacks, one per line, per thread): feed it to
    flamegraph.pl or `python bench/profile_summary.py FILE`. Sampling slows the process a
    little, so figures from a profiled run are not reported as results.
    """
    if output is None:
        yield
        return
    spy = subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--threads",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)  # py-spy attaches
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
        log(f"profile written to {output}")


def print_how(doc: str | None) -> None:
    """Print the "How ..." part of a benchmark's docstring: exactly how it measured."""
    text = doc or ""
    start = text.find("\nHow")
    if start >= 0:
        print(text[start + 1 :].rstrip())
