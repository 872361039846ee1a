"""ModerationService and BadgeModeration over a real store (both backends): roles, reports and
Flags, forwarding, suspensions, remote restrictions, domain matching and blocks, stewards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federation.client import FederationClient
from fedipoly.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fedipoly.models import Account, Role, Visibility, utc_now
from fedipoly.moderation_models import ReportTarget, RestrictionLevel
from fedipoly.services.actors import RemoteActors
from fedipoly.services.badge_moderation import BadgeModeration
from fedipoly.services.badges import BadgeService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.keys import make_signer
from fedipoly.services.media import MediaService
from fedipoly.services.moderation import ModerationService
from fedipoly.services.moderation_policy import (
    blocked_domain,
    blocked_hosts,
    clean_domain,
    domain_candidates,
)
from fedipoly.services.notifications import NotificationService
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import post, remote_actor
from tests.fedipoly.services.conftest import (
    add_remote_follower,
    make_member,
    moderation_service,
    sent_activities,
)

MASTODON_FLAG_ID = "https://remote.example/0b6e1c1e-4cfb-4b7a-9e4e-5d3a7f1f1a1a"


@pytest.fixture
def posts(store: Store, urls: Urls, client: FederationClient, tmp_path: Path) -> PostService:
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    actors = RemoteActors(store, client, urls, make_signer("k", "unused", utc_now), utc_now)
    media = MediaService(tmp_path / "media", max_upload_bytes=1024)
    return PostService(store, deliverer, urls, utc_now, actors=actors, media=media)


@pytest.fixture
def moderation(
    store: Store, urls: Urls, client: FederationClient, posts: PostService, badges: BadgeService
) -> ModerationService:
    return moderation_service(store, urls, client, posts, badges)


@pytest.fixture
def badge_moderation(
    store: Store, badges: BadgeService, moderation: ModerationService, profiles: ProfileService
) -> BadgeModeration:
    return BadgeModeration(
        store,
        badges,
        NotificationService(store, utc_now),
        moderation.audit,
        utc_now,
        profiles=profiles,
    )


@pytest.fixture
async def mod(store: Store) -> Account:
    return await make_member(store, "mod", Role.MODERATOR)


@pytest.fixture
async def alice(store: Store) -> Account:
    return await make_member(store, "alice")


# --- domains -------------------------------------------------------------------------------


def test_a_domain_block_covers_the_host_and_its_subdomains_but_a_port_only_itself() -> None:
    assert domain_candidates("a.b.Example.com") == [
        "a.b.example.com",
        "b.example.com",
        "example.com",
    ]
    assert domain_candidates("social.example:8443") == [
        "social.example:8443",
        "social.example",
    ]
    assert domain_candidates("127.0.0.1:8001") == ["127.0.0.1:8001", "127.0.0.1"]
    assert clean_domain(" https://Spam.Example/users/x ") == "spam.example"
    assert clean_domain("@someone@spam.example") == "spam.example"
    for bad in ("", "not a domain", "exa mple.com", "-x.example", 42):
        with pytest.raises(ValidationFailed):
            clean_domain(bad)  # type: ignore[arg-type]


async def test_blocking_needs_an_admin_and_matches_subdomains(
    store: Store, moderation: ModerationService, mod: Account
) -> None:
    with pytest.raises(Forbidden):
        await moderation.block_domain(mod, "spam.example")
    admin = await make_member(store, "ada", Role.ADMIN)
    covered = [remote_actor("a", "eu.spam.example"), remote_actor("b", "spam.example:8443")]
    spared = remote_actor("c", "notspam.example")
    for actor in (*covered, spared):
        await store.upsert_remote_actor(actor)
    await moderation.block_domain(admin, "spam.example", "spam")
    assert [await store.get_remote_actor(actor.uri) for actor in covered] == [None, None]
    assert await store.get_remote_actor(spared.uri) is not None
    with pytest.raises(Conflict):
        await moderation.block_domain(admin, "SPAM.example")
    with pytest.raises(ValidationFailed):
        await moderation.block_domain(admin, "fedipoly.test")  # ourselves
    assert await blocked_domain(store, "https://eu.spam.example/inbox") is not None
    assert await blocked_domain(store, "https://notspam.example/inbox") is None
    inboxes = ["https://eu.spam.example/inbox", "https://ok.example/a", "http://spam.example:81/b"]
    assert await blocked_hosts(store, inboxes) == {"eu.spam.example", "spam.example:81"}
    assert await moderation.inbound_refusal("https://eu.spam.example/users/x") is not None
    assert await moderation.inbound_refusal("https://fine.example/users/x") is None
    await moderation.unblock_domain(admin, "spam.example")
    assert await moderation.inbound_refusal("https://eu.spam.example/users/x") is None
    actions = [e.action for e in await store.list_audit_entries(before=None, limit=5)]
    assert actions == ["domain.unblock", "domain.block"]


# --- reports -------------------------------------------------------------------------------


async def test_members_report_what_they_can_see_and_never_themselves(
    store: Store, urls: Urls, moderation: ModerationService, posts: PostService, alice: Account
) -> None:
    bob = await make_member(store, "bob")
    public = await posts.create(bob, "hello", Visibility.PUBLIC)
    private = await posts.create(bob, "secret", Visibility.DIRECT)
    report = await moderation.report(alice, "post", public.id, " rude ")
    assert (report.target_kind, report.target, report.target_actor, report.comment) == (
        ReportTarget.POST,
        public.uri,
        urls.actor("bob"),
        "rude",
    )
    with pytest.raises(NotFound):
        await moderation.report(alice, "post", private.id)  # never reveals it exists
    with pytest.raises(ValidationFailed):
        await moderation.report(bob, "account", "bob")
    with pytest.raises(ValidationFailed):
        await moderation.report(alice, "user", "bob")
    with pytest.raises(NotFound):
        await moderation.report(alice, "badge", "no_such_badge")
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    remote = await moderation.report(alice, "account", "@carol@remote.example")
    assert remote.target == remote.target_actor == carol.uri
    assert len(await store.list_reports(None, before=None, limit=10)) == 2


async def test_a_mastodon_flag_becomes_one_report_per_local_post(
    store: Store, urls: Urls, moderation: ModerationService, posts: PostService, alice: Account
) -> None:
    first = await posts.create(alice, "one", Visibility.PUBLIC)
    second = await posts.create(alice, "two", Visibility.PUBLIC)
    sender = remote_actor("remote.example", uri="https://remote.example/actor")
    # The shape Mastodon's FlagSerializer sends: instance actor, account + statuses in object.
    flag = {
        "id": MASTODON_FLAG_ID,
        "type": "Flag",
        "actor": sender.uri,
        "content": "Spam",
        "object": [urls.actor("alice"), first.uri, second.uri, "https://elsewhere.example/x"],
    }
    assert await moderation.receive_flag(flag, sender) == 2
    assert await moderation.receive_flag(flag, sender) == 0  # a redelivery adds nothing
    reports = await store.list_reports(None, before=None, limit=10)
    assert sorted(r.target for r in reports) == sorted([first.uri, second.uri])
    assert {(r.reporter_actor, r.comment, r.reporter_account_id) for r in reports} == {
        (sender.uri, "Spam", None)
    }
    only_account = flag | {"id": f"{MASTODON_FLAG_ID}-2", "object": urls.actor("alice")}
    assert await moderation.receive_flag(only_account, sender) == 1
    newest = (await store.list_reports(None, before=None, limit=1))[0]
    assert newest.target_kind is ReportTarget.ACCOUNT


async def test_forwarding_sends_an_anonymous_flag_to_the_remote_account(
    store: Store, moderation: ModerationService, mod: Account, alice: Account
) -> None:
    carol = remote_actor("carol", shared_inbox="https://remote.example/inbox")
    await store.upsert_remote_actor(carol)
    remote_post = post(carol.uri, published=utc_now())
    await store.insert_post(remote_post)
    report = await moderation.report(alice, "post", remote_post.uri, "harassment")
    with pytest.raises(Forbidden):
        await moderation.resolve_report(alice, report.id, action="resolve", forward=True)
    with pytest.raises(ValidationFailed):
        await moderation.resolve_report(mod, report.id, action="delete")
    closed = await moderation.resolve_report(mod, report.id, action="resolve", forward=True)
    assert closed.forwarded
    [flag] = await sent_activities(store)
    assert flag["type"] == "Flag"
    assert flag["actor"] == "https://fedipoly.test/actor"
    assert flag["object"] == [carol.uri, remote_post.uri]
    assert flag["content"] == "harassment"
    assert "alice" not in json.dumps(flag)
    deliveries = await store.list_deliveries(flag["id"])
    assert [d.inbox_url for d in deliveries] == [carol.inbox]  # the account's own inbox
    with pytest.raises(Conflict):
        await moderation.resolve_report(mod, report.id, action="dismiss")
    local = await moderation.report(alice, "account", "mod")
    with pytest.raises(ValidationFailed):  # nothing to forward about our own members
        await moderation.resolve_report(mod, local.id, action="resolve", forward=True)


# --- accounts ------------------------------------------------------------------------------


async def test_moderators_suspend_members_but_not_admins_or_themselves(
    store: Store, moderation: ModerationService, mod: Account, alice: Account
) -> None:
    with pytest.raises(Forbidden):
        await moderation.suspend_account(alice, "mod")
    suspended = await moderation.suspend_account(mod, "alice", "spam")
    assert suspended.suspended and (await store.get_account(alice.id)).suspended  # type: ignore[union-attr]
    admin = await make_member(store, "ada", Role.ADMIN)
    with pytest.raises(Forbidden):
        await moderation.suspend_account(mod, "ada")
    with pytest.raises(ValidationFailed):
        await moderation.suspend_account(admin, "ada")
    with pytest.raises(NotFound):
        await moderation.suspend_account(mod, "nobody")
    restored = await moderation.unsuspend_account(mod, "alice")
    assert not restored.suspended


async def test_suspending_a_remote_account_purges_it_and_refuses_its_traffic(
    store: Store, urls: Urls, client: FederationClient, moderation: ModerationService, mod: Account
) -> None:
    carol, dave = remote_actor("carol"), remote_actor("dave")
    for actor in (carol, dave):
        await store.upsert_remote_actor(actor)
    carols, daves = post(carol.uri, published=utc_now()), post(dave.uri, published=utc_now())
    for item in (carols, daves):
        await store.insert_post(item)
    await moderation.restrict_remote(mod, "carol@remote.example", "suspended", "abuse")
    assert await store.get_remote_actor(carol.uri) is None
    assert await store.get_post_by_uri(carols.uri) is None
    assert await moderation.inbound_refusal(carol.uri) is not None
    actors = RemoteActors(store, client, urls, make_signer("k", "unused", utc_now), utc_now)
    with pytest.raises(ValidationFailed, match="suspended"):
        await actors.fetch(carol.uri)  # never fetched (and cached) again, e.g. through a boost

    await moderation.restrict_remote(mod, dave.uri, "silenced")
    assert await moderation.inbound_refusal(dave.uri) is None  # silenced, still heard
    later = post(dave.uri, published=utc_now())
    await store.insert_post(later)  # arriving after the silence: hidden too, at read time
    assert await store.public_timeline(before=None, limit=10) == []

    levels = {r.actor_uri: r.level for r in await moderation.remote_restrictions(mod)}
    assert levels == {carol.uri: RestrictionLevel.SUSPENDED, dave.uri: RestrictionLevel.SILENCED}
    await moderation.lift_remote(mod, carol.uri)
    assert await moderation.inbound_refusal(carol.uri) is None
    with pytest.raises(NotFound):
        await moderation.lift_remote(mod, carol.uri)
    with pytest.raises(ValidationFailed):
        await moderation.restrict_remote(mod, "https://fedipoly.test/users/mod", "silenced")
    with pytest.raises(NotFound):
        await moderation.restrict_remote(mod, "nobody@unknown.example", "silenced")


# --- badges --------------------------------------------------------------------------------


async def test_only_moderators_merge_appoint_and_see_the_queue_of_merges(
    store: Store, badge_moderation: BadgeModeration, mod: Account, alice: Account
) -> None:
    for attempt in (
        badge_moderation.merge(alice, "chess", "python"),
        badge_moderation.appoint_steward(alice, "chess", "alice"),
        badge_moderation.merges(alice),
        badge_moderation.rename(alice, "chess", "Chess"),
    ):
        with pytest.raises(Forbidden):
            await attempt
    view = await badge_moderation.appoint_steward(mod, "chess", "alice")
    assert view.account.id == alice.id
    with pytest.raises(Conflict):
        await badge_moderation.appoint_steward(mod, "chess", "alice")
    renamed = await badge_moderation.rename(alice, "chess", "  Chess   and Go ")
    assert renamed.display_name == "Chess and Go"
    with pytest.raises(Forbidden):
        await badge_moderation.rename(alice, "python", "Snakes")
    assert await badge_moderation.alias_target("chess") is None


async def test_a_merge_and_its_revert_tell_the_holders_followers_servers(
    store: Store, urls: Urls, badges: BadgeService, badge_moderation: BadgeModeration, mod: Account
) -> None:
    alice = await make_member(store, "alice")
    await add_remote_follower(store, urls, alice)
    await badges.create_badge(
        alice, slug="pyhton", display_name="Pyhton", color="#123456", icon="🐍"
    )
    await badges.approve(mod, "pyhton")
    await sent_activities(store)  # the approval's own Update
    merge = await badge_moderation.merge(mod, "pyhton", "python")
    [update] = await sent_activities(store)
    assert (update["type"], update["actor"]) == ("Update", urls.actor("alice"))
    assert "Python" in json.dumps(update["object"]) and "Pyhton" not in json.dumps(update["object"])
    await badge_moderation.revert_merge(mod, merge.id)
    [update] = await sent_activities(store)
    assert update["type"] == "Update" and "Pyhton" in json.dumps(update["object"])
