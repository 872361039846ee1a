"""Fedipoly federates with an independent implementation: a Fedify 2.x server on loopback.

One run per storage backend and per first-knock signature scheme (RFC 9421, which Fedify
sends first by default, and draft-cavage, which Mastodon sends), so our inbox verifier sees
both. Fedify checks our signatures itself: the peer records only activities that verified,
and separately checks each POST's HTTP signature (``signature.verified``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

import tests.instances
from federation.httpsig import parse_signature, verify_signature
from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.models import (
    ActivityTag,
    DeliveryState,
    FollowState,
    Post,
    PostActivityTag,
    Visibility,
    utc_now,
)
from tests.instances import Instance, eventually, running_instances
from tests.peers.fedify_peer import CAVAGE, RFC9421, FedifyPeer

# Generous: a loaded CI machine is slow; passing runs never wait this long.
WAIT = 30.0


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]
    status: int


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[SeenRequest]:
    """Every request the instances receive, recorded by a middleware added before start-up."""
    requests: list[SeenRequest] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        requests.append(
            SeenRequest(request.method, request.raw_path, dict(request.headers), response.status)
        )
        return response

    def recording_app(*args: Any, **kwargs: Any) -> web.Application:
        app = create_app(*args, **kwargs)
        app.middlewares.append(record)
        return app

    monkeypatch.setattr(tests.instances, "create_app", recording_app)
    return requests


@pytest.fixture(params=[RFC9421, CAVAGE], ids=["rfc9421", "cavage"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[FedifyPeer]:
    # Started before the instance: the instance's allow-list needs the peer's port.
    async with FedifyPeer(name="fedi", first_knock=request.param) as started:
        yield started


def _hostport(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


async def _peer_public_key(peer: FedifyPeer) -> str:
    found = await peer.lookup(peer.actor_url)
    assert found["ok"], found
    key = found["document"]["publicKey"]
    return str(key["publicKeyPem"])


def _assert_all_verified(received: list[dict[str, Any]]) -> None:
    for item in received:
        signature = item["signature"]
        assert signature is not None, f"{item['type']} {item['id']} arrived unsigned"
        assert signature["verified"] is True, (item["type"], item["id"], signature)
        assert signature["key_owner"] == item["actor"], signature  # signed by its own actor
        assert signature["spec"] == "draft-cavage-http-signatures-12", signature  # we sign cavage


def _assert_first_knock_accepted(
    seen: list[SeenRequest], peer: FedifyPeer, inboxes: list[str]
) -> None:
    """Every POST to our inboxes used the peer's first-knock scheme and got a 202: our
    verifier accepted it, so Fedify never had to fall back to the other scheme."""
    posts = [r for r in seen if r.method == "POST"]
    assert sorted({r.target for r in posts}) == sorted(inboxes)
    rfc9421 = peer.first_knock == RFC9421
    for request in posts:
        assert ("Signature-Input" in request.headers) is rfc9421, request.headers
        assert "Signature" in request.headers
        assert request.status == 202, request


async def test_fedify_follows_member_and_receives_signed_accept_and_posts(
    tmp_path: Path,
    backend: str,
    mongo_url: str | None,
    peer: FedifyPeer,
    seen: list[SeenRequest],
) -> None:
    async with running_instances(
        tmp_path,
        ["alpha"],
        backend=backend,
        mongo_url=mongo_url,
        extra_allowed=[_hostport(peer.base_url)],
    ) as instances:
        alpha = instances["alpha"]
        alice = await alpha.member("alice")
        alice_uri = alpha.actor("alice")

        # --- Fedify follows alice: WebFinger over http, signed actor GET, Follow ----------
        followed = await peer.follow(handle=alpha.handle("alice"), scheme="http")
        assert followed["webfinger"]["subject"] == f"acct:alice@{alpha.domain}"
        assert followed["actor_id"] == alice_uri
        assert followed["actor"]["id"] == alice_uri

        # The actor GET Fedify made was signed with its key, in the first-knock scheme, and
        # the signature verifies with our own verifier code.
        actor_gets = [r for r in seen if r.method == "GET" and r.target == "/users/alice"]
        assert actor_gets, "Fedify never fetched the actor"
        peer_key = await _peer_public_key(peer)
        for get in actor_gets:
            parsed = parse_signature("GET", get.target, get.headers, scheme="http")
            assert parsed.scheme == ("rfc9421" if peer.first_knock == RFC9421 else "cavage")
            assert parsed.key_id.startswith(peer.actor_url)
            verify_signature(
                parsed,
                method="GET",
                target=get.target,
                body=b"",
                public_key_pem=peer_key,
                now=utc_now(),
            )

        # Our inbox verified the Follow (whatever scheme Fedify chose) and we answered.
        accept = await peer.wait_for(lambda a: a["type"] == "Accept", timeout=WAIT)
        assert accept["actor"] == alice_uri
        assert accept["object_id"] == followed["id"]
        assert accept["recipient"] == "fedi"  # the follower's personal inbox
        inner = accept["raw"]["object"]
        assert inner["id"] == followed["id"] and inner["type"] == "Follow"
        assert inner["actor"] == peer.actor_url and inner["object"] == alice_uri
        store = alpha.app[appkeys.STORE]
        follow = await store.get_follow(peer.actor_url, alice_uri)
        assert follow is not None and follow.state is FollowState.ACCEPTED

        _assert_first_knock_accepted(seen, peer, ["/users/alice/inbox"])

        # --- alice posts: Fedify gets a verified Create{Note} ---------------------------
        post = await alpha.post(alice, "Hello from Fedipoly")
        create = await peer.wait_for(lambda a: a["type"] == "Create", timeout=WAIT)
        assert create["actor"] == alice_uri
        assert create["object_id"] == post.uri
        note = create["raw"]["object"]
        assert note["id"] == post.uri
        assert note["attributedTo"] == alice_uri
        assert "Hello from Fedipoly" in note["content"]
        # A followers-only post reaches the follower too.
        private = await alpha.post(alice, "Only for followers", Visibility.FOLLOWERS)
        await peer.wait_for(
            lambda a: a["type"] == "Create" and a["object_id"] == private.uri, timeout=WAIT
        )

        # Fedify unfollows: its Undo{Follow} (verified like the rest) removes the follower.
        await peer.unfollow(alice_uri)

        async def unfollowed() -> bool:
            return await store.get_follow(peer.actor_url, alice_uri) is None

        await eventually(unfollowed, timeout=WAIT)
        _assert_first_knock_accepted(seen, peer, ["/users/alice/inbox"])  # the Undo too

        _assert_all_verified(await peer.received())
        assert await peer.rejected() == []
        assert await peer.errors() == []
        await eventually(lambda: _settled(alpha), timeout=WAIT)


async def test_member_follows_fedify_actor_and_sees_its_posts(
    tmp_path: Path,
    backend: str,
    mongo_url: str | None,
    peer: FedifyPeer,
    seen: list[SeenRequest],
) -> None:
    async with running_instances(
        tmp_path,
        ["alpha"],
        backend=backend,
        mongo_url=mongo_url,
        extra_allowed=[_hostport(peer.base_url)],
    ) as instances:
        alpha = instances["alpha"]
        alice = await alpha.member("alice")
        alice_uri = alpha.actor("alice")
        store = alpha.app[appkeys.STORE]

        # alice follows the Fedify actor by handle; the peer accepts.
        follow = await alpha.app[appkeys.FOLLOWS].follow(alice, peer.handle)
        assert follow.followed == peer.actor_url
        assert follow.state is FollowState.PENDING

        async def accepted() -> bool:
            found = await store.get_follow(alice_uri, peer.actor_url)
            return found is not None and found.state is FollowState.ACCEPTED

        await eventually(accepted, timeout=WAIT)
        assert await peer.followers() == [alice_uri]
        received_follow = await peer.wait_for(lambda a: a["type"] == "Follow", timeout=WAIT)
        assert received_follow["object_id"] == peer.actor_url
        assert received_follow["recipient"] == "fedi"

        # The peer posts to its followers (our shared inbox); it lands in alice's home.
        published = await peer.post("Hello from Fedify")
        assert published["delivered_to"] == [alice_uri]

        async def in_home() -> list[str]:
            return [p.uri for p in await alpha.home(alice)]

        assert await eventually(in_home, timeout=WAIT) == [published["id"]]
        shown = (await alpha.home(alice))[0]
        assert "Hello from Fedify" in shown.content_html
        assert shown.author == peer.actor_url
        assert shown.visibility is Visibility.PUBLIC
        # A followers-only post by the peer is shown to its follower, as followers-only.
        private = await peer.post("Only for followers", public=False)

        async def private_in_home() -> list[Post]:
            return [p for p in await alpha.home(alice) if p.uri == private["id"]]

        [shown] = await eventually(private_in_home, timeout=WAIT)
        assert shown.visibility is Visibility.FOLLOWERS
        # The Accept came to alice's inbox, the Create to the shared inbox.
        _assert_first_knock_accepted(seen, peer, ["/users/alice/inbox", "/inbox"])

        # alice unfollows: Fedify gets a verified Undo and forgets her.
        await alpha.app[appkeys.FOLLOWS].unfollow(alice, peer.handle)
        await peer.wait_for(lambda a: a["type"] == "Undo", timeout=WAIT)

        async def forgotten() -> bool:
            return await peer.followers() == []

        await eventually(forgotten, timeout=WAIT)

        _assert_all_verified(await peer.received())
        assert await peer.rejected() == []
        assert await peer.errors() == []
        await eventually(lambda: _settled(alpha), timeout=WAIT)


async def test_fedify_receives_a_tagged_post_its_edit_and_delete_and_its_reply_threads(
    tmp_path: Path,
) -> None:
    # SQLite and Fedify's default first knock (RFC 9421) are enough here.
    async with (
        FedifyPeer(name="fedi") as peer,
        running_instances(
            tmp_path, ["alpha"], extra_allowed=[_hostport(peer.base_url)]
        ) as instances,
    ):
        alpha = instances["alpha"]
        alice = await alpha.member("alice")
        alice_uri = alpha.actor("alice")
        posts = alpha.app[appkeys.POSTS]
        urls = alpha.app[appkeys.URLS]

        await peer.follow(handle=alpha.handle("alice"), scheme="http")
        await peer.wait_for(lambda a: a["type"] == "Accept", timeout=WAIT)

        # Two catalogue phrases tied to two different badges.
        catalogue = await alpha.app[appkeys.BADGES].activity_tags()
        chosen: dict[str, ActivityTag] = {}
        for entry in catalogue:
            chosen.setdefault(entry.badge.slug, entry)
        first, second = list(chosen.values())[:2]
        post = await posts.create(
            alice,
            "Shipped it <script>alert(1)</script>",
            Visibility.PUBLIC,
            activity_tags=[
                PostActivityTag(first.phrase, ""),
                PostActivityTag(second.phrase, ""),
            ],
        )

        # --- Create{Note}: badge Hashtags and sanitised HTML -----------------------------
        create = await peer.wait_for(
            lambda a: a["type"] == "Create" and a["object_id"] == post.uri, timeout=WAIT
        )
        assert create["actor"] == alice_uri
        note = create["raw"]["object"]
        assert note["id"] == post.uri
        badge_tags = {
            tag["href"]: tag["name"]
            for tag in note["tag"]
            if tag["type"] == "Hashtag" and tag["href"].startswith(urls.badge_page(""))
        }
        assert badge_tags == {
            urls.badge_page(first.badge.slug): f"#{first.badge.hashtag}",
            urls.badge_page(second.badge.slug): f"#{second.badge.hashtag}",
        }
        assert all(name.startswith("#") for name in badge_tags.values())
        assert "<p>" in note["content"]
        assert "<script" not in note["content"].lower()
        assert "Shipped it" in note["content"]

        # --- alice edits: Update{Note} with the new content ------------------------------
        await posts.update(alice, post.id, "Shipped it, edited")
        update = await peer.wait_for(lambda a: a["type"] == "Update", timeout=WAIT)
        assert update["actor"] == alice_uri
        assert update["raw"]["object"]["id"] == post.uri
        assert "Shipped it, edited" in update["raw"]["object"]["content"]

        # --- the peer replies: it threads under alice's post -----------------------------
        reply = await peer.post("Congratulations!", in_reply_to=post.uri, mention=alice_uri)

        async def threaded() -> list[tuple[str, int, str]]:
            return [
                (item.post.uri, item.depth, item.parent) for item in await posts.thread(post, alice)
            ]

        assert await eventually(threaded, timeout=WAIT) == [(reply["id"], 1, post.uri)]

        # --- alice deletes: Delete reaches the peer and the note answers 410 -------------
        await posts.delete(alice, post.id)
        delete = await peer.wait_for(lambda a: a["type"] == "Delete", timeout=WAIT)
        assert delete["actor"] == alice_uri
        deleted = delete["raw"]["object"]
        assert (deleted["id"] if isinstance(deleted, dict) else deleted) == post.uri
        response = await alpha.client.get(
            urlsplit(post.uri).path, headers={"Accept": "application/activity+json"}
        )
        assert response.status == 410

        received = await peer.received()
        assert {"Accept", "Create", "Update", "Delete"} <= {a["type"] for a in received}
        _assert_all_verified(received)
        assert await peer.rejected() == []
        assert await peer.errors() == []
        await eventually(lambda: _settled(alpha), timeout=WAIT)


async def _settled(instance: Instance) -> bool:
    store = instance.app[appkeys.STORE]
    assert await store.count_deliveries(DeliveryState.GAVE_UP) == 0
    return await store.count_deliveries(DeliveryState.PENDING) == 0
