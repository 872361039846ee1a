"""Real `fedipoly` processes: start, health, signals, broken configs, crash safety.

Each test runs the installed console script (.venv/bin/fedipoly) as a child process bound to
127.0.0.1 and talks to it over HTTP, as an operator or a load balancer would.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import (
    BIN_DIR,
    SecantusServer,
    ServerProcess,
    free_port,
    wait_for_http,
)

PASSWORD = "correct horse battery"
BOOTSTRAP_LINE = re.compile(
    r"No accounts yet: open (http://127\.0\.0\.1:\d+/signup\?invite=(bootstrap-[\w-]+)) "
    r"to create the admin account"
)


class Instance:
    """The environment of one Fedipoly instance; `start` runs a process of it."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "FEDIPOLY_CONFIG": "",
            "FEDIPOLY_SERVER_PORT": str(self.port),
            "FEDIPOLY_SERVER_PUBLIC_URL": self.base_url,
            "FEDIPOLY_SERVER_SHUTDOWN_TIMEOUT_SECONDS": "5",
            "FEDIPOLY_STORAGE_SQLITE_PATH": str(tmp_path / "data" / "db" / "fedipoly.sqlite3"),
            "FEDIPOLY_SECURITY_ARGON2_TIME_COST": "1",
            "FEDIPOLY_SECURITY_ARGON2_MEMORY_KIB": "8",
            "FEDIPOLY_LOGGING_LEVEL": "INFO",
            **env,
        }
        self.processes: list[ServerProcess] = []

    def start(self, *args: str) -> ServerProcess:
        process = ServerProcess(list(args or ["serve"]), self.env, self.tmp_path)
        process.start()
        self.processes.append(process)
        return process

    async def healthy(self, timeout: float = 10.0) -> float:
        return await wait_for_http(f"{self.base_url}/healthz", timeout)

    def kill_all(self) -> None:
        for process in self.processes:
            if process.process is not None and process.process.poll() is None:
                process.stop(signal.SIGKILL)


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[Instance]]:
    """Instances made by a test; whatever still runs at the end is killed."""
    made: list[Instance] = []
    yield made
    for instance in made:
        instance.kill_all()


@pytest.fixture
def instance(tmp_path: Path, instances: list[Instance]) -> Instance:
    made = Instance(tmp_path)
    instances.append(made)
    return made


async def stop(
    process: ServerProcess, sig: int = signal.SIGTERM, timeout: float = 10.0
) -> tuple[int, float]:
    """Signal the process; returns its exit status and how long it took to exit."""
    started = time.monotonic()
    code = await asyncio.to_thread(process.stop, sig, timeout)
    return code, time.monotonic() - started


async def wait_for_output(process: ServerProcess, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = process.output()
        if text in output:
            return output
        assert process.process is not None and process.process.poll() is None, output
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} not in output:\n{process.output()}")


async def test_serve_creates_the_database_answers_health_and_stops_on_sigterm(
    instance: Instance, tmp_path: Path
) -> None:
    server = instance.start("serve")
    took = await instance.healthy(timeout=10.0)
    assert took < 10.0
    assert (tmp_path / "data" / "db" / "fedipoly.sqlite3").is_file()
    output = server.output()
    assert "Traceback" not in output
    lines = BOOTSTRAP_LINE.findall(output)
    assert len(lines) == 1, output
    assert lines[0][0].startswith(f"{instance.base_url}/signup?invite=bootstrap-")

    code, seconds = await stop(server)
    assert code == 0, server.output()
    assert seconds < 5.0


