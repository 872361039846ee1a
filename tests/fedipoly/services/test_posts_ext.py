"""Activity posts: mentions and hashtags, activity tags, badge timelines, privacy on every
timeline, replies and threads, images, edits and deletes, and remote Fedipoly notes."""

from __future__ import annotations

import io
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from federation.client import FederationClient
from fedipoly.errors import Gone, NotFound, PayloadTooLarge, ValidationFailed
from fedipoly.models import (
    Account,
    Follow,
    FollowState,
    Post,
    PostActivityTag,
    Role,
    Visibility,
    new_id,
    utc_now,
)
from fedipoly.services.actors import RemoteActors
from fedipoly.services.badges import BadgeService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.follows import FollowService
from fedipoly.services.inbox import InboxService
from fedipoly.services.keys import make_signer
from fedipoly.services.media import MediaPurpose, MediaRejected, MediaService, headers_for
from fedipoly.services.media_library import MediaLibrary
from fedipoly.services.post_parts import NewAttachment
from fedipoly.services.posts import PostService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.services.conftest import (
    BASE,
    add_remote_follower,
    make_member,
    sent_activities,
)

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
FEDIPOLY_NS = "https://w3id.org/fedipoly/ns#"


@pytest.fixture
def media(tmp_path: Path) -> MediaService:
    return MediaService(tmp_path / "media", max_upload_bytes=2 * 1024 * 1024)


@pytest.fixture
def library(store: Store, media: MediaService) -> MediaLibrary:
    return MediaLibrary(store, media, utc_now)


def post_service(
    store: Store, urls: Urls, client: FederationClient, media: MediaService, **options: Any
) -> PostService:
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    actors = RemoteActors(store, client, urls, make_signer("k", "unused", utc_now), utc_now)
    return PostService(store, deliverer, urls, utc_now, actors=actors, media=media, **options)


@pytest.fixture
def posts(store: Store, urls: Urls, client: FederationClient, media: MediaService) -> PostService:
    return post_service(store, urls, client, media)


async def follows(store: Store, urls: Urls, follower: Account | str, followed: str) -> None:
    """`follower` (a member, or a remote actor URI) follows the actor `followed` (accepted)."""
    uri = urls.actor(follower.username) if isinstance(follower, Account) else follower
    await store.upsert_follow(
        Follow(
            id=new_id(),
            follower=uri,
            followed=followed,
            activity_id=f"{uri}#follows/{new_id()}",
            state=FollowState.ACCEPTED,
            created_at=utc_now(),
        ),
        follower.id if isinstance(follower, Account) else None,
    )


def tag(phrase: str, slug: str = "") -> PostActivityTag:
    return PostActivityTag(phrase, slug)


def ids(items: list[Post]) -> list[str]:
    return [item.id for item in items]


def noise_png(size: tuple[int, int] = (200, 200)) -> bytes:
    """A PNG that does not compress to nothing, so cutting it short really truncates it."""
    out = io.BytesIO()
    Image.effect_noise(size, 100).convert("RGB").save(out, "PNG")
    return out.getvalue()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_safe_html(fragment: str) -> None:
    """Only Mastodon's inline tags, only href/class/rel attributes, only http(s) links."""
    parser = _Tags()
    parser.feed(fragment)
    for tag, attrs in parser.found:
        assert tag in {"p", "br", "a", "span"}, fragment
        for name, value in attrs:
            assert name in {"href", "class", "rel"}, fragment
            if name == "href":
                assert (value or "").startswith(("https://", "http://")), fragment


def image_bytes(
    size: tuple[int, int] = (40, 30), fmt: str = "PNG", mode: str = "RGB", **save: Any
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None).save(out, fmt, **save)
    return out.getvalue()


# --- text: mentions, hashtags, links, sanitising -------------------------------------------


