"""The social web pages: home timeline and compose box, profiles, posts, editing, follows."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.models import Post, Visibility
from tests.fedipoly.web.social_support import (
    CSRF,
    Member,
    TickingClock,
    browse,
    handle,
    make_member,
    submit,
)

# Popularity metrics in any form: "3 followers", "12 likes", a like or boost button...
METRICS = re.compile(
    r"\d[\d,.]*[ \t]+(followers?|following|likes?|favou?rites?|boosts?|reblogs?)\b",
    re.IGNORECASE,
)
METRIC_CONTROLS = re.compile(r">\s*(likes?|favou?rites?|boosts?|reblogs?)\s*<", re.IGNORECASE)


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    """The app on the test's backend, with a clock that ticks one second per reading."""
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


async def post_as(
    app: web.Application, who: Member, text: str, visibility: Visibility = Visibility.PUBLIC
) -> Post:
    return await app[appkeys.POSTS].create(who.account, text, visibility)


def location(response: object) -> str:
    headers = response.headers  # type: ignore[attr-defined]
    return str(headers["Location"])


def forms(html: str) -> list[str]:
    return re.findall(r"<form\b.*?</form>", html, re.DOTALL)


def assert_every_form_has_csrf(html: str) -> None:
    for form in forms(html):
        if 'method="post"' in form:
            assert f'name="csrf_token" value="{CSRF}"' in form, form


def assert_no_metrics(html: str) -> None:
    text = re.sub(r"<[^>]+>", " ", html)
    assert not METRICS.search(text), METRICS.search(text)
    assert not METRIC_CONTROLS.search(html), METRIC_CONTROLS.search(html)


# --- home ----------------------------------------------------------------------------------


async def test_home_is_the_landing_page_for_visitors(client: TestClient) -> None:
    status, html = await browse(client, "/")
    assert status == 200
    assert "Sign in" in html
    assert 'action="/posts"' not in html


