"""Real Fedipoly instances on loopback ports, each with its own store, for federation tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.models import Account, Visibility
from tests.support import free_port, make_config

T = TypeVar("T")


@dataclass
class Instance:
    name: str
    config: Config
    app: web.Application
    client: TestClient

    @property
    def base_url(self) -> str:
        return self.config.server.base_url

    @property
    def domain(self) -> str:
        return self.config.server.domain

    def handle(self, username: str) -> str:
        return f"{username}@{self.domain}"

    def actor(self, username: str) -> str:
        return f"{self.base_url}/users/{username}"

    async def member(self, username: str, **flags: Any) -> Account:
        account = await self.app[appkeys.ACCOUNTS].register(
            username=username,
            email=f"{username}@{self.name}.test",
            password="correct horse battery",
            invite_code=None,
            bypass_registration_mode=True,
        )
        return account

    async def post(
        self, author: Account, text: str, visibility: Visibility = Visibility.PUBLIC
    ) -> Any:
        return await self.app[appkeys.POSTS].create(author, text, visibility)

    async def home(self, reader: Account) -> list[Any]:
        return (await self.app[appkeys.POSTS].home_timeline(reader, before=None)).posts


def instance_config(
    tmp_path: Path,
    name: str,
    port: int,
    allowed: list[str],
    backend: str,
    mongo_url: str | None,
    **sections: dict[str, Any],
) -> Config:
    storage: dict[str, Any] = {
        "backend": backend,
        "sqlite_path": str(tmp_path / name / "fedipoly.sqlite3"),
    }
    if mongo_url:
        storage |= {"mongodb_url": mongo_url, "mongodb_database": f"{name}_{uuid.uuid4().hex[:8]}"}
    base = {
        "server": {"public_url": f"http://127.0.0.1:{port}", "host": "127.0.0.1", "port": port},
        "storage": storage,
        "media": {"directory": str(tmp_path / name / "media")},
        "federation": {"allowed_private_hosts": allowed},
        "workers": {
            "poll_interval_seconds": 0.05,
            "delivery_lease_seconds": 5.0,
            "inbox_lease_seconds": 5.0,
        },
        "registration": {"mode": "open"},
    }
    for section, values in sections.items():
        base.setdefault(section, {}).update(values)
    return make_config(tmp_path, **base)


@asynccontextmanager
async def running_instances(
    tmp_path: Path,
    names: list[str],
    *,
    backend: str = "sqlite",
    mongo_url: str | None = None,
    extra_allowed: list[str] | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[dict[str, Instance]]:
    """Start one instance per name, each allowed to reach the others (and `extra_allowed`)."""
    ports = {name: free_port() for name in names}
    allowed = [f"127.0.0.1:{port}" for port in ports.values()] + (extra_allowed or [])
    instances: dict[str, Instance] = {}
    async with AsyncExitStack() as stack:
        for name, port in ports.items():
            config = instance_config(tmp_path, name, port, allowed, backend, mongo_url, **sections)
            app = create_app(config, run_workers=True)
            client = TestClient(TestServer(app, host="127.0.0.1", port=port))
            await stack.enter_async_context(client)
            instances[name] = Instance(name=name, config=config, app=app, client=client)
        yield instances


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `check` until it returns a truthy value; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last: T = await check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")
        await asyncio.sleep(interval)
        last = await check()
    return last
