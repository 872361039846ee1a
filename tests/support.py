"""Shared helpers for tests: real servers on loopback, configs, ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from fedipoly.config import Config, parse_config

BIN_DIR = Path(sys.executable).parent
FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 8}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """A config for tests: SQLite in tmp_path, cheap password hashing, overrides per section."""
    raw: dict[str, dict[str, Any]] = {
        "storage": {"sqlite_path": str(tmp_path / "fedipoly.sqlite3")},
        "security": dict(FAST_HASHING),
        "media": {"directory": str(tmp_path / "media")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return parse_config(raw, {})


class SecantusServer:
    """A real MongoDB wire-protocol server (SecantusDB) on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> None:
        executable = BIN_DIR / "secantusd-py"
        if not executable.exists():
            raise RuntimeError(f"{executable} is missing: install the test extra (secantusdb)")
        self.process = subprocess.Popen(
            [
                str(executable),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                ":memory:",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("secantusd-py exited during start")
            try:
                with MongoClient(self.url, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("secantusd-py did not answer in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def running_secantus() -> Iterator[SecantusServer]:
    server = SecantusServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServerProcess:
    """`fedipoly serve` (or another subcommand) as a real child process."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.args = args
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = cwd / f"fedipoly-{len(list(cwd.glob('fedipoly-*.log')))}.log"

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(BIN_DIR / "fedipoly"), *self.args],
            env=env,
            cwd=self.cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = 15, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.log.close()
        return code


async def wait_for_http(url: str, timeout: float = 10.0) -> float:
    """Poll until the URL answers 200; returns the seconds it took."""
    import aiohttp

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")
