"""Injection: hostile markup in every field anyone can write never reaches a response unescaped.

Each payload goes into every field a member can write (display name, headline, bio, positions,
link labels and URLs, badge names, icons and reject reasons, post text, activity tag phrases,
image alt text, token labels) through the API and the services, and into every field a remote
actor controls (its name, summary, profile URL and icon; its notes' content, URL, hashtag and
mention names, activity tag phrases, image URLs and alt text), delivered as real signed
Create/Update activities from a fake server on loopback to a member who follows it.

Then every GET route of the app (read from its router, so new pages and API routes are covered
as they are added) is fetched as several viewers, as a browser and as a fediverse server asks,
and each answer is parsed: no script, style, frame or event handler, no javascript:/data: URL,
no style attribute; in JSON, HTML fields pass the same checks and the API's raw bytes open no
tag the sanitiser would not keep. Last, the payloads are proven to have been shown (decoded)
somewhere, so a passing run is not one where nothing was rendered.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from federation.vocab import AS_CONTEXT, PUBLIC
from fedipoly import appkeys
from fedipoly.models import (
    DeliveryState,
    FollowState,
    InboxState,
    PostActivityTag,
    Role,
    Visibility,
)
from fedipoly.services.post_parts import NewAttachment
from fedipoly.store.base import Store
from tests.fedipoly.collab_support import start_conversation
from tests.fedipoly.surfaces import (
    ANONYMOUS,
    Fetched,
    Report,
    assert_no_server_errors,
    browser_accepts,
    expand,
    fetch_requests,
    json_fields,
    member_viewer,
    requests_for,
    response_problems,
    server_accepts,
    shown_texts,
)
from tests.fedipoly.test_inbox_attacks import FakeActor, FakeServer, encode, signed
from tests.fedipoly.web.profile_badges_support import make_person
from tests.fedipoly.web.social_support import Member, api
from tests.instances import Instance, eventually, running_instances

# Script, event handlers, javascript:/data: URLs (plain and entity-obfuscated), SVG, CSS,
# attribute and element breakouts, mutation-XSS shapes, and unicode tricks.
PAYLOADS = (
    "<script>alert(1)</script>",
    '"><script>alert(2)</script>',
    "'><img src=x onerror=alert(3)>",
    "<svg onload=alert(4)>",
    '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0ieCI+PC9zdmc+#x"/></svg>',
    '<a href="javascript:alert(6)">x</a>',
    '<a href="jav&#x09;ascript:alert(7)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==">x</a>',
    "<style>body{background:url(javascript:alert(9))}</style>",
    '<p style="width:expression(alert(10))">x</p>',
    "' onmouseover='alert(11)",
    '" onfocus="alert(12)" autofocus="',
    "</textarea><script>alert(13)</script>",
    "</title><script>alert(14)</script>",
    '<iframe srcdoc="<script>alert(15)</script>"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(16)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(17)>">',
    '<form action="javascript:alert(18)"><button formaction=javascript:alert(18)>x</button>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(19)">',
    "javascript:alert(20)",
    "data:text/html,<script>alert(21)</script>",
    "\uff1cscript\uff1ealert(22)\uff1c/script\uff1e",  # fullwidth brackets
    "\u202e<script>alert(23)</script>",  # right-to-left override
    "<scr<script>ipt>alert(24)</script>",
)
# Reorder what a reader sees next to a name (spoofing a handle); local names refuse them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SHOWN_NAME = re.compile(r'class="(?:display-name|handle)">([^<]*)<')
# Badge icons are 1..8 characters without spaces.
ICONS = ('"><b>', "<script", "'><i>", "</a>", "<svg/", "<!--", "&lt;x", "javascri")


def fits(payload: str, limit: int) -> str:
    return payload if len(payload) <= limit else payload[:limit]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


# --- the world: members with hostile fields, a hostile remote actor ---------------------------


@dataclass
class World:
    inst: Instance
    remote: FakeServer
    rem: FakeActor
    alice: Member  # reads everything: follows every payload member and the remote actor
    mod: Member
    writers: list[Member] = field(default_factory=list)  # writer i: PAYLOADS[2i], [2i + 1]
    posts: list[tuple[str, str]] = field(default_factory=list)  # (author username, post id)
    remote_posts: list[str] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    # writer username -> (the writer's conversation id, alice's)
    conversations: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.inst.app

    def url(self, path: str) -> str:
        return f"{self.inst.base_url}{path}"

    async def settle(self) -> None:
        store: Store = self.app[appkeys.STORE]

        async def idle() -> bool:
            return (
                await store.count_inbox(InboxState.PENDING) == 0
                and await store.count_deliveries(DeliveryState.PENDING) == 0
            )

        await eventually(idle, timeout=30)

    async def send(self, activity: dict[str, Any], path: str = "/inbox") -> None:
        body = encode(activity)
        headers = signed(self.url(path), body, self.rem.key_id, self.rem.keys)
        response = await self.inst.client.post(path, data=body, headers=headers)
        assert response.status == 202, await response.text()


def hostile_actor(rem: FakeActor, variant: int) -> dict[str, Any]:
    """rem's actor document with a payload in every field a page might show."""
    document = rem.document()
    chosen = PAYLOADS[variant::2]
    document |= {
        "name": "\u202e\u2066" + " ".join(chosen),
        "summary": "".join(chosen) + '<a href="javascript:alert(1)">summary link</a>',
        "url": (
            "javascript:alert(1)" if variant == 0 else f'{rem.uri}/@rem"><script>alert(1)</script>'
        ),
        "icon": {
            "type": "Image",
            "mediaType": "image/png",
            "url": "javascript:alert(1)" if variant == 0 else f'{rem.uri}/a.png" onerror="alert(1)',
        },
        "image": {"type": "Image", "url": "data:image/svg+xml,<svg onload=alert(1)>"},
        "attachment": [
            {"type": "PropertyValue", "name": payload, "value": payload} for payload in chosen[:4]
        ],
        "tag": [{"type": "Hashtag", "name": f"#{PAYLOADS[0]}", "href": "javascript:alert(1)"}],
    }
    return document