async def test_the_bootstrap_link_creates_the_admin_and_then_disappears(
    instance: Instance,
) -> None:
    first = instance.start("serve")
    await instance.healthy()
    [(link, code)] = BOOTSTRAP_LINE.findall(first.output())
    assert (await stop(first))[0] == 0

    second = instance.start("serve")  # a restart before anyone signed up: the same link
    await instance.healthy()
    assert BOOTSTRAP_LINE.findall(second.output()) == [(link, code)]

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        form = await (await http.get(link)).text()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf and f'value="{code}"' in form
        answer = await http.post(
            f"{instance.base_url}/signup",
            data={"csrf_token": csrf.group(1), "username": "owner", "email": "o@example.test",
                  "password": PASSWORD, "invite": code},
            allow_redirects=False,
        )  # fmt: skip
        assert answer.status == 303
        token = await http.post(
            f"{instance.base_url}/api/v1/auth/token",
            json={"username": "owner", "password": PASSWORD},
        )
        secret = (await token.json())["token"]
        me = await http.get(
            f"{instance.base_url}/api/v1/accounts/me",
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert (await me.json())["role"] == "admin"
    assert (await stop(second))[0] == 0

    third = instance.start("serve")
    await instance.healthy()
    assert "No accounts yet" not in third.output()
    assert (await stop(third))[0] == 0


async def test_web_and_worker_processes_share_one_sqlite_file(instance: Instance) -> None:
    instance.env["FEDIPOLY_REGISTRATION_MODE"] = "open"
    web = instance.start("serve", "--no-workers")
    worker = instance.start("worker")
    await instance.healthy()
    await wait_for_output(worker, "workers running: purge-expired-sessions")
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{instance.base_url}/api/v1/accounts",
            json={"username": "alice", "email": "a@example.test", "password": PASSWORD},
        )
        assert answer.status == 201
    assert "workers running" not in web.output()
    assert worker.process is not None and worker.process.poll() is None

    (web_code, web_took), (worker_code, worker_took) = await asyncio.gather(stop(web), stop(worker))
    assert (web_code, worker_code) == (0, 0), (web.output(), worker.output())
    assert web_took < 5.0 and worker_took < 5.0
    assert "stopping workers" in worker.output()


def run_to_exit(instance: Instance, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [str(BIN_DIR / "fedipoly"), *args],
        env={**os.environ, **instance.env},
        cwd=instance.tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(expected), result.stderr


@pytest.mark.parametrize("command", [["serve"], ["serve", "--no-workers"], ["worker"]])
def test_an_unknown_option_stops_the_process_with_one_line(
    instance: Instance, tmp_path: Path, command: list[str]
) -> None:
    config = tmp_path / "fedipoly.toml"
    config.write_text('[server]\nhost = "127.0.0.1"\nprot = 8000\n')
    result = run_to_exit(instance, "--config", str(config), *command)
    assert_one_line_failure(result, "fedipoly: configuration error: server.prot: unknown option")
    assert result.returncode == 2


def test_a_malformed_public_url_stops_the_process_with_one_line(instance: Instance) -> None:
    instance.env["FEDIPOLY_SERVER_PUBLIC_URL"] = "social.example"
    result = run_to_exit(instance, "serve")
    assert_one_line_failure(
        result, "fedipoly: configuration error: server.public_url: 'social.example' must be"
    )
    assert "FEDIPOLY_SERVER_PUBLIC_URL" in result.stderr


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["invites", "create"]])
def test_an_unreachable_mongodb_stops_the_process_with_one_line(
    instance: Instance, command: list[str]
) -> None:
    closed_port = free_port()  # nothing listens there
    instance.env |= {
        "FEDIPOLY_STORAGE_BACKEND": "mongodb",
        "FEDIPOLY_STORAGE_MONGODB_URL": (
            f"mongodb://fedipoly:s3cret-pass@127.0.0.1:{closed_port}/?directConnection=true"
        ),
        "FEDIPOLY_STORAGE_CONNECT_TIMEOUT_SECONDS": "0.5",
    }
    started = time.monotonic()
    result = run_to_exit(instance, *command)
    assert time.monotonic() - started < 30
    assert_one_line_failure(result, "fedipoly: error: cannot reach MongoDB at mongodb://***@")
    assert "s3cret-pass" not in result.stderr
    assert result.returncode == 1


