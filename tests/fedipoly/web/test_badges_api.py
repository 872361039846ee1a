"""The badges API: catalogue and search, badge and holders, creating, the member's own list
(bulk add/remove, order, featured) and the moderators' queue, on both backends."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly.config import Config
from fedipoly.models import Role
from fedipoly.web.badges_api import routes as badge_routes
from fedipoly.web.openapi import PATHS, SCHEMAS, _with_path_parameters, build_document
from fedipoly.web.openapi_badges import BADGE_PATHS, BADGE_SCHEMAS
from fedipoly.web.profile_api import routes as profile_routes
from tests.fedipoly.web.profile_badges_support import (
    POPULARITY_WORDS,
    SEEDED,
    XSS,
    approved_badge,
    assert_no_raw_markup,
    keys_of,
    make_person,
    open_app,
)
from tests.fedipoly.web.social_support import Member, api

BADGE_KEYS = {"slug", "display_name", "color", "icon", "hashtag", "status", "url", "created_at"}


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


@pytest.fixture
async def mod(app: web.Application) -> Member:
    return await make_person(app, "mod", Role.MODERATOR)


@pytest.fixture
async def alice(app: web.Application) -> Member:
    return await make_person(app, "alice")


@pytest.fixture
async def bob(app: web.Application) -> Member:
    return await make_person(app, "bob")


def assert_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert set(body) == {"error", "detail"}
    assert isinstance(body["error"], str) and body["error"]


def slugs(body: dict[str, Any]) -> list[str]:
    return [item["slug"] for item in body["items"]]


async def create(client: TestClient, who: Member, slug: str, name: str, **extra: str) -> Any:
    body = {"slug": slug, "display_name": name, "color": "#AA3300", "icon": "*"} | extra
    status, answer = await api(client, "POST", "/api/v1/badges", who, body)
    assert status == 201, answer
    return answer


# --- catalogue and search ------------------------------------------------------------------


async def test_catalogue_lists_approved_badges_and_only_your_own_pending(
    client: TestClient, app: web.Application, mod: Member, alice: Member, bob: Member
) -> None:
    for slug, name in (("baking", "Baking"), ("knots", "Knots"), ("zines", "Zines")):
        await approved_badge(app, mod, slug, name)
    created = await create(client, alice, "alices_secret", "Alice's secret")
    assert created["status"] == "pending" and set(created) == BADGE_KEYS
    public = sorted([*SEEDED, "baking", "knots", "zines"])

    status, body = await api(client, "GET", "/api/v1/badges")
    assert status == 200 and slugs(body) == public
    assert body["next"] is None
    status, body = await api(client, "GET", "/api/v1/badges", bob)
    assert slugs(body) == public
    status, body = await api(client, "GET", "/api/v1/badges", alice)
    assert slugs(body) == sorted([*public, "alices_secret"])
    # Moderators see other people's pending badges in the queue, not in the catalogue.
    status, body = await api(client, "GET", "/api/v1/badges", mod)
    assert slugs(body) == public


async def test_catalogue_pages_with_a_cursor(
    client: TestClient, app: web.Application, mod: Member
) -> None:
    for index in range(5):
        await approved_badge(app, mod, f"b{index}", f"Badge {index}")
    seen: list[str] = []
    path = "/api/v1/badges?limit=4"
    while True:
        status, body = await api(client, "GET", path)
        assert status == 200 and len(body["items"]) <= 4
        seen += slugs(body)
        if body["next"] is None:
            break
        path = f"/api/v1/badges?limit=4&cursor={body['next']}"
    assert seen == sorted([*SEEDED, *(f"b{index}" for index in range(5))])


async def test_search_finds_names_prefixes_and_close_spellings(
    client: TestClient, app: web.Application, mod: Member, bob: Member
) -> None:
    await create(client, bob, "pythonista", "Pythonista")  # pending: bob's only

    status, body = await api(client, "GET", "/api/v1/badges?q=pyhton")
    assert status == 200 and slugs(body) == ["python"] and body["next"] is None
    status, body = await api(client, "GET", "/api/v1/badges?q=speak")
    assert slugs(body) == ["public_speaking"]
    status, body = await api(client, "GET", "/api/v1/badges?q=Python")
    assert slugs(body) == ["python"]
    status, body = await api(client, "GET", "/api/v1/badges?q=python", bob)
    assert slugs(body) == ["python", "pythonista"]


async def test_catalogue_rejects_bad_parameters(client: TestClient) -> None:
    for query in ("limit=0", "limit=101", "limit=ten", "cursor=NOT-A-SLUG", "q=" + "x" * 101):
        status, body = await api(client, "GET", f"/api/v1/badges?{query}")
        assert_error(status, body, 400)


# --- one badge, holders --------------------------------------------------------------------


async def test_pending_badge_is_invisible_to_everyone_but_its_creator_and_moderators(
    client: TestClient, app: web.Application, mod: Member, alice: Member, bob: Member
) -> None:
    await create(client, alice, "knitting", "Knitting")
    for who in (None, bob):
        for path in ("/api/v1/badges/knitting", "/api/v1/badges/knitting/holders"):
            status, body = await api(client, "GET", path, who)
            assert_error(status, body, 404)
        status, body = await api(client, "GET", "/api/v1/badges?q=knitting", who)
        assert status == 200 and body["items"] == []
    for who in (alice, mod):
        status, body = await api(client, "GET", "/api/v1/badges/knitting", who)
        assert status == 200 and body["status"] == "pending"
    # Bob cannot add it to his list either, and the answer doesn't tell him it exists.
    status, body = await api(client, "POST", "/api/v1/profile/badges", bob, {"add": ["knitting"]})
    assert_error(status, body, 404)
    # Alice's public profile doesn't show it, even to Alice.
    status, body = await api(client, "GET", "/api/v1/accounts/alice/profile", alice)
    assert status == 200 and body["badges"] == []


async def test_get_badge_answers_404_for_unknown_and_400_for_malformed_slugs(
    client: TestClient,
) -> None:
    status, body = await api(client, "GET", "/api/v1/badges/nothing_here")
    assert_error(status, body, 404)
    status, body = await api(client, "GET", "/api/v1/badges/Not-A-Slug")
    assert_error(status, body, 400)


async def test_holders_lists_discoverable_members_only_without_counts(
    client: TestClient, app: web.Application, mod: Member, alice: Member, bob: Member
) -> None:
    await approved_badge(app, mod, "chess", "Chess")
    for who in (alice, bob):
        status, _ = await api(client, "POST", "/api/v1/profile/badges", who, {"add": ["chess"]})
        assert status == 200
    status, _ = await api(client, "PATCH", "/api/v1/profile", bob, {"discoverable": False})
    assert status == 200
    status, body = await api(client, "GET", "/api/v1/badges/chess/holders")
    assert status == 200
    assert [item["username"] for item in body["items"]] == ["alice"]
    assert set(body["items"][0]) == {"username", "handle", "display_name", "url"}
    assert body["next"] is None
    assert not any(POPULARITY_WORDS.search(key) for key in keys_of(body))
    status, body = await api(client, "GET", "/api/v1/badges/chess/holders?limit=1&cursor=%%%")
    assert_error(status, body, 400)


# --- creating ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"slug": "x" * 65}, "slug"),
        ({"slug": 7}, "slug"),
        ({"color": "red"}, "color"),
        ({"color": "#12345"}, "color"),
        ({"color": "#123456;background:url(x)"}, "color"),
        ({"icon": ""}, "icon"),
        ({"icon": "a b"}, "icon"),
        ({"icon": "123456789"}, "icon"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 65}, "display_name"),
        ({"display_name": "evil\u202ename"}, "display_name"),
    ],
)
async def test_create_refuses_bad_fields_and_changes_nothing(
    client: TestClient, alice: Member, change: dict[str, Any], field: str
) -> None:
    body = {"slug": "ok_slug", "display_name": "Fine", "color": "#aa3300", "icon": "*"} | change
    status, answer = await api(client, "POST", "/api/v1/badges", alice, body)
    assert_error(status, answer, 400)
    assert answer["detail"]["field"] == field
    status, mine = await api(client, "GET", "/api/v1/profile/badges", alice)
    assert mine["items"] == []


async def test_create_badge_rules(client: TestClient, alice: Member, bob: Member) -> None:
    status, body = await api(client, "POST", "/api/v1/badges", None, {"slug": "x"})
    assert_error(status, body, 401)
    created = await create(client, alice, "tea", "Tea", color="#AABBCC")
    assert created["color"] == "#aabbcc" and created["url"].endswith("/badges/tea")
    # Usable by its creator at once: it is on her list already.
    status, mine = await api(client, "GET", "/api/v1/profile/badges", alice)
    assert [(item["slug"], item["status"]) for item in mine["items"]] == [("tea", "pending")]
    # The slug is taken, whatever its status, whoever asks.
    status, body = await api(
        client,
        "POST",
        "/api/v1/badges",
        bob,
        {"slug": "tea", "display_name": "Tea", "color": "#000000", "icon": "*"},
    )
    assert_error(status, body, 409)
    status, body = await api(
        client,
        "POST",
        "/api/v1/badges",
        bob,
        {"slug": "x", "display_name": "X", "color": "#000000", "icon": "*", "extra": 1},
    )
    assert_error(status, body, 400)
    answer = await client.post("/api/v1/badges", headers=bob.auth, data=b"not json")
    assert answer.status == 400


async def test_too_many_pending_badges_are_refused(client: TestClient, alice: Member) -> None:
    for index in range(5):
        await create(client, alice, f"idea{index}", f"Idea {index}")
    body = {"slug": "idea5", "display_name": "Idea 5", "color": "#000000", "icon": "*"}
    status, answer = await api(client, "POST", "/api/v1/badges", alice, body)
    assert_error(status, answer, 429)


# --- the member's own badges ---------------------------------------------------------------


async def test_bulk_add_and_remove(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    await approved_badge(app, mod, "baking", "Baking")
    await approved_badge(app, mod, "tea", "Tea")
    path = "/api/v1/profile/badges"
    status, body = await api(client, "POST", path, alice, {"add": ["python", "chess", "python"]})
    assert status == 200 and slugs(body) == ["python", "chess"]
    assert all(set(item) == BADGE_KEYS | {"featured"} for item in body["items"])
    status, body = await api(
        client, "POST", path, alice, {"add": ["baking", "tea"], "remove": ["python"]}
    )
    assert status == 200 and slugs(body) == ["chess", "baking", "tea"]
    # Removing what you don't hold is a no-op; re-adding what you hold keeps its place.
    status, body = await api(client, "POST", path, alice, {"add": ["chess"], "remove": ["ruby"]})
    assert status == 200 and slugs(body) == ["chess", "baking", "tea"]
    status, body = await api(client, "GET", path, alice)
    assert slugs(body) == ["chess", "baking", "tea"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"add": ["chess", "no_such_badge"]}, 404),
        ({"add": "chess"}, 400),
        ({"add": ["Chess"]}, 400),
        ({"add": [1]}, 400),
        ({"add": ["chess"], "remove": ["chess"]}, 400),
        ({"add": ["chess"], "bogus": []}, 400),
    ],
)
async def test_bad_bulk_changes_change_nothing(
    client: TestClient,
    app: web.Application,
    mod: Member,
    alice: Member,
    body: dict[str, Any],
    expected: int,
) -> None:
    await approved_badge(app, mod, "tea", "Tea")
    await api(client, "POST", "/api/v1/profile/badges", alice, {"add": ["tea"]})
    status, answer = await api(client, "POST", "/api/v1/profile/badges", alice, body)
    assert_error(status, answer, expected)
    status, mine = await api(client, "GET", "/api/v1/profile/badges", alice)
    assert slugs(mine) == ["tea"]


async def test_reorder(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    for slug in ("a1", "b2", "c3"):
        await approved_badge(app, mod, slug, slug.upper())
    await api(client, "POST", "/api/v1/profile/badges", alice, {"add": ["a1", "b2", "c3"]})
    path = "/api/v1/profile/badges/order"
    status, body = await api(client, "PUT", path, alice, {"slugs": ["c3", "a1", "b2"]})
    assert status == 200 and slugs(body) == ["c3", "a1", "b2"]
    for bad in (["c3", "a1"], ["c3", "a1", "b2", "b2"], ["c3", "a1", "b2", "zz"], "c3"):
        status, answer = await api(client, "PUT", path, alice, {"slugs": bad})
        assert_error(status, answer, 400)
    status, answer = await api(client, "PUT", path, alice, {})
    assert_error(status, answer, 400)
    status, body = await api(client, "GET", "/api/v1/profile/badges", alice)
    assert slugs(body) == ["c3", "a1", "b2"]
    status, answer = await api(client, "PUT", path, None, {"slugs": []})
    assert_error(status, answer, 401)


async def test_featured_badges_at_most_ten(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    names = [f"skill{index:02d}" for index in range(11)]
    for slug in names:
        await approved_badge(app, mod, slug, slug)
    await api(client, "POST", "/api/v1/profile/badges", alice, {"add": names})
    path = "/api/v1/profile/badges/featured"
    status, body = await api(client, "PUT", path, alice, {"slugs": names[:10]})
    assert status == 200
    assert [item["featured"] for item in body["items"]] == [True] * 10 + [False]
    assert slugs(body) == names  # featuring keeps the order
    status, answer = await api(client, "PUT", path, alice, {"slugs": names})
    assert_error(status, answer, 400)
    status, answer = await api(client, "PUT", path, alice, {"slugs": ["not_held"]})
    assert_error(status, answer, 400)
    status, body = await api(client, "GET", "/api/v1/profile/badges", alice)
    assert sum(item["featured"] for item in body["items"]) == 10
    status, body = await api(client, "PUT", path, alice, {"slugs": []})
    assert status == 200 and not any(item["featured"] for item in body["items"])


# --- moderation ----------------------------------------------------------------------------


async def test_members_get_403_from_every_moderation_endpoint(
    client: TestClient, alice: Member, bob: Member
) -> None:
    await create(client, alice, "knitting", "Knitting")
    for method, path, body in (
        ("GET", "/api/v1/moderation/badges", None),
        ("POST", "/api/v1/moderation/badges/knitting/approve", None),
        ("POST", "/api/v1/moderation/badges/knitting/reject", {"reason": "no"}),
    ):
        for who in (alice, bob):
            status, answer = await api(client, method, path, who, body)
            assert_error(status, answer, 403)
        status, answer = await api(client, method, path, None, body)
        assert_error(status, answer, 401)
    status, answer = await api(client, "GET", "/api/v1/badges/knitting", alice)
    assert answer["status"] == "pending"


async def test_moderators_approve_and_reject(
    client: TestClient, app: web.Application, alice: Member, bob: Member
) -> None:
    admin = await make_person(app, "boss", Role.ADMIN)
    await create(client, alice, "knitting", "Knitting")
    await create(client, alice, "spam_badge", "Buy cheap stuff")
    status, queue = await api(client, "GET", "/api/v1/moderation/badges", admin)
    assert status == 200 and slugs(queue) == ["knitting", "spam_badge"]

    status, body = await api(client, "POST", "/api/v1/moderation/badges/knitting/approve", admin)
    assert status == 200 and body["status"] == "approved"
    status, body = await api(client, "GET", "/api/v1/badges/knitting", bob)
    assert status == 200
    status, body = await api(client, "GET", "/api/v1/badges?limit=100")
    assert "knitting" in slugs(body) and "spam_badge" not in slugs(body)
    status, body = await api(client, "POST", "/api/v1/moderation/badges/knitting/approve", admin)
    assert_error(status, body, 409)

    reason = "Advertising is not a badge"
    status, body = await api(
        client, "POST", "/api/v1/moderation/badges/spam_badge/reject", admin, {"reason": reason}
    )
    assert status == 200 and body["status"] == "rejected" and body["reject_reason"] == reason
    status, mine = await api(client, "GET", "/api/v1/profile/badges", alice)
    assert slugs(mine) == ["knitting"]
    status, body = await api(client, "GET", "/api/v1/badges/spam_badge", alice)
    assert status == 200 and body["reject_reason"] == reason
    status, body = await api(client, "GET", "/api/v1/badges/spam_badge", bob)
    assert_error(status, body, 404)
    status, queue = await api(client, "GET", "/api/v1/moderation/badges", admin)
    assert queue["items"] == []
    for path, body_in in (
        ("/api/v1/moderation/badges/nope/approve", None),
        ("/api/v1/moderation/badges/nope/reject", {"reason": "x"}),
    ):
        status, answer = await api(client, "POST", path, admin, body_in)
        assert_error(status, answer, 404)
    status, answer = await api(
        client, "POST", "/api/v1/moderation/badges/knitting/reject", admin, {"reason": 5}
    )
    assert_error(status, answer, 400)


# --- injection and popularity --------------------------------------------------------------


async def test_xss_payloads_in_badge_fields_never_reach_a_response_raw(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    for index, payload in enumerate(XSS):
        await create(client, mod, f"evil{index}", payload[:64], icon="<script>")
        await api(client, "POST", f"/api/v1/moderation/badges/evil{index}/approve", mod)
    await api(client, "POST", "/api/v1/profile/badges", alice, {"add": ["evil0", "evil1"]})
    for path, who in (
        ("/api/v1/badges", None),
        ("/api/v1/badges?q=script", None),
        ("/api/v1/badges/evil0", None),
        ("/api/v1/profile/badges", alice),
        ("/api/v1/accounts/alice/profile", None),
    ):
        answer = await client.get(path, headers=who.auth if who else {})
        raw = await answer.text()
        assert answer.status == 200 and answer.content_type == "application/json"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert_no_raw_markup(raw)
        assert "<" not in raw and ">" not in raw
    # The data itself is intact: escaping is in the encoding only.
    _, body = await api(client, "GET", "/api/v1/badges/evil0")
    assert body["display_name"] == XSS[0] and body["icon"] == "<script>"
    assert json.loads(json.dumps(body)) == body


async def test_no_popularity_figures_in_badge_responses_or_schema(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    await approved_badge(app, mod, "chess", "Chess")
    await api(client, "POST", "/api/v1/profile/badges", alice, {"add": ["chess"]})
    keys: set[str] = set()
    for path in (
        "/api/v1/badges",
        "/api/v1/badges/chess",
        "/api/v1/badges/chess/holders",
        "/api/v1/profile/badges",
        "/api/v1/accounts/alice/profile",
    ):
        status, body = await api(client, "GET", path, alice)
        assert status == 200
        keys |= keys_of(body)
    assert not [key for key in keys if POPULARITY_WORDS.search(key.replace("_", " "))]
    schema_text = json.dumps([BADGE_SCHEMAS, BADGE_PATHS])
    assert not re.search(r"\b(likes?|favou?rites?|boosts?|reblogs?)\b", schema_text, re.I)
    assert not re.search(r"\bcounts?\b|_count|count_", json.dumps(BADGE_SCHEMAS), re.I)


# --- the OpenAPI description ---------------------------------------------------------------


def test_badge_paths_document_exactly_the_profile_and_badge_routes() -> None:
    routes: dict[str, set[str]] = {}
    for table in (profile_routes, badge_routes):
        for route in table:
            assert isinstance(route, web.RouteDef)
            routes.setdefault(route.path, set()).add(route.method.lower())
    documented = {
        path: {method for method in item if method != "parameters"}
        for path, item in BADGE_PATHS.items()
    }
    assert documented == routes
    assert not set(BADGE_PATHS) & set(PATHS) and not set(BADGE_SCHEMAS) & set(SCHEMAS)


def test_the_merged_document_is_valid_openapi_3_1() -> None:
    """What openapi.py serves once it merges BADGE_PATHS and BADGE_SCHEMAS (see test_openapi)."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    document = build_document("https://fedipoly.test")
    merged = _with_path_parameters(BADGE_PATHS)
    document["paths"] |= merged
    document["components"]["schemas"] |= BADGE_SCHEMAS
    validate(document, cls=OpenAPIV31SpecValidator)
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in merged.items():
        declared = {parameter["name"] for parameter in item.get("parameters", [])}
        assert declared == set(re.findall(r"{(\w+)}", path)), path
        for method, operation in item.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            assert operation["security"] and "401" in statuses, (path, method)
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error_ref