def hostile_note(world: World, index: int, payload: str, reply_to: str | None) -> dict[str, Any]:
    rem = world.rem
    return {
        "id": f"{rem.uri}/statuses/{uuid.uuid4().hex}",
        "type": "Note",
        "attributedTo": rem.uri,
        "summary": payload,
        "content": f"<p>{payload} RNOTE{index}</p>",
        "contentMap": {"en": f"<p>{payload} RNOTE{index}</p>"},
        "url": "javascript:alert(1)" if index % 2 else f'{rem.uri}/n/{index}"><script>x</script>',
        "to": [PUBLIC],
        "cc": [f"{rem.uri}/followers", world.inst.actor("alice")],
        "inReplyTo": reply_to,
        "published": datetime.now(UTC).isoformat(),
        "tag": [
            {"type": "Hashtag", "name": f"#{payload}", "href": "javascript:alert(1)"},
            {"type": "Mention", "name": payload, "href": world.inst.actor("alice")},
            {"type": "Emoji", "name": f":{payload}:", "icon": {"url": "javascript:alert(1)"}},
        ],
        "fedipoly:activityTags": [
            {"type": "fedipoly:ActivityTag", "fedipoly:phrase": payload, "fedipoly:badge": "chess"}
        ],
        "attachment": [
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": "javascript:alert(1)",
                "name": payload,
            },
            {
                "type": "Image",
                "mediaType": "image/png",
                "url": f'{world.remote.origin}/img/{index}.png" onerror="alert(1)',
                "name": payload,
            },
            {"type": "Document", "mediaType": "text/html", "url": f"{world.remote.origin}/x.html"},
        ],
    }


