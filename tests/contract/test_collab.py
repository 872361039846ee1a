""" "Open to", collaboration requests, conversations, blocks and remote profiles, run against
every adapter."""

from __future__ import annotations

import dataclasses

import pytest

from fedipoly.collab_models import (
    CollabRequest,
    MemberBlock,
    OpenToEntry,
    OpenToReason,
    RemoteProfile,
    RequestState,
)
from fedipoly.errors import Conflict
from fedipoly.models import MemberBadgeEntry, Profile, Visibility, new_id, utc_now
from fedipoly.store import Store
from fedipoly.store.open_to_seed import DEFAULT_OPEN_TO_REASONS
from tests.contract.test_federation_store import ALICE, ALICE_ID, BOB, BOB_ID, post, seconds
from tests.contract.test_profiles_badges import member

REMOTE = "https://remote.example/users/rita"
OTHER_REMOTE = "https://remote.example/users/ron"


def request(sender: str = ALICE, recipient: str = BOB, **changes: object) -> CollabRequest:
    now = utc_now()
    request_id = new_id(now)
    base = CollabRequest(
        id=request_id,
        uri=f"{sender}/statuses/{request_id}",
        sender=sender,
        recipient=recipient,
        sender_account_id=ALICE_ID if sender == ALICE else None,
        recipient_account_id=BOB_ID if recipient == BOB else None,
        reason_slug="mentoring",
        reason_label="Mentoring",
        message="Could you mentor me?",
        state=RequestState.PENDING,
        created_at=now,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def remote_profile(uri: str = REMOTE, **changes: object) -> RemoteProfile:
    base = RemoteProfile(
        actor_uri=uri,
        is_fedipoly=True,
        discoverable=True,
        headline="Teacher",
        badges=("python", "chess"),
        open_to=(OpenToEntry("mentoring", True), OpenToEntry("hiring", False)),
        refreshed_at=utc_now(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def test_the_catalogue_is_seeded_once_and_admins_can_change_it(store: Store) -> None:
    reasons = await store.list_open_to_reasons()
    assert [(reason.slug, reason.label) for reason in reasons] == list(DEFAULT_OPEN_TO_REASONS)

    added = OpenToReason("workshops", "Workshops", 99, utc_now())
    assert await store.create_open_to_reason(added) == added
    with pytest.raises(Conflict):
        await store.create_open_to_reason(added)
    renamed = await store.rename_open_to_reason("workshops", "Running workshops")
    assert renamed is not None and renamed.label == "Running workshops"
    assert await store.rename_open_to_reason("nothing", "x") is None

    await store.set_member_open_to(ALICE_ID, [OpenToEntry("workshops", True)])
    assert await store.delete_open_to_reason("workshops")
    assert not await store.delete_open_to_reason("workshops")
    assert await store.member_open_to(ALICE_ID) == []  # the answers went with it

    await store.delete_open_to_reason("mentoring")
    await store.open()  # reopening does not bring a removed seeded reason back
    assert await store.get_open_to_reason("mentoring") is None


async def test_members_answers_replace_each_other_and_lapse(store: Store) -> None:
    now = utc_now()
    await store.set_member_open_to(
        ALICE_ID,
        [OpenToEntry("mentoring", True, now + seconds(60)), OpenToEntry("hiring", False)],
    )
    await store.set_member_open_to(BOB_ID, [OpenToEntry("mentoring", True)])
    assert await store.member_open_to(ALICE_ID) == [
        OpenToEntry("hiring", False),
        OpenToEntry("mentoring", True, now + seconds(60)),
    ]
    assert await store.members_open_to("mentoring", now=now, after=None, limit=10) == sorted(
        [ALICE_ID, BOB_ID]
    )
    assert await store.members_open_to("hiring", now=now, after=None, limit=10) == []
    # Past the end date the yes no longer matches.
    later = now + seconds(61)
    assert await store.members_open_to("mentoring", now=later, after=None, limit=10) == [BOB_ID]
    # Keyset pages.
    first = await store.members_open_to("mentoring", now=now, after=None, limit=1)
    rest = await store.members_open_to("mentoring", now=now, after=first[0], limit=10)
    assert first + rest == sorted([ALICE_ID, BOB_ID])

    await store.set_member_open_to(ALICE_ID, [OpenToEntry("speaking", True)])
    assert await store.member_open_to(ALICE_ID) == [OpenToEntry("speaking", True)]


async def test_the_space_station_lists_only_discoverable_active_members_with_the_badge(
    store: Store,
) -> None:
    now = utc_now()
    members = [await member(store, name) for name in ("ann", "ben", "cat", "dan", "eve")]
    ann, ben, cat, dan, eve = members
    for each in members:
        await store.set_member_open_to(each.id, [OpenToEntry("mentoring", True)])
    await store.set_member_open_to(eve.id, [OpenToEntry("mentoring", False)])
    await store.save_profile(Profile(account_id=ben.id, discoverable=False))
    await store.set_account_suspended(cat.id, True)
    python = await store.get_badge_by_slug("python")
    assert python is not None
    for holder in (ben, dan):
        await store.set_member_badges(holder.id, [MemberBadgeEntry(python.id)], now=now)

    async def listed(**filters: object) -> list[str]:
        return await store.listed_members_open_to(
            "mentoring",
            now=now,
            after=None,
            limit=10,
            **filters,  # type: ignore[arg-type]
        )

    assert await listed() == sorted([ann.id, dan.id])
    assert await listed(badge_id=python.id) == [dan.id]
    assert await store.listed_members_open_to(
        "mentoring", now=now, after=min(ann.id, dan.id), limit=10
    ) == [max(ann.id, dan.id)]
    first = await store.listed_members_open_to("mentoring", now=now, after=None, limit=1)
    assert first == [min(ann.id, dan.id)]
    # Lapsed answers and other reasons do not match.
    assert await store.listed_members_open_to("hiring", now=now, after=None, limit=10) == []
    await store.set_member_open_to(ann.id, [OpenToEntry("mentoring", True, now + seconds(1))])
    later = now + seconds(2)
    assert await store.listed_members_open_to("mentoring", now=later, after=None, limit=10) == [
        dan.id
    ]


async def test_remote_profiles_match_only_when_listed_and_open(store: Store) -> None:
    now = utc_now()
    await store.save_remote_profile(remote_profile())
    await store.save_remote_profile(remote_profile(OTHER_REMOTE, discoverable=False))
    await store.save_remote_profile(
        remote_profile("https://plain.example/users/mo", is_fedipoly=False)
    )
    found = await store.remote_profiles_open_to("mentoring", now=now, after=None, limit=10)
    assert [profile.actor_uri for profile in found] == [REMOTE]
    assert found[0].badges == ("python", "chess")
    assert found[0].open_to == (OpenToEntry("hiring", False), OpenToEntry("mentoring", True))
    assert await store.remote_profiles_open_to("hiring", now=now, after=None, limit=10) == []

    # A refresh replaces the answers; an end date in the past stops the match.
    await store.save_remote_profile(
        remote_profile(open_to=(OpenToEntry("mentoring", True, now - seconds(1)),))
    )
    assert await store.remote_profiles_open_to("mentoring", now=now, after=None, limit=10) == []
    stored = await store.get_remote_profile(REMOTE)
    assert stored is not None and stored.open_to == (
        OpenToEntry("mentoring", True, now - seconds(1)),
    )
    # Becoming non-discoverable takes the profile out of every search.
    await store.save_remote_profile(remote_profile(discoverable=False))
    assert await store.remote_profiles_open_to("mentoring", now=now, after=None, limit=10) == []


async def test_stale_remote_profiles_oldest_first(store: Store) -> None:
    now = utc_now()
    await store.save_remote_profile(remote_profile(refreshed_at=now - seconds(100)))
    await store.save_remote_profile(remote_profile(OTHER_REMOTE, refreshed_at=now - seconds(200)))
    assert await store.stale_remote_profiles(now - seconds(50), 10) == [OTHER_REMOTE, REMOTE]
    assert await store.stale_remote_profiles(now - seconds(150), 10) == [OTHER_REMOTE]
    assert await store.get_remote_profile("https://nobody.example/x") is None


async def test_requests_are_decided_once_and_listed_newest_first(store: Store) -> None:
    first = request()
    second = request(created_at=first.created_at + seconds(1))
    assert await store.insert_collab_request(first)
    assert not await store.insert_collab_request(dataclasses.replace(first, id="other"))
    assert await store.insert_collab_request(second)

    pending = await store.received_collab_requests(
        BOB_ID, RequestState.PENDING, before=None, limit=10
    )
    assert [item.id for item in pending] == [second.id, first.id]
    page = await store.received_collab_requests(
        BOB_ID, RequestState.PENDING, before=(second.created_at, second.id), limit=10
    )
    assert [item.id for item in page] == [first.id]
    sent = await store.sent_collab_requests(ALICE_ID, before=None, limit=10)
    assert [item.id for item in sent] == [second.id, first.id]

    decided = await store.decide_collab_request(first.id, RequestState.ACCEPTED, now=utc_now())
    assert decided is not None and decided.state is RequestState.ACCEPTED
    assert decided.decided_at is not None
    assert await store.decide_collab_request(first.id, RequestState.DECLINED, now=utc_now()) is None
    accepted = await store.received_collab_requests(
        BOB_ID, RequestState.ACCEPTED, before=None, limit=10
    )
    assert [item.id for item in accepted] == [first.id]

    latest = await store.latest_collab_request(ALICE, BOB)
    assert latest is not None and latest.id == second.id
    assert await store.latest_collab_request(BOB, ALICE) is None
    assert await store.count_collab_requests_since(ALICE, first.created_at) == 2
    assert await store.count_collab_requests_since(ALICE, second.created_at + seconds(1)) == 0


async def test_conversations_list_their_messages_and_move_up(store: Store) -> None:
    now = utc_now()
    with_bob = await store.open_conversation(ALICE_ID, BOB, request_id="r1", now=now)
    assert await store.open_conversation(ALICE_ID, BOB, request_id=None, now=now) == with_bob
    assert with_bob.request_id == "r1"
    with_remote = await store.open_conversation(
        ALICE_ID, REMOTE, request_id=None, now=now + seconds(1)
    )
    assert await store.get_conversation(with_bob.id) == with_bob
    assert await store.find_conversation(ALICE_ID, REMOTE) == with_remote
    assert await store.find_conversation(BOB_ID, ALICE) is None

    listed = await store.list_conversations(ALICE_ID, before=None, limit=10)
    assert [item.id for item in listed] == [with_remote.id, with_bob.id]

    messages = [
        post(ALICE, published=now + seconds(10 + n), visibility=Visibility.DIRECT) for n in range(3)
    ]
    for message in messages:
        await store.insert_post(message)
        await store.add_conversation_message(with_bob.id, message, at=message.published)
    # Idempotent per post: a redelivery does not list it twice, nor move it.
    await store.add_conversation_message(with_bob.id, messages[0], at=now + seconds(99))
    listed = await store.list_conversations(ALICE_ID, before=None, limit=10)
    assert [item.id for item in listed] == [with_bob.id, with_remote.id]
    assert listed[0].last_message_at == messages[-1].published

    page = await store.conversation_messages(with_bob.id, before=None, limit=2)
    assert [item.post.id for item in page] == [messages[2].id, messages[1].id]
    assert [item.at for item in page] == [messages[2].published, messages[1].published]
    rest = await store.conversation_messages(
        with_bob.id, before=(page[-1].at, page[-1].post.id), limit=2
    )
    assert [item.post.id for item in rest] == [messages[0].id]

    await store.mark_post_deleted(messages[1].uri, utc_now())
    remaining = await store.conversation_messages(with_bob.id, before=None, limit=10)
    assert [item.post.id for item in remaining] == [messages[2].id, messages[0].id]
    # A message received late is listed by when it arrived, not by its (remote) date.
    late = post(BOB, published=now, visibility=Visibility.DIRECT)
    await store.insert_post(late)
    await store.add_conversation_message(with_bob.id, late, at=now + seconds(20))
    newest = await store.conversation_messages(with_bob.id, before=None, limit=1)
    assert [item.post.id for item in newest] == [late.id]


async def test_blocks_are_idempotent_per_member_and_lifted_once(store: Store) -> None:
    block = MemberBlock(BOB_ID, ALICE, utc_now())
    await store.block_actor(block)
    await store.block_actor(dataclasses.replace(block, created_at=block.created_at + seconds(5)))
    assert await store.is_blocked(BOB_ID, ALICE)
    assert not await store.is_blocked(ALICE_ID, BOB)
    # Blocking again keeps the first block and its time.
    assert await store.list_blocks(BOB_ID, before=None, limit=10) == [block]
    # Someone else's block of the same actor is theirs to lift, not bob's.
    await store.block_actor(MemberBlock(ALICE_ID, ALICE, utc_now()))
    assert await store.unblock_actor(BOB_ID, ALICE)
    assert not await store.unblock_actor(BOB_ID, ALICE)
    assert not await store.is_blocked(BOB_ID, ALICE)
    assert await store.list_blocks(BOB_ID, before=None, limit=10) == []
    assert await store.is_blocked(ALICE_ID, ALICE)


async def test_a_members_blocks_are_listed_newest_first_a_page_at_a_time(store: Store) -> None:
    now = utc_now()
    oldest = MemberBlock(BOB_ID, REMOTE, now)
    # Two blocks at the same moment: the actor URI orders them, so no page repeats or skips one.
    tied = [
        MemberBlock(BOB_ID, ALICE, now + seconds(1)),
        MemberBlock(BOB_ID, OTHER_REMOTE, now + seconds(1)),
    ]
    newest = MemberBlock(BOB_ID, f"{REMOTE}-again", now + seconds(2))
    for block in (tied[1], oldest, newest, tied[0]):
        await store.block_actor(block)
    await store.block_actor(MemberBlock(ALICE_ID, REMOTE, now + seconds(9)))  # not bob's

    expected = [newest, tied[1], tied[0], oldest]
    assert await store.list_blocks(BOB_ID, before=None, limit=10) == expected
    pages: list[list[MemberBlock]] = []
    before = None
    while True:
        page = await store.list_blocks(BOB_ID, before=before, limit=3 if not pages else 1)
        if not page:
            break
        pages.append(page)
        before = (page[-1].created_at, page[-1].blocked)
    assert pages == [expected[:3], expected[3:]]
    assert await store.list_blocks("account-nobody", before=None, limit=10) == []
