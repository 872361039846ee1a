"""Helpers for the profile and badge API and page tests: an app with those routes, members of
any role (token + session), approved badges, and the XSS payloads every field must survive."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.models import Badge, Role
from fedipoly.store.seed import DEFAULT_BADGES
from fedipoly.web import badges_api, badges_pages, profile_api, profile_pages
from tests.fedipoly.web.social_support import PASSWORD, Member, TickingClock

# Every new instance starts with this approved catalogue.
SEEDED = sorted(slug for slug, _name, _color, _icon in DEFAULT_BADGES)
TABLES = (profile_api.routes, badges_api.routes, profile_pages.routes, badges_pages.routes)

# Markup and script in every shape we know; none may reach a page or an API response raw.
XSS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "' onmouseover='alert(1)",
    "</textarea><script>alert(2)</script>",
    "<style>body{display:none}</style>",
    "<a href=javascript:alert(1)>x</a>",
    "<iframe src=data:text/html,x>",
)
RAW_MARKUP = re.compile(
    r"<script|<img src=x|<svg onload|<style>|<iframe|<a href=javascript|' onmouseover='",
    re.IGNORECASE,
)
# Popularity in any form: a like/favourite control or any counted figure.
POPULARITY_WORDS = re.compile(r"\b(likes?|liked|favou?rites?|boosts?|reblogs?|counts?|score|rank(ing)?)\b", re.IGNORECASE)  # fmt: skip


async def open_app(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def make_person(app: web.Application, username: str, role: Role = Role.MEMBER) -> Member:
    accounts = app[appkeys.ACCOUNTS]
    account = await accounts.register(
        username=username,
        email=f"{username}@example.test",
        password=PASSWORD,
        invite_code=None,
        role=role,
        bypass_registration_mode=True,
    )
    token = await accounts.issue_token(account, "tests")
    session = await accounts.start_session(account)
    return Member(account=account, token=token.secret, session=session.cookie_value)


async def approved_badge(
    app: web.Application,
    moderator: Member,
    slug: str,
    name: str,
    *,
    color: str = "#336699",
    icon: str = "*",
    keep: bool = False,
) -> Badge:
    """A public badge: a seeded one as it is, or one the moderator creates (so it joins their
    list) and approves; unless `keep`, it leaves their list again."""
    badges = app[appkeys.BADGES]
    if slug in SEEDED:
        return await badges.get_badge(slug, None)
    await badges.create_badge(
        moderator.account, slug=slug, display_name=name, color=color, icon=icon
    )
    badge = await badges.approve(moderator.account, slug)
    if not keep:
        await badges.remove_badges(moderator.account, [slug])
    return badge


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def assert_no_raw_markup(text: str) -> None:
    """For API responses: none of the payloads' markup appears in the raw bytes."""
    found = RAW_MARKUP.search(text)
    assert found is None, text[max(0, found.start() - 200) : found.end() + 200]


class _ActiveContent(HTMLParser):
    """Collects what a browser would run or load from a page: scripts, styles, frames, event
    handlers, style attributes and javascript:/data: URLs."""

    FORBIDDEN_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "base", "img"})
    URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.FORBIDDEN_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            text = (value or "").strip().lower()
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if name in self.URL_ATTRIBUTES and text.startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.found.append(f"<{tag} {name}={text[:30]}>")


def assert_safe_html(html: str) -> None:
    """For pages: parsed as a browser would, nothing active came from user input."""
    parser = _ActiveContent()
    parser.feed(html)
    parser.close()
    assert parser.found == [], parser.found
    assert "<script" not in html.lower()


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()
