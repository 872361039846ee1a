"""The operator command line: help, users, invites and tokens, and its one-line errors."""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly.app import create_app
from fedipoly.cli import (
    YOUNG_COLLECTION_THRESHOLD,
    build_parser,
    freeze_startup_heap,
    main,
    one_line,
)
from fedipoly.config import Config, load_config
from tests.support import BIN_DIR

PASSWORD = "correct horse battery"


def _command_paths() -> list[list[str]]:
    """Every command and subcommand of `fedipoly`, e.g. ["users", "create"]."""
    paths: list[list[str]] = [[]]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


@pytest.mark.parametrize("command", _command_paths(), ids=lambda path: " ".join(path) or "fedipoly")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: fedipoly {' '.join(command)}".rstrip())
    assert len(printed.splitlines()) > 2


def test_the_command_tree_has_what_operators_need() -> None:
    assert {" ".join(path) for path in _command_paths()} >= {
        "serve",
        "worker",
        "users create",
        "invites create",
        "tokens create",
    }


@pytest.fixture
def config_file(
    backend: str, tmp_path: Path, mongo_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A config file for the backend under test; FEDIPOLY_CONFIG points at it."""
    storage = [f'backend = "{backend}"', f'sqlite_path = "{tmp_path / "cli.sqlite3"}"']
    if mongo_url:
        storage += [f'mongodb_url = "{mongo_url}"', f'mongodb_database = "cli_{uuid.uuid4().hex}"']
    path = tmp_path / "fedipoly.toml"
    path.write_text(
        "[storage]\n"
        + "\n".join(storage)
        + "\n[security]\nargon2_time_cost = 1\nargon2_memory_kib = 8\n"
    )
    monkeypatch.setenv("FEDIPOLY_CONFIG", str(path))
    for variable in ("FEDIPOLY_STORAGE_BACKEND", "FEDIPOLY_REGISTRATION_MODE"):
        monkeypatch.delenv(variable, raising=False)
    return path


RunCli = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run `fedipoly ARGS` in a worker thread (it calls asyncio.run); returns (code, out, err)."""

    def call(args: list[str], out: io.StringIO) -> int:
        try:
            return main(args, out)
        except SystemExit as exited:  # argparse: --help and usage errors
            return int(exited.code or 0)

    async def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        out = io.StringIO()
        capsys.readouterr()
        code = await asyncio.to_thread(call, list(args), out)
        return code, out.getvalue(), capsys.readouterr().err

    return run


@pytest.fixture
async def app_client(config_file: Path) -> AsyncIterator[TestClient]:
    config: Config = load_config(config_file, {})
    async with TestClient(TestServer(create_app(config, run_workers=False))) as client:
        yield client


async def test_users_create_reads_the_password_from_stdin(
    run_cli: RunCli, app_client: TestClient
) -> None:
    code, out, err = await run_cli(
        "users", "create", "Admin_1", "--email", "a@example.test", "--password-stdin",
        "--role", "admin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("created admin @admin_1@")
    answer = await app_client.post(
        "/api/v1/auth/token", json={"username": "admin_1", "password": PASSWORD}
    )
    assert answer.status == 201
    token = (await answer.json())["token"]
    me = await app_client.get("/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["role"] == "admin"


async def test_invites_create_prints_a_code_that_signs_someone_up(
    run_cli: RunCli, app_client: TestClient
) -> None:
    code, out, err = await run_cli("invites", "create", "--uses", "2", "--expires-days", "7")
    assert (code, err) == (0, "")
    invite = out.strip()
    assert len(out.splitlines()) == 1 and len(invite) >= 16
    for name in ("first", "second"):
        answer = await app_client.post(
            "/api/v1/accounts",
            json={
                "username": name,
                "email": f"{name}@example.test",
                "password": PASSWORD,
                "invite_code": invite,
            },
        )
        assert answer.status == 201, await answer.text()
        assert (await answer.json())["account"]["role"] == "member"
    used_up = await app_client.post(
        "/api/v1/accounts",
        json={"username": "third", "email": "t@example.test", "password": PASSWORD,
              "invite_code": invite},
    )  # fmt: skip
    assert used_up.status == 400


async def test_tokens_create_prints_a_token_that_works_for_the_api(
    run_cli: RunCli, app_client: TestClient
) -> None:
    await run_cli(
        "users", "create", "bob", "--email", "b@example.test", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    code, out, err = await run_cli("tokens", "create", "BOB", "--label", "deploy script")
    assert (code, err) == (0, "")
    token = out.strip()
    me = await app_client.get("/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    assert (await me.json())["username"] == "bob"
    listed = await app_client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert [t["label"] for t in await listed.json()] == ["deploy script"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "create", "bob", "--email", "b2@example.test", "--password-stdin"],
         PASSWORD, "fedipoly: error: the username 'bob' is taken"),
        (["users", "create", "carol", "--email", "B@example.test", "--password-stdin"],
         PASSWORD, "fedipoly: error: an account with this email address exists"),
        (["users", "create", "admin", "--email", "x@example.test", "--password-stdin"],
         PASSWORD, "fedipoly: error: the username 'admin' is reserved"),
        (["users", "create", "dave", "--email", "d@example.test", "--password-stdin"],
         "", "fedipoly: error: no password on standard input"),
        (["users", "create", "erin", "--email", "e@example.test", "--password-stdin"],
         "short", "fedipoly: error: a password has 10 to"),
        (["users", "create", "fred", "--email", "f@example.test", "--password-stdin",
          "--role", "king"],
         PASSWORD, "fedipoly users create: error: argument --role: invalid choice: 'king'"),
        (["tokens", "create", "nobody"], "", "fedipoly: error: no member called 'nobody'"),
        (["invites", "create", "--uses", "0"], "", "fedipoly: error: an invite has 1 to"),
        (["invites", "create", "--expires-days", "many"], "",
         "fedipoly invites create: error: argument --expires-days: invalid int value"),
        (["users"], "", "fedipoly users: error: the following arguments are required: ACTION"),
    ],
)  # fmt: skip
async def test_errors_exit_non_zero_with_one_clear_line(
    run_cli: RunCli, config_file: Path, args: list[str], stdin: str, message: str
) -> None:
    await run_cli(
        "users", "create", "bob", "--email", "b@example.test", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    code, out, err = await run_cli(*args, stdin=stdin + "\n" if stdin else "")
    assert code != 0
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(message), err


def test_a_usage_error_is_one_line_from_the_installed_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN_DIR / "fedipoly"), "users", "create", "x", "--email", "x@example.test",
         "--password-stdin", "--role", "king"],
        capture_output=True, text=True, input="", timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("fedipoly users create: error: argument --role")
    assert "--help" in result.stderr


def test_error_lines_hide_credentials_and_stay_on_one_line() -> None:
    message = "cannot reach mongodb://fedipoly:s3cret@db1:27017/?replicaSet=rs0:\n  refused"
    assert one_line(message) == "cannot reach mongodb://***@db1:27017/?replicaSet=rs0: refused"
    assert len(one_line("x" * 5000)) == 500


async def test_start_up_tuning_freezes_the_heap_and_makes_young_collections_rarer() -> None:
    before = gc.get_threshold()
    try:
        await freeze_startup_heap(web.Application())
        assert gc.get_freeze_count() > 0  # start-up objects are out of the collector's passes
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
