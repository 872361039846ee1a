"""Services over a real store (both backends); deliveries are only queued, never sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from federation.client import FederationClient
from federation.ssrf import HostPolicy
from fedipoly.models import Account, Follow, FollowState, Role, new_id, utc_now
from fedipoly.services.actors import RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badges import BadgeService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.keys import make_signer
from fedipoly.services.moderation import ModerationService
from fedipoly.services.notifications import NotificationService
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_accounts import new_account
from tests.contract.test_federation_store import remote_actor

BASE = "https://fedipoly.test"


@pytest.fixture
async def client() -> AsyncIterator[FederationClient]:
    # Started, but it reaches nothing: HostPolicy() refuses loopback and private addresses.
    async with FederationClient(HostPolicy(), "Fedipoly-tests") as started:
        yield started


@pytest.fixture
def urls() -> Urls:
    return Urls(BASE)


@pytest.fixture
def profiles(store: Store, urls: Urls) -> ProfileService:
    # The client is never started: publishing only writes delivery rows to the store.
    client = FederationClient(HostPolicy(), "Fedipoly-tests")
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    return ProfileService(store, deliverer, urls, utc_now)


@pytest.fixture
def badges(store: Store, profiles: ProfileService) -> BadgeService:
    return BadgeService(store, profiles, utc_now, audit=AuditLog(store, utc_now))


async def make_member(store: Store, username: str, role: Role = Role.MEMBER) -> Account:
    return await store.create_account(
        new_account(username, role=role), invite_code=None, now=utc_now()
    )


async def add_remote_follower(store: Store, urls: Urls, account: Account) -> str:
    """A remote follower with its own inbox, so announcements become deliveries."""
    follower = remote_actor("watcher", shared_inbox=None)
    await store.upsert_remote_actor(follower)
    await store.upsert_follow(
        Follow(
            id=new_id(),
            follower=follower.uri,
            followed=urls.actor(account.username),
            activity_id=f"{follower.uri}#follows/{new_id()}",
            state=FollowState.ACCEPTED,
            created_at=utc_now(),
        ),
        None,
    )
    return follower.inbox


async def sent_activities(store: Store) -> list[dict[str, Any]]:
    """Every queued activity body, oldest first (claims them, so each is seen once)."""
    claimed = await store.claim_deliveries(now=utc_now(), lease_seconds=60, limit=100)
    bodies = [json.loads(item.activity.raw) for item in claimed]
    return sorted(bodies, key=lambda body: str(body["id"]))


def moderation_service(
    store: Store,
    urls: Urls,
    client: FederationClient,
    posts: PostService,
    badges: BadgeService,
    *,
    badge_actors: BadgeActorService | None = None,
) -> ModerationService:
    """A moderation service whose deliveries are only queued (the client reaches nothing)."""
    return ModerationService(
        store,
        actors=RemoteActors(store, client, urls, make_signer("k", "unused", utc_now), utc_now),
        deliverer=Deliverer(store, client, urls, utc_now, "unused instance key"),
        posts=posts,
        badges=badges,
        notifications=NotificationService(store, utc_now),
        urls=urls,
        clock=utc_now,
        badge_actors=badge_actors,
    )