def test_a_taken_port_stops_serve_with_one_line(instance: Instance) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", instance.port))
        taken.listen()
        result = run_to_exit(instance, "serve")
    assert_one_line_failure(result, "fedipoly: error: ")
    assert str(instance.port) in result.stderr


async def test_health_answers_503_while_mongodb_is_down(
    tmp_path: Path, instances: list[Instance]
) -> None:
    database = SecantusServer()
    database.start()
    try:
        instance = Instance(
            tmp_path,
            FEDIPOLY_STORAGE_BACKEND="mongodb",
            FEDIPOLY_STORAGE_MONGODB_URL=database.url,
            FEDIPOLY_STORAGE_MONGODB_DATABASE="health",
            FEDIPOLY_STORAGE_CONNECT_TIMEOUT_SECONDS="1",
        )
        instances.append(instance)
        server = instance.start("serve")
        await instance.healthy()

        database.stop()
        statuses: list[int] = []
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                async with http.get(f"{instance.base_url}/healthz") as answer:
                    statuses.append(answer.status)
                    if answer.status == 503:
                        assert answer.headers["Retry-After"]
                        assert (await answer.json())["status"] == "unavailable"
                        break
                await asyncio.sleep(0.2)
            assert statuses[-1] == 503, statuses

            # Pages that need the database answer 503 too, with a clear message.
            api = await http.post(
                f"{instance.base_url}/api/v1/auth/token",
                json={"username": "alice", "password": PASSWORD},
            )
            assert api.status == 503
            assert "database is unavailable" in (await api.json())["error"]

        database.start()  # an empty in-memory server on the same port: the store answers again
        await instance.healthy(timeout=15)
        code, _ = await stop(server)
        assert code == 0, server.output()
    finally:
        database.stop()


@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
async def test_sigkill_during_a_burst_of_sign_ups_loses_no_acknowledged_account(
    backend: str, tmp_path: Path, instances: list[Instance], request: pytest.FixtureRequest
) -> None:
    env = {"FEDIPOLY_REGISTRATION_MODE": "open"}
    if backend == "mongodb":
        database: SecantusServer = request.getfixturevalue("secantus")
        env |= {
            "FEDIPOLY_STORAGE_BACKEND": "mongodb",
            "FEDIPOLY_STORAGE_MONGODB_URL": database.url,
            "FEDIPOLY_STORAGE_MONGODB_DATABASE": f"burst_{uuid.uuid4().hex[:12]}",
        }
    instance = Instance(tmp_path, **env)
    instances.append(instance)
    server = instance.start("serve")
    await instance.healthy()

    acknowledged: list[str] = []
    enough = asyncio.Event()
    names = (f"user{n}" for n in itertools.count())

    async def sign_up_until_killed(http: aiohttp.ClientSession) -> None:
        while True:
            name = next(names)
            try:
                async with http.post(
                    f"{instance.base_url}/api/v1/accounts",
                    json={"username": name, "email": f"{name}@example.test", "password": PASSWORD},
                ) as answer:
                    if answer.status == 201:
                        acknowledged.append(name)
                        if len(acknowledged) >= 15:
                            enough.set()
                    else:
                        assert answer.status == 503, await answer.text()
            except aiohttp.ClientError:
                return  # the server is gone

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        senders = [asyncio.create_task(sign_up_until_killed(http)) for _ in range(6)]
        await asyncio.wait_for(enough.wait(), timeout=60)
        code, _ = await stop(server, signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*senders), timeout=30)
    assert code == -signal.SIGKILL
    assert len(acknowledged) >= 15

    restarted = instance.start("serve")
    await instance.healthy(timeout=15)
    async with aiohttp.ClientSession() as http:
        missing = []
        for name in acknowledged:
            async with http.post(
                f"{instance.base_url}/api/v1/auth/token",
                json={"username": name, "password": PASSWORD},
            ) as answer:
                if answer.status != 201:
                    missing.append((name, answer.status))
        assert missing == []
    assert (await stop(restarted))[0] == 0