async def test_home_shows_the_compose_box_and_the_timeline(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice", display_name="Alice A.")
    status, html = await browse(client, "/", alice)
    assert status == 200
    assert "<h1>Home</h1>" in html
    # One text area, one visibility choice, one button: a one-liner is as easy as an essay.
    compose = next(form for form in forms(html) if 'action="/posts"' in form)
    assert len(re.findall(r"<textarea\b", compose)) == 1
    assert '<label for="compose-text">' in compose and 'id="compose-text"' in compose
    assert '<label for="compose-visibility">' in compose
    visibility = re.search(r'<select id="compose-visibility".*?</select>', compose, re.DOTALL)
    assert visibility is not None
    assert re.findall(r'<option value="(\w+)"', visibility.group(0)) == [
        "public",
        "followers",
        "direct",
    ]
    assert '<button type="submit">Post</button>' in compose
    assert "Nothing here yet" in html
    assert_every_form_has_csrf(html)

    response = await submit(client, "/posts", {"text": "Streamed on Twitch"}, alice)
    assert response.status == 303
    assert location(response) == "/?notice=posted"
    status, html = await browse(client, "/?notice=posted", alice)
    assert 'role="status">Your post is published.' in html
    assert "<p>Streamed on Twitch</p>" in html
    assert "Alice A." in html and f"@{handle(app, 'alice')}" in html
    assert re.search(r'<time datetime="2025-03-01T12:\d\d:\d\d\+00:00">', html)
    post = (await app[appkeys.POSTS].home_timeline(alice.account, before=None)).posts[0]
    assert f'action="/posts/{post.id}/delete"' in html
    assert f'href="/posts/{post.id}/edit"' in html
    assert f'href="/@alice/{post.id}"' in html
    assert_every_form_has_csrf(html)
    assert_no_metrics(html)


async def test_compose_errors_rerender_with_the_message_and_the_input(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    response = await submit(client, "/posts", {"text": "   ", "visibility": "followers"}, alice)
    assert response.status == 400
    html = await response.text()
    assert 'role="alert"' in html and "a post needs some text" in html
    assert '<option value="followers" selected>' in html
    assert 'aria-invalid="true"' in html
    assert_every_form_has_csrf(html)

    long = "x" * 5001
    response = await submit(client, "/posts", {"text": long}, alice)
    assert response.status == 400
    html = await response.text()
    assert "at most 5000 characters" in html and long in html

    response = await submit(client, "/posts", {"text": "hi", "visibility": "friends"}, alice)
    assert response.status == 400
    assert "visibility is one of" in await response.text()
    assert (await app[appkeys.POSTS].home_timeline(alice.account, before=None)).posts == []


async def test_forms_without_the_csrf_token_are_refused(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    await make_member(app, "bob")
    post = await post_as(app, alice, "keep me")
    attempts = [
        ("/posts", {"text": "forged"}),
        (f"/posts/{post.id}/edit", {"text": "forged"}),
        (f"/posts/{post.id}/delete", {}),
        ("/follows", {"handle": "bob"}),
        ("/follows/unfollow", {"handle": "bob"}),
        ("/follows/requests/approve", {"actor": "x"}),
        ("/follows/requests/reject", {"actor": "x"}),
        ("/follows/followers/remove", {"actor": "x"}),
    ]
    for path, data in attempts:
        for csrf in (None, "another-token"):
            response = await submit(client, path, data, alice, csrf=csrf)
            assert response.status == 403, path
            assert "the form expired or came from another site" in await response.text()
    posts = (await app[appkeys.POSTS].home_timeline(alice.account, before=None)).posts
    assert [(p.id, p.source_text) for p in posts] == [(post.id, "keep me")]
    assert await app[appkeys.FOLLOWS].following(alice.account, before=None, limit=20) == []


async def test_signed_out_visitors_are_sent_to_sign_in(
    client: TestClient, app: web.Application
) -> None:
    for path in ("/follows",):
        status, _ = await browse(client, path)
        assert status == 303
    for path, data in (("/posts", {"text": "hi"}), ("/follows", {"handle": "x"})):
        response = await submit(client, path, data)
        assert response.status == 303
        assert location(response).startswith("/login?next=")


async def test_home_timeline_pages_with_older_links(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    for index in range(25):
        await post_as(app, alice, f"update number {index}")
    status, html = await browse(client, "/", alice)
    assert status == 200
    shown = [int(n) for n in re.findall(r"<p>update number (\d+)</p>", html)]
    assert shown == list(range(24, 4, -1))
    older = re.search(r'<a href="(/\?before=[^"]+)" rel="next">Older posts</a>', html)
    assert older is not None
    assert "Newest posts" not in html

    status, html = await browse(client, older.group(1).replace("&amp;", "&"), alice)
    assert status == 200
    assert [int(n) for n in re.findall(r"<p>update number (\d+)</p>", html)] == [4, 3, 2, 1, 0]
    assert "Older posts" not in html
    assert '<a href="/">Newest posts</a>' in html

    status, html = await browse(client, "/?before=not-a-cursor", alice)
    assert status == 400
    assert "the page cursor is not valid" in html


# --- editing and deleting ------------------------------------------------------------------


async def test_edit_and_delete_own_posts(client: TestClient, app: web.Application) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    post = await post_as(app, alice, "first draft")

    status, html = await browse(client, f"/posts/{post.id}/edit", alice)
    assert status == 200
    assert '<label for="edit-text">' in html and ">first draft</textarea>" in html
    assert_every_form_has_csrf(html)

    response = await submit(client, f"/posts/{post.id}/edit", {"text": ""}, alice)
    assert response.status == 400
    assert "1 to 5000 characters" in await response.text()

    response = await submit(client, f"/posts/{post.id}/edit", {"text": "final words"}, alice)
    assert response.status == 303
    assert location(response) == f"/@alice/{post.id}?notice=edited"
    status, html = await browse(client, location(response), alice)
    assert status == 200
    assert "<p>final words</p>" in html and "edited" in html
    assert "Your post has been updated." in html

    # Others may not edit or delete it.
    status, _ = await browse(client, f"/posts/{post.id}/edit", bob)
    assert status == 403
    assert (await submit(client, f"/posts/{post.id}/edit", {"text": "x"}, bob)).status == 403
    assert (await submit(client, f"/posts/{post.id}/delete", {}, bob)).status == 403
    status, html = await browse(client, f"/@alice/{post.id}", bob)
    assert status == 200 and "final words" in html
    assert f"/posts/{post.id}/edit" not in html  # no edit link on someone else's post

    response = await submit(client, f"/posts/{post.id}/delete", {}, alice)
    assert response.status == 303 and location(response) == "/?notice=deleted"
    status, html = await browse(client, f"/@alice/{post.id}", alice)
    assert status == 410
    assert "this post was deleted" in html
    status, html = await browse(client, "/?notice=deleted", alice)
    assert "final words" not in html and "Your post has been deleted." in html
    assert (await submit(client, "/posts/nope/delete", {}, alice)).status == 404
    assert (await browse(client, "/posts/nope/edit", alice))[0] == 404


# --- profiles and single posts -------------------------------------------------------------


async def test_profile_lists_public_posts_and_offers_a_follow_button(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice", display_name="Alice Example")
    bob = await make_member(app, "bob")
    await post_as(app, alice, "public news")
    await post_as(app, alice, "for followers only", Visibility.FOLLOWERS)
    await post_as(app, alice, "direct words", Visibility.DIRECT)

    # Strangers and visitors see public posts only; the member sees all of hers
    # (followers see followers-only ones too: tests/fedipoly/web/test_posts_rich_pages.py).
    for who in (None, alice, bob):
        status, html = await browse(client, "/@alice", who)
        assert status == 200
        assert "<h1>Alice Example</h1>" in html
        assert f"@{handle(app, 'alice')}" in html
        assert "public news" in html
        mine = who is alice
        assert ("for followers only" in html) is mine and ("direct words" in html) is mine
        assert_no_metrics(html)
        assert_every_form_has_csrf(html)
    assert 'action="/follows"' not in (await browse(client, "/@alice", alice))[1]
    assert 'action="/follows"' not in (await browse(client, "/@alice"))[1]
    assert "search for <strong>" in (await browse(client, "/@alice"))[1]

    status, html = await browse(client, "/@alice", bob)
    follow_form = next(form for form in forms(html) if 'action="/follows"' in form)
    assert f'name="handle" value="{handle(app, "alice")}"' in follow_form
    response = await submit(
        client, "/follows", {"handle": handle(app, "alice"), "next": "/@alice"}, bob
    )
    assert response.status == 303 and location(response) == "/@alice?notice=followed"
    status, html = await browse(client, "/@alice?notice=followed", bob)
    assert "You are now following them." in html and "Unfollow" in html

    response = await submit(
        client, "/follows/unfollow", {"handle": handle(app, "alice"), "next": "/@alice"}, bob
    )
    assert response.status == 303 and location(response) == "/@alice?notice=unfollowed"
    assert 'action="/follows"' in (await browse(client, "/@alice", bob))[1]

    # A redirect target from the form must stay on this site.
    response = await submit(
        client, "/follows", {"handle": "alice", "next": "https://evil.example/"}, bob
    )
    assert location(response) == "/follows?notice=followed"

    assert (await browse(client, "/@nobody"))[0] == 404


async def test_profile_pages_older_posts(client: TestClient, app: web.Application) -> None:
    alice = await make_member(app, "alice")
    for index in range(21):
        await post_as(app, alice, f"entry {index}")
    status, html = await browse(client, "/@alice")
    assert len(re.findall(r"<p>entry \d+</p>", html)) == 20
    older = re.search(r'<a href="(/@alice\?before=[^"]+)" rel="next">Older posts</a>', html)
    assert older is not None
    status, html = await browse(client, older.group(1))
    assert status == 200
    assert re.findall(r"<p>entry (\d+)</p>", html) == ["0"]
    assert "Older posts" not in html


async def test_post_pages_respect_visibility(client: TestClient, app: web.Application) -> None:
    alice, bob, eve = [await make_member(app, name) for name in ("alice", "bob", "eve")]
    await app[appkeys.FOLLOWS].follow(bob.account, "alice")
    public = await post_as(app, alice, "hello world <script>alert(1)</script>")
    followers = await post_as(app, alice, "followers see this", Visibility.FOLLOWERS)
    direct = await post_as(app, alice, "only me", Visibility.DIRECT)

    async def status_of(post: Post, who: Member | None) -> int:
        return (await browse(client, f"/@alice/{post.id}", who))[0]

    assert [await status_of(public, who) for who in (None, alice, bob, eve)] == [200] * 4
    assert [await status_of(followers, who) for who in (None, alice, bob, eve)] == [
        404,
        200,
        200,
        404,
    ]
    assert [await status_of(direct, who) for who in (None, alice, bob, eve)] == [
        404,
        200,
        404,
        404,
    ]
    status, html = await browse(client, f"/@alice/{public.id}")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.search(r"<time datetime=", html)
    status, html = await browse(client, f"/@alice/{followers.id}", bob)
    assert status == 200
    assert "Followers only" in html
    # The wrong author in the path, or an unknown id: not found.
    assert (await browse(client, f"/@bob/{public.id}"))[0] == 404
    assert (await browse(client, "/@alice/unknown"))[0] == 404

    # A deleted followers-only post is 410 to its audience, still 404 to everyone else.
    await app[appkeys.POSTS].delete(alice.account, followers.id)
    assert await status_of(followers, bob) == 410
    assert await status_of(followers, eve) == 404
    assert await status_of(followers, None) == 404


# --- follows -------------------------------------------------------------------------------


async def test_follows_page_follows_lists_and_unfollows(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice", display_name="Alice Example")
    bob = await make_member(app, "bob", display_name="Bob Example")
    status, html = await browse(client, "/follows", bob)
    assert status == 200
    assert '<label for="handle">Handle</label>' in html
    assert "You don't follow anyone yet." in html and "No one follows you yet." in html
    assert_every_form_has_csrf(html)

    response = await submit(client, "/follows", {"handle": handle(app, "alice")}, bob)
    assert response.status == 303 and location(response) == "/follows?notice=followed"
    status, html = await browse(client, "/follows?notice=followed", bob)
    following = html.split('id="following-heading"')[1].split("</section>")[0]
    assert "Alice Example" in following and f"@{handle(app, 'alice')}" in following
    assert 'action="/follows/unfollow"' in following
    assert_no_metrics(html)

    status, html = await browse(client, "/follows", alice)
    followers = html.split('id="followers-heading"')[1].split("</section>")[0]
    assert "Bob Example" in followers and 'action="/follows/followers/remove"' in followers

    response = await submit(client, "/follows/unfollow", {"handle": handle(app, "alice")}, bob)
    assert response.status == 303 and location(response) == "/follows?notice=unfollowed"
    assert "You don't follow anyone yet." in (await browse(client, "/follows", bob))[1]

    # Errors re-render the page with a clear message and the input kept.
    for value, expected, message in (
        ("", 400, "enter a handle like name@server.example"),
        ("nobody", 404, "no member called"),
        ("bob", 400, "you cannot follow yourself"),
        ("what@@ever", 400, "is not a handle like name@server.example"),
    ):
        response = await submit(client, "/follows", {"handle": value}, bob)
        assert response.status == expected, value
        html = await response.text()
        assert 'role="alert"' in html and message in html
        assert f'value="{value}"' in html
        assert_every_form_has_csrf(html)
    response = await submit(client, "/follows/unfollow", {"handle": "alice"}, bob)
    assert response.status == 404
    assert "you don&#39;t follow alice" in await response.text()


async def test_follow_requests_are_approved_rejected_and_removed(
    client: TestClient, app: web.Application
) -> None:
    carol = await make_member(app, "carol", manual=True)
    members = [await make_member(app, name) for name in ("alice", "bob", "dave")]
    urls = app[appkeys.URLS]
    for member in members:
        response = await submit(client, "/follows", {"handle": "carol"}, member)
        assert location(response) == "/follows?notice=requested"
    status, html = await browse(client, "/follows?notice=requested", members[0])
    assert "Follow request sent." in html
    sent = html.split('id="sent-heading"')[1].split("</section>")[0]
    assert f"@{handle(app, 'carol')}" in sent and "Cancel request" in sent
    assert (
        "Your follow request is waiting for approval."
        in (await browse(client, "/@carol", members[0]))[1]
    )

    status, html = await browse(client, "/follows", carol)
    requests = html.split('id="requests-heading"')[1].split("</section>")[0]
    for name in ("alice", "bob", "dave"):
        assert f'name="actor" value="{urls.actor(name)}"' in requests
    assert "Approve" in requests and "Reject" in requests
    assert_every_form_has_csrf(html)

    response = await submit(
        client, "/follows/requests/approve", {"actor": urls.actor("alice")}, carol
    )
    assert response.status == 303 and location(response) == "/follows?notice=approved"
    response = await submit(client, "/follows/requests/reject", {"actor": urls.actor("bob")}, carol)
    assert location(response) == "/follows?notice=rejected"

    status, html = await browse(client, "/follows", carol)
    requests = html.split('id="requests-heading"')[1].split("</section>")[0]
    followers = html.split('id="followers-heading"')[1].split("</section>")[0]
    assert urls.actor("dave") in requests and urls.actor("alice") not in requests
    assert urls.actor("alice") in followers and urls.actor("bob") not in followers

    response = await submit(
        client, "/follows/followers/remove", {"actor": urls.actor("alice")}, carol
    )
    assert location(response) == "/follows?notice=removed"
    status, html = await browse(client, "/follows?notice=removed", carol)
    assert status == 200
    assert "They no longer follow you." in html and "No one follows you yet." in html

    response = await submit(client, "/follows/requests/approve", {"actor": "nobody"}, carol)
    assert response.status == 404
    assert "no such follow request" in await response.text()


async def test_follow_lists_page_with_more_links(client: TestClient, app: web.Application) -> None:
    carol = await make_member(app, "carol")
    for index in range(21):
        fan = await make_member(app, f"fan{index:02d}")
        await app[appkeys.FOLLOWS].follow(fan.account, "carol")
    status, html = await browse(client, "/follows", carol)
    followers = html.split('id="followers-heading"')[1].split("</section>")[0]
    assert len(re.findall(r'name="actor"', followers)) == 20
    more = re.search(r'href="(/follows\?followers_before=[^"#]+)[^"]*" rel="next">More', followers)
    assert more is not None
    status, html = await browse(client, more.group(1), carol)
    assert status == 200
    followers = html.split('id="followers-heading"')[1].split("</section>")[0]
    assert set(re.findall(r"@(fan\d+)@", followers)) == {"fan00"}
    assert "First page" in followers
