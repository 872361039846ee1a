"""The JSON API for rich activity posts: activity tags, images with alt text, "happened on",
replies and threads, media uploads, and the five timelines with their privacy rules."""

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
from fedipoly.models import Role
from fedipoly.web.openapi_social import SOCIAL_PATHS, SOCIAL_SCHEMAS
from tests.fedipoly.web.helpers import config_for
from tests.fedipoly.web.posts_rich_support import (
    FAKE_PNG,
    POPULARITY_KEY,
    SVG,
    keys_of,
    noisy_png,
    png_bytes,
    remote_author,
    remote_post,
    stored_media,
    upload,
)
from tests.fedipoly.web.profile_badges_support import make_person
from tests.fedipoly.web.social_support import Member, TickingClock, api, handle, make_member
from tests.fedipoly.web.test_social_api import POST_KEYS, assert_error, walk


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


async def post(client: TestClient, who: Member, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await api(client, "POST", "/api/v1/posts", who, body)
    assert status == 201, answer
    return answer


async def ids_on(client: TestClient, path: str, who: Member | None) -> list[str]:
    status, page = await api(client, "GET", path, who)
    assert status == 200, page
    return [item["id"] for item in page["items"]]


# --- composing ---------------------------------------------------------------------------


async def test_a_post_with_activity_tags_images_and_a_date(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    await app[appkeys.BADGES].add_badges(alice.account, ["python"])
    urls = app[appkeys.URLS]

    status, media = await upload(client, alice, png_bytes(40, 30))
    assert status == 201, media
    assert set(media) == {"id", "url", "media_type", "width", "height"}
    assert media["media_type"] == "image/png" and (media["width"], media["height"]) == (40, 30)
    assert media["url"] == urls.media(media["id"])
    served = await client.get(f"/media/{media['id']}")
    assert served.status == 200 and served.content_type == "image/png"

    created = await post(
        client,
        alice,
        {
            "text": "Paired with @bob on the parser #rust",
            "activity_tags": [
                {"phrase": "wrote SOME code"},  # a catalogue phrase: its badge is implied
                {"phrase": "Paired on a bug", "badge": "python"},
            ],
            "attachments": [{"media_id": media["id"], "alt": "A red square on the whiteboard"}],
            "happened_on": "2025-02-27",
        },
    )
    assert set(created) == POST_KEYS | {"text"}
    assert created["activity_tags"] == [
        {"phrase": "Wrote some code", "badge": "programming"},
        {"phrase": "Paired on a bug", "badge": "python"},
    ]
    assert created["badges"] == ["programming", "python"]
    assert created["hashtags"] == ["rust"]
    assert created["happened_on"] == "2025-02-27"
    assert created["in_reply_to"] is None
    assert created["attachments"] == [
        {
            "url": urls.media(media["id"]),
            "media_type": "image/png",
            "alt": "A red square on the whiteboard",
            "width": 40,
            "height": 30,
        }
    ]
    assert created["mentions"] == [
        {
            "uri": urls.actor("bob"),
            "handle": handle(app, "bob"),
            "display_name": "bob",
            "url": urls.profile("bob"),
            "local": True,
        }
    ]
    # Read back by anyone, it is the same post (less the source text).
    status, seen = await api(client, "GET", f"/api/v1/posts/{created['id']}")
    assert status == 200 and seen == {k: v for k, v in created.items() if k != "text"}
    # It is filed under both badges.
    for slug in ("programming", "python"):
        assert await ids_on(client, f"/api/v1/badges/{slug}/posts", None) == [created["id"]]
    assert await ids_on(client, "/api/v1/badges/chess/posts", bob) == []

    # A one-liner still needs nothing else; an image-only post needs no text.
    assert (await post(client, alice, {"text": "Shipped"}))["activity_tags"] == []
    _, second = await upload(client, alice, png_bytes(8, 8, (0, 0, 255)))
    image_only = await post(
        client, alice, {"attachments": [{"media_id": second["id"], "alt": "A blue dot"}]}
    )
    assert image_only["content_html"] == "" and image_only["attachments"][0]["alt"] == "A blue dot"


async def test_editing_changes_tags_and_date_only_when_given(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    created = await post(
        client,
        alice,
        {"text": "v1", "activity_tags": [{"phrase": "Gave a talk"}], "happened_on": "2025-01-02"},
    )
    path = f"/api/v1/posts/{created['id']}"
    status, edited = await api(client, "PUT", path, alice, {"text": "v2"})
    assert status == 200, edited
    assert edited["activity_tags"] == created["activity_tags"]
    assert edited["happened_on"] == "2025-01-02"
    status, edited = await api(
        client,
        "PUT",
        path,
        alice,
        {"text": "v3", "activity_tags": [{"phrase": "Took photos"}], "happened_on": None},
    )
    assert status == 200, edited
    assert edited["activity_tags"] == [{"phrase": "Took photos", "badge": "photography"}]
    assert edited["happened_on"] is None
    assert await ids_on(client, "/api/v1/badges/public_speaking/posts", None) == []
    assert await ids_on(client, "/api/v1/badges/photography/posts", None) == [created["id"]]
    status, body = await api(client, "PUT", path, alice, {"text": "v4", "happened_on": "soon"})
    assert_error(status, body, 400)


async def test_bad_post_input_is_refused_and_stores_nothing(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    pending = await app[appkeys.BADGES].create_badge(
        bob.account, slug="knitting", display_name="Knitting", color="#aa3355", icon="🧶"
    )
    assert not pending.is_public
    _, media = await upload(client, alice, png_bytes())
    good_image = {"media_id": media["id"], "alt": "A red square"}
    for body in (
        {"text": "x", "activity_tags": "Wrote some code"},
        {"text": "x", "activity_tags": [{"badge": "python"}]},
        {"text": "x", "activity_tags": [{"phrase": "Juggled", "badge": 7}]},
        {"text": "x", "activity_tags": [{"phrase": "Juggled"}]},  # not in the catalogue
        {"text": "x", "activity_tags": [{"phrase": "Knitted", "badge": "knitting"}]},  # bob's
        {"text": "x", "activity_tags": [{"phrase": "Knitted", "badge": "Not A Slug"}]},
        {
            "text": "x",
            "activity_tags": [{"phrase": f"tag {n}", "badge": "python"} for n in range(6)],
        },
        {"text": "x", "attachments": [{"media_id": media["id"]}]},
        {"text": "x", "attachments": [{"media_id": media["id"], "alt": "  "}]},
        {"text": "x", "attachments": [{"media_id": "nope", "alt": "something"}]},
        {"text": "x", "attachments": [good_image, good_image]},
        {"text": "x", "attachments": {"media_id": media["id"], "alt": "x"}},
        {"text": "x", "attachments": [good_image] * 5},
        {"text": "x", "happened_on": "2999-01-01"},
        {"text": "x", "happened_on": "1850-06-01"},
        {"text": "x", "happened_on": "yesterday"},
        {"text": "x", "happened_on": 20250101},
        {"text": "x", "in_reply_to": 12},
        {"text": ""},
    ):
        status, answer = await api(client, "POST", "/api/v1/posts", alice, body)
        assert_error(status, answer, 400)
    for reply_to in ("no-such-post", "https://mastodon.example/users/x/statuses/1"):
        status, answer = await api(
            client, "POST", "/api/v1/posts", alice, {"text": "x", "in_reply_to": reply_to}
        )
        assert_error(status, answer, 404)
    assert await ids_on(client, "/api/v1/timelines/home", alice) == []
    assert len(stored_media(app)) == 1  # the uploaded image, still unattached


# --- uploads -----------------------------------------------------------------------------


async def test_uploads_accept_only_real_images(client: TestClient, app: web.Application) -> None:
    alice = await make_member(app, "alice")
    for data, filename, content_type in (
        (SVG, "drawing.svg", "image/svg+xml"),
        (SVG, "drawing.png", "image/png"),  # the declared type and name are not trusted
        (FAKE_PNG, "photo.png", "image/png"),
        (png_bytes()[:60], "cut.png", "image/png"),  # a PNG's header, then nothing
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "broken.png", "image/png"),
        (b"", "empty.png", "image/png"),
    ):
        status, body = await upload(
            client, alice, data, filename=filename, content_type=content_type
        )
        assert_error(status, body, 400)
    status, body = await upload(client, alice, png_bytes(), field="image")  # wrong part name
    assert_error(status, body, 400)
    response = await client.post(
        "/api/v1/media", json={"file": "aGVsbG8="}, headers=alice.auth
    )  # not multipart
    assert_error(response.status, await response.json(), 400)
    status, body = await upload(client, None, png_bytes())
    assert_error(status, body, 401)
    assert stored_media(app) == []


async def test_uploads_over_the_size_limit_are_413(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(backend, tmp_path, mongo_url, media={"max_upload_bytes": 20_000})
    app = create_app(config, run_workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        alice = await make_member(app, "alice")
        big = noisy_png(120)  # ~43 kB of incompressible pixels
        assert len(big) > 20_000
        status, body = await upload(client, alice, big)
        assert_error(status, body, 413)
        assert stored_media(app) == []
        status, small = await upload(client, alice, png_bytes())
        assert status == 201, small


# --- replies and threads -----------------------------------------------------------------


async def test_replies_form_a_thread_each_reader_sees_their_part(
    client: TestClient, app: web.Application
) -> None:
    alice, bob, carol, dave = [
        await make_member(app, name) for name in ("alice", "bob", "carol", "dave")
    ]
    await api(client, "POST", "/api/v1/follows", bob, {"handle": "carol"})
    root = await post(client, alice, {"text": "What should I learn next?"})
    status, first = await api(
        client, "POST", f"/api/v1/posts/{root['id']}/replies", bob, {"text": "Rust"}
    )
    assert status == 201, first
    assert first["in_reply_to"] == root["uri"]
    # carol answers bob's reply by URI, for followers only (bob follows her, dave does not).
    second = await post(
        client,
        carol,
        {"text": "Agreed, Rust", "in_reply_to": first["uri"], "visibility": "followers"},
    )
    deeper = await post(client, bob, {"text": "Thanks carol", "in_reply_to": second["id"]})
    third = await post(client, dave, {"text": "Go", "in_reply_to": root["id"]})
    assert second["in_reply_to"] == first["uri"] and third["in_reply_to"] == root["uri"]

    async def thread(who: Member | None, post_id: str = root["id"]) -> list[tuple[int, str]]:
        status, body = await api(client, "GET", f"/api/v1/posts/{post_id}/thread", who)
        assert status == 200, body
        assert set(body) == {"post", "replies"} and body["post"]["id"] == post_id
        return [(item["depth"], item["post"]["id"]) for item in body["replies"]]

    everything = [(1, first["id"]), (2, second["id"]), (3, deeper["id"]), (1, third["id"])]
    assert await thread(bob) == everything
    assert await thread(carol) == everything
    # dave and visitors may not see carol's followers-only reply, nor what hangs below it.
    assert await thread(dave) == [(1, first["id"]), (1, third["id"])]
    assert await thread(None) == [(1, first["id"]), (1, third["id"])]
    # A thread asked for a reply lists what is below that reply.
    assert await thread(bob, first["id"]) == [(1, second["id"]), (2, deeper["id"])]

    status, body = await api(client, "GET", f"/api/v1/posts/{second['id']}/thread", dave)
    assert_error(status, body, 404)
    status, body = await api(
        client, "POST", f"/api/v1/posts/{second['id']}/replies", dave, {"text": "?"}
    )
    assert_error(status, body, 404)  # never 403: its existence is not revealed
    await api(client, "DELETE", f"/api/v1/posts/{third['id']}", dave)
    status, body = await api(
        client, "POST", f"/api/v1/posts/{third['id']}/replies", alice, {"text": "late"}
    )
    assert_error(status, body, 410)
    status, body = await api(client, "GET", f"/api/v1/posts/{third['id']}/thread", alice)
    assert_error(status, body, 410)
    for bad in ({}, {"text": ""}, {"text": "x", "visibility": "everyone"}):
        status, body = await api(client, "POST", f"/api/v1/posts/{root['id']}/replies", bob, bad)
        assert_error(status, body, 400)
    status, body = await api(client, "POST", f"/api/v1/posts/{root['id']}/replies", None, {})
    assert_error(status, body, 401)


# --- timelines ---------------------------------------------------------------------------


async def test_every_timeline_is_newest_first_and_pages_without_gaps(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    carol = await remote_author(app)
    await api(client, "POST", "/api/v1/follows", bob, {"handle": "alice"})
    written: list[str] = []  # alice's, oldest first
    tagged: list[str] = []  # those of alice's with an activity tag
    remote: list[str] = []
    for index in range(7):
        if index % 3 == 2:
            remote.append((await remote_post(app, carol, index, f"remote {index}")).id)
            continue
        body: dict[str, Any] = {"text": f"local {index}"}
        if index % 2 == 0:
            body["activity_tags"] = [{"phrase": "Wrote some code"}]
        written.append((await post(client, alice, body))["id"])
        if index % 2 == 0:
            tagged.append(written[-1])

    async def every_page(path: str, who: Member | None, limit: int = 2) -> list[str]:
        pages = await walk_any(client, path, who, limit)
        assert all(len(page) == limit for page in pages[:-1])
        return [item["id"] for page in pages for item in page]

    newest_first = list(reversed(written))
    assert await every_page("/api/v1/timelines/local", None) == newest_first
    assert await every_page("/api/v1/accounts/alice/posts", None) == newest_first
    assert await every_page("/api/v1/timelines/home", bob) == newest_first
    federated = await every_page("/api/v1/timelines/federated", bob, 3)
    assert sorted(federated) == sorted(written + remote)
    published = [
        item["published"]
        for item in (await api(client, "GET", "/api/v1/timelines/federated?limit=40"))[1]["items"]
    ]
    assert published == sorted(published, reverse=True)
    assert await every_page("/api/v1/badges/programming/posts", None, 1) == list(reversed(tagged))

    for path in (
        "/api/v1/timelines/local",
        "/api/v1/timelines/federated",
        "/api/v1/badges/programming/posts",
        "/api/v1/accounts/alice/posts",
    ):
        for query in ("?limit=0", "?limit=41", "?limit=x", "?before=garbage!"):
            status, body = await api(client, "GET", path + query)
            assert_error(status, body, 400)
    status, body = await api(client, "GET", "/api/v1/badges/no_such_badge/posts")
    assert_error(status, body, 404)
    status, body = await api(client, "GET", "/api/v1/accounts/nobody/posts")
    assert_error(status, body, 404)


async def walk_any(
    client: TestClient, path: str, who: Member | None, limit: int
) -> list[list[Any]]:
    if who is not None:
        return await walk(client, path, who, limit)
    pages: list[list[Any]] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&before={cursor}" if cursor else "")
        status, body = await api(client, "GET", path + query)
        assert status == 200, body
        pages.append(body["items"])
        cursor = body["next"]
        if cursor is None:
            return pages
        assert len(pages) < 50


async def test_followers_only_posts_reach_followers_and_nobody_else(
    client: TestClient, app: web.Application
) -> None:
    alice, bob, eve = [await make_member(app, name) for name in ("alice", "bob", "eve")]
    moderator = await make_person(app, "mod", Role.MODERATOR)
    await api(client, "POST", "/api/v1/follows", bob, {"handle": "alice"})
    tags = [{"phrase": "Wrote some code"}]
    public = await post(client, alice, {"text": "open", "activity_tags": tags})
    hidden = await post(
        client, alice, {"text": "inner circle", "activity_tags": tags, "visibility": "followers"}
    )
    direct = await post(
        client, alice, {"text": "psst @bob", "activity_tags": tags, "visibility": "direct"}
    )

    assert await ids_on(client, "/api/v1/timelines/home", bob) == [
        direct["id"],
        hidden["id"],
        public["id"],
    ]
    assert await ids_on(client, "/api/v1/accounts/alice/posts", bob) == [
        hidden["id"],
        public["id"],
    ]
    for who in (None, eve, moderator):
        assert await ids_on(client, "/api/v1/accounts/alice/posts", who) == [public["id"]]
    for who in (eve, moderator):
        assert await ids_on(client, "/api/v1/timelines/home", who) == []
    for who in (None, alice, bob, eve, moderator):
        for path in (
            "/api/v1/timelines/local",
            "/api/v1/timelines/federated",
            "/api/v1/badges/programming/posts",
        ):
            assert await ids_on(client, path, who) == [public["id"]], (path, who)
    for post_id in (hidden["id"], direct["id"]):
        for who in (None, eve):
            status, body = await api(client, "GET", f"/api/v1/posts/{post_id}/thread", who)
            assert_error(status, body, 404)


async def test_no_popularity_figures_in_rich_posts_or_their_schema(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    _, media = await upload(client, alice, png_bytes())
    root = await post(
        client,
        alice,
        {
            "text": "hello",
            "activity_tags": [{"phrase": "Made music"}],
            "attachments": [{"media_id": media["id"], "alt": "a square"}],
        },
    )
    await api(client, "POST", f"/api/v1/posts/{root['id']}/replies", bob, {"text": "hi"})
    answers: list[Any] = [media, root]
    for path in (
        f"/api/v1/posts/{root['id']}/thread",
        "/api/v1/timelines/local",
        "/api/v1/timelines/federated",
        "/api/v1/badges/music/posts",
        "/api/v1/accounts/alice/posts",
    ):
        status, body = await api(client, "GET", path, bob)
        assert status == 200
        answers.append(body)
    for answer in answers:
        assert not [key for key in keys_of(answer) if POPULARITY_KEY.search(key)], answer
    assert not [key for key in keys_of(SOCIAL_SCHEMAS) if POPULARITY_KEY.search(key)]
    # Every key a post answer has is documented, and the new routes are described.
    assert set(SOCIAL_SCHEMAS["Post"]["properties"]) == POST_KEYS | {"text"}
    for path in (
        "/api/v1/media",
        "/api/v1/posts/{post_id}/replies",
        "/api/v1/posts/{post_id}/thread",
        "/api/v1/timelines/local",
        "/api/v1/timelines/federated",
        "/api/v1/badges/{slug}/posts",
    ):
        assert path in SOCIAL_PATHS
    assert not re.search(r"like|favou?rite|boost", repr(SOCIAL_PATHS), re.IGNORECASE)
