"""The inbox worker's batches: stored items processed, finished together, in each actor's order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from federation.client import FederationClient
from fedipoly.models import Account, Follow, FollowState, InboxItem, InboxState, new_id, utc_now
from fedipoly.services.actors import RemoteActors
from fedipoly.services.delivery import Deliverer
from fedipoly.services.follows import FollowService
from fedipoly.services.inbox import InboxService
from fedipoly.services.keys import make_signer
from fedipoly.services.media import MediaService
from fedipoly.services.posts import PostService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.services.conftest import make_member

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture
def inbox(store: Store, urls: Urls, client: FederationClient, tmp_path: Path) -> InboxService:
    signer = make_signer("k", "unused", utc_now)
    actors = RemoteActors(store, client, urls, signer, utc_now)
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    media = MediaService(tmp_path / "media", max_upload_bytes=1024 * 1024)
    posts = PostService(store, deliverer, urls, utc_now, actors=actors, media=media)
    follows = FollowService(store, actors, deliverer, urls, utc_now)
    return InboxService(store, actors, follows, posts, client, signer, urls, utc_now, batch_size=50)


def create(actor_uri: str, n: int) -> dict[str, Any]:
    note_id = f"{actor_uri}/statuses/{n}"
    return {
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor_uri,
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": actor_uri,
            "content": f"<p>note {n}</p>",
            "to": [PUBLIC],
            "cc": [f"{actor_uri}/followers"],
        },
    }


async def receive(store: Store, activity: dict[str, Any], raw: str | None = None) -> None:
    await store.enqueue_inbox(
        InboxItem(
            activity_id=activity["id"],
            actor=activity["actor"],
            activity_type=activity["type"],
            raw=raw if raw is not None else json.dumps(activity),
            received_at=utc_now(),
        )
    )


async def follow(store: Store, urls: Urls, member: Account, actor_uri: str) -> Follow:
    return await store.upsert_follow(
        Follow(
            id=new_id(),
            follower=urls.actor(member.username),
            followed=actor_uri,
            activity_id=f"{urls.actor(member.username)}#follows/{new_id()}",
            state=FollowState.ACCEPTED,
            created_at=utc_now(),
        ),
        member.id,
    )


async def home(store: Store, member: Account) -> list[str]:
    return sorted(p.uri for p in await store.home_timeline(member.id, before=None, limit=100))


async def test_a_batch_stores_every_note_on_its_readers_timelines_and_finishes_every_item(
    store: Store, urls: Urls, inbox: InboxService
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    actors = [remote_actor(f"peer{i}") for i in range(5)]
    for actor in actors:
        await store.upsert_remote_actor(actor)
        await follow(store, urls, alice, actor.uri)
    await follow(store, urls, bob, actors[0].uri)
    notes = [create(actor.uri, n) for n in range(3) for actor in actors]
    for activity in notes:
        await receive(store, activity)
    # One actor's note arrives twice (a redelivery with another activity id): stored once.
    await receive(store, {**notes[0], "id": f"{notes[0]['id']}/again"})

    assert await inbox.process_once()
    assert await store.count_inbox(InboxState.DONE) == len(notes) + 1
    assert await store.count_inbox(InboxState.PENDING) == 0
    assert await home(store, alice) == sorted(a["object"]["id"] for a in notes)
    assert await home(store, bob) == sorted(
        a["object"]["id"] for a in notes if a["actor"] == actors[0].uri
    )
    assert not await inbox.process_once()  # nothing left


async def test_a_failing_item_fails_alone_and_the_rest_of_its_batch_is_done(
    store: Store, urls: Urls, inbox: InboxService
) -> None:
    alice = await make_member(store, "alice")
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    await follow(store, urls, alice, carol.uri)
    first, broken, last = create(carol.uri, 1), create(carol.uri, 2), create(carol.uri, 3)
    await receive(store, first)
    await receive(store, broken, raw='{"type": "Create", "object": ')  # not JSON
    # A note claiming another server's id: refused for good, not retried.
    forged = create(carol.uri, 4)
    forged["object"]["id"] = "https://elsewhere.example/statuses/4"
    await receive(store, forged)
    await receive(store, last)

    assert await inbox.process_once()
    assert await store.count_inbox(InboxState.DONE) == 2
    assert await store.count_inbox(InboxState.FAILED) == 2
    assert await home(store, alice) == sorted([first["object"]["id"], last["object"]["id"]])


async def test_an_accept_in_the_batch_counts_for_the_same_actors_later_notes(
    store: Store, urls: Urls, inbox: InboxService
) -> None:
    """What the batch read up front (the actor's followers) is not trusted after an
    activity of that actor that may change it."""
    alice = await make_member(store, "alice")
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    asked = await follow(store, urls, alice, carol.uri)
    await store.set_follow_state(asked.follower, carol.uri, FollowState.PENDING)
    before, after = create(carol.uri, 1), create(carol.uri, 2)
    accept = {
        "id": f"{carol.uri}#accepts/1",
        "type": "Accept",
        "actor": carol.uri,
        "object": {"id": asked.activity_id, "type": "Follow", "actor": asked.follower},
    }
    for activity in (before, accept, after):
        await receive(store, activity)

    assert await inbox.process_once()
    assert await store.count_inbox(InboxState.DONE) == 3
    # Before the Accept alice did not follow carol yet: that note is not kept.
    assert await home(store, alice) == [after["object"]["id"]]
