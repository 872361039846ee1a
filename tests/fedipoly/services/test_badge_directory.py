"""Reading peers' badge directories and taking in what their badge actors announce, against a
real HTTP peer on loopback (through the real FederationClient), over both store backends.

The peer here is deliberately unhelpful: endless directory pages, junk items, errors, and
announces of posts it should not announce."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from federation.client import FederationClient
from federation.keys import generate_rsa_keypair
from federation.ssrf import HostPolicy
from federation.vocab import PUBLIC
from fedipoly.badge_federation_models import BadgePeer, PeerBadge
from fedipoly.models import Follow, FollowState, RemoteActor, new_id, utc_now
from fedipoly.services.actors import RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_directory import (
    FOLLOWER_PAGE_SIZE,
    MAX_DIRECTORY_PAGES,
    BadgeDirectoryService,
)
from fedipoly.services.delivery import Deliverer
from fedipoly.services.keys import make_signer
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.services.conftest import sent_activities
from tests.fedipoly.services.test_badge_actors import services

ITEMS_PER_PAGE = 50
# Smaller than the default, to keep the test quick; the mechanism is the same.
PEER_BADGE_CAP = 120


@dataclass
class Peer:
    """A peer instance on loopback whose answers each test chooses."""

    origin: str = ""
    mode: str = "ok"  # ok | error | html | elsewhere
    pages_served: int = 0
    first_page_extra: list[Any] = field(default_factory=list)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    note_fetches: int = 0

    @property
    def host(self) -> str:
        return self.origin.removeprefix("http://")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/webfinger", self.webfinger)
        app.router.add_get("/actor", self.actor)
        app.router.add_get("/badges", self.directory)
        app.router.add_get("/notes/{name}", self.note)
        return app

    async def webfinger(self, request: web.Request) -> web.Response:
        link = {"rel": "self", "type": "application/activity+json", "href": f"{self.origin}/actor"}
        return web.json_response({"subject": request.query["resource"], "links": [link]})

    async def actor(self, request: web.Request) -> web.Response:
        if self.mode == "error":
            return web.json_response({"error": "down for maintenance"}, status=503)
        if self.mode == "html":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        directory = (
            "https://elsewhere.example/badges"
            if self.mode == "elsewhere"
            else f"{self.origin}/badges"
        )
        return web.json_response(
            {"id": f"{self.origin}/actor", "type": "Application", "badgeDirectory": directory},
            content_type="application/activity+json",
        )

    async def directory(self, request: web.Request) -> web.Response:
        if "page" not in request.query:
            return web.json_response(
                {"type": "OrderedCollection", "first": f"{self.origin}/badges?page=1"},
                content_type="application/activity+json",
            )
        number = int(request.query["page"])
        self.pages_served += 1
        items: list[Any] = [
            {"slug": f"b{number}_{n}", "name": f"Badge {number} {n}", "holderCount": n}
            for n in range(ITEMS_PER_PAGE)
        ]
        if number == 1:
            items = [*self.first_page_extra, *items]
        return web.json_response(
            {
                "type": "OrderedCollectionPage",
                "orderedItems": items,
                "next": f"{self.origin}/badges?page={number + 1}",  # it never ends
            },
            content_type="application/activity+json",
        )

    async def note(self, request: web.Request) -> web.Response:
        self.note_fetches += 1
        note = self.notes.get(request.match_info["name"])
        if note is None:
            raise web.HTTPNotFound()
        return web.json_response(note, content_type="application/activity+json")


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()
    server = TestServer(state.app(), host="127.0.0.1")
    await server.start_server()
    state.origin = f"http://127.0.0.1:{server.port}"
    yield state
    await server.close()


@pytest.fixture
async def client(peer: Peer) -> AsyncIterator[FederationClient]:
    federation_client = FederationClient(
        HostPolicy(allowed_private_hosts=frozenset({peer.host})), "Fedipoly-tests"
    )
    await federation_client.start()
    yield federation_client
    await federation_client.close()


def directory_service(store: Store, urls: Urls, client: FederationClient) -> BadgeDirectoryService:
    badge_actors, posts, _badges = services(store, urls)
    keys = generate_rsa_keypair()
    signer = make_signer(urls.instance_key_id, keys.private_pem, utc_now)
    # Deliveries are only queued (the worker that sends them is not running here).
    deliverer = Deliverer(store, client, urls, utc_now, keys.private_pem)
    return BadgeDirectoryService(
        store,
        client,
        urls,
        utc_now,
        instance_signer=signer,
        actors=RemoteActors(store, client, urls, signer, utc_now),
        deliverer=deliverer,
        badge_actors=badge_actors,
        posts=posts,
        audit=AuditLog(store, utc_now),
        max_peer_badges=PEER_BADGE_CAP,
    )


async def list_peer(store: Store, peer: Peer, *, approved: bool) -> None:
    now = utc_now()
    await store.save_badge_peer(
        BadgePeer(host=peer.host, approved=approved, added_at=now, next_fetch_at=now)
    )


async def test_a_peer_directory_is_paged_capped_and_matched_by_normalised_name(
    store: Store, urls: Urls, peer: Peer, client: FederationClient
) -> None:
    _actors, _posts, badges = services(store, urls)
    local = await badges.get_badge("open_source", None)  # a seeded badge, "Open source"
    peer.first_page_extra = [
        7,
        "junk",
        {"slug": "", "name": "no slug"},
        {"name": "no slug either"},
        {
            "id": f"{peer.origin}/badge-actors/os",
            "slug": "open-source",
            "name": "open-source",
            "holderCount": 12,
            "url": f"{peer.origin}/badges/open-source",
        },
        {"id": "https://elsewhere.example/badge-actors/x", "slug": "x", "name": "X"},
    ]
    await list_peer(store, peer, approved=False)
    directory = directory_service(store, urls, client)

    assert await directory.refresh_once()

    kept = await store.list_peer_badges(peer.host)
    # An endless directory is read page by page, and no further than the cap.
    assert len(kept) == PEER_BADGE_CAP
    assert 1 < peer.pages_served <= PEER_BADGE_CAP // ITEMS_PER_PAGE + 1 < MAX_DIRECTORY_PAGES
    by_slug = {badge.slug: badge for badge in kept}
    assert "" not in by_slug
    assert by_slug["x"].actor_uri is None  # a directory cannot point at a third server
    assert by_slug["open-source"].actor_uri == f"{peer.origin}/badge-actors/os"
    # "Open Source" here meets "open-source" there.
    [also] = await directory.also_on(local)
    assert (also.host, also.holder_count, also.approved) == (peer.host, 12, False)
    # An unapproved peer's badge actors are never followed.
    assert (
        await store.get_follow(urls.badge_actor(local.id), f"{peer.origin}/badge-actors/os") is None
    )


async def test_a_peer_that_is_down_or_sends_junk_is_tried_again_later(
    store: Store, urls: Urls, peer: Peer, client: FederationClient
) -> None:
    directory = directory_service(store, urls, client)
    await list_peer(store, peer, approved=True)
    assert await directory.refresh_once()
    known = len(await store.list_peer_badges(peer.host))
    assert known == PEER_BADGE_CAP

    for mode in ("error", "html", "elsewhere"):
        peer.mode = mode
        await list_peer(store, peer, approved=True)  # due again at once
        before = utc_now()
        assert await directory.refresh_once(), mode
        [listed] = await store.list_badge_peers()
        assert listed.last_error, mode
        assert listed.next_fetch_at > before + timedelta(minutes=1), mode
        # What the last good read found stays until a good read replaces it.
        assert len(await store.list_peer_badges(peer.host)) == known, mode
    assert not await directory.refresh_once()  # nothing else is due: no busy loop


async def read_directory_listing(store: Store, peer: Peer, actors: list[RemoteActor]) -> None:
    """As if the peer's directory had been read and listed these badge actors."""
    now = utc_now()
    await store.record_badge_peer_fetch(
        peer.host,
        fetched_at=now,
        next_fetch_at=now + timedelta(hours=1),
        error=None,
        badges=[
            PeerBadge(
                host=peer.host,
                slug=actor.username,
                name=actor.username,
                normalized_name=actor.username,
                icon="",
                holder_count=1,
                actor_uri=actor.uri,
                url=None,
                updated=None,
                fetched_at=now,
            )
            for actor in actors
        ],
    )


