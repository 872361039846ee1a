"""Badge actors over a real store (both backends): which posts a badge announces, the rate
limits, the handle namespace and the members' choice. Deliveries are only queued."""

from __future__ import annotations

from typing import Any

import pytest

from federation.client import FederationClient
from federation.ssrf import HostPolicy
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.models import (
    Account,
    Badge,
    Follow,
    FollowState,
    PostActivityTag,
    Role,
    Visibility,
    new_id,
    utc_now,
)
from fedipoly.services.accounts import validate_username
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import (
    ANNOUNCES_DEFAULT,
    AnnounceLimits,
    BadgeActorService,
    badge_handle_slug,
)
from fedipoly.services.badges import BadgeService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.services.conftest import make_member, sent_activities

CHESS = PostActivityTag("Played a tournament", "")


def services(
    store: Store, urls: Urls, limits: AnnounceLimits | None = None
) -> tuple[BadgeActorService, PostService, BadgeService]:
    client = FederationClient(HostPolicy(), "Fedipoly-tests")  # never started: only queued
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    actors = BadgeActorService(store, deliverer, urls, utc_now, limits=limits or AnnounceLimits())
    posts = PostService(store, deliverer, urls, utc_now, badge_actors=actors)
    badges = BadgeService(
        store,
        ProfileService(store, deliverer, urls, utc_now),
        utc_now,
        audit=AuditLog(store, utc_now),
        badge_actors=actors,
    )
    return actors, posts, badges


async def follow_badge(store: Store, actors: BadgeActorService, badge: Badge) -> None:
    watcher = remote_actor("watcher", shared_inbox=None)
    await store.upsert_remote_actor(watcher)
    await store.upsert_follow(
        Follow(
            id=new_id(),
            follower=watcher.uri,
            followed=actors.actor_uri(badge),
            activity_id=f"{watcher.uri}#follows/{new_id()}",
            state=FollowState.ACCEPTED,
            created_at=utc_now(),
        ),
        None,
    )


async def chess_holder(store: Store, badges: BadgeService, username: str) -> Account:
    member = await make_member(store, username)
    await badges.add_badges(member, ["chess"])
    await store.set_badge_announce_preference(member.id, True)  # holders opt in
    return member


def announces(sent: list[dict[str, Any]]) -> list[str]:
    return [activity["object"] for activity in sent if activity["type"] == "Announce"]


def test_badge_handles_cannot_be_usernames() -> None:
    assert badge_handle_slug("badge.chess") == "chess"
    assert badge_handle_slug("Badge.Chess") == "chess"
    assert badge_handle_slug("badge.") is None
    assert badge_handle_slug("chess") is None
    for name in ("badge.chess", "badge.", "badge.open_source"):
        with pytest.raises(ValidationFailed):
            validate_username(name)


async def test_only_public_listed_posts_of_opted_in_holders_are_announced(
    store: Store, urls: Urls
) -> None:
    actors, posts, badges = services(store, urls)
    chess = await badges.get_badge("chess", None)
    await follow_badge(store, actors, chess)
    alice = await chess_holder(store, badges, "alice")
    shy = await chess_holder(store, badges, "shy")
    await actors.set_announces_enabled(shy, False)
    undecided = await make_member(store, "undecided")  # holds chess, never opted in
    await badges.add_badges(undecided, ["chess"])
    outsider = await make_member(store, "outsider")  # tags chess without holding it

    public = await posts.create(alice, "won", Visibility.PUBLIC, activity_tags=[CHESS])
    await posts.create(alice, "quiet", Visibility.FOLLOWERS, activity_tags=[CHESS])
    await posts.create(alice, "secret", Visibility.DIRECT, activity_tags=[CHESS])
    await posts.create(alice, "untagged", Visibility.PUBLIC)
    await posts.create(shy, "shy won", Visibility.PUBLIC, activity_tags=[CHESS])
    await posts.create(undecided, "undecided won", Visibility.PUBLIC, activity_tags=[CHESS])
    await posts.create(outsider, "outsider won", Visibility.PUBLIC, activity_tags=[CHESS])

    assert announces(await sent_activities(store)) == [public.uri]
    assert ANNOUNCES_DEFAULT is False and await actors.announces_enabled(alice)
    assert not await actors.announces_enabled(shy)
    assert not await actors.announces_enabled(undecided)