async def test_mentions_hashtags_and_links_render_to_mastodon_html(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    post = await posts.create(
        alice,
        "Hi @Bob and @carol@remote.example, see https://example.org/a?b=1&c=2 #Python #42\n"
        "@nobody and @ghost@127.0.0.1:9 stay text; mail a@b.example",
        Visibility.PUBLIC,
    )
    html = post.content_html
    assert (
        f'<span class="h-card"><a href="{BASE}/@bob" class="u-url mention">@<span>bob</span>'
        "</a></span>" in html
    )
    assert (
        '<span class="h-card"><a href="https://remote.example/@carol" class="u-url mention">'
        "@<span>carol</span></a></span>" in html
    )
    assert (
        f'<a href="{BASE}/tags/python" class="mention hashtag" rel="tag">#<span>Python</span></a>'
        in html
    )
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">' in html
    assert "#42" in html and "@nobody" in html and "@ghost@127.0.0.1:9" in html
    assert "a@b.example" in html and html.count("h-card") == 2
    assert post.mentions == (urls.actor("bob"), carol.uri) == post.audience
    assert post.hashtags == ("Python",)

    # The mentioned local member gets it on their home timeline; the remote one is sent it.
    assert ids((await posts.home_timeline(bob, before=None)).posts) == [post.id]
    [create] = await sent_activities(store)
    note = create["object"]
    assert create["cc"] == note["cc"] == [urls.followers("alice"), urls.actor("bob"), carol.uri]
    assert {"type": "Mention", "href": urls.actor("bob"), "name": "@bob@fedipoly.test"} in note[
        "tag"
    ]
    assert {"type": "Mention", "href": carol.uri, "name": "@carol@remote.example"} in note["tag"]
    assert {"type": "Hashtag", "href": f"{BASE}/tags/python", "name": "#Python"} in note["tag"]


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "javascript:alert(1) data:text/html,<b>x</b>",
        '#tag"><svg onload=alert(1)> @bob"onmouseover="x',
        "<style>*{color:red}</style><a href='javascript:alert(1)'>x</a>",
        'https://ok.example/"><script>x</script>',
    ],
)
async def test_post_text_never_becomes_markup(
    store: Store, posts: PostService, payload: str
) -> None:
    alice = await make_member(store, "alice")
    await make_member(store, "bob")
    html = (await posts.create(alice, payload, Visibility.PUBLIC)).content_html
    assert_safe_html(html)
    for dangerous in ("<script", "<img", "<svg", "<style", 'href="javascript'):
        assert dangerous not in html


# --- activity tags -------------------------------------------------------------------------