async def ours_follow(store: Store, ours: str, theirs: str) -> None:
    """Our badge actor follows a peer's badge actor, and was accepted."""
    await store.upsert_follow(
        Follow(
            id=new_id(),
            follower=ours,
            followed=theirs,
            activity_id=f"{ours}#follows/{new_id()}",
            state=FollowState.ACCEPTED,
            created_at=utc_now(),
        ),
        None,
    )


def peer_note(peer: Peer, author: RemoteActor, name: str, to: list[str]) -> str:
    uri = f"{peer.origin}/notes/{name}"
    peer.notes[name] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": uri,
        "type": "Note",
        "attributedTo": author.uri,
        "content": f"<p>{name}</p>",
        "published": utc_now().isoformat(),
        "to": to,
        "cc": [author.followers_url],
    }
    return uri


async def test_only_public_posts_of_an_approved_peer_badge_join_the_badge_page(
    store: Store, urls: Urls, peer: Peer, client: FederationClient
) -> None:
    directory = directory_service(store, urls, client)
    _actors, _posts, badges = services(store, urls)
    chess = await badges.get_badge("chess", None)
    await list_peer(store, peer, approved=True)
    peer_badge = remote_actor("chess", peer.host, uri=f"{peer.origin}/badge-actors/chess")
    carol = remote_actor("carol", peer.host, uri=f"{peer.origin}/users/carol")
    for actor in (peer_badge, carol):
        await store.upsert_remote_actor(actor)
    await read_directory_listing(store, peer, [peer_badge])
    await ours_follow(store, urls.badge_actor(chess.id), peer_badge.uri)

    def note(name: str, to: list[str]) -> str:
        return peer_note(peer, carol, name, to)

    async def announce(uri: str) -> None:
        activity = {"id": f"{peer_badge.uri}#announces/{new_id()}", "type": "Announce"}
        assert await directory.on_announce(activity | {"object": uri}, peer_badge)

    async def on_page() -> list[str]:
        return [post.uri for post in await store.badge_timeline(chess.id, before=None, limit=20)]

    public = note("public", [PUBLIC])
    await announce(public)
    assert await on_page() == [public]

    followers_only = note("followers-only", [str(carol.followers_url)])
    await announce(followers_only)
    assert await on_page() == [public]
    assert await store.get_post_by_uri(followers_only) is None  # not even kept

    fetches = peer.note_fetches
    await announce("https://elsewhere.example/notes/1")  # not the peer's own
    assert peer.note_fetches == fetches  # refused before any fetch
    assert await store.get_post_by_uri("https://elsewhere.example/notes/1") is None

    await list_peer(store, peer, approved=False)
    later = note("later", [PUBLIC])
    await announce(later)
    assert await on_page() == [public]  # a peer no longer approved adds nothing

    # Never announced again by our badge actor.
    assert not [
        activity for activity in await sent_activities(store) if activity["type"] == "Announce"
    ]


