"""Helpers for the social API and page tests: members with a token and a session, and
requests made as them (each with its own cookies, so one client can act for many people)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.models import Account
from fedipoly.web.middlewares import CSRF_COOKIE, SESSION_COOKIE

CSRF = "csrf-token-for-tests-0123456789"
PASSWORD = "correct horse battery"


class TickingClock:
    """A deterministic clock: each reading is one second after the previous one."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Member:
    account: Account
    token: str
    session: str

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def cookies(self) -> dict[str, str]:
        return {SESSION_COOKIE: self.session, CSRF_COOKIE: CSRF}


async def make_member(
    app: web.Application, username: str, *, manual: bool = False, display_name: str | None = None
) -> Member:
    accounts = app[appkeys.ACCOUNTS]
    account = await accounts.register(
        username=username,
        email=f"{username}@example.test",
        password=PASSWORD,
        invite_code=None,
        bypass_registration_mode=True,
    )
    if manual or display_name:
        updated = await app[appkeys.STORE].update_account_profile(
            account.id,
            display_name=display_name or account.display_name,
            manually_approves_followers=manual,
        )
        assert updated is not None
        account = updated
    token = await accounts.issue_token(account, "tests")
    session = await accounts.start_session(account)
    return Member(account=account, token=token.secret, session=session.cookie_value)


def handle(app: web.Application, username: str) -> str:
    return f"{username}@{app[appkeys.URLS].domain}"


async def api(
    client: TestClient, method: str, path: str, who: Member | None = None, body: Any = None
) -> tuple[int, Any]:
    """Calls the JSON API; returns the status and the decoded body (None when empty)."""
    headers = who.auth if who else {}
    response = await client.request(method, path, headers=headers, json=body)
    text = await response.text()
    if not text:
        return response.status, None
    assert response.content_type == "application/json", text
    return response.status, await response.json()


async def browse(client: TestClient, path: str, who: Member | None = None) -> tuple[int, str]:
    """A browser GET: HTML, no redirects followed."""
    response = await client.get(
        path,
        headers={"Accept": "text/html"},
        cookies=who.cookies if who else {CSRF_COOKIE: CSRF},
        allow_redirects=False,
    )
    return response.status, await response.text()


async def submit(
    client: TestClient,
    path: str,
    data: dict[str, str],
    who: Member | None = None,
    *,
    csrf: str | None = CSRF,
) -> ClientResponse:
    """A browser form POST, with the CSRF field unless `csrf` is None; no redirects followed."""
    fields = dict(data) | ({"csrf_token": csrf} if csrf is not None else {})
    response = await client.post(
        path,
        data=fields,
        headers={"Accept": "text/html"},
        cookies=who.cookies if who else {CSRF_COOKIE: CSRF},
        allow_redirects=False,
    )
    await response.read()
    return response