async def test_activity_tags_come_from_the_catalogue_or_name_a_usable_badge(
    store: Store, posts: PostService, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    await badges.create_badge(
        alice, slug="knitting", display_name="Knitting", color="#aa00ff", icon="🧶"
    )
    post = await posts.create(
        alice,
        "A busy day",
        Visibility.PUBLIC,
        activity_tags=[
            tag("  wrote SOME   code "),  # catalogue phrase: its spelling and badge
            tag("Fixed a flaky test", "python"),  # free text on an approved badge
            tag("Knitted a scarf", "knitting"),  # free text on her own pending badge
            tag("Wrote some code", "programming"),  # the same tag again: dropped
        ],
        happened_on=date(2024, 5, 1),
    )
    assert post.activity_tags == (
        tag("Wrote some code", "programming"),
        tag("Fixed a flaky test", "python"),
        tag("Knitted a scarf", "knitting"),
    )
    assert post.badges == ("programming", "python", "knitting")
    assert post.happened_on == date(2024, 5, 1)
    assert await store.get_post(post.id) == post


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([tag("Invented a phrase")], "choose a badge"),
        ([tag("Played", "no_such_badge")], "no badge 'no_such_badge'"),
        ([tag("Played", "knitting")], "no badge 'knitting'"),  # someone else's pending badge
        ([tag("Played", "Not A Slug")], "is not a badge slug"),
        ([tag("", "python")], "needs a phrase"),
        ([tag("x" * 61, "python")], "at most 60"),
        ([tag("bad\x07bell", "python")], "control characters"),
        ([tag(f"Did thing {i}", "python") for i in range(6)], "at most 5 activity tags"),
    ],
)
async def test_bad_activity_tags_are_refused_and_store_nothing(
    store: Store,
    posts: PostService,
    badges: BadgeService,
    tags: list[PostActivityTag],
    message: str,
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    await badges.create_badge(
        bob, slug="knitting", display_name="Knitting", color="#aa00ff", icon="🧶"
    )
    with pytest.raises(ValidationFailed, match=message) as caught:
        await posts.create(alice, "hello", Visibility.PUBLIC, activity_tags=tags)
    assert caught.value.detail["field"] == "activity_tags"
    assert await store.count_local_posts() == 0


async def test_bad_dates_are_refused(store: Store, posts: PostService) -> None:
    alice = await make_member(store, "alice")
    for bad in (date(1899, 12, 31), utc_now().date() + timedelta(days=3)):
        with pytest.raises(ValidationFailed, match="happened_on"):
            await posts.create(alice, "x", Visibility.PUBLIC, happened_on=bad)
    assert await store.count_local_posts() == 0


# --- badge timelines -----------------------------------------------------------------------


async def test_public_posts_appear_under_each_approved_badge_only(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    await follows(store, urls, bob, urls.actor("alice"))
    tags = [tag("Wrote some code"), tag("Fixed a bug", "python")]
    public = await posts.create(alice, "shipped", Visibility.PUBLIC, activity_tags=tags)
    for visibility in (Visibility.FOLLOWERS, Visibility.DIRECT):
        await posts.create(alice, "secret", visibility, activity_tags=tags)

    for slug in ("programming", "python"):
        for viewer in (None, alice, bob):
            page = await posts.badge_timeline(slug, viewer)
            assert ids(page.posts) == [public.id], (slug, viewer)
    assert (await posts.badge_timeline("chess", None)).posts == []
    with pytest.raises(NotFound):
        await posts.badge_timeline("no_such_badge", None)


async def test_a_pending_badges_posts_go_public_when_it_is_approved(
    store: Store, posts: PostService, badges: BadgeService, urls: Urls
) -> None:
    alice = await make_member(store, "alice")
    await add_remote_follower(store, urls, alice)
    moderator = await make_member(store, "mod", Role.MODERATOR)
    await badges.create_badge(
        alice, slug="knitting", display_name="Knitting", color="#aa00ff", icon="🧶"
    )
    knit = [tag("Knitted a scarf", "knitting")]
    before = [
        await posts.create(alice, f"row {i}", Visibility.PUBLIC, activity_tags=knit)
        for i in range(2)
    ]
    private = await posts.create(alice, "secret", Visibility.FOLLOWERS, activity_tags=knit)
    deleted = await posts.create(alice, "oops", Visibility.PUBLIC, activity_tags=knit)
    await posts.delete(alice, deleted.id)

    assert (await posts.badge_timeline("knitting", alice)).posts == []  # pending: not listed
    with pytest.raises(NotFound):
        await posts.badge_timeline("knitting", None)  # and invisible to others
    # Its Create carried no Hashtag and no badge for it: pending badges never leave the server.
    sent = await sent_activities(store)
    creates = [activity for activity in sent if activity["type"] == "Create"]
    assert len(creates) == 4  # three public ones and the followers-only one
    for activity in sent:
        assert "knitting" not in str(activity).lower()
    for activity in creates:
        assert "knitting" not in str(activity).lower()
        assert "#KnittedAScarf" in str(activity["object"]["tag"])

    await badges.approve(moderator, "knitting")
    page = await posts.badge_timeline("knitting", None)
    assert ids(page.posts) == ids(list(reversed(before)))
    assert private.id not in ids(page.posts)
    after = await posts.create(alice, "row 3", Visibility.PUBLIC, activity_tags=knit)
    assert ids((await posts.badge_timeline("knitting", None)).posts)[0] == after.id


async def test_editing_tags_moves_a_post_between_badges_and_deleting_removes_it(
    store: Store, posts: PostService
) -> None:
    alice = await make_member(store, "alice")
    post = await posts.create(alice, "x", Visibility.PUBLIC, activity_tags=[tag("Wrote some code")])
    edited = await posts.update(alice, post.id, "y", activity_tags=[tag("Gave a talk")])
    assert edited.badges == ("public_speaking",)
    assert (await posts.badge_timeline("programming", None)).posts == []
    assert ids((await posts.badge_timeline("public_speaking", None)).posts) == [post.id]
    untouched = await posts.update(alice, post.id, "z")  # tags left as they were
    assert untouched.activity_tags == edited.activity_tags
    await posts.delete(alice, post.id)
    assert (await posts.badge_timeline("public_speaking", None)).posts == []


# --- privacy on every timeline -------------------------------------------------------------


async def test_followers_only_and_direct_posts_stay_within_their_audience(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice = await make_member(store, "alice")
    follower, bob, stranger = (
        await make_member(store, "follower"),
        await make_member(store, "bob"),
        await make_member(store, "stranger"),
    )
    await follows(store, urls, follower, urls.actor("alice"))
    tags = [tag("Wrote some code")]
    public = await posts.create(alice, "public", Visibility.PUBLIC, activity_tags=tags)
    private = await posts.create(alice, "followers", Visibility.FOLLOWERS, activity_tags=tags)
    direct = await posts.create(alice, "hi @bob", Visibility.DIRECT, activity_tags=tags)

    async def profile(reader: Account | None) -> list[str]:
        return ids((await posts.profile_timeline(alice, reader)).posts)

    assert await profile(None) == [public.id]
    assert await profile(stranger) == [public.id]
    assert await profile(bob) == [public.id]  # addressed, but a profile lists no DMs
    assert await profile(follower) == [private.id, public.id]
    assert await profile(alice) == [direct.id, private.id, public.id]
    for page in (
        await posts.local_timeline(),
        await posts.federated_timeline(),
        await posts.badge_timeline("programming", stranger),
    ):
        assert ids(page.posts) == [public.id]
    assert ids((await posts.home_timeline(bob, before=None)).posts) == [direct.id]
    assert ids((await posts.home_timeline(follower, before=None)).posts) == [
        private.id,
        public.id,
    ]
    assert (await posts.home_timeline(stranger, before=None)).posts == []
    for reader in (None, stranger):
        for hidden in (private, direct):
            with pytest.raises(NotFound):
                await posts.visible_post(reader, hidden.id)


async def test_remote_posts_reach_the_federated_timeline_only_when_public_and_listed(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice = await make_member(store, "alice")
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    await follows(store, urls, alice, carol.uri)

    def note(n: int, to: list[str], cc: list[str]) -> dict[str, Any]:
        return {
            "id": f"{carol.uri}/statuses/{n}",
            "type": "Note",
            "attributedTo": carol.uri,
            "content": f"<p>note {n}</p>",
            "to": to,
            "cc": cc,
        }

    public = await posts.ingest_remote(note(1, [PUBLIC], [carol.followers_url]), carol)
    await posts.ingest_remote(note(2, [carol.followers_url], []), carol)
    await posts.ingest_remote(note(3, [urls.actor("alice")], []), carol)
    unlisted = await posts.ingest_remote(note(4, [carol.followers_url], [PUBLIC]), carol)
    assert public is not None and unlisted is not None and unlisted.unlisted
    assert ids((await posts.federated_timeline()).posts) == [public.id]
    assert (await posts.local_timeline()).posts == []
    assert len((await posts.home_timeline(alice, before=None)).posts) == 4


async def test_timelines_page_by_cursor(store: Store, posts: PostService) -> None:
    alice = await make_member(store, "alice")
    written = [await posts.create(alice, f"post {i}", Visibility.PUBLIC) for i in range(5)]
    # Timelines order by (published, id): posts written within one millisecond share a time,
    # and their ids (milliseconds + randomness) then decide, not the order they were written.
    newest_first = ids(sorted(written, key=lambda post: (post.published, post.id), reverse=True))
    for read in (
        lambda before: posts.local_timeline(before, 2),
        lambda before: posts.federated_timeline(before, 2),
        lambda before: posts.profile_timeline(alice, None, before, 2),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            page = await read(cursor)
            seen += ids(page.posts)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == newest_first
    with pytest.raises(ValidationFailed):
        await posts.local_timeline("not a cursor")
    with pytest.raises(ValidationFailed):
        await posts.federated_timeline(None, 0)


# --- replies and threads -------------------------------------------------------------------


async def test_replies_thread_under_the_post_with_depth_and_visibility(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice, bob, carol, dave = [
        await make_member(store, name) for name in ("alice", "bob", "carol", "dave")
    ]
    erin = remote_actor("erin")
    await store.upsert_remote_actor(erin)
    root = await posts.create(alice, "What did you build this week?", Visibility.PUBLIC)
    first = await posts.reply(bob, root.id, "A shed", Visibility.PUBLIC)
    nested = await posts.create(carol, "Nice shed", Visibility.PUBLIC, in_reply_to=first.uri)
    hidden = await posts.reply(dave, root.id, "for my followers", Visibility.FOLLOWERS)
    below_hidden = await posts.reply(
        dave, hidden.id, "public, under a hidden one", Visibility.PUBLIC
    )
    remote = await posts.ingest_remote(
        {
            "id": f"{erin.uri}/statuses/1",
            "type": "Note",
            "attributedTo": erin.uri,
            "inReplyTo": root.uri,
            "content": "<p>A website</p>",
            "to": [PUBLIC],
            "cc": [urls.actor("alice")],
        },
        erin,
    )
    assert remote is not None

    assert first.in_reply_to == root.uri and first.reply_root == root.uri
    assert nested.reply_root == root.uri and nested.in_reply_to == first.uri
    assert remote.reply_root == root.uri
    assert urls.actor("alice") in first.mentions and urls.actor("alice") in first.audience
    # The parent's author gets the reply on their home timeline.
    assert first.id in ids((await posts.home_timeline(alice, before=None)).posts)

    def shape(replies: list[Any]) -> list[tuple[str, int, str]]:
        return [(reply.post.id, reply.depth, reply.parent) for reply in replies]

    assert shape(await posts.thread(root, None)) == [
        (first.id, 1, root.uri),
        (nested.id, 2, first.uri),
        (remote.id, 1, root.uri),
    ]
    assert shape(await posts.thread(root, dave)) == [
        (first.id, 1, root.uri),
        (nested.id, 2, first.uri),
        (hidden.id, 1, root.uri),
        (below_hidden.id, 2, hidden.uri),
        (remote.id, 1, root.uri),
    ]
    assert shape(await posts.thread(first, None)) == [(nested.id, 1, first.uri)]
    await posts.delete(carol, nested.id)
    assert shape(await posts.thread(first, None)) == []


async def test_replying_needs_a_post_the_author_can_see(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    private = await posts.create(alice, "followers only", Visibility.FOLLOWERS)
    with pytest.raises(NotFound):
        await posts.reply(bob, private.id, "sneaky", Visibility.PUBLIC)
    with pytest.raises(NotFound):
        await posts.create(bob, "x", Visibility.PUBLIC, in_reply_to="https://nowhere.example/1")
    gone = await posts.create(alice, "soon gone", Visibility.PUBLIC)
    await posts.delete(alice, gone.id)
    with pytest.raises(Gone):
        await posts.create(bob, "x", Visibility.PUBLIC, in_reply_to=gone.uri)
    assert await store.count_author_posts(urls.actor("bob"), ("public",)) == 0


async def test_a_reply_to_a_remote_post_is_addressed_and_delivered_to_its_author(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice = await make_member(store, "alice")
    erin = remote_actor("erin", shared_inbox=None)
    await store.upsert_remote_actor(erin)
    await follows(store, urls, alice, erin.uri)
    parent = await posts.ingest_remote(
        {
            "id": f"{erin.uri}/statuses/7",
            "type": "Note",
            "attributedTo": erin.uri,
            "content": "<p>hello</p>",
            "to": [PUBLIC],
        },
        erin,
    )
    assert parent is not None
    reply = await posts.reply(alice, parent.id, "hello back", Visibility.DIRECT)
    [create] = await sent_activities(store)
    note = create["object"]
    assert note["inReplyTo"] == parent.uri and note["to"] == [erin.uri] and note["cc"] == []
    assert {"type": "Mention", "href": erin.uri, "name": "@erin@remote.example"} in note["tag"]
    assert create["object"]["id"] == reply.uri
    deliveries = await store.list_deliveries(create["id"])
    assert [d.inbox_url for d in deliveries] == [erin.inbox]


# --- federation shape ----------------------------------------------------------------------


async def test_create_note_carries_badge_activity_and_mention_tags_and_the_extension(
    store: Store, posts: PostService, urls: Urls, library: MediaLibrary
) -> None:
    alice = await make_member(store, "alice")
    await store.upsert_remote_actor(remote_actor("watcher", shared_inbox=None))
    await follows(store, urls, "https://remote.example/users/watcher", urls.actor("alice"))
    image = await library.upload(alice, image_bytes((800, 600)))
    post = await posts.create(
        alice,
        "Two things today #release",
        Visibility.PUBLIC,
        activity_tags=[tag("Wrote some code"), tag("Fixed a flaky test", "python")],
        attachments=[NewAttachment(image.id, "A terminal full of green tests")],
        happened_on=date(2024, 5, 1),
    )
    [create] = await sent_activities(store)
    assert FEDIPOLY_NS in str(create["@context"])
    note = create["object"]
    assert note["tag"] == [
        {"type": "Hashtag", "href": urls.badge_page("programming"), "name": "#Programming"},
        {"type": "Hashtag", "href": urls.badge_page("python"), "name": "#Python"},
        {"type": "Hashtag", "href": f"{BASE}/tags/wrotesomecode", "name": "#WroteSomeCode"},
        {"type": "Hashtag", "href": f"{BASE}/tags/fixedaflakytest", "name": "#FixedAFlakyTest"},
        {"type": "Hashtag", "href": f"{BASE}/tags/release", "name": "#release"},
    ]
    assert note["fedipoly:activityTags"] == [
        {
            "type": "fedipoly:ActivityTag",
            "fedipoly:phrase": "Wrote some code",
            "fedipoly:badge": "programming",
            "href": urls.badge_page("programming"),
        },
        {
            "type": "fedipoly:ActivityTag",
            "fedipoly:phrase": "Fixed a flaky test",
            "fedipoly:badge": "python",
            "href": urls.badge_page("python"),
        },
    ]
    assert note["fedipoly:happenedOn"] == "2024-05-01"
    assert note["attachment"] == [
        {
            "type": "Document",
            "mediaType": "image/png",
            "url": urls.media(image.id),
            "name": "A terminal full of green tests",
            "width": 800,
            "height": 600,
        }
    ]
    # Dereferencing the Note gives the same tags.
    document = await posts.note_document(post, alice)
    assert document["tag"] == note["tag"] and document["id"] == post.uri


async def test_edits_send_update_with_new_mentions_and_deletes_reach_the_same_audience(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    carol = remote_actor("carol", shared_inbox=None)
    await store.upsert_remote_actor(carol)
    post = await posts.create(alice, "hi @carol@remote.example", Visibility.DIRECT)
    edited = await posts.update(alice, post.id, "hi @bob")
    assert edited.mentions == (urls.actor("bob"),)
    assert set(edited.audience) == {carol.uri, urls.actor("bob")}  # carol: a silent mention
    assert ids((await posts.home_timeline(bob, before=None)).posts) == [post.id]
    await posts.delete(alice, post.id)
    kinds = [(a["type"], a["to"]) for a in await sent_activities(store)]
    assert sorted(kind for kind, _ in kinds) == ["Create", "Delete", "Update"]
    assert all(carol.uri in to for _, to in kinds)
    stored = await store.get_post(post.id)
    assert stored is not None and stored.deleted_at is not None and stored.mentions == ()


# --- remote Fedipoly notes -----------------------------------------------------------------


def fedipoly_note(author_uri: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{author_uri}/statuses/{n}",
        "type": "Note",
        "attributedTo": author_uri,
        "content": "<p>two tags</p>",
        "to": [PUBLIC],
        "cc": [f"{author_uri}/followers"],
        "tag": [
            {"type": "Hashtag", "href": "https://peer/badges/python", "name": "#Python"},
            {"type": "Hashtag", "name": "#bad-tag<script>"},
            {"type": "Mention", "href": "https://fedipoly.test/users/alice", "name": "@alice"},
            {"type": "Mention", "href": "javascript:alert(1)"},
        ],
        "attachment": [
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": "https://peer/1.png",
                "name": "one",
            },
            {"type": "Document", "mediaType": "text/html", "url": "https://peer/x.html"},
            {"type": "Document", "mediaType": "image/png", "url": "javascript:alert(1)"},
            *[
                {"type": "Image", "mediaType": "image/jpeg", "url": f"https://peer/{i}.jpg"}
                for i in range(2, 7)
            ],
        ],
        "fedipoly:activityTags": [
            {"fedipoly:phrase": "Wrote some code", "fedipoly:badge": "programming"},
            {"fedipoly:phrase": "Fixed a bug", "fedipoly:badge": "python"},
            {"fedipoly:phrase": "Odd", "fedipoly:badge": "Not A Slug"},
            {"fedipoly:badge": "python"},
        ],
        "fedipoly:happenedOn": "2024-05-01",
    } | extra


async def test_remote_fedipoly_notes_keep_their_tags_images_and_date(
    store: Store, posts: PostService, urls: Urls
) -> None:
    alice = await make_member(store, "alice")
    peer = remote_actor("paula", "peer.example")
    await store.upsert_remote_actor(peer)
    await follows(store, urls, alice, peer.uri)
    stored = await posts.ingest_remote(fedipoly_note(peer.uri), peer)
    assert stored is not None
    assert stored.activity_tags == (
        tag("Wrote some code", "programming"),
        tag("Fixed a bug", "python"),
        tag("Odd", ""),
    )
    assert stored.badges == ("programming", "python")
    assert stored.hashtags == ("Python",)
    assert stored.mentions == ("https://fedipoly.test/users/alice",)
    assert [a.url for a in stored.attachments] == [
        "https://peer/1.png",
        "https://peer/2.jpg",
        "https://peer/3.jpg",
        "https://peer/4.jpg",
    ]
    assert stored.attachments[0].alt == "one"
    assert stored.happened_on == date(2024, 5, 1)
    assert await store.get_post(stored.id) == stored
    # Not an allow-listed peer: its posts stay off our badge pages.
    assert (await posts.badge_timeline("python", None)).posts == []


async def test_allow_listed_peers_posts_join_badges_with_the_same_slug(
    store: Store, urls: Urls, client: FederationClient, media: MediaService
) -> None:
    posts = post_service(store, urls, client, media, badge_peers=frozenset({"Peer.Example"}))
    alice = await make_member(store, "alice")
    peer = remote_actor("paula", "peer.example")
    await store.upsert_remote_actor(peer)
    await follows(store, urls, alice, peer.uri)
    stored = await posts.ingest_remote(fedipoly_note(peer.uri), peer)
    private = await posts.ingest_remote(
        fedipoly_note(peer.uri, 2, to=[f"{peer.uri}/followers"], cc=[]), peer
    )
    assert stored is not None and private is not None
    assert ids((await posts.badge_timeline("python", None)).posts) == [stored.id]
    assert ids((await posts.badge_timeline("programming", None)).posts) == [stored.id]
    await posts.update_remote(
        fedipoly_note(
            peer.uri,
            **{"fedipoly:activityTags": [{"fedipoly:phrase": "Played", "fedipoly:badge": "chess"}]},
        ),
        peer,
    )
    assert (await posts.badge_timeline("python", None)).posts == []
    assert ids((await posts.badge_timeline("chess", None)).posts) == [stored.id]


# --- images --------------------------------------------------------------------------------


async def test_images_are_checked_by_their_bytes_cleaned_and_resized(
    media: MediaService,
) -> None:
    png = await media.save_image(image_bytes((40, 30)))
    assert png.media_type == "image/png" and (png.width, png.height) == (40, 30)
    data, content_type = await media.read(png.id)
    assert content_type == "image/png" and data.startswith(b"\x89PNG")
    assert headers_for(png.id)["X-Content-Type-Options"] == "nosniff"

    # A JPEG with EXIF (camera, orientation): turned upright, every tag gone.
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise
    photo = await media.save_image(image_bytes((60, 20), "JPEG", exif=exif.tobytes()))
    assert photo.media_type == "image/jpeg" and (photo.width, photo.height) == (20, 60)
    with Image.open(media.path_of(photo.id)) as reopened:
        assert not reopened.getexif() and "exif" not in reopened.info

    # A big one is scaled down to 1600 px on its long edge; an avatar is a 400 px square.
    big = await media.save_image(image_bytes((3200, 1000), "WEBP"))
    assert big.media_type == "image/webp" and (big.width, big.height) == (1600, 500)
    avatar = await media.save_image(image_bytes((900, 600), "GIF"), purpose=MediaPurpose.AVATAR)
    assert avatar.media_type == "image/png" and (avatar.width, avatar.height) == (400, 400)
    assert len({png.id, photo.id, big.id, avatar.id}) == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "only PNG"),
        (b"<html><body>hi</body></html>", "only PNG"),
        (b"", "only PNG"),
        (noise_png()[:5000], "cannot be read"),  # truncated
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "cannot be read"),
        (b"\xff\xd8\xff" + image_bytes((10, 10))[3:], "cannot be read"),  # a PNG dressed as JPEG
    ],
)
async def test_bad_uploads_are_refused_with_a_clear_400(
    media: MediaService, data: bytes, message: str
) -> None:
    with pytest.raises(MediaRejected, match=message) as caught:
        await media.save_image(data)
    assert caught.value.status == 400
    assert not media.directory.exists() or not any(media.directory.rglob("*"))


async def test_a_png_named_jpg_is_stored_as_the_png_it_is(media: MediaService) -> None:
    # Whatever the upload says about itself ("photo.jpg", image/jpeg), only its bytes count.
    stored = await media.save_image(image_bytes((10, 10), "PNG"), filename="photo.jpg")
    assert stored.id.endswith(".png") and stored.media_type == "image/png"
    assert "photo" not in stored.id


async def test_too_large_uploads_and_images_are_refused(tmp_path: Path) -> None:
    small = MediaService(tmp_path, max_upload_bytes=1000, max_pixels=10_000)
    with pytest.raises(PayloadTooLarge):
        await small.save_image(image_bytes((10, 10)) + b"\x00" * 1000)
    with pytest.raises(MediaRejected, match=r"at most 0\.01 megapixels"):
        await small.save_image(image_bytes((200, 200), "PNG", optimize=True))
    for bad_id in ("../etc/passwd", "x.png", "a" * 32 + ".svg", "a" * 32 + ".png/.."):
        with pytest.raises(NotFound):
            await small.read(bad_id)
    with pytest.raises(NotFound):
        await small.read("a" * 32 + ".png")


async def test_attachments_need_stored_images_and_short_alt_text(
    store: Store, posts: PostService, media: MediaService, library: MediaLibrary
) -> None:
    alice = await make_member(store, "alice")
    images = [await library.upload(alice, image_bytes((20 + i, 20))) for i in range(5)]
    cases: list[tuple[list[NewAttachment], str]] = [
        ([NewAttachment(image.id) for image in images], "at most 4 images"),
        ([NewAttachment(images[0].id, "x" * 1501)], "at most 1500"),
        ([NewAttachment("a" * 32 + ".png")], "no such image"),
        ([NewAttachment("../../secret")], "no such image"),
        ([NewAttachment(images[0].id), NewAttachment(images[0].id)], "twice"),
    ]
    for attachments, message in cases:
        with pytest.raises(ValidationFailed, match=message):
            await posts.create(alice, "pics", Visibility.PUBLIC, attachments=attachments)
    assert await store.count_local_posts() == 0

    post = await posts.create(
        alice, "", Visibility.PUBLIC, attachments=[NewAttachment(images[0].id, "  a cat ")]
    )  # an image may stand without text
    assert post.attachments[0].alt == "a cat" and post.attachments[0].width == 20
    # Replacing the images deletes the file no post shows any more; deleting the post too.
    await posts.update(alice, post.id, "now text", attachments=[NewAttachment(images[1].id)])
    with pytest.raises(NotFound):
        await media.read(images[0].id)
    await posts.delete(alice, post.id)
    with pytest.raises(NotFound):
        await media.read(images[1].id)


# --- remote replies through the inbox ------------------------------------------------------


async def test_remote_replies_are_stored_and_threaded_however_deep(
    store: Store, posts: PostService, urls: Urls, client: FederationClient
) -> None:
    signer = make_signer("k", "unused", utc_now)
    actors = RemoteActors(store, client, urls, signer, utc_now)
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    inbox = InboxService(
        store,
        actors,
        FollowService(store, actors, deliverer, urls, utc_now),
        posts,
        client,
        signer,
        urls,
        utc_now,
    )
    alice = await make_member(store, "alice")
    erin, frank = remote_actor("erin"), remote_actor("frank", "other.example")
    for actor in (erin, frank):
        await store.upsert_remote_actor(actor)
    root = await posts.create(alice, "Ask me anything", Visibility.PUBLIC)

    def create(actor_uri: str, n: int, in_reply_to: str, cc: list[str]) -> dict[str, Any]:
        note = {
            "id": f"{actor_uri}/statuses/{n}",
            "type": "Note",
            "attributedTo": actor_uri,
            "inReplyTo": in_reply_to,
            "content": f"<p>reply {n}</p>",
            "to": [PUBLIC],
            "cc": cc,
        }
        return {
            "id": f"{note['id']}/activity",
            "type": "Create",
            "actor": actor_uri,
            "object": note,
        }

    await inbox.handle(create(erin.uri, 1, root.uri, [urls.actor("alice")]), erin.uri)
    # frank answers erin, addressing nobody here: kept because the thread is ours.
    await inbox.handle(create(frank.uri, 2, f"{erin.uri}/statuses/1", [erin.uri]), frank.uri)
    # ...but a reply in a thread nobody here is part of is not.
    await inbox.handle(create(frank.uri, 3, "https://elsewhere.example/notes/1", []), frank.uri)

    replies = await posts.thread(root, None)
    assert [(r.post.uri, r.depth) for r in replies] == [
        (f"{erin.uri}/statuses/1", 1),
        (f"{frank.uri}/statuses/2", 2),
    ]
    assert await store.get_post_by_uri(f"{frank.uri}/statuses/3") is None