def spoofed_names(item: Fetched) -> list[str]:
    """Bidirectional controls in a display name or handle, in a page or in the API's JSON."""
    if item.is_html:
        names = SHOWN_NAME.findall(item.body)
    elif item.is_json and item.path.startswith("/api/"):
        names = [
            text
            for key, _parent, text in json_fields(item.json())
            if key in ("display_name", "handle")
        ]
    else:
        return []
    return [
        f"bidi control in the name {name[:40]!r}" for name in names if BIDI_CONTROLS & set(name)
    ]


def link_candidates(payload: str) -> list[dict[str, str]]:
    label = fits(payload, 40)
    return [
        {"label": label, "url": payload},
        {"label": label, "url": f"https://example.test/?q={payload}"},
        {"label": "site", "url": f"https://example.test/{payload}"},
    ]


async def write_everything(world: World, writer: Member, first: int) -> None:
    """Payloads `first` and `first + 1` in every member-writable field: through the API (each
    change on its own, so a refused one keeps the others), and through the services what the
    API does not take (yet): activity tags, images with alt text, a reply."""
    client, app = world.inst.client, world.app
    one, two = PAYLOADS[first], PAYLOADS[first + 1]
    changes: list[tuple[str, Any]] = [
        ("display_name", one),
        ("headline", two),
        ("bio", f"{one}\n\n{two}"),
        ("positions", [fits(one, 80), fits(two, 80)]),
    ]
    links = []
    for link in link_candidates(one) + link_candidates(two):
        status, body = await api(client, "PATCH", "/api/v1/profile", writer, {"links": [link]})
        assert status in (200, 400), (link, status, body)
        links += [link] if status == 200 else []
    changes.append(("links", links[:6]))
    for name, value in changes:
        status, body = await api(client, "PATCH", "/api/v1/profile", writer, {name: value})
        assert status in (200, 400), (name, value, status, body)
    tags = [PostActivityTag("Wrote some code", "")]
    for index, payload in ((first, one), (first + 1, two)):
        status, _ = await api(
            client, "POST", "/api/v1/tokens", writer, {"label": fits(payload, 100)}
        )
        assert status in (201, 400)
        slug = f"xss{index}"
        badge = {
            "slug": slug,
            "display_name": fits(payload, 64),
            "color": "#123456",
            "icon": ICONS[index % len(ICONS)],
        }
        status, body = await api(client, "POST", "/api/v1/badges", writer, badge)
        assert status in (201, 400), body
        if status == 201:
            world.slugs.append(slug)
            tags.append(PostActivityTag(fits(payload, 60), slug))
        bad_colour = badge | {"slug": f"c{index}", "color": '#123456"><script>'}
        status, body = await api(client, "POST", "/api/v1/badges", writer, bad_colour)
        assert status == 400, body
    status, body = await api(client, "POST", "/api/v1/posts", writer, {"text": one})
    assert status == 201, body
    world.posts.append((writer.username, body["id"]))
    posts, media = app[appkeys.POSTS], app[appkeys.MEDIA_LIBRARY]
    images = [await media.upload(writer.account, png()) for _ in range(2)]
    world.media += [image.id for image in images]
    tagged = await posts.create(
        writer.account,
        f"{two} #tag{first} @alice https://example.test/{two}",
        Visibility.PUBLIC,
        activity_tags=tags,
        attachments=[
            NewAttachment(image.id, fits(payload, 1500))
            for image, payload in zip(images, (one, two), strict=True)
        ],
    )
    world.posts.append((writer.username, tagged.id))
    if first % 4 == 0:
        reply = await posts.reply(world.alice.account, tagged.id, one, Visibility.PUBLIC)
        world.posts.append(("alice", reply.id))
    # A collaboration request with a payload, and a conversation with one.
    world.conversations[writer.username] = await start_conversation(
        app, writer.account, world.alice.account, message=fits(one, 2000), reply=fits(two, 2000)
    )


