"""Moderation's reach beyond its own pages (both backends): a merged badge's actor withdraws
its announces, suspended and silenced accounts' posts leave what others read (and return when
lifted), and every moderator action leaves an audit entry."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from federation.client import FederationClient
from fedipoly.models import (
    Account,
    Follow,
    FollowState,
    PostActivityTag,
    Role,
    Visibility,
    new_id,
    utc_now,
)
from fedipoly.moderation_models import DomainBlock, ReportTarget
from fedipoly.services.actors import RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badge_directory import BadgeDirectoryService
from fedipoly.services.badge_moderation import BadgeModeration
from fedipoly.services.badges import BadgeService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.follows import FollowService
from fedipoly.services.inbox import InboxService
from fedipoly.services.keys import make_signer
from fedipoly.services.moderation import MAX_COMMENT, MAX_FLAG_TARGETS, ModerationService
from fedipoly.services.notifications import NotificationService
from fedipoly.services.open_to import OpenToService
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import post, remote_actor
from tests.fedipoly.services.conftest import make_member, moderation_service, sent_activities
from tests.fedipoly.services.test_badge_actors import (
    CHESS,
    announces,
    chess_holder,
    follow_badge,
    services,
)
from tests.fedipoly.services.test_badge_directory import directory_service


@pytest.fixture
def posts(store: Store, urls: Urls, client: FederationClient) -> PostService:
    return PostService(store, Deliverer(store, client, urls, utc_now, "unused"), urls, utc_now)


@pytest.fixture
def moderation(
    store: Store, urls: Urls, client: FederationClient, posts: PostService, badges: BadgeService
) -> ModerationService:
    return moderation_service(store, urls, client, posts, badges)


@pytest.fixture
def badge_moderation(
    store: Store, badges: BadgeService, moderation: ModerationService
) -> BadgeModeration:
    notifications = NotificationService(store, utc_now)
    return BadgeModeration(store, badges, notifications, moderation.audit, utc_now)


@pytest.fixture
async def mod(store: Store) -> Account:
    return await make_member(store, "mod", Role.MODERATOR)


@pytest.fixture
async def alice(store: Store) -> Account:
    return await make_member(store, "alice")


async def test_merging_an_announced_badge_withdraws_its_announces_and_a_revert_sends_none(
    store: Store, urls: Urls, mod: Account
) -> None:
    actors, post_service, badges = services(store, urls)
    creator = await make_member(store, "creator")
    await badges.create_badge(
        creator, slug="chesss", display_name="Chesss", color="#123456", icon="♟"
    )
    await badges.approve(mod, "chesss")
    chesss = await badges.get_badge("chesss", None)
    await badges.add_badges(creator, ["chesss"])
    await actors.set_announces_enabled(creator, True)
    await follow_badge(store, actors, chesss)
    tagged = await post_service.create(
        creator, "a game", Visibility.PUBLIC, activity_tags=[PostActivityTag("A game", "chesss")]
    )
    sent = await sent_activities(store)
    assert any(
        activity["type"] == "Announce" and activity["object"] == tagged.uri for activity in sent
    ), [(a["type"], a.get("object")) for a in sent]
    merging = BadgeModeration(
        store,
        badges,
        NotificationService(store, utc_now),
        AuditLog(store, utc_now),
        utc_now,
        badge_actors=actors,
    )
    merge = await merging.merge(mod, "chesss", "chess")
    undos = [
        activity["object"]["object"]
        for activity in await sent_activities(store)
        if activity["type"] == "Undo" and activity["actor"] == actors.actor_uri(chesss)
    ]
    assert undos == [tagged.uri]
    assert await actors.outbox_total(chesss) == 0

    await merging.revert_merge(mod, merge.id)
    assert not [a for a in await sent_activities(store) if a["type"] == "Announce"]


def undone_announces(sent: list[dict[str, Any]]) -> list[str]:
    return [
        activity["object"]["object"]
        for activity in sent
        if activity["type"] == "Undo" and activity["object"]["type"] == "Announce"
    ]


async def test_suspending_a_member_withdraws_their_badge_announces_and_lifting_sends_none(
    store: Store, urls: Urls, client: FederationClient, mod: Account
) -> None:
    actors, post_service, badges = services(store, urls)
    chess = await badges.get_badge("chess", None)
    await follow_badge(store, actors, chess)
    alice = await chess_holder(store, badges, "alice")
    bob = await chess_holder(store, badges, "bob")
    games = [
        await post_service.create(alice, f"game {n}", Visibility.PUBLIC, activity_tags=[CHESS])
        for n in range(2)
    ]
    kept = await post_service.create(bob, "bob's game", Visibility.PUBLIC, activity_tags=[CHESS])
    assert sorted(announces(await sent_activities(store))) == sorted(
        [*(game.uri for game in games), kept.uri]
    )
    moderation = moderation_with(store, urls, client, post_service, badges, actors)

    await moderation.suspend_account(mod, "alice", "spam")
    # Those boosts now point at posts that answer 404: other servers are told to drop them.
    assert sorted(undone_announces(await sent_activities(store))) == sorted(g.uri for g in games)
    assert await actors.outbox_total(chess) == 1  # bob's announce stays

    # Lifting does not announce old posts again (no flood of boosts); later ones are, as usual.
    await moderation.unsuspend_account(mod, "alice")
    assert await sent_activities(store) == []
    later = await post_service.create(alice, "back", Visibility.PUBLIC, activity_tags=[CHESS])
    assert announces(await sent_activities(store)) == [later.uri]


async def test_removing_a_reported_post_withdraws_its_badge_announce(
    store: Store, urls: Urls, client: FederationClient, mod: Account
) -> None:
    actors, post_service, badges = services(store, urls)
    chess = await badges.get_badge("chess", None)
    await follow_badge(store, actors, chess)
    alice = await chess_holder(store, badges, "alice")
    reporter = await make_member(store, "reporter")
    game = await post_service.create(alice, "game", Visibility.PUBLIC, activity_tags=[CHESS])
    assert announces(await sent_activities(store)) == [game.uri]
    moderation = moderation_with(store, urls, client, post_service, badges, actors)
    report = await moderation.report(reporter, "post", game.uri, "not chess at all")

    await moderation.resolve_report(mod, report.id, action="resolve", remove=True)
    sent = await sent_activities(store)
    assert undone_announces(sent) == [game.uri]
    assert any(activity["type"] == "Delete" for activity in sent)
    assert await actors.outbox_total(chess) == 0


def moderation_with(
    store: Store,
    urls: Urls,
    client: FederationClient,
    posts: PostService,
    badges: BadgeService,
    badge_actors: BadgeActorService,
) -> ModerationService:
    return moderation_service(store, urls, client, posts, badges, badge_actors=badge_actors)


async def test_lifting_a_silence_lists_the_accounts_posts_again(
    store: Store, moderation: ModerationService, mod: Account
) -> None:
    dave = remote_actor("dave")
    await store.upsert_remote_actor(dave)
    earlier = post(dave.uri, published=utc_now())
    await store.insert_post(earlier)
    await moderation.restrict_remote(mod, dave.uri, "silenced")
    later = post(dave.uri, published=utc_now())
    await store.insert_post(later)  # arrives while silenced
    assert await store.public_timeline(before=None, limit=10) == []
    await moderation.lift_remote(mod, dave.uri)
    listed = await store.public_timeline(before=None, limit=10)
    assert {item.uri for item in listed} == {earlier.uri, later.uri}


async def test_flags_are_bounded_local_only_and_refused_from_blocked_servers(
    store: Store, urls: Urls, moderation: ModerationService, posts: PostService, alice: Account
) -> None:
    sender = remote_actor("remote.example", uri="https://remote.example/actor")
    many = [await posts.create(alice, f"post {n}", Visibility.PUBLIC) for n in range(8)]
    flag = {
        "id": "https://remote.example/flags/1",
        "type": "Flag",
        "actor": sender.uri,
        "content": "x" * (MAX_COMMENT * 5),
        "object": [urls.actor("alice"), *(item.uri for item in many)],
    }
    assert await moderation.receive_flag(flag, sender) == MAX_FLAG_TARGETS
    reports = await store.list_reports(None, before=None, limit=50)
    assert {len(report.comment) for report in reports} == {MAX_COMMENT}  # capped
    assert {report.target_kind for report in reports} == {ReportTarget.POST}

    disguised = flag | {
        "id": "https://remote.example/flags/4",
        "object": [many[0].uri],
        "content": "harass\u202ement\x00 of\nme",
    }
    assert await moderation.receive_flag(disguised, sender) == 1
    newest = (await store.list_reports(None, before=None, limit=1))[0]
    assert newest.comment == "harassment of\nme"

    elsewhere = flag | {
        "id": "https://remote.example/flags/2",
        "object": ["https://remote.example/users/x", "https://other.example/notes/1"],
    }
    assert await moderation.receive_flag(elsewhere, sender) == 0

    await store.put_domain_block(DomainBlock("remote.example", "", None, utc_now()))
    queued_before_the_block = flag | {"id": "https://remote.example/flags/3"}
    assert await moderation.receive_flag(queued_before_the_block, sender) == 0
    assert len(await store.list_reports(None, before=None, limit=50)) == MAX_FLAG_TARGETS + 1


# What members and other servers do, and what only reads: no audit entry expected.
NOT_MODERATOR_ACTIONS = {
    ModerationService: {
        "report",
        "receive_flag",
        "reports",
        "badge_reports",
        "get_report",
        "reported_post",
        "remote_restrictions",
        "domain_blocks",
        "audit_log",
        "inbound_refusal",
    },
    BadgeModeration: {
        "authorised_badge",
        "alias_target",
        "merges",
        "stewards",
        "is_steward",
    },
    # Moderators' and admins' actions outside the moderation services are audited too.
    BadgeService: {
        "get_badge",
        "create_badge",
        "catalogue",
        "search",
        "member_badges",
        "add_badges",
        "remove_badges",
        "reorder",
        "set_featured",
        "holders",
        "count_holders",
        "pending_badges",
        "activity_tags",
    },
    BadgeDirectoryService: {
        "directory_total",
        "directory_page",
        "peers",
        "met_instances",
        "ensure_config_peers",  # the operator's configuration file, not a person's action
        "is_approved_peer",
        "refresh_once",
        "also_on",
        "on_announce",
        "on_undo_announce",
    },
    OpenToService: {"catalogue", "reason", "lines", "open_reasons", "set_answers"},
}


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }


async def test_every_moderator_action_writes_an_audit_entry(
    store: Store,
    urls: Urls,
    client: FederationClient,
    badges: BadgeService,
    profiles: ProfileService,
    moderation: ModerationService,
    badge_moderation: BadgeModeration,
    mod: Account,
    alice: Account,
) -> None:
    admin = await make_member(store, "ada", Role.ADMIN)
    dave = remote_actor("dave")
    await store.upsert_remote_actor(dave)
    peers = directory_service(store, urls, client)
    open_to = OpenToService(store, utc_now, profiles.announce_update, audit=moderation.audit)
    for slug in ("pyhton", "snek", "spam", "junk"):
        await badges.create_badge(
            alice, slug=slug, display_name=slug.title(), color="#123456", icon="🐍"
        )
    report = await moderation.report(alice, "badge", "chess", "off topic")
    merged: list[str] = []

    async def merge() -> None:
        merged.append((await badge_moderation.merge(mod, "pyhton", "python")).id)

    m, b, s = moderation, badge_moderation, badges
    # In order: each later step may rely on an earlier one (approve before merge, ...).
    actions: dict[tuple[type, str], Callable[[], Awaitable[Any]]] = {
        (ModerationService, "resolve_report"): lambda: m.resolve_report(
            mod, report.id, action="dismiss"
        ),
        (ModerationService, "suspend_account"): lambda: m.suspend_account(mod, "alice"),
        (ModerationService, "unsuspend_account"): lambda: m.unsuspend_account(mod, "alice"),
        (ModerationService, "restrict_remote"): lambda: m.restrict_remote(
            mod, dave.uri, "silenced"
        ),
        (ModerationService, "lift_remote"): lambda: m.lift_remote(mod, dave.uri),
        (ModerationService, "block_domain"): lambda: m.block_domain(admin, "spam.example"),
        (ModerationService, "unblock_domain"): lambda: m.unblock_domain(admin, "spam.example"),
        (BadgeModeration, "approve"): lambda: b.approve(mod, "pyhton"),
        (BadgeModeration, "reject"): lambda: b.reject(mod, "spam", "not a passion"),
        (BadgeModeration, "rename"): lambda: b.rename(mod, "chess", "Chess and Go"),
        (BadgeModeration, "merge"): merge,
        (BadgeModeration, "revert_merge"): lambda: b.revert_merge(mod, merged[0]),
        (BadgeModeration, "appoint_steward"): lambda: b.appoint_steward(mod, "chess", "alice"),
        (BadgeModeration, "dismiss_steward"): lambda: b.dismiss_steward(mod, "chess", "alice"),
        (BadgeService, "approve"): lambda: s.approve(mod, "snek"),
        (BadgeService, "reject"): lambda: s.reject(mod, "junk", "spam"),
        (BadgeService, "add_activity_tag"): lambda: s.add_activity_tag(mod, "Won a game", "chess"),
        (BadgeDirectoryService, "save_peer"): lambda: peers.save_peer(
            admin, "peer.example", approved=True
        ),
        (BadgeDirectoryService, "remove_peer"): lambda: peers.remove_peer(admin, "peer.example"),
        (OpenToService, "add_reason"): lambda: open_to.add_reason(
            admin, "woodturning", "Woodturning"
        ),
        (OpenToService, "rename_reason"): lambda: open_to.rename_reason(
            admin, "woodturning", "Woodturning lessons"
        ),
        (OpenToService, "remove_reason"): lambda: open_to.remove_reason(admin, "woodturning"),
    }
    for cls, reads in NOT_MODERATOR_ACTIONS.items():
        covered = {name for owner, name in actions if owner is cls}
        assert public_methods(cls) == covered | reads, f"classify every {cls.__name__} method"

    async def audit_ids() -> set[str]:
        return {entry.id for entry in await store.list_audit_entries(before=None, limit=500)}

    # Compared as sets: entries written within one millisecond tie on their time (MongoDB
    # keeps milliseconds), so "the newest entry" is not a reliable way to find the new one.
    for (cls, name), act in actions.items():
        before = await audit_ids()
        await act()
        added = [
            entry
            for entry in await store.list_audit_entries(before=None, limit=500)
            if entry.id not in before
        ]
        assert added, f"{cls.__name__}.{name} left no audit entry"
        assert all(entry.moderator_id in (mod.id, admin.id) for entry in added), name
        assert all(entry.action and entry.target for entry in added), name

    # Who, what and on what, for the actions outside the moderation services.
    entries = await store.list_audit_entries(before=None, limit=500)
    outside = [
        (e.moderator_id, e.action, e.target, e.reason)
        for e in entries
        if e.action.startswith(("badge_peer.", "open_to."))
    ]
    assert sorted(outside) == sorted(
        [
            (admin.id, "badge_peer.approve", "peer:peer.example", ""),
            (admin.id, "badge_peer.remove", "peer:peer.example", ""),
            (admin.id, "open_to.add", "open_to:woodturning", "Woodturning"),
            (admin.id, "open_to.rename", "open_to:woodturning", "Woodturning lessons"),
            (admin.id, "open_to.remove", "open_to:woodturning", ""),
        ]
    )


async def test_a_boost_of_a_blocked_servers_post_is_never_fetched(
    store: Store, urls: Urls, client: FederationClient, posts: PostService, alice: Account
) -> None:
    signer = make_signer("k", "unused", utc_now)
    actors = RemoteActors(store, client, urls, signer, utc_now)
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    follows = FollowService(store, actors, deliverer, urls, utc_now)
    inbox = InboxService(store, actors, follows, posts, client, signer, urls, utc_now)
    booster = remote_actor("booster")
    await store.upsert_remote_actor(booster)
    await store.upsert_follow(
        Follow(
            new_id(),
            urls.actor("alice"),
            booster.uri,
            f"{urls.actor('alice')}#follows/1",
            FollowState.ACCEPTED,
            utc_now(),
        ),
        alice.id,
    )
    await store.put_domain_block(DomainBlock("blocked.invalid", "", None, utc_now()))
    boosted = "https://social.blocked.invalid/users/x/statuses/1"
    boost = {
        "id": f"{booster.uri}/statuses/9/activity",
        "type": "Announce",
        "actor": booster.uri,
        "object": boosted,
    }
    await inbox.handle(boost, booster.uri)  # a fetch would fail: the host does not resolve
    assert await store.get_post_by_uri(boosted) is None
    assert await store.home_timeline(alice.id, before=None, limit=10) == []
