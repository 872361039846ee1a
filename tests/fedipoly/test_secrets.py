"""Passwords, API tokens and session cookies are never stored or logged in clear."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import bson
import pytest
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient

from fedipoly.config import Config
from fedipoly.web.middlewares import SESSION_COOKIE
from tests.fedipoly.web.helpers import (
    bearer,
    operator_invite,
    sign_in_page,
    sign_up_api,
    sign_up_page,
    submit,
)


async def stored_bytes(config: Config) -> bytes:
    """Everything the store holds: the SQLite files (WAL included) or every MongoDB document."""
    if config.storage.backend == "sqlite":
        database = Path(config.storage.sqlite_path)
        files = sorted(database.parent.glob(database.name + "*"))
        assert database in files and Path(f"{database}-wal") in files
        return b"".join(path.read_bytes() for path in files)
    client: AsyncMongoClient[dict] = AsyncMongoClient(config.storage.mongodb_url)
    try:
        mdb = client[config.storage.mongodb_database]
        dump = b""
        names = await mdb.list_collection_names()
        assert "accounts" in names and "api_tokens" in names and "sessions" in names
        for name in names:
            async for document in mdb[name].find({}):
                dump += bson.encode(document)
        return dump
    finally:
        await client.close()


async def test_secrets_are_neither_stored_nor_logged_in_clear(
    client: TestClient, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    passwords = [f"pw-{uuid.uuid4().hex}" for _ in range(3)]
    secrets: list[str] = list(passwords)

    # Sign-up through the API (returns a token) and through the page (sets a session cookie).
    signed_up = await sign_up_api(
        client, "alice", invite=await operator_invite(client), password=passwords[0]
    )
    assert signed_up.status == 201
    first_token = (await signed_up.json())["token"]["token"]
    secrets.append(first_token)
    page = await sign_up_page(
        client, "bob", invite=await operator_invite(client), password=passwords[1]
    )
    assert page.status == 303
    secrets.append(page.cookies[SESSION_COOKIE].value)

    # Sign-in through the API and the page; a token made in settings; a password change.
    signed_in = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": passwords[0]}
    )
    assert signed_in.status == 201
    secrets.append((await signed_in.json())["token"])
    made = await client.post("/api/v1/tokens", json={"label": "cli"}, headers=bearer(first_token))
    secrets.append((await made.json())["token"])
    client.session.cookie_jar.clear()
    login = await sign_in_page(client, "bob", passwords[1])
    assert login.status == 303
    secrets.append(login.cookies[SESSION_COOKIE].value)
    shown = await submit(client, "/settings/tokens", {"label": "page"}, form_page="/settings")
    secrets.append((await shown.text()).split('id="new-token">', 1)[1].split("<", 1)[0])
    changed = await client.put(
        "/api/v1/accounts/me/password",
        json={"current_password": passwords[0], "new_password": passwords[2]},
        headers=bearer(first_token),
    )
    assert changed.status == 204
    # A failed sign-in with a password-like string must not log it either.
    wrong = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": passwords[1]}
    )
    assert wrong.status == 401

    assert all(len(secret) >= 20 for secret in secrets)
    stored = await stored_bytes(config)
    assert b"$argon2id$" in stored  # the hashes are there, so the scan looks at real data
    assert any(record.getMessage() == "account created" for record in caplog.records)
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for secret in secrets:
        assert secret.encode() not in stored, "a secret is stored in clear"
        assert secret not in logged, "a secret is logged in clear"