async def follow_remote(world: World) -> None:
    """alice follows rem (WebFinger and actor fetched from the fake server), rem accepts."""
    app, store = world.app, world.app[appkeys.STORE]
    await app[appkeys.FOLLOWS].follow(world.alice.account, world.rem.handle)
    follow = await store.get_follow(world.inst.actor("alice"), world.rem.uri)
    assert follow is not None
    await world.send(
        {
            "@context": AS_CONTEXT,
            "id": world.rem.new_id(),
            "type": "Accept",
            "actor": world.rem.uri,
            "object": {
                "id": follow.activity_id,
                "type": "Follow",
                "actor": world.inst.actor("alice"),
                "object": world.rem.uri,
            },
        },
        "/users/alice/inbox",
    )
    await world.settle()
    follow = await store.get_follow(world.inst.actor("alice"), world.rem.uri)
    assert follow is not None and follow.state is FollowState.ACCEPTED


async def remote_writes_everything(world: World) -> None:
    store = world.app[appkeys.STORE]
    author, post_id = world.posts[0]
    first_uri = f"{world.inst.actor(author)}/statuses/{post_id}"
    notes = []
    for index, payload in enumerate(PAYLOADS):
        note = hostile_note(world, index, payload, first_uri if index % 3 == 0 else None)
        notes.append(note)
        await world.send(
            {
                "@context": AS_CONTEXT,
                "id": world.rem.new_id(),
                "type": "Create",
                "actor": world.rem.uri,
                "to": note["to"],
                "cc": note["cc"],
                "object": note,
            }
        )
    # The profile changes (an Update makes us refetch it) and one note is edited.
    world.remote.documents["/users/rem"] = hostile_actor(world.rem, 1)
    await world.send(
        {
            "@context": AS_CONTEXT,
            "id": world.rem.new_id(),
            "type": "Update",
            "actor": world.rem.uri,
            "to": [PUBLIC],
            "object": hostile_actor(world.rem, 1),
        }
    )
    edited = notes[1] | {
        "content": f"<p>{PAYLOADS[2]}{PAYLOADS[4]} RNOTE-EDITED</p>",
        "updated": datetime.now(UTC).isoformat(),
    }
    await world.send(
        {
            "@context": AS_CONTEXT,
            "id": world.rem.new_id(),
            "type": "Update",
            "actor": world.rem.uri,
            "to": [PUBLIC],
            "object": edited,
        }
    )
    await world.settle()
    for note in notes:
        post = await store.get_post_by_uri(note["id"])
        assert post is not None, f"remote note {note['id']} was not stored"
        world.remote_posts.append(post.id)
    actor = await store.get_remote_actor(world.rem.uri)
    assert actor is not None and PAYLOADS[1] in actor.display_name


@asynccontextmanager
async def open_world(tmp_path: Path, backend: str, mongo_url: str | None) -> AsyncIterator[World]:
    remote = FakeServer("remote")
    rem = remote.add("rem")
    remote.documents["/users/rem"] = hostile_actor(rem, 0)
    await remote.start()
    try:
        async with running_instances(
            tmp_path,
            ["home"],
            backend=backend,
            mongo_url=mongo_url,
            extra_allowed=[remote.hostport],
        ) as instances:
            inst = instances["home"]
            app = inst.app
            world = World(
                inst=inst,
                remote=remote,
                rem=rem,
                alice=await make_person(app, "alice"),
                mod=await make_person(app, "mod", Role.MODERATOR),
            )
            for first in range(0, len(PAYLOADS), 2):
                writer = await make_person(app, f"w{first}")
                world.writers.append(writer)
                await app[appkeys.FOLLOWS].follow(world.alice.account, writer.username)
                await write_everything(world, writer, first)
            # Moderation: some hostile badges approved (public), one rejected with a hostile
            # reason, the rest left pending (seen by their creators and moderators).
            badges = app[appkeys.BADGES]
            for slug in world.slugs:
                index = int(slug.removeprefix("xss"))
                if index % 3 == 0:
                    await badges.approve(world.mod.account, slug)
                elif index % 3 == 1:
                    reason = PAYLOADS[index].replace("\u202e", "")
                    await badges.reject(world.mod.account, slug, reason)
            await follow_remote(world)
            await remote_writes_everything(world)
            yield world
    finally:
        await remote.stop()


