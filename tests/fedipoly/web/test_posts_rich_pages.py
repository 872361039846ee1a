"""The web pages for rich activity posts: the compose form (activity tags, images with alt
text, "happened on"), how posts render, threaded replies on the post page, the local,
federated, profile and badge timelines with "Older posts" links, and privacy on all of them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.models import Post, PostActivityTag, Visibility
from tests.fedipoly.web.helpers import config_for
from tests.fedipoly.web.posts_rich_support import (
    FAKE_PNG,
    SVG,
    assert_no_metrics,
    noisy_png,
    png_bytes,
    post_texts,
    remote_author,
    remote_post,
    stored_media,
    submit_form,
)
from tests.fedipoly.web.social_support import (
    CSRF,
    Member,
    TickingClock,
    browse,
    make_member,
    submit,
)

CODE = PostActivityTag("Wrote some code", "")


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


def location(response: object) -> str:
    return str(response.headers["Location"])  # type: ignore[attr-defined]


def compose_form(html: str) -> str:
    found = re.search(
        r'<form class="compose-form" method="post" action="/posts".*?</form>', html, re.S
    )
    assert found, "no compose form"
    return found.group(0)


def options(html: str, select_id: str) -> list[tuple[str, str]]:
    found = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
    assert found, select_id
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found.group(0))


async def home_posts(app: web.Application, who: Member) -> list[Post]:
    return (await app[appkeys.POSTS].home_timeline(who.account, before=None)).posts


async def write(
    app: web.Application,
    who: Member,
    text: str,
    visibility: Visibility = Visibility.PUBLIC,
    **extras: object,
) -> Post:
    return await app[appkeys.POSTS].create(who.account, text, visibility, **extras)  # type: ignore[arg-type]


# --- the compose form --------------------------------------------------------------------


async def test_the_compose_form_offers_activities_images_and_a_date(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    badges = app[appkeys.BADGES]
    await badges.add_badges(alice.account, ["python"])
    await badges.create_badge(
        alice.account, slug="knitting", display_name="Knitting", color="#aa3355", icon="*"
    )
    status, html = await browse(client, "/", alice)
    assert status == 200
    form = compose_form(html)
    assert 'enctype="multipart/form-data"' in form
    assert len(re.findall(r"<textarea\b", form)) == 1
    catalogue = options(form, "compose-activity")
    assert catalogue[0] == ("", "None") and 'value="" selected>None' in form
    assert ("Wrote some code", "Wrote some code") in catalogue
    assert ("Streamed on Twitch", "Streamed on Twitch") in catalogue
    # Her own phrase can go under any badge she may use: approved, or her own pending one.
    assert options(form, "compose-own-badge") == [
        ("", "Choose a badge"),
        ("python", "Python"),
        ("knitting", "Knitting"),
    ]
    assert options(form, "compose-visibility") == [
        ("public", "Public: anyone"),
        ("followers", "Followers only"),
        ("direct", "Direct: only people you mention"),
    ]
    assert re.search(r'<input id="compose-happened-on" name="happened_on" type="date"', form)
    for slot in range(1, 5):
        assert re.search(rf'<input id="compose-image-{slot}" name="image_{slot}" type="file"', form)
        assert f'<label for="compose-alt-{slot}">Alt text for image {slot}</label>' in form
    assert 'type="file"' in form and "image_5" not in form
    # Every field has a label; the rarely used ones wait in a closed <details>.
    for field_id in re.findall(r'<(?:input|select|textarea) id="([^"]+)"', form):
        assert f'<label for="{field_id}">' in form, field_id
    assert re.search(r'<details class="compose-more">', form)
    assert '<button type="submit">Post</button>' in form


async def test_a_post_with_an_activity_an_image_and_a_date_shows_everywhere(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    await app[appkeys.BADGES].add_badges(alice.account, ["python"])
    await app[appkeys.FOLLOWS].follow(bob.account, "alice")
    response = await submit_form(
        client,
        "/posts",
        {
            "text": "Fixed the parser",
            "visibility": "public",
            "activity": "Wrote some code",
            "own_phrase": "Paired on a bug",
            "own_badge": "python",
            "happened_on": "2025-02-27",
            "alt_2": "Whiteboard sketch of the parser",
        },
        alice,
        files={"image_2": ("sketch.png", png_bytes(40, 30), "image/png")},
    )
    assert response.status == 303, await response.text()
    assert location(response) == "/?notice=posted"
    [post] = await home_posts(app, alice)
    assert post.activity_tags == (
        PostActivityTag("Wrote some code", "programming"),
        PostActivityTag("Paired on a bug", "python"),
    )
    assert post.happened_on == date(2025, 2, 27)
    [image] = post.attachments
    assert image.alt == "Whiteboard sketch of the parser" and (image.width, image.height) == (
        40,
        30,
    )
    assert [path.name for path in stored_media(app)] == [image.media_id]
    served = await client.get(f"/media/{image.media_id}")
    assert served.status == 200 and served.content_type == "image/png"

    rendered = [
        '<a href="/badges/programming">Wrote some code<span class="tag-badge"> · Programming</span></a>',
        '<a href="/badges/python">Paired on a bug<span class="tag-badge"> · Python</span></a>',
        f'<img src="/media/{image.media_id}" alt="Whiteboard sketch of the parser" '
        'width="40" height="30"',
        'Happened on <time datetime="2025-02-27">27 February 2025</time>',
        "<p>Fixed the parser</p>",
    ]
    for path, who in (
        ("/?notice=posted", alice),
        ("/", bob),
        (f"/@alice/{post.id}", None),
        ("/@alice", None),
        ("/badges/programming", None),
        ("/badges/python", bob),
        ("/local", None),
        ("/federated", bob),
    ):
        status, html = await browse(client, path, who)
        assert status == 200, path
        for piece in rendered:
            assert piece in html, (path, piece)
        assert_no_metrics(html)
    assert 'aria-label="Activities"' in html


async def test_alt_text_and_phrases_are_escaped(client: TestClient, app: web.Application) -> None:
    alice = await make_member(app, "alice")
    await app[appkeys.BADGES].add_badges(alice.account, ["python"])
    payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    response = await submit_form(
        client,
        "/posts",
        {"text": "xss", "own_phrase": payload[:60], "own_badge": "python", "alt_1": payload},
        alice,
        files={"image_1": ("a.png", png_bytes(), "image/png")},
    )
    assert response.status == 303, await response.text()
    for path in ("/", "/@alice", "/badges/python"):
        _, html = await browse(client, path, alice)
        assert "<script>alert(1)" not in html and "onerror=alert(2)>" not in html
        assert (
            'alt="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"'
            in html
        )
        assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_a_one_line_post_needs_nothing_else(client: TestClient, app: web.Application) -> None:
    alice = await make_member(app, "alice")
    # What a browser sends when only the text is filled in: every other field empty.
    fields = {"text": "Shipped", "visibility": "public", "activity": "", "own_phrase": ""}
    fields |= {"own_badge": "", "happened_on": ""} | {f"alt_{n}": "" for n in range(1, 5)}
    response = await submit_form(client, "/posts", fields, alice)
    assert response.status == 303 and location(response) == "/?notice=posted"
    [post] = await home_posts(app, alice)
    assert (post.source_text, post.activity_tags, post.attachments, post.happened_on) == (
        "Shipped",
        (),
        (),
        None,
    )
    # And a plain urlencoded form (no file inputs at all) works as before.
    assert (await submit(client, "/posts", {"text": "Again"}, alice)).status == 303


async def test_compose_errors_keep_the_input_and_store_nothing(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    png = ("photo.png", png_bytes(), "image/png")
    cases: list[tuple[dict[str, str], dict[str, tuple[str, bytes, str]], str, str]] = [
        ({"text": "look"}, {"image_1": png}, "describe image 1 in its alt text", "compose-alt-1"),
        (
            {"text": "look", "alt_1": "x"},
            {"image_1": ("d.svg", SVG, "image/svg+xml")},
            "image 1: only PNG, JPEG, WebP or GIF images are accepted",
            "compose-image-1",
        ),
        (
            {"text": "look", "alt_3": "x"},
            {"image_3": ("fake.png", FAKE_PNG, "image/png")},
            "image 3: only PNG, JPEG, WebP or GIF",
            "compose-image-3",
        ),
        # The image is fine but the post is refused: the stored image goes away again.
        (
            {"text": "x" * 5001, "alt_1": "a square"},
            {"image_1": png},
            "at most 5000",
            "compose-text",
        ),
        ({"text": "hi", "own_badge": "python"}, {}, "write what you did", "compose-own-phrase"),
        (
            {"text": "hi", "own_phrase": "Juggled"},
            {},
            "choose a badge for &#39;Juggled&#39;",
            "compose-own-phrase",
        ),
        (
            {"text": "hi", "activity": "Hacked the planet"},
            {},
            "choose a badge for",
            "compose-activity",
        ),
        (
            {"text": "hi", "happened_on": "2999-01-01"},
            {},
            "between 1900 and today",
            "compose-happened-on",
        ),
        ({"text": "hi", "happened_on": "27/02/2025"}, {}, "a date like", "compose-happened-on"),
    ]
    for fields, files, message, invalid in cases:
        response = await submit_form(client, "/posts", fields, alice, files=files)
        html = await response.text()
        assert response.status == 400, (fields, html)
        assert 'role="alert"' in html and message in html, (message, html)
        assert re.search(rf'id="{invalid}"[^>]*aria-invalid="true"', html, re.S), invalid
        assert compose_form(html).count(fields["text"]) >= 1
        assert stored_media(app) == [] and await home_posts(app, alice) == []
    # Input in the "more" part reopens it, with what was typed.
    response = await submit_form(
        client,
        "/posts",
        {"text": "hi", "own_phrase": "Juggled", "happened_on": "2025-01-02"},
        alice,
    )
    html = compose_form(await response.text())
    assert '<details class="compose-more" open>' in html
    assert 'value="Juggled"' in html and 'value="2025-01-02"' in html

    response = await submit_form(client, "/posts", {"text": "forged"}, alice, csrf=None)
    assert response.status == 403
    assert await home_posts(app, alice) == []


async def test_too_big_an_image_in_the_form_is_413(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(backend, tmp_path, mongo_url, media={"max_upload_bytes": 20_000})
    app = create_app(config, run_workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        alice = await make_member(app, "alice")
        response = await submit_form(
            client,
            "/posts",
            {"text": "holiday", "alt_1": "noise"},
            alice,
            files={"image_1": ("big.png", noisy_png(120), "image/png")},
        )
        assert response.status == 413
        assert "image 1: an image has at most" in await response.text()
        assert stored_media(app) == [] and await home_posts(app, alice) == []


# --- replies -----------------------------------------------------------------------------


def thread_order(html: str, posts: list[Post]) -> list[int]:
    return [html.index(f'id="post-{post.id}"') for post in posts]


async def test_replies_nest_under_what_they_answer_on_the_post_page(
    client: TestClient, app: web.Application
) -> None:
    alice, bob, carol, dave, eve = [
        await make_member(app, name) for name in ("alice", "bob", "carol", "dave", "eve")
    ]
    await app[appkeys.FOLLOWS].follow(bob.account, "carol")
    root = await write(app, alice, "What should I learn next?")

    status, html = await browse(client, f"/@alice/{root.id}", bob)
    assert "No replies yet." in html
    form = re.search(r'<section id="reply".*?</section>', html, re.S)
    assert form is not None
    assert f'action="/posts/{root.id}/reply"' in form.group(0)
    assert '<label for="reply-text">Your reply</label>' in form.group(0)
    assert '<option value="public" selected>' in form.group(0)
    assert f'name="csrf_token" value="{CSRF}"' in form.group(0)

    response = await submit(client, f"/posts/{root.id}/reply", {"text": "Rust"}, bob)
    assert response.status == 303
    [first] = [p for p in await home_posts(app, bob) if p.source_text == "Rust"]
    assert location(response) == f"/@alice/{root.id}?notice=replied#post-{first.id}"
    response = await submit(
        client, f"/posts/{first.id}/reply", {"text": "Agreed", "visibility": "followers"}, carol
    )
    assert response.status == 303
    [second] = [p for p in await home_posts(app, carol) if p.source_text == "Agreed"]
    assert location(response) == f"/@bob/{first.id}?notice=replied#post-{second.id}"
    assert (await submit(client, f"/posts/{root.id}/reply", {"text": "Go"}, dave)).status == 303
    [third] = [p for p in await home_posts(app, dave) if p.source_text == "Go"]

    status, html = await browse(client, f"/@alice/{root.id}?notice=replied", bob)
    assert status == 200 and "Your reply is published." in html
    replies = html[html.index('id="replies-heading"') :]
    assert '<ol class="thread" aria-label="Replies to alice">' in replies
    first_at, second_at, third_at = thread_order(replies, [first, second, third])
    assert first_at < second_at < third_at
    # carol's reply sits in the nested list of replies to bob's, inside bob's list item.
    nested = replies[first_at:third_at]
    assert '<ol class="thread" aria-label="Replies to bob">' in nested
    assert nested.index('aria-label="Replies to bob"') < nested.index(f'id="post-{second.id}"')
    assert 'class="thread-item depth-1"' in replies and 'class="thread-item depth-2"' in replies
    assert "In reply to" not in replies  # the nesting says it already
    for heading in re.findall(r'<h(\d) class="post-author"', replies):
        assert heading == "3"

    # Who may not see carol's followers-only reply does not see it at all.
    for who in (eve, None):
        status, html = await browse(client, f"/@alice/{root.id}", who)
        assert status == 200
        assert f'id="post-{first.id}"' in html and f'id="post-{third.id}"' in html
        assert f'id="post-{second.id}"' not in html and "Agreed" not in html
    status, html = await browse(client, f"/@alice/{root.id}")
    assert 'id="reply"' not in html and f"/login?next=/posts/{root.id}" in html

    # A reply's own page says what it answers, and lists what is below it.
    status, html = await browse(client, f"/@bob/{first.id}", carol)
    assert f'In reply to <a href="/@alice/{root.id}">a post by alice</a>' in html
    assert f'id="post-{second.id}"' in html
    # Timelines offer a way to reply.
    status, html = await browse(client, "/", bob)
    assert f'<a href="/@bob/{first.id}#reply">Reply' in html

    # Errors re-render the post page with the message and the input; nothing is stored.
    response = await submit(client, f"/posts/{root.id}/reply", {"text": "  "}, eve)
    html = await response.text()
    assert response.status == 400 and "a post needs some text" in html
    assert 'id="reply-text"' in html and 'aria-invalid="true"' in html
    response = await submit(
        client, f"/posts/{root.id}/reply", {"text": "hi", "visibility": "everyone"}, eve
    )
    assert response.status == 400 and ">hi</textarea>" in await response.text()
    assert (
        await submit(client, f"/posts/{root.id}/reply", {"text": "x"}, eve, csrf=None)
    ).status == 403
    assert (await submit(client, f"/posts/{second.id}/reply", {"text": "x"}, eve)).status == 404
    assert await home_posts(app, eve) == []
    response = await submit(client, f"/posts/{root.id}/reply", {"text": "x"})
    assert response.status == 303 and location(response).startswith("/login?next=")


async def test_remote_posts_can_be_answered_from_their_page(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    carol = await remote_author(app)
    note = await remote_post(
        app,
        carol,
        1,
        "Hello from Mastodon",
        extra={
            # carol's server is no badge peer: her tags show, but link none of our badges.
            "fedipoly:activityTags": [
                {"fedipoly:phrase": "Wrote some code", "fedipoly:badge": "programming"}
            ],
            "attachment": [
                {
                    "type": "Document",
                    "mediaType": "image/png",
                    "url": "https://mastodon.example/media/cat.png",
                    "name": "A cat asleep on a keyboard",
                    "width": 640,
                    "height": 480,
                },
                {"type": "Document", "mediaType": "image/png", "url": "javascript:alert(1)"},
            ],
        },
    )
    local = await write(app, alice, "local one")
    status, _ = await browse(client, f"/posts/{local.id}", alice)
    assert status == 303  # local posts live at /@name/id
    status, html = await browse(client, f"/posts/{note.id}", alice)
    assert status == 200 and "Hello from Mastodon" in html and 'id="reply"' in html
    assert "<li>Wrote some code</li>" in html and 'href="/badges/programming"' not in html
    assert (
        '<img src="https://mastodon.example/media/cat.png" alt="A cat asleep on a keyboard" '
        'width="640" height="480"'
    ) in html
    assert "javascript:" not in html
    response = await submit(client, f"/posts/{note.id}/reply", {"text": "Welcome!"}, alice)
    assert response.status == 303
    assert location(response).startswith(f"/posts/{note.id}?notice=replied#post-")
    status, html = await browse(client, f"/posts/{note.id}", alice)
    assert "<p>Welcome!</p>" in html
    status, html = await browse(client, "/", alice)
    assert f'In reply to <a href="{note.uri}">a post on mastodon.example</a>' in html


# --- timelines ---------------------------------------------------------------------------


async def test_local_and_federated_pages_newest_first_with_older_links(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    carol = await remote_author(app)
    for index in range(21):
        await write(app, alice, f"entry {index}")
    await remote_post(app, carol, 1, "entry from afar")
    await remote_post(app, carol, 2, "entry for followers", to=[carol.followers_url or ""], cc=[])

    status, html = await browse(client, "/", alice)
    assert '<a href="/local">Local</a>' in html and '<a href="/federated">Federated</a>' in html
    status, html = await browse(client, "/local")
    assert status == 200 and "<h1>Local</h1>" in html
    assert post_texts(html, "entry") == [f"entry {n}" for n in range(20, 0, -1)]
    older = re.search(r'<a href="(/local\?before=[^"]+)" rel="next">Older posts</a>', html)
    assert older is not None and "Newest posts" not in html
    status, html = await browse(client, older.group(1))
    assert post_texts(html, "entry") == ["entry 0"]
    assert '<a href="/local">Newest posts</a>' in html and "Older posts" not in html

    status, html = await browse(client, "/federated")
    assert status == 200 and "<h1>Federated</h1>" in html
    assert post_texts(html, "entry") == ["entry from afar"] + [
        f"entry {n}" for n in range(20, 1, -1)
    ]
    older = re.search(r'<a href="(/federated\?before=[^"]+)" rel="next">Older posts</a>', html)
    assert older is not None
    status, html = await browse(client, older.group(1))
    assert post_texts(html, "entry") == ["entry 1", "entry 0"]
    assert (await browse(client, "/federated?before=garbage"))[0] == 400


async def test_badge_page_lists_tagged_posts_with_older_links(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    for index in range(21):
        await write(app, alice, f"code {index}", activity_tags=[CODE])
    await write(app, alice, "code untagged")
    status, html = await browse(client, "/badges/programming")
    assert status == 200
    section = html[html.index('id="badge-posts"') :]
    assert post_texts(section, "code") == [f"code {n}" for n in range(20, 0, -1)]
    older = re.search(
        r'<a href="(/badges/programming\?before=[^"#]+)#badge-posts" rel="next">', html
    )
    assert older is not None
    _, html = await browse(client, older.group(1))
    assert post_texts(html, "code") == ["code 0"]
    assert '<a href="/badges/programming#badge-posts">Newest posts</a>' in html


async def test_followers_only_posts_reach_followers_and_nobody_else(
    client: TestClient, app: web.Application
) -> None:
    alice, bob, eve = [await make_member(app, name) for name in ("alice", "bob", "eve")]
    await app[appkeys.FOLLOWS].follow(bob.account, "alice")
    public = await write(app, alice, "secret-free news", activity_tags=[CODE])
    hidden = await write(
        app, alice, "inner circle news", Visibility.FOLLOWERS, activity_tags=[CODE]
    )
    direct = await write(app, alice, "psst @bob news", Visibility.DIRECT, activity_tags=[CODE])
    everyone = ["/local", "/federated", "/badges/programming"]

    def shown(html: str) -> set[str]:
        return {post.id for post in (public, hidden, direct) if f'id="post-{post.id}"' in html}

    assert shown((await browse(client, "/", bob))[1]) == {public.id, hidden.id, direct.id}
    assert shown((await browse(client, "/@alice", bob))[1]) == {public.id, hidden.id}
    assert shown((await browse(client, "/@alice", alice))[1]) == {public.id, hidden.id, direct.id}
    for who in (None, eve):
        assert shown((await browse(client, "/@alice", who))[1]) == {public.id}
        assert (await browse(client, f"/@alice/{hidden.id}", who))[0] == 404
    assert shown((await browse(client, "/", eve))[1]) == set()
    for who in (None, alice, bob, eve):
        for path in everyone:
            status, html = await browse(client, path, who)
            assert status == 200
            assert shown(html) == {public.id}, (path, who)
            assert "inner circle" not in html and "psst" not in html


async def test_no_popularity_figures_on_any_page(client: TestClient, app: web.Application) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    await app[appkeys.FOLLOWS].follow(bob.account, "alice")
    root = await write(app, alice, "hello", activity_tags=[CODE])
    for n in range(3):
        await app[appkeys.POSTS].reply(bob.account, root.id, f"reply {n}", Visibility.PUBLIC)
    for path in (
        "/",
        f"/@alice/{root.id}",
        "/@alice",
        "/badges/programming",
        "/local",
        "/federated",
    ):
        status, html = await browse(client, path, bob)
        assert status == 200, path
        assert_no_metrics(html)
        assert not re.search(r"\b\d+\s+(replies|comments|likes)\b", html, re.I), path


async def test_editing_keeps_the_tags_and_changes_the_date(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    post = await write(app, alice, "draft", activity_tags=[CODE], happened_on=date(2025, 1, 2))
    status, html = await browse(client, f"/posts/{post.id}/edit", alice)
    assert status == 200
    assert '<label for="edit-happened-on">' in html and 'value="2025-01-02"' in html
    response = await submit(
        client, f"/posts/{post.id}/edit", {"text": "final", "happened_on": "2025-01-05"}, alice
    )
    assert response.status == 303
    edited = (await home_posts(app, alice))[0]
    assert (edited.source_text, edited.happened_on) == ("final", date(2025, 1, 5))
    assert edited.activity_tags == (PostActivityTag("Wrote some code", "programming"),)
    response = await submit(
        client, f"/posts/{post.id}/edit", {"text": "final", "happened_on": ""}, alice
    )
    assert response.status == 303 and (await home_posts(app, alice))[0].happened_on is None
    response = await submit(
        client, f"/posts/{post.id}/edit", {"text": "final", "happened_on": "someday"}, alice
    )
    assert response.status == 400 and "a date like" in await response.text()
