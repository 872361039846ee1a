"""Moderation storage, run against every adapter: reports (and deduplicated Flags), domain
blocks and their purge, remote restrictions, suspensions, the audit log, notifications,
badge renames, merges' bookkeeping and stewards."""

from __future__ import annotations

import dataclasses

from fedipoly.models import (
    BadgeStatus,
    Follow,
    FollowState,
    PostActivityTag,
    new_id,
    utc_now,
)
from fedipoly.moderation_models import (
    AuditEntry,
    BadgeMerge,
    DomainBlock,
    Notification,
    RemoteRestriction,
    Report,
    ReportState,
    ReportTarget,
    RestrictionLevel,
    Steward,
)
from fedipoly.store import Store
from tests.contract.test_federation_store import ALICE, post, remote_actor, seconds
from tests.contract.test_profiles_badges import badge, member


def report(n: int = 0, *, flag_id: str | None = None, **changes: object) -> Report:
    created = utc_now() + seconds(n)
    base = Report(
        id=new_id(created),
        target_kind=ReportTarget.POST,
        target=f"https://local.test/users/alice/statuses/{n}",
        target_actor="https://local.test/users/alice",
        comment=f"report {n}",
        state=ReportState.OPEN,
        created_at=created,
        reporter_account_id="account-bob",
        flag_id=flag_id,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def test_reports_list_newest_first_by_state_and_close_only_once(store: Store) -> None:
    first, second, third = report(0), report(1), report(2)
    for item in (first, second, third):
        assert await store.create_report(item)
    assert [r.id for r in await store.list_reports(None, before=None, limit=10)] == [
        third.id,
        second.id,
        first.id,
    ]
    page = await store.list_reports(None, before=None, limit=2)
    rest = await store.list_reports(None, before=(page[-1].created_at, page[-1].id), limit=2)
    assert [r.id for r in rest] == [first.id]

    closed = await store.close_report(
        second.id, ReportState.RESOLVED, by="mod", resolution="gone", forwarded=True, now=utc_now()
    )
    assert closed is not None and closed.state is ReportState.RESOLVED
    assert closed.resolved_by == "mod" and closed.forwarded and closed.resolution == "gone"
    again = await store.close_report(
        second.id, ReportState.DISMISSED, by="other", resolution="", forwarded=False, now=utc_now()
    )
    assert again is None  # two moderators cannot both decide
    assert (await store.get_report(second.id)) == closed
    open_ids = [r.id for r in await store.list_reports(ReportState.OPEN, before=None, limit=10)]
    assert open_ids == [third.id, first.id]


async def test_reports_about_one_target_are_listed_apart(store: Store) -> None:
    chess = [report(n, target_kind=ReportTarget.BADGE, target="chess") for n in range(3)]
    other = report(5, target_kind=ReportTarget.BADGE, target="python")
    post_report = report(6, target="chess")  # a post whose URI happens to read "chess"
    for item in (*chess, other, post_report):
        await store.create_report(item)
    await store.close_report(
        chess[0].id, ReportState.DISMISSED, by="m", resolution="", forwarded=False, now=utc_now()
    )
    about = await store.list_reports_about(ReportTarget.BADGE, "chess", None, before=None, limit=10)
    assert [r.id for r in about] == [chess[2].id, chess[1].id, chess[0].id]
    still_open = await store.list_reports_about(
        ReportTarget.BADGE, "chess", ReportState.OPEN, before=None, limit=1
    )
    assert [r.id for r in still_open] == [chess[2].id]
    older = await store.list_reports_about(
        ReportTarget.BADGE,
        "chess",
        ReportState.OPEN,
        before=(still_open[0].created_at, still_open[0].id),
        limit=5,
    )
    assert [r.id for r in older] == [chess[1].id]


async def test_a_redelivered_flag_is_stored_once_but_member_reports_never_collide(
    store: Store,
) -> None:
    assert await store.create_report(report(0, flag_id="https://remote.example/flags/1#0"))
    assert not await store.create_report(report(1, flag_id="https://remote.example/flags/1#0"))
    assert await store.create_report(report(2))
    assert await store.create_report(report(3))  # no flag id: any number of member reports
    assert len(await store.list_reports(None, before=None, limit=10)) == 3


async def test_domain_blocks_are_found_by_exact_domain_and_listed_by_name(store: Store) -> None:
    now = utc_now()
    assert await store.put_domain_block(DomainBlock("spam.example", "spam", "mod", now))
    assert not await store.put_domain_block(DomainBlock("spam.example", "again", "mod", now))
    assert await store.put_domain_block(DomainBlock("a.example", "", None, now))
    assert [b.domain for b in await store.list_domain_blocks()] == ["a.example", "spam.example"]
    found = await store.find_domain_blocks(["x.spam.example", "spam.example", "example"])
    assert [(b.domain, b.reason) for b in found] == [("spam.example", "spam")]
    assert await store.delete_domain_block("spam.example")
    assert not await store.delete_domain_block("spam.example")
    assert await store.find_domain_blocks(["spam.example"]) == []


async def test_purging_a_domain_forgets_its_actors_posts_and_follows_only(store: Store) -> None:
    spam, friend = remote_actor("spammer", "spam.example"), remote_actor("friend")
    for actor in (spam, friend):
        await store.upsert_remote_actor(actor)
    now = utc_now()
    spam_post = post(spam.uri, published=now)
    friend_post = post(friend.uri, published=now)
    for item in (spam_post, friend_post):
        assert await store.insert_post(item)
    await store.add_to_timelines(spam_post, ["account-alice"])
    for follower, followed in ((ALICE, spam.uri), (spam.uri, ALICE), (ALICE, friend.uri)):
        await store.upsert_follow(
            Follow(new_id(now), follower, followed, f"{follower}#f", FollowState.ACCEPTED, now),
            None,
        )
    assert await store.purge_domain("spam.example") == 1
    assert await store.get_remote_actor(spam.uri) is None
    assert await store.get_post_by_uri(spam_post.uri) is None
    assert await store.get_follow(ALICE, spam.uri) is None
    assert await store.get_follow(spam.uri, ALICE) is None
    assert await store.home_timeline("account-alice", before=None, limit=10) == []
    assert await store.get_remote_actor(friend.uri) is not None
    assert await store.get_post_by_uri(friend_post.uri) is not None
    assert await store.get_follow(ALICE, friend.uri) is not None


async def test_remote_restrictions_replace(store: Store) -> None:
    actor = remote_actor("loud")
    await store.upsert_remote_actor(actor)
    loud = post(actor.uri, published=utc_now())
    await store.insert_post(loud)
    await store.replace_badge_entries(loud, ["badge-1"])
    now = utc_now()
    await store.put_remote_restriction(
        RemoteRestriction(actor.uri, RestrictionLevel.SILENCED, "noisy", "mod", now)
    )
    await store.put_remote_restriction(
        RemoteRestriction(actor.uri, RestrictionLevel.SUSPENDED, "worse", "mod", now)
    )
    stored = await store.get_remote_restriction(actor.uri)
    assert stored is not None and stored.level is RestrictionLevel.SUSPENDED
    assert [r.reason for r in await store.list_remote_restrictions()] == ["worse"]
    assert await store.delete_remote_restriction(actor.uri)
    assert await store.get_remote_restriction(actor.uri) is None


async def test_suspending_an_account_is_reversible(store: Store) -> None:
    alice = await member(store, "alice")
    suspended = await store.set_account_suspended(alice.id, True)
    assert suspended is not None and suspended.suspended
    assert (await store.get_account(alice.id)).suspended  # type: ignore[union-attr]
    lifted = await store.set_account_suspended(alice.id, False)
    assert lifted is not None and not lifted.suspended
    assert await store.set_account_suspended("nobody", True) is None


async def test_the_audit_log_and_notifications_read_newest_first(store: Store) -> None:
    now = utc_now()
    entries = [
        AuditEntry(new_id(now + seconds(n)), "mod", f"act.{n}", "t", "", now + seconds(n))
        for n in range(3)
    ]
    for entry in entries:
        await store.add_audit_entry(entry)
    assert await store.list_audit_entries(before=None, limit=10) == entries[::-1]
    older = await store.list_audit_entries(before=(entries[1].created_at, entries[1].id), limit=5)
    assert older == [entries[0]]

    notes = [
        Notification(new_id(now + seconds(n)), "alice", "k", f"m{n}", None, now + seconds(n))
        for n in range(2)
    ]
    for note in notes:
        await store.add_notification(note)
    await store.add_notification(Notification(new_id(now), "bob", "k", "other", "/x", now))
    assert [n.message for n in await store.list_notifications("alice", before=None, limit=5)] == [
        "m1",
        "m0",
    ]
    assert await store.count_unread_notifications("alice") == 2
    assert await store.mark_notifications_read("alice", now) == 2
    assert await store.count_unread_notifications("alice") == 0
    assert await store.count_unread_notifications("bob") == 1
    read = await store.list_notifications("alice", before=None, limit=5)
    assert all(n.read_at == now for n in read)


async def test_renaming_a_badge_changes_its_name_and_search_terms(store: Store) -> None:
    created = await store.create_badge(badge("pyhton", "Pyhton"))
    renamed = await store.rename_badge(created.id, "Snake Charming")
    assert renamed is not None and renamed.display_name == "Snake Charming"
    assert renamed.slug == "pyhton"
    found = await store.list_badges(BadgeStatus.APPROVED, prefix="snake", limit=10)
    assert [b.slug for b in found] == ["pyhton"]
    assert await store.rename_badge("nope", "x") is None


async def test_local_posts_tagged_finds_local_not_deleted_posts_by_id(store: Store) -> None:
    now = utc_now()
    tagged = [
        dataclasses.replace(
            post(ALICE, published=now + seconds(n), local_account_id="account-alice"),
            activity_tags=(PostActivityTag("Wrote some code", "pyhton"),),
            badges=("pyhton",),
        )
        for n in range(3)
    ]
    remote = dataclasses.replace(
        post("https://remote.example/users/x", published=now), badges=("pyhton",)
    )
    other = post(ALICE, published=now, local_account_id="account-alice")
    for item in (*tagged, remote, other):
        await store.insert_post(item)
    await store.mark_post_deleted(tagged[1].uri, now)
    first = await store.local_posts_tagged("pyhton", after_id=None, limit=1)
    rest = await store.local_posts_tagged("pyhton", after_id=first[0].id, limit=10)
    assert [p.id for p in first + rest] == sorted([tagged[0].id, tagged[2].id])


async def test_activity_tags_can_be_repointed_and_pointed_back(store: Store) -> None:
    source = await store.create_badge(badge("pyhton"))
    target = await store.get_badge_by_slug("python")
    assert target is not None
    await store.add_activity_tag("Charmed a snake", source.id, now=utc_now())
    moved = await store.repoint_activity_tags(source.id, target.id)
    assert moved == ["charmed a snake"]
    catalogue = {t.phrase: t.badge.slug for t in await store.list_activity_tag_catalogue()}
    assert catalogue["Charmed a snake"] == "python"
    back = await store.repoint_activity_tags(target.id, source.id, moved)
    assert back == moved
    catalogue = {t.phrase: t.badge.slug for t in await store.list_activity_tag_catalogue()}
    assert catalogue["Charmed a snake"] == "pyhton"
    assert catalogue["Wrote some code"] != "pyhton"  # python's own tags stayed put


async def test_a_merge_is_active_until_reverted_once(store: Store) -> None:
    now = utc_now()
    merge = BadgeMerge(new_id(now), "s-id", "pyhton", "t-id", "python", "{}", "mod", now)
    await store.create_badge_merge(merge)
    assert await store.active_badge_merge("pyhton") == merge
    assert await store.get_badge_merge(merge.id) == merge
    assert await store.list_badge_merges(limit=5) == [merge]
    assert await store.mark_badge_merge_reverted(merge.id, now)
    assert not await store.mark_badge_merge_reverted(merge.id, now)
    assert await store.active_badge_merge("pyhton") is None
    reverted = await store.get_badge_merge(merge.id)
    assert reverted is not None and reverted.reverted_at == now


async def test_stewards_are_per_badge(store: Store) -> None:
    now = utc_now()
    assert await store.add_steward(Steward("b1", "alice", "mod", now))
    assert not await store.add_steward(Steward("b1", "alice", "mod", now))
    assert await store.add_steward(Steward("b1", "bob", None, now + seconds(1)))
    assert [s.account_id for s in await store.list_stewards("b1")] == ["alice", "bob"]
    assert await store.is_steward("b1", "alice")
    assert not await store.is_steward("b2", "alice")
    assert await store.remove_steward("b1", "alice")
    assert not await store.remove_steward("b1", "alice")
    assert not await store.is_steward("b1", "alice")