# --- the test ---------------------------------------------------------------------------------


async def test_no_payload_reaches_any_response_unescaped(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with open_world(tmp_path, backend, mongo_url) as w:
        app, client = w.app, w.inst.client
        usernames = ["alice", "mod", *(writer.username for writer in w.writers)]
        post_ids = [post_id for _author, post_id in w.posts] + w.remote_posts
        # Reports carry payloads too: the moderators' report pages must escape them.
        report_ids = [
            (
                await app[appkeys.MODERATION].report(
                    writer.account, "badge", "programming", fits(PAYLOADS[index], 1000)
                )
            ).id
            for index, writer in enumerate(w.writers)
        ]
        values = {
            "report_id": report_ids,
            "conversation_id": [ids for pair in w.conversations.values() for ids in pair],
            "username": usernames,
            "post_id": post_ids,
            "slug": ["programming", "chess", *w.slugs],
            # Badge actors: approved badges (their names carry payloads) and pending ones.
            "badge_id": [
                (await app[appkeys.BADGES].get_badge(slug, w.mod.account)).id
                for slug in ["chess", *w.slugs]
            ],
            "media_id": w.media,
            "tag": ["tag0", "tag2", "WroteSomeCode"],
        }
        linked = [{"username": author, "post_id": post_id} for author, post_id in w.posts]
        # Everyone's pages as the public and as a reader who follows everyone; as a fediverse
        # server asks (the same for everyone: no session is read there); and what a moderator
        # sees besides (the review queue, pending and rejected badges).
        paths = expand(app, values, linked)
        requests = requests_for(paths, [ANONYMOUS, member_viewer(w.alice)], browser_accepts)
        requests += requests_for(paths, [ANONYMOUS], server_accepts)
        moderation = {
            "username": ["mod"],
            "post_id": [],
            "media_id": [],
            "tag": [],
            "conversation_id": [],
        }
        requests += requests_for(
            expand(app, values | moderation), [member_viewer(w.mod)], browser_accepts
        )
        # Each writer sees their own forms, settings, pending or rejected badge and posts.
        for index, writer in enumerate(w.writers):
            own = [f"xss{2 * index}", f"xss{2 * index + 1}"]
            scoped = {
                "conversation_id": [w.conversations[writer.username][0]],
                "report_id": [],
                "username": [writer.username],
                "post_id": [post_id for author, post_id in w.posts if author == writer.username],
                "slug": [slug for slug in own if slug in w.slugs] or ["programming"],
                "badge_id": [],
                "media_id": w.media[2 * index : 2 * index + 2],
                "tag": [f"tag{2 * index}"],
            }
            requests += requests_for(expand(app, scoped), [member_viewer(writer)], browser_accepts)
        fetched = await fetch_requests(client, requests)
        assert_no_server_errors(fetched)
        report = Report()
        for item in fetched:
            report.add(item, response_problems(item) + spoofed_names(item))
        report.check()

        # The payloads were rendered (escaped), not just absent: each display name, the
        # remote actor's name and the remote notes' marker text show up decoded somewhere.
        shown = shown_texts(fetched)
        rendered_pages = [item for item in fetched if item.is_html and item.status == 200]
        assert len(rendered_pages) > 50, len(rendered_pages)
        for payload in PAYLOADS:
            if "\u202e" not in payload:
                assert payload in shown, f"{payload!r} never shown"
        assert "RNOTE0" in shown and "RNOTE-EDITED" in shown
        assert PAYLOADS[1] in shown  # in the remote actor's (updated) name
