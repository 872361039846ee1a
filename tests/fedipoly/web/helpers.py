"""Helpers for the web and API tests: apps with a given config, forms with their CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from tests.conftest import backend_config

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def config_for(
    backend: str, tmp_path: Path, mongo_url: str | None, **sections: dict[str, Any]
) -> Config:
    """The test config of the backend under test, with some options changed."""
    return backend_config(backend, tmp_path, mongo_url, **sections)


@asynccontextmanager
async def open_client(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def csrf_token(client: TestClient, path: str = "/login") -> str:
    """Load a page as a browser would; the jar keeps the CSRF cookie, the form has the token."""
    page = await client.get(path)
    found = CSRF_INPUT.search(await page.text())
    assert found, f"no CSRF field on {path}"
    return found.group(1)


async def submit(
    client: TestClient, path: str, fields: dict[str, str], *, form_page: str = "/login"
) -> ClientResponse:
    """POST a form with the page's CSRF token, without following the redirect."""
    token = await csrf_token(client, form_page)
    return await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)


async def sign_up_page(
    client: TestClient,
    username: str,
    *,
    invite: str | None = None,
    email: str | None = None,
    password: str = PASSWORD,
) -> ClientResponse:
    fields = {"username": username, "email": email or f"{username.lower()}@example.test"}
    fields["password"] = password
    if invite is not None:
        fields["invite"] = invite
    return await submit(client, "/signup", fields)


async def sign_in_page(
    client: TestClient, username: str, password: str = PASSWORD
) -> ClientResponse:
    return await submit(client, "/login", {"username": username, "password": password})


async def operator_invite(client: TestClient, uses: int = 1) -> str:
    invite = await client.app[appkeys.ACCOUNTS].create_operator_invite(
        max_uses=uses, expires_days=None
    )
    return invite.code


async def sign_up_api(
    client: TestClient,
    username: str,
    *,
    invite: str | None = None,
    email: str | None = None,
    password: str = PASSWORD,
) -> ClientResponse:
    body = {
        "username": username,
        "email": email or f"{username.lower()}@example.test",
        "password": password,
    }
    if invite is not None:
        body["invite_code"] = invite
    return await client.post("/api/v1/accounts", json=body)


async def member_token(client: TestClient, username: str) -> str:
    """A new member (through an operator invite) and the API token the sign-up returned."""
    answer = await sign_up_api(client, username, invite=await operator_invite(client))
    assert answer.status == 201, await answer.text()
    token: str = (await answer.json())["token"]["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def account_count(client: TestClient) -> int:
    return await client.app[appkeys.STORE].count_accounts()
