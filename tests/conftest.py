"""Fixtures: real stores (SQLite file, SecantusDB over the wire) and real app instances."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.store import Store
from fedipoly.store.mongo import MongoStore
from fedipoly.store.sqlite import SqliteStore
from tests.support import SecantusServer, make_config, running_secantus

BACKENDS = ["sqlite", "mongodb"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI a skipped test is a failed test: a missing browser, peer or database must show."""
    report = yield
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
    return report


@pytest.fixture(scope="session")
def secantus() -> Iterator[SecantusServer]:
    """One SecantusDB server for the session; each test gets its own database in it."""
    with running_secantus() as server:
        yield server


def _new_store(backend: str, tmp_path: Path, secantus_url: str | None) -> Store:
    if backend == "sqlite":
        return SqliteStore(str(tmp_path / "store.sqlite3"))
    assert secantus_url is not None
    return MongoStore(secantus_url, f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mongo_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    if backend != "mongodb":
        return None
    server: SecantusServer = request.getfixturevalue("secantus")
    return server.url


@pytest.fixture
async def store(backend: str, tmp_path: Path, mongo_url: str | None) -> AsyncIterator[Store]:
    opened = _new_store(backend, tmp_path, mongo_url)
    await opened.open()
    yield opened
    if isinstance(opened, MongoStore):
        await opened.drop_database()
    await opened.close()


def backend_config(backend: str, tmp_path: Path, mongo_url: str | None, **sections: dict) -> Config:
    storage: dict[str, object] = {"backend": backend}
    if mongo_url:
        storage |= {"mongodb_url": mongo_url, "mongodb_database": f"app_{uuid.uuid4().hex[:12]}"}
    merged_storage = storage | sections.pop("storage", {})
    return make_config(tmp_path, storage=merged_storage, **sections)


@pytest.fixture
def config(backend: str, tmp_path: Path, mongo_url: str | None) -> Config:
    return backend_config(backend, tmp_path, mongo_url)


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