async def test_announces_are_rate_limited_per_author_and_per_badge(
    store: Store, urls: Urls
) -> None:
    actors, posts, badges = services(
        store, urls, AnnounceLimits(per_author_per_hour=2, per_badge_per_hour=3)
    )
    chess = await badges.get_badge("chess", None)
    await follow_badge(store, actors, chess)
    alice = await chess_holder(store, badges, "alice")
    bob = await chess_holder(store, badges, "bob")

    alice_posts = [
        await posts.create(alice, f"game {n}", Visibility.PUBLIC, activity_tags=[CHESS])
        for n in range(3)
    ]
    bob_posts = [
        await posts.create(bob, f"bob game {n}", Visibility.PUBLIC, activity_tags=[CHESS])
        for n in range(2)
    ]
    announced = announces(await sent_activities(store))
    # alice: two an hour; the badge: three an hour, whoever wrote them.
    assert sorted(announced) == sorted([alice_posts[0].uri, alice_posts[1].uri, bob_posts[0].uri])
    # A withdrawn announce still counts: deleting does not free a slot.
    await posts.delete(alice, alice_posts[0].id)
    again = await posts.create(alice, "game 4", Visibility.PUBLIC, activity_tags=[CHESS])
    assert again.uri not in announces(await sent_activities(store))


async def test_pending_badges_have_no_actor(store: Store, urls: Urls) -> None:
    actors, _posts, badges = services(store, urls)
    creator = await make_member(store, "creator")
    pending = await badges.create_badge(
        creator, slug="knitting", display_name="Knitting", color="#aa3300", icon="*"
    )
    with pytest.raises(NotFound):
        await actors.by_id(pending.id)
    with pytest.raises(NotFound):
        await actors.by_handle_username("badge.knitting")
    with pytest.raises(NotFound):
        await actors.webfinger(f"acct:badge.knitting@{urls.domain}")
    assert await actors.by_actor_uri(urls.badge_actor(pending.id)) is None
    mod = await make_member(store, "mod", Role.MODERATOR)
    await badges.approve(mod, "knitting")
    assert (await actors.by_id(pending.id)).slug == "knitting"
    jrd = await actors.webfinger(f"acct:badge.knitting@{urls.domain}")
    assert jrd is not None and jrd["subject"] == f"acct:badge.knitting@{urls.domain}"
    assert await actors.webfinger(f"acct:alice@{urls.domain}") is None  # a member's: not ours


async def test_a_badge_leaving_the_catalogue_withdraws_every_announce(
    store: Store, urls: Urls
) -> None:
    actors, posts, badges = services(store, urls)
    chess = await badges.get_badge("chess", None)
    await follow_badge(store, actors, chess)
    alice = await chess_holder(store, badges, "alice")
    first = await posts.create(alice, "one", Visibility.PUBLIC, activity_tags=[CHESS])
    second = await posts.create(alice, "two", Visibility.PUBLIC, activity_tags=[CHESS])
    await sent_activities(store)  # the two Announces

    await actors.badge_withdrawn(chess.id)
    undone = [
        activity["object"]["object"]
        for activity in await sent_activities(store)
        if activity["type"] == "Undo"
    ]
    assert sorted(undone) == sorted([first.uri, second.uri])
    assert await actors.outbox_total(chess) == 0


async def test_an_announced_posts_edit_and_deletion_reach_the_badges_followers(
    store: Store, urls: Urls
) -> None:
    # Mastodon keeps the note an Announce made it fetch; only an Update or Delete delivered to
    # it changes that copy, and the badge's followers need not follow the author.
    actors, posts, badges = services(store, urls)
    chess = await badges.get_badge("chess", None)
    await follow_badge(store, actors, chess)
    watcher_inbox = remote_actor("watcher", shared_inbox=None).inbox
    alice = await chess_holder(store, badges, "alice")
    post = await posts.create(alice, "a game", Visibility.PUBLIC, activity_tags=[CHESS])
    await sent_activities(store)  # the Announce

    async def delivered() -> dict[str, list[str]]:
        claimed = await store.claim_deliveries(now=utc_now(), lease_seconds=60, limit=100)
        by_type: dict[str, list[str]] = {}
        for item in claimed:
            by_type.setdefault(item.activity.activity_type, []).append(item.delivery.inbox_url)
        return by_type

    await posts.update(alice, post.id, "a better game", activity_tags=[CHESS])
    assert await delivered() == {"Update": [watcher_inbox]}
    await posts.delete(alice, post.id)
    assert await delivered() == {"Delete": [watcher_inbox], "Undo": [watcher_inbox]}

    # A post the badge never announced goes to the author's followers only (none here).
    quiet = await posts.create(alice, "a quiet game", Visibility.PUBLIC)
    await posts.delete(alice, quiet.id)
    assert await delivered() == {}