async def test_a_peer_post_announced_by_two_of_its_badges_stays_on_both_pages(
    store: Store, urls: Urls, peer: Peer, client: FederationClient
) -> None:
    directory = directory_service(store, urls, client)
    _actors, _posts, badges = services(store, urls)
    ours = [await badges.get_badge(slug, None) for slug in ("chess", "open_source")]
    await list_peer(store, peer, approved=True)
    carol = remote_actor("carol", peer.host, uri=f"{peer.origin}/users/carol")
    await store.upsert_remote_actor(carol)
    theirs = []
    for badge in ours:
        actor = remote_actor(badge.slug, peer.host, uri=f"{peer.origin}/badge-actors/{badge.slug}")
        await store.upsert_remote_actor(actor)
        await ours_follow(store, urls.badge_actor(badge.id), actor.uri)
        theirs.append(actor)
    await read_directory_listing(store, peer, theirs)
    # Many members follow the peer's chess badge too, all after our badge actor did.
    for number in range(FOLLOWER_PAGE_SIZE + 1):
        await ours_follow(store, f"{urls.base}/users/member{number}", theirs[0].uri)
    uri = peer_note(peer, carol, "chess-bot-in-rust", [PUBLIC])

    def announce_by(actor: RemoteActor) -> dict[str, Any]:
        return {"id": f"{actor.uri}#announces/1", "type": "Announce", "object": uri}

    async def pages() -> list[bool]:
        return [
            [post.uri for post in await store.badge_timeline(badge.id, before=None, limit=5)]
            == [uri]
            for badge in ours
        ]

    for actor in theirs:
        assert await directory.on_announce(announce_by(actor), actor)
    assert await pages() == [True, True]
    # One badge withdrawing its announce takes the post off that badge's page only.
    assert await directory.on_undo_announce(announce_by(theirs[0]), theirs[0])
    assert await pages() == [False, True]
