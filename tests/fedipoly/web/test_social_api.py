"""The social JSON API: follows, follow requests, posts, privacy and the home timeline."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.models import Visibility
from fedipoly.web import social_api
from fedipoly.web.openapi import PATHS, SCHEMAS
from fedipoly.web.openapi_social import SOCIAL_PATHS, SOCIAL_SCHEMAS
from tests.fedipoly.web.social_support import (
    Member,
    TickingClock,
    api,
    browse,
    handle,
    make_member,
)
from tests.instances import eventually, running_instances

POST_KEYS = {
    "id",
    "uri",
    "url",
    "author",
    "content_html",
    "visibility",
    "in_reply_to",
    "published",
    "updated",
    "happened_on",
    "activity_tags",
    "badges",
    "hashtags",
    "mentions",
    "attachments",
}
POPULARITY = re.compile(r"like|favou?rite|boost|reblog|count|score|rank", re.IGNORECASE)


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    """The app on the test's backend, with a clock that ticks one second per reading."""
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


def assert_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert set(body) == {"error", "detail"}
    assert isinstance(body["error"], str) and body["error"]


def keys_of(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


async def walk(client: TestClient, path: str, who: Member, limit: int) -> list[list[Any]]:
    """Every page of a cursor-paginated list, following `next` until it is null."""
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&before={cursor}" if cursor else "")
        status, body = await api(client, "GET", path + query, who)
        assert status == 200, body
        assert set(body) == {"items", "next"}
        pages.append(body["items"])
        cursor = body["next"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not end"


# --- follows -------------------------------------------------------------------------------


async def test_follow_a_local_member_list_both_sides_and_unfollow(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")

    status, body = await api(
        client, "POST", "/api/v1/follows", bob, {"handle": handle(app, "alice")}
    )
    assert status == 201, body
    assert body["state"] == "accepted"
    assert body["actor"] == app[appkeys.URLS].actor("alice")
    assert body["handle"] == handle(app, "alice")

    status, following = await api(client, "GET", "/api/v1/following", bob)
    assert status == 200
    assert following["next"] is None
    assert [item["handle"] for item in following["items"]] == [handle(app, "alice")]
    assert following["items"][0]["state"] == "accepted"

    status, followers = await api(client, "GET", "/api/v1/followers", alice)
    assert [item["actor"] for item in followers["items"]] == [app[appkeys.URLS].actor("bob")]
    assert (await api(client, "GET", "/api/v1/follow_requests", alice))[1]["items"] == []

    # Following again changes nothing; "@name" works as well as "name@domain".
    status, again = await api(client, "POST", "/api/v1/follows", bob, {"handle": "@alice"})
    assert status == 201 and again["state"] == "accepted"
    assert len((await api(client, "GET", "/api/v1/following", bob))[1]["items"]) == 1

    status, body = await api(client, "DELETE", f"/api/v1/follows/{handle(app, 'alice')}", bob)
    assert status == 204 and body is None
    assert (await api(client, "GET", "/api/v1/following", bob))[1]["items"] == []
    assert (await api(client, "GET", "/api/v1/followers", alice))[1]["items"] == []

    status, body = await api(client, "DELETE", "/api/v1/follows/alice", bob)
    assert_error(status, body, 404)


async def test_follow_refuses_bad_input_and_changes_nothing(
    client: TestClient, app: web.Application
) -> None:
    bob = await make_member(app, "bob")
    await make_member(app, "alice")
    cases: list[tuple[Any, int]] = [
        ({}, 400),
        ({"handle": 42}, 400),
        ({"handle": "   "}, 400),
        ({"handle": "bob"}, 400),  # yourself
        ({"handle": handle(app, "bob")}, 400),
        ({"handle": "nobody"}, 404),
        ({"handle": "not a handle@@"}, 400),
        (["alice"], 400),
    ]
    for body, expected in cases:
        status, answer = await api(client, "POST", "/api/v1/follows", bob, body)
        assert_error(status, answer, expected)
    # An unknown name on this server's own domain: refused (FollowService answers 400 today,
    # "that is a member of this server"; 404 would be the clearer answer).
    status, answer = await api(
        client, "POST", "/api/v1/follows", bob, {"handle": handle(app, "nobody")}
    )
    assert status in (400, 404) and set(answer) == {"error", "detail"}
    response = await client.post(
        "/api/v1/follows",
        data=b"{not json",
        headers={**bob.auth, "Content-Type": "application/json"},
    )
    assert_error(response.status, await response.json(), 400)
    assert (await api(client, "GET", "/api/v1/following", bob))[1]["items"] == []


async def test_every_social_route_needs_a_valid_token(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    post = await app[appkeys.POSTS].create(alice.account, "hello", Visibility.PUBLIC)
    calls = [
        ("POST", "/api/v1/follows", {"handle": "alice"}),
        ("DELETE", "/api/v1/follows/alice", None),
        ("GET", "/api/v1/following", None),
        ("GET", "/api/v1/followers", None),
        ("GET", "/api/v1/follow_requests", None),
        ("POST", "/api/v1/follow_requests/approve", {"actor": "x"}),
        ("POST", "/api/v1/follow_requests/reject", {"actor": "x"}),
        ("POST", "/api/v1/posts", {"text": "hi"}),
        ("PUT", f"/api/v1/posts/{post.id}", {"text": "hi"}),
        ("DELETE", f"/api/v1/posts/{post.id}", None),
        ("GET", "/api/v1/timelines/home", None),
    ]
    for method, path, body in calls:
        status, answer = await api(client, method, path, None, body)
        assert_error(status, answer, 401)
        response = await client.request(
            method, path, json=body, headers={"Authorization": "Bearer not-a-token"}
        )
        assert_error(response.status, await response.json(), 401)
    # Nothing changed.
    assert (await app[appkeys.POSTS].local_post("alice", post.id))[1].source_text == "hello"


async def test_follow_requests_are_approved_or_rejected(
    client: TestClient, app: web.Application
) -> None:
    carol = await make_member(app, "carol", manual=True)
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    urls = app[appkeys.URLS]
    for who in (alice, bob):
        status, body = await api(client, "POST", "/api/v1/follows", who, {"handle": "carol"})
        assert status == 202, body
        assert body["state"] == "pending"

    status, requests = await api(client, "GET", "/api/v1/follow_requests", carol)
    assert status == 200
    assert {item["actor"] for item in requests["items"]} == {urls.actor("alice"), urls.actor("bob")}
    assert {item["state"] for item in requests["items"]} == {"pending"}
    assert (await api(client, "GET", "/api/v1/followers", carol))[1]["items"] == []
    # A pending follow is not in the follower's "following" list yet.
    assert (await api(client, "GET", "/api/v1/following", alice))[1]["items"] == []

    approve = "/api/v1/follow_requests/approve"
    reject = "/api/v1/follow_requests/reject"
    status, body = await api(client, "POST", approve, carol, {"actor": urls.actor("alice")})
    assert status == 204 and body is None
    status, body = await api(client, "POST", reject, carol, {"actor": urls.actor("bob")})
    assert status == 204 and body is None

    followers = (await api(client, "GET", "/api/v1/followers", carol))[1]["items"]
    assert [item["actor"] for item in followers] == [urls.actor("alice")]
    assert (await api(client, "GET", "/api/v1/follow_requests", carol))[1]["items"] == []
    assert [
        item["handle"]
        for item in (await api(client, "GET", "/api/v1/following", alice))[1]["items"]
    ] == [handle(app, "carol")]
    assert (await api(client, "GET", "/api/v1/following", bob))[1]["items"] == []

    # Errors: no such request, an approved follow is no longer a request, missing field.
    for path, body, expected in [
        (approve, {"actor": urls.actor("bob")}, 404),
        (approve, {"actor": urls.actor("alice")}, 404),
        (approve, {"actor": "https://elsewhere.example/users/x"}, 404),
        (approve, {}, 400),
        (approve, {"actor": ""}, 400),
        (reject, {"actor": 7}, 400),
        (reject, {"actor": urls.actor("bob")}, 404),
    ]:
        status, answer = await api(client, "POST", path, carol, body)
        assert_error(status, answer, expected)

    # Rejecting an accepted follower removes them.
    status, _ = await api(client, "POST", reject, carol, {"actor": urls.actor("alice")})
    assert status == 204
    assert (await api(client, "GET", "/api/v1/followers", carol))[1]["items"] == []


async def test_follow_lists_walk_every_page_once(client: TestClient, app: web.Application) -> None:
    carol = await make_member(app, "carol")
    names = [f"fan{index}" for index in range(5)]
    for name in names:
        fan = await make_member(app, name)
        await api(client, "POST", "/api/v1/follows", fan, {"handle": "carol"})
        await api(client, "POST", "/api/v1/follows", carol, {"handle": name})

    for path, field in (("/api/v1/followers", "handle"), ("/api/v1/following", "handle")):
        pages = await walk(client, path, carol, limit=2)
        assert [len(page) for page in pages] == [2, 2, 1]
        seen = [item[field] for page in pages for item in page]
        # Newest first: the last follow made comes first.
        assert seen == [handle(app, name) for name in reversed(names)]

    for query in ("?limit=0", "?limit=41", "?limit=two", "?before=%%%", "?before=bm90LWEtY3Vyc29y"):
        status, body = await api(client, "GET", "/api/v1/followers" + query, carol)
        assert_error(status, body, 400)


# --- posts ---------------------------------------------------------------------------------


async def test_post_create_read_edit_delete(client: TestClient, app: web.Application) -> None:
    alice, bob = (
        await make_member(app, "alice", display_name="Alice A."),
        await make_member(app, "bob"),
    )
    urls = app[appkeys.URLS]

    status, post = await api(client, "POST", "/api/v1/posts", alice, {"text": "Wrote some code"})
    assert status == 201, post
    assert set(post) == POST_KEYS | {"text"}
    assert post["visibility"] == "public"
    assert post["content_html"] == "<p>Wrote some code</p>"
    assert post["uri"] == urls.note("alice", post["id"])
    assert post["url"] == urls.note_page("alice", post["id"])
    assert post["author"] == {
        "uri": urls.actor("alice"),
        "handle": handle(app, "alice"),
        "display_name": "Alice A.",
        "url": urls.profile("alice"),
        "local": True,
    }
    assert post["updated"] is None and post["text"] == "Wrote some code"

    # Anyone may read a public post; only its author gets the source text.
    for who in (None, bob):
        status, seen = await api(client, "GET", f"/api/v1/posts/{post['id']}", who)
        assert status == 200
        assert set(seen) == POST_KEYS
        assert seen["content_html"] == post["content_html"]

    # Only the author may edit or delete.
    status, body = await api(client, "PUT", f"/api/v1/posts/{post['id']}", bob, {"text": "mine"})
    assert_error(status, body, 403)
    status, body = await api(client, "DELETE", f"/api/v1/posts/{post['id']}", bob)
    assert_error(status, body, 403)

    status, edited = await api(
        client, "PUT", f"/api/v1/posts/{post['id']}", alice, {"text": "Wrote more code\n\ntoday"}
    )
    assert status == 200, edited
    assert edited["content_html"] == "<p>Wrote more code</p><p>today</p>"
    assert edited["updated"] is not None and edited["published"] == post["published"]
    for body in ({"text": ""}, {"text": "x" * 5001}, {}, {"text": None}):
        status, answer = await api(client, "PUT", f"/api/v1/posts/{post['id']}", alice, body)
        assert_error(status, answer, 400)
    assert (await api(client, "GET", f"/api/v1/posts/{post['id']}", alice))[1]["text"] == (
        "Wrote more code\n\ntoday"
    )

    status, body = await api(client, "DELETE", f"/api/v1/posts/{post['id']}", alice)
    assert status == 204 and body is None
    for who in (None, alice, bob):
        status, body = await api(client, "GET", f"/api/v1/posts/{post['id']}", who)
        assert_error(status, body, 410)
    status, body = await api(client, "DELETE", f"/api/v1/posts/{post['id']}", alice)
    assert_error(status, body, 410)
    status, body = await api(client, "PUT", f"/api/v1/posts/{post['id']}", alice, {"text": "x"})
    assert_error(status, body, 410)

    for method in ("GET", "PUT", "DELETE"):
        status, body = await api(client, method, "/api/v1/posts/nope", alice, {"text": "x"})
        assert_error(status, body, 404)


async def test_post_refuses_bad_input_and_stores_nothing(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    for body in (
        {},
        {"text": ""},
        {"text": "   \n "},
        {"text": 12},
        {"text": "x" * 5001},
        {"text": "hi", "visibility": "friends"},
        {"text": "hi", "visibility": None},
        {"text": "hi", "visibility": ["public"]},
        "just text",
    ):
        status, answer = await api(client, "POST", "/api/v1/posts", alice, body)
        assert_error(status, answer, 400)
    response = await client.post(
        "/api/v1/posts",
        data=b'{"text": ',
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert_error(response.status, await response.json(), 400)
    response = await client.post("/api/v1/posts", json={"text": "x" * 70_000}, headers=alice.auth)
    assert_error(response.status, await response.json(), 413)
    assert (await api(client, "GET", "/api/v1/timelines/home", alice))[1]["items"] == []

    # A one-line update is exactly as easy as a long one.
    status, short = await api(client, "POST", "/api/v1/posts", alice, {"text": "Streamed"})
    assert status == 201 and short["content_html"] == "<p>Streamed</p>"
    status, long = await api(client, "POST", "/api/v1/posts", alice, {"text": "y" * 5000})
    assert status == 201 and len(long["text"]) == 5000


async def test_private_posts_are_seen_only_by_their_audience(
    client: TestClient, app: web.Application
) -> None:
    alice, bob, eve = [await make_member(app, name) for name in ("alice", "bob", "eve")]
    await api(client, "POST", "/api/v1/follows", bob, {"handle": "alice"})

    ids = {}
    for visibility in ("public", "followers", "direct"):
        status, post = await api(
            client,
            "POST",
            "/api/v1/posts",
            alice,
            {"text": f"a {visibility} post", "visibility": visibility},
        )
        assert status == 201 and post["visibility"] == visibility
        ids[visibility] = post["id"]

    async def visible(who: Member | None) -> set[str]:
        seen = set()
        for visibility, post_id in ids.items():
            status, body = await api(client, "GET", f"/api/v1/posts/{post_id}", who)
            if status == 200:
                seen.add(visibility)
            else:
                assert_error(status, body, 404)  # never 403: existence is not revealed
        return seen

    assert await visible(alice) == {"public", "followers", "direct"}
    assert await visible(bob) == {"public", "followers"}
    assert await visible(eve) == {"public"}
    assert await visible(None) == {"public"}

    async def timeline(who: Member) -> list[str]:
        return [
            item["content_html"]
            for item in (await api(client, "GET", "/api/v1/timelines/home", who))[1]["items"]
        ]

    assert await timeline(alice) == [
        "<p>a direct post</p>",
        "<p>a followers post</p>",
        "<p>a public post</p>",
    ]
    assert await timeline(bob) == ["<p>a followers post</p>", "<p>a public post</p>"]
    assert await timeline(eve) == []

    # Others can neither edit nor delete what they cannot see, and learn nothing from trying.
    for post_id in (ids["followers"], ids["direct"]):
        status, body = await api(client, "PUT", f"/api/v1/posts/{post_id}", eve, {"text": "x"})
        assert_error(status, body, 404)
        status, body = await api(client, "DELETE", f"/api/v1/posts/{post_id}", eve)
        assert_error(status, body, 404)

    # A profile lists public posts to everyone, followers-only ones to followers too, and
    # everything to its author.
    for who, shown in (
        (None, ["public"]),
        (eve, ["public"]),
        (bob, ["followers", "public"]),
        (alice, ["direct", "followers", "public"]),
    ):
        status, page = await api(client, "GET", "/api/v1/accounts/alice/posts", who)
        assert status == 200
        assert [item["id"] for item in page["items"]] == [ids[name] for name in shown]
    status, body = await api(client, "GET", "/api/v1/accounts/nobody/posts")
    assert_error(status, body, 404)

    # Unfollowing ends access to followers-only posts.
    await api(client, "DELETE", "/api/v1/follows/alice", bob)
    assert await visible(bob) == {"public"}


async def test_home_timeline_walks_newest_first_without_gaps(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    await api(client, "POST", "/api/v1/follows", bob, {"handle": "alice"})
    texts = []
    for index in range(7):
        author = alice if index % 2 else bob
        text = f"post {index} by {author.username}"
        status, _ = await api(client, "POST", "/api/v1/posts", author, {"text": text})
        assert status == 201
        texts.append(f"<p>{text}</p>")

    pages = await walk(client, "/api/v1/timelines/home", bob, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item["content_html"] for page in pages for item in page] == list(reversed(texts))
    published = [item["published"] for page in pages for item in page]
    assert published == sorted(published, reverse=True)

    # alice sees only her own posts (she does not follow bob).
    mine = [
        item["content_html"]
        for page in await walk(client, "/api/v1/timelines/home", alice, 40)
        for item in page
    ]
    assert mine == [text for text in reversed(texts) if "alice" in text]

    # An exactly full last page ends with an empty one.
    pages = await walk(client, "/api/v1/timelines/home", bob, limit=7)
    assert [len(page) for page in pages] == [7, 0]

    for query in ("?limit=0", "?limit=100", "?limit=x", "?before=garbage!"):
        status, body = await api(client, "GET", "/api/v1/timelines/home" + query, bob)
        assert_error(status, body, 400)


async def test_no_popularity_metrics_anywhere_in_the_api(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    await api(client, "POST", "/api/v1/follows", bob, {"handle": "alice"})
    status, post = await api(client, "POST", "/api/v1/posts", alice, {"text": "hello"})
    assert status == 201
    answers = [post]
    for path, who in (
        (f"/api/v1/posts/{post['id']}", bob),
        ("/api/v1/timelines/home", bob),
        ("/api/v1/accounts/alice/posts", None),
        ("/api/v1/followers", alice),
        ("/api/v1/following", bob),
        ("/api/v1/follow_requests", alice),
    ):
        answers.append((await api(client, "GET", path, who))[1])
    for answer in answers:
        assert not [key for key in keys_of(answer) if POPULARITY.search(key)], answer
    schema_keys = keys_of(SOCIAL_SCHEMAS)
    assert not [key for key in schema_keys if POPULARITY.search(key)]


# --- the OpenAPI description ---------------------------------------------------------------


def test_openapi_describes_exactly_the_social_routes() -> None:
    routes = {
        (route.path, route.method.lower())
        for route in social_api.routes
        if isinstance(route, web.RouteDef)
    }
    documented = {(path, method) for path, item in SOCIAL_PATHS.items() for method in item}
    assert routes == documented
    # Every $ref resolves, and nothing clashes with the accounts part of the document.
    schemas = SCHEMAS | SOCIAL_SCHEMAS
    refs = re.findall(r"#/components/schemas/(\w+)", repr(SOCIAL_PATHS) + repr(SOCIAL_SCHEMAS))
    assert refs and all(ref in schemas for ref in refs)
    assert not set(SOCIAL_SCHEMAS) & set(SCHEMAS)
    assert not set(SOCIAL_PATHS) & set(PATHS)


async def test_served_openapi_document_includes_the_social_api(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")
    document = await response.json()
    for path, item in SOCIAL_PATHS.items():
        for method, operation in item.items():
            assert document["paths"][path][method] == operation, (path, method)
    for name, schema in SOCIAL_SCHEMAS.items():
        assert document["components"]["schemas"][name] == schema, name


# --- two instances, through the API and the web UI -------------------------------------------


async def test_two_instances_follow_post_and_read_through_the_api_and_ui(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["alpha", "beta"], backend=backend, mongo_url=mongo_url
    ) as instances:
        alpha, beta = instances["alpha"], instances["beta"]
        alice = await make_member(alpha.app, "alice", display_name="Alice Alpha")
        bob = await make_member(beta.app, "bob")

        # bob@beta follows alice@alpha by handle: pending until alpha's Accept arrives.
        status, follow = await api(
            beta.client, "POST", "/api/v1/follows", bob, {"handle": alpha.handle("alice")}
        )
        assert status == 202, follow
        assert follow["state"] == "pending" and follow["actor"] == alpha.actor("alice")

        async def following() -> list[Any]:
            return (await api(beta.client, "GET", "/api/v1/following", bob))[1]["items"]

        items = await eventually(following)
        assert [(item["handle"], item["state"]) for item in items] == [
            (alpha.handle("alice"), "accepted")
        ]
        followers = (await api(alpha.client, "GET", "/api/v1/followers", alice))[1]["items"]
        assert [item["actor"] for item in followers] == [beta.actor("bob")]

        # alice posts through the API; it reaches bob's home timeline on beta.
        status, post = await api(
            alpha.client, "POST", "/api/v1/posts", alice, {"text": "Wrote some code today"}
        )
        assert status == 201
        status, private = await api(
            alpha.client,
            "POST",
            "/api/v1/posts",
            alice,
            {"text": "for followers", "visibility": "followers"},
        )
        assert status == 201
        status, direct = await api(
            alpha.client,
            "POST",
            "/api/v1/posts",
            alice,
            {"text": "a note to myself", "visibility": "direct"},
        )
        assert status == 201

        async def home() -> list[Any]:
            items = (await api(beta.client, "GET", "/api/v1/timelines/home", bob))[1]["items"]
            return items if len(items) >= 2 else []

        received = await eventually(home)
        # Both were published within the same second, the precision ActivityPub dates carry.
        by_uri = {item["uri"]: item for item in received}
        assert set(by_uri) == {private["uri"], post["uri"]}
        first = by_uri[post["uri"]]
        assert first["content_html"] == "<p>Wrote some code today</p>"
        assert first["visibility"] == "public"
        assert first["author"]["handle"] == alpha.handle("alice")
        assert first["author"]["display_name"] == "Alice Alpha"
        assert first["author"]["local"] is False
        assert first["url"] == post["url"]
        assert by_uri[private["uri"]]["visibility"] == "followers"
        # bob may open both by their id on beta.
        for item in received:
            status, seen = await api(beta.client, "GET", f"/api/v1/posts/{item['id']}", bob)
            assert status == 200 and seen["uri"] == item["uri"]

        # And on the web UI at /.
        status, html = await browse(beta.client, "/", bob)
        assert status == 200
        assert "Wrote some code today" in html and "for followers" in html
        assert "a note to myself" not in html
        assert "Alice Alpha" in html and f"@{alpha.handle('alice')}" in html
        assert f'href="{post["url"]}"' in html

        # bob unfollows through the API; alpha forgets him.
        status, _ = await api(
            beta.client, "DELETE", f"/api/v1/follows/{alpha.handle('alice')}", bob
        )
        assert status == 204

        async def no_followers() -> bool:
            items = (await api(alpha.client, "GET", "/api/v1/followers", alice))[1]["items"]
            return items == []

        await eventually(no_followers)
        assert direct["uri"] not in [item["uri"] for item in await home()]
