"""The profile API: your own profile (read, change, validation that changes nothing) and the
public view (approved badges only, no counts, safe HTML), on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.profile_badges_support import (
    POPULARITY_WORDS,
    XSS,
    assert_no_raw_markup,
    keys_of,
    make_person,
    open_app,
)
from tests.fedipoly.web.social_support import Member, api

OWN_KEYS = {
    "username",
    "display_name",
    "manually_approves_followers",
    "headline",
    "bio",
    "bio_html",
    "positions",
    "links",
    "discoverable",
    "updated_at",
}
PUBLIC_KEYS = {
    "username",
    "handle",
    "url",
    "display_name",
    "headline",
    "bio_html",
    "positions",
    "links",
    "badges",
}
FULL = {
    "display_name": "Alice Liddell",
    "manually_approves_followers": True,
    "headline": "Maker of small tools, chess coach",
    "bio": "I build things.\n\nSee https://alice.example/now",
    "positions": ["Engineer at Acme", "Coach at the chess club"],
    "links": [{"label": "Site", "url": "https://alice.example/"}],
    "discoverable": False,
}


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


@pytest.fixture
async def alice(app: web.Application) -> Member:
    return await make_person(app, "alice")


def assert_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert set(body) == {"error", "detail"} and body["error"]


async def test_own_profile_starts_empty_and_needs_a_token(
    client: TestClient, alice: Member
) -> None:
    status, body = await api(client, "GET", "/api/v1/profile", alice)
    assert status == 200 and set(body) == OWN_KEYS
    assert body["username"] == "alice" and body["display_name"] == "alice"
    assert body["positions"] == [] and body["links"] == [] and body["discoverable"] is True
    for method in ("GET", "PATCH"):
        status, body = await api(client, method, "/api/v1/profile", None, {})
        assert_error(status, body, 401)


async def test_patch_changes_every_field_and_keeps_what_is_left_out(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    status, body = await api(client, "PATCH", "/api/v1/profile", alice, FULL)
    assert status == 200, body
    for key, value in FULL.items():
        assert body[key] == value, key
    assert body["bio_html"].startswith("<p>I build things.</p>")
    assert '<a href="https://alice.example/now"' in body["bio_html"]
    assert body["updated_at"]

    status, body = await api(client, "PATCH", "/api/v1/profile", alice, {"headline": "Other"})
    assert status == 200 and body["headline"] == "Other"
    assert body["bio"] == FULL["bio"] and body["positions"] == FULL["positions"]
    assert body["display_name"] == "Alice Liddell" and body["manually_approves_followers"]
    account = await app[appkeys.ACCOUNTS].get_by_username("alice")
    assert account.display_name == "Alice Liddell" and account.manually_approves_followers

    status, body = await api(client, "PATCH", "/api/v1/profile", alice, {"positions": []})
    assert status == 200 and body["positions"] == []
    status, body = await api(client, "GET", "/api/v1/profile", alice)
    assert body["headline"] == "Other" and body["positions"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"positions": ["one", "two", "three"]}, "positions"),
        ({"positions": "Engineer"}, "positions"),
        ({"positions": ["x" * 81]}, "positions"),
        ({"headline": "x" * 101}, "headline"),
        ({"headline": 5}, "headline"),
        ({"headline": "bell\x07"}, "headline"),
        ({"bio": "x" * 2001}, "bio"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": "rtl\u202eoverride"}, "display_name"),
        ({"discoverable": "yes"}, "discoverable"),
        ({"manually_approves_followers": 1}, "manually_approves_followers"),
        ({"links": [{"label": "x", "url": "javascript:alert(1)"}]}, "links[0].url"),
        ({"links": [{"label": "x", "url": "data:text/html,<script>alert(1)</script>"}]}, None),
        ({"links": [{"label": "x", "url": "https://user:pw@evil.example/"}]}, "links[0].url"),
        ({"links": [{"label": "", "url": "https://ok.example/"}]}, "links[0].label"),
        ({"links": [{"label": "x"}]}, "links[0]"),
        ({"links": [{"label": "x", "url": "https://a.example/", "rel": "x"}]}, "links[0]"),
        ({"links": [{"label": f"l{i}", "url": "https://a.example/"} for i in range(7)]}, "links"),
        ({"links": "https://a.example/"}, "links"),
        ({"follower_count": 3}, None),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: TestClient, alice: Member, change: dict[str, Any], field: str | None
) -> None:
    # The good fields in the same request are not applied either.
    body = {"display_name": "Changed", "headline": "Changed"} | change
    status, answer = await api(client, "PATCH", "/api/v1/profile", alice, body)
    assert_error(status, answer, 400)
    if field is not None:
        assert answer["detail"]["field"] == field
    status, now = await api(client, "GET", "/api/v1/profile", alice)
    assert now["display_name"] == "alice" and now["headline"] == ""


async def test_invalid_json_is_refused(client: TestClient, alice: Member) -> None:
    answer = await client.patch("/api/v1/profile", headers=alice.auth, data=b"[1, 2")
    assert answer.status == 400
    status, body = await api(client, "PATCH", "/api/v1/profile", alice, ["headline"])
    assert_error(status, body, 400)


async def test_public_profile_shows_approved_badges_in_order_and_no_counts(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    await api(client, "PATCH", "/api/v1/profile", alice, FULL)
    await api(
        client, "POST", "/api/v1/profile/badges", alice, {"add": ["python", "chess", "music"]}
    )
    await api(client, "PUT", "/api/v1/profile/badges/featured", alice, {"slugs": ["music"]})
    status, _ = await api(
        client,
        "POST",
        "/api/v1/badges",
        alice,
        {"slug": "secret_idea", "display_name": "Secret", "color": "#000000", "icon": "?"},
    )
    assert status == 201
    moderator = await make_person(app, "mod", Role.MODERATOR)
    for who in (None, alice, moderator):
        status, body = await api(client, "GET", "/api/v1/accounts/alice/profile", who)
        assert status == 200 and set(body) == PUBLIC_KEYS
        assert [(item["slug"], item["featured"]) for item in body["badges"]] == [
            ("python", False),
            ("chess", False),
            ("music", True),
        ]
        assert body["handle"].startswith("alice@") and body["url"].endswith("/@alice")
        assert body["positions"] == FULL["positions"] and body["links"] == FULL["links"]
        assert "bio" not in body  # the source text is its author's only
        assert not [key for key in keys_of(body) if POPULARITY_WORDS.search(key)]
        assert not any(key.endswith("count") or "followers_" in key for key in keys_of(body))
    status, body = await api(client, "GET", "/api/v1/accounts/ALICE/profile")
    assert status == 200 and body["username"] == "alice"
    status, body = await api(client, "GET", "/api/v1/accounts/nobody/profile")
    assert_error(status, body, 404)


async def test_xss_payloads_in_profile_fields_never_reach_a_response_raw(
    client: TestClient, alice: Member
) -> None:
    for payload in XSS:
        change = {
            "display_name": payload[:100],
            "headline": payload[:100],
            "bio": payload,
            "positions": [payload[:80]],
            "links": [
                {"label": payload[:40], "url": f"https://evil.example/{payload.replace(' ', '')}"}
            ],
        }
        status, body = await api(client, "PATCH", "/api/v1/profile", alice, change)
        assert status == 200, body
        assert body["headline"] == payload[:100]  # stored as written: it is plain text
        assert "<script" not in body["bio_html"] and "<img" not in body["bio_html"]
        assert "<svg" not in body["bio_html"] and "<style" not in body["bio_html"]
        for path, who in (
            ("/api/v1/profile", alice),
            ("/api/v1/accounts/alice/profile", None),
        ):
            answer = await client.get(path, headers=who.auth if who else {})
            raw = await answer.text()
            assert answer.content_type == "application/json"
            assert_no_raw_markup(raw)
            assert "<" not in raw and ">" not in raw
