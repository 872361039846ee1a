"""The federation half of the store port (actors, follows, queues, posts, timelines), per adapter.

Times are built from one `utc_now()` with timedelta offsets (both adapters keep milliseconds) and
every time-dependent call gets its `now` explicitly, so nothing here sleeps or races the clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from fedipoly.models import (
    ClaimedDelivery,
    Delivery,
    DeliveryState,
    Follow,
    FollowState,
    InboxItem,
    InboxState,
    OutboundActivity,
    Post,
    RemoteActor,
    Visibility,
    new_id,
    utc_now,
)
from fedipoly.store import Store
from fedipoly.store.base import Cursor

LOCAL = "https://local.test/users"
ALICE = f"{LOCAL}/alice"  # a local member
ALICE_ID = "account-alice"
BOB = f"{LOCAL}/bob"  # another local member
BOB_ID = "account-bob"

T = TypeVar("T")


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def remote_actor(
    username: str,
    domain: str = "remote.example",
    *,
    shared_inbox: str | None = "https://remote.example/inbox",
    fetched_at: datetime | None = None,
    uri: str | None = None,
) -> RemoteActor:
    actor_uri = uri or f"https://{domain}/users/{username}"
    return RemoteActor(
        uri=actor_uri,
        actor_type="Person",
        username=username,
        domain=domain,
        inbox=f"{actor_uri}/inbox",
        shared_inbox=shared_inbox,
        followers_url=f"{actor_uri}/followers",
        display_name=username.title(),
        summary_html=f"<p>I am {username}</p>",
        profile_url=f"https://{domain}/@{username}",
        icon_url=f"https://{domain}/avatars/{username}.png",
        key_id=f"{actor_uri}#main-key",
        public_key_pem=f"PUBLIC KEY OF {username}",
        manually_approves_followers=False,
        fetched_at=fetched_at or utc_now(),
    )


def follow(
    follower: str,
    followed: str,
    *,
    state: FollowState = FollowState.ACCEPTED,
    created_at: datetime | None = None,
    activity_id: str | None = None,
) -> Follow:
    moment = created_at or utc_now()
    return Follow(
        id=new_id(moment),
        follower=follower,
        followed=followed,
        activity_id=activity_id or f"{follower}#follows/{new_id(moment)}",
        state=state,
        created_at=moment,
    )


def post(
    author: str,
    *,
    published: datetime,
    visibility: Visibility = Visibility.PUBLIC,
    local_account_id: str | None = None,
    uri: str | None = None,
    text: str = "hello",
) -> Post:
    post_id = new_id(published)
    return Post(
        id=post_id,
        uri=uri or f"{author}/statuses/{post_id}",
        author=author,
        local_account_id=local_account_id,
        content_html=f"<p>{text}</p>",
        source_text=text,
        visibility=visibility,
        in_reply_to=None,
        published=published,
        updated=None,
        url=None,
        audience=("https://www.w3.org/ns/activitystreams#Public",),
    )


def inbox_item(
    name: str, received_at: datetime, actor: str = "https://remote.example/u"
) -> InboxItem:
    return InboxItem(
        activity_id=f"https://remote.example/activities/{name}",
        actor=actor,
        activity_type="Create",
        raw=f'{{"id": "{name}"}}',
        received_at=received_at,
    )


def outbound(created_at: datetime, actor: str = ALICE) -> OutboundActivity:
    activity_id = f"{actor}/activities/{new_id(created_at)}"
    return OutboundActivity(
        id=activity_id,
        actor=actor,
        signer_account_id=ALICE_ID,
        activity_type="Create",
        raw=f'{{"id": "{activity_id}"}}',
        created_at=created_at,
    )


def newest_first_follows(follows: list[Follow]) -> list[str]:
    return [f.id for f in sorted(follows, key=lambda f: (f.created_at, f.id), reverse=True)]


def newest_first_posts(posts: list[Post]) -> list[str]:
    return [p.id for p in sorted(posts, key=lambda p: (p.published, p.id), reverse=True)]


async def walk_pages(
    fetch: Callable[[Cursor | None, int], Awaitable[list[T]]],
    cursor_of: Callable[[T], Cursor],
    page_size: int,
) -> list[list[T]]:
    """Follow keyset cursors (the last item's key) until a short page; returns every page."""
    pages: list[list[T]] = []
    before: Cursor | None = None
    while True:
        page = await fetch(before, page_size)
        assert len(page) <= page_size
        pages.append(page)
        if len(page) < page_size:
            return pages
        before = cursor_of(page[-1])
        assert len(pages) < 100, "pagination does not terminate"


async def delivery(store: Store, activity_id: str, inbox_url: str) -> Delivery:
    found = [d for d in await store.list_deliveries(activity_id) if d.inbox_url == inbox_url]
    assert len(found) == 1
    return found[0]


async def finish(
    store: Store,
    claimed: ClaimedDelivery,
    *,
    now: datetime,
    state: DeliveryState = DeliveryState.PENDING,
    next_attempt_at: datetime | None = None,
    last_status: int | None = 503,
    last_error: str | None = "unavailable",
) -> None:
    await store.finish_delivery(
        claimed,
        state=state,
        next_attempt_at=next_attempt_at or now + timedelta(minutes=5),
        last_status=last_status,
        last_error=last_error,
        now=now,
    )


# --- remote actors -----------------------------------------------------------------------------


async def test_a_remote_actor_reads_back_by_uri_key_id_and_handle(store: Store) -> None:
    actor = remote_actor("Carol", "Remote.Example")
    await store.upsert_remote_actor(actor)
    assert await store.get_remote_actor(actor.uri) == actor
    assert await store.get_remote_actor_by_key(actor.key_id) == actor
    assert await store.get_remote_actor_by_handle("Carol", "Remote.Example") == actor
    assert await store.get_remote_actor_by_handle("carol", "remote.example") == actor
    assert await store.get_remote_actor_by_handle("CAROL", "REMOTE.EXAMPLE") == actor


async def test_unknown_actors_are_none_by_uri_key_id_and_handle(store: Store) -> None:
    await store.upsert_remote_actor(remote_actor("carol"))
    assert await store.get_remote_actor("https://remote.example/users/nobody") is None
    assert await store.get_remote_actor_by_key("https://remote.example/users/nobody#key") is None
    assert await store.get_remote_actor_by_handle("nobody", "remote.example") is None
    assert await store.get_remote_actor_by_handle("carol", "elsewhere.example") is None


async def test_optional_actor_fields_round_trip_as_none(store: Store) -> None:
    actor = dataclasses.replace(
        remote_actor("bare", shared_inbox=None),
        followers_url=None,
        profile_url=None,
        icon_url=None,
        summary_html="",
        manually_approves_followers=True,
        actor_type="Service",
    )
    await store.upsert_remote_actor(actor)
    assert await store.get_remote_actor(actor.uri) == actor


async def test_upserting_a_known_actor_replaces_every_field(store: Store) -> None:
    now = utc_now()
    original = remote_actor("carol", fetched_at=now)
    await store.upsert_remote_actor(original)
    refreshed = RemoteActor(
        uri=original.uri,
        actor_type="Service",
        username="caroline",
        domain="remote.example",
        inbox="https://remote.example/new-inbox",
        shared_inbox=None,
        followers_url=None,
        display_name="Caroline",
        summary_html="<p>renamed</p>",
        profile_url=None,
        icon_url=None,
        key_id=f"{original.uri}#rotated-key",
        public_key_pem="ROTATED",
        manually_approves_followers=True,
        fetched_at=now + seconds(60),
    )
    await store.upsert_remote_actor(refreshed)
    assert await store.get_remote_actor(original.uri) == refreshed
    assert await store.get_remote_actor_by_key(refreshed.key_id) == refreshed
    assert await store.get_remote_actor_by_key(original.key_id) is None
    assert await store.get_remote_actor_by_handle("Caroline", "remote.example") == refreshed
    assert await store.get_remote_actor_by_handle("carol", "remote.example") is None


async def test_a_handle_shared_by_two_cached_actors_finds_the_most_recently_fetched(
    store: Store,
) -> None:
    now = utc_now()
    old = remote_actor("carol", uri="https://remote.example/old/carol", fetched_at=now)
    new = remote_actor("carol", uri="https://remote.example/new/carol", fetched_at=now + seconds(1))
    await store.upsert_remote_actor(new)
    await store.upsert_remote_actor(old)
    assert await store.get_remote_actor_by_handle("CAROL", "remote.example") == new


async def test_deleting_a_remote_actor_forgets_its_follows_both_ways_posts_and_timeline_entries(
    store: Store,
) -> None:
    now = utc_now()
    carol = remote_actor("carol")
    dave = remote_actor("dave")
    for actor in (carol, dave):
        await store.upsert_remote_actor(actor)
    await store.upsert_follow(follow(carol.uri, ALICE), None)
    await store.upsert_follow(follow(ALICE, carol.uri), ALICE_ID)
    await store.upsert_follow(follow(dave.uri, ALICE), None)
    await store.upsert_follow(follow(ALICE, dave.uri), ALICE_ID)
    carols = [post(carol.uri, published=now + seconds(i)) for i in range(3)]
    daves = post(dave.uri, published=now + seconds(10))
    for each in [*carols, daves]:
        assert await store.insert_post(each)
        await store.add_to_timelines(each, [ALICE_ID, BOB_ID])

    await store.delete_remote_actor(carol.uri)

    assert await store.get_remote_actor(carol.uri) is None
    assert await store.get_remote_actor_by_key(carol.key_id) is None
    assert await store.get_remote_actor_by_handle("carol", "remote.example") is None
    assert await store.get_follow(carol.uri, ALICE) is None
    assert await store.get_follow(ALICE, carol.uri) is None
    for gone in carols:
        assert await store.get_post(gone.id) is None
        assert await store.get_post_by_uri(gone.uri) is None
    assert await store.author_posts(carol.uri, ("public",), before=None, limit=10) == []
    for owner in (ALICE_ID, BOB_ID):
        assert await store.home_timeline(owner, before=None, limit=10) == [daves]
    # Everyone else is untouched.
    assert await store.get_remote_actor(dave.uri) == dave
    assert await store.get_follow(dave.uri, ALICE) is not None
    assert await store.get_follow(ALICE, dave.uri) is not None
    assert await store.count_followers(ALICE) == 1
    assert await store.count_following(ALICE) == 1
    assert await store.follower_inboxes(ALICE) == [dave.preferred_inbox]


async def test_deleting_an_unknown_actor_is_harmless(store: Store) -> None:
    await store.upsert_remote_actor(remote_actor("carol"))
    await store.delete_remote_actor("https://remote.example/users/nobody")
    assert await store.get_remote_actor("https://remote.example/users/carol") is not None


# --- follows -----------------------------------------------------------------------------------


async def test_a_follow_reads_back_by_pair_and_by_activity_id(store: Store) -> None:
    carol = remote_actor("carol")
    wanted = follow(carol.uri, ALICE, state=FollowState.PENDING)
    stored = await store.upsert_follow(wanted, None)
    assert stored == wanted
    assert await store.get_follow(carol.uri, ALICE) == wanted
    assert await store.get_follow_by_activity(wanted.activity_id) == wanted
    assert await store.get_follow(ALICE, carol.uri) is None  # direction matters
    assert await store.get_follow_by_activity("https://remote.example/unknown") is None


async def test_upserting_a_follow_again_keeps_one_row_and_replaces_activity_id_and_state(
    store: Store,
) -> None:
    now = utc_now()
    carol = remote_actor("carol")
    first = follow(carol.uri, ALICE, state=FollowState.PENDING, created_at=now)
    await store.upsert_follow(first, None)
    again = follow(carol.uri, ALICE, state=FollowState.ACCEPTED, created_at=now + seconds(5))
    stored = await store.upsert_follow(again, None)
    # Identity and creation time are the first row's; activity id and state are the new ones.
    assert stored == dataclasses.replace(
        first, activity_id=again.activity_id, state=FollowState.ACCEPTED
    )
    assert await store.get_follow(carol.uri, ALICE) == stored
    assert await store.get_follow_by_activity(again.activity_id) == stored
    assert await store.get_follow_by_activity(first.activity_id) is None
    assert await store.upsert_follow(again, None) == stored  # a third time changes nothing
    assert await store.count_followers(ALICE) == 1
    assert len(await store.list_followers(ALICE, FollowState.ACCEPTED, before=None, limit=10)) == 1
    assert await store.list_followers(ALICE, FollowState.PENDING, before=None, limit=10) == []


async def test_a_follow_state_changes_and_reports_whether_the_follow_exists(store: Store) -> None:
    carol = remote_actor("carol")
    await store.upsert_follow(follow(carol.uri, ALICE, state=FollowState.PENDING), None)
    assert await store.set_follow_state(carol.uri, ALICE, FollowState.ACCEPTED)
    changed = await store.get_follow(carol.uri, ALICE)
    assert changed is not None and changed.state is FollowState.ACCEPTED
    assert not await store.set_follow_state(ALICE, carol.uri, FollowState.ACCEPTED)
    assert await store.get_follow(ALICE, carol.uri) is None


async def test_a_follow_is_deleted_once(store: Store) -> None:
    carol = remote_actor("carol")
    stored = await store.upsert_follow(follow(carol.uri, ALICE), None)
    assert not await store.delete_follow(ALICE, carol.uri)  # the other direction does not exist
    assert await store.delete_follow(carol.uri, ALICE)
    assert not await store.delete_follow(carol.uri, ALICE)
    assert await store.get_follow(carol.uri, ALICE) is None
    assert await store.get_follow_by_activity(stored.activity_id) is None
    assert await store.count_followers(ALICE) == 0


async def test_followers_and_following_are_listed_newest_first_per_state(store: Store) -> None:
    now = utc_now()
    accepted = [
        await store.upsert_follow(
            follow(f"https://r.example/u/{i}", ALICE, created_at=now + seconds(i)), None
        )
        for i in range(3)
    ]
    pending = await store.upsert_follow(
        follow("https://r.example/u/p", ALICE, state=FollowState.PENDING, created_at=now), None
    )
    await store.upsert_follow(follow("https://r.example/u/x", BOB, created_at=now), None)
    followings = [
        await store.upsert_follow(
            follow(ALICE, f"https://r.example/u/{i}", created_at=now - seconds(i)), ALICE_ID
        )
        for i in range(2)
    ]

    followers = await store.list_followers(ALICE, FollowState.ACCEPTED, before=None, limit=10)
    assert followers == list(reversed(accepted))
    assert await store.list_followers(ALICE, FollowState.PENDING, before=None, limit=10) == [
        pending
    ]
    following = await store.list_following(ALICE, FollowState.ACCEPTED, before=None, limit=10)
    assert following == followings
    assert await store.list_following(ALICE, FollowState.PENDING, before=None, limit=10) == []
    assert (
        await store.list_followers(ALICE, FollowState.ACCEPTED, before=None, limit=2)
        == list(reversed(accepted))[:2]
    )


async def test_follower_pages_walked_by_keyset_cursor_hold_every_follow_once_even_with_equal_times(
    store: Store,
) -> None:
    now = utc_now()
    # Three follows at each of three instants, plus one alone: ties must be broken by id.
    times = [now + seconds(i // 3) for i in range(10)]
    # Pending follows and other accounts' follows at the same instants must not leak in.
    for i, at in enumerate(times[:3]):
        pending = follow(
            f"https://r.example/p/{i}", ALICE, state=FollowState.PENDING, created_at=at
        )
        await store.upsert_follow(pending, None)
        await store.upsert_follow(follow(f"https://r.example/u/{i}", BOB, created_at=at), None)
        await store.upsert_follow(follow(BOB, f"https://r.example/u/{i}", created_at=at), BOB_ID)
    followers = [
        await store.upsert_follow(follow(f"https://r.example/u/{i}", ALICE, created_at=at), None)
        for i, at in enumerate(times)
    ]
    following = [
        await store.upsert_follow(
            follow(ALICE, f"https://r.example/u/{i}", created_at=at), ALICE_ID
        )
        for i, at in enumerate(times)
    ]

    def key(f: Follow) -> Cursor:
        return (f.created_at, f.id)

    for page_size in (1, 2, 3, 4, 10):
        pages = await walk_pages(
            lambda before, n: store.list_followers(
                ALICE, FollowState.ACCEPTED, before=before, limit=n
            ),
            key,
            page_size,
        )
        assert len(pages) > 1
        walked = [f.id for page in pages for f in page]
        assert walked == newest_first_follows(followers)

        pages = await walk_pages(
            lambda before, n: store.list_following(
                ALICE, FollowState.ACCEPTED, before=before, limit=n
            ),
            key,
            page_size,
        )
        walked = [f.id for page in pages for f in page]
        assert walked == newest_first_follows(following)


async def test_follow_counts_include_accepted_follows_only(store: Store) -> None:
    for i in range(3):
        await store.upsert_follow(follow(f"https://r.example/u/{i}", ALICE), None)
    await store.upsert_follow(
        follow("https://r.example/u/p", ALICE, state=FollowState.PENDING), None
    )
    await store.upsert_follow(follow(BOB, ALICE), BOB_ID)
    await store.upsert_follow(follow(ALICE, "https://r.example/u/0"), ALICE_ID)
    await store.upsert_follow(
        follow(ALICE, "https://r.example/u/p", state=FollowState.PENDING), ALICE_ID
    )
    assert await store.count_followers(ALICE) == 4
    assert await store.count_following(ALICE) == 1
    assert await store.count_followers(BOB) == 0
    assert await store.count_following(BOB) == 1
    await store.set_follow_state("https://r.example/u/p", ALICE, FollowState.ACCEPTED)
    assert await store.count_followers(ALICE) == 5


async def test_follower_inboxes_list_each_preferred_inbox_of_accepted_remote_followers_once(
    store: Store,
) -> None:
    shared = "https://big.example/inbox"
    carol = remote_actor("carol", "big.example", shared_inbox=shared)
    dave = remote_actor("dave", "big.example", shared_inbox=shared)
    erin = remote_actor("erin", "small.example", shared_inbox=None)
    frank = remote_actor("frank", "pending.example", shared_inbox=None)
    grace = remote_actor("grace", "other.example", shared_inbox=None)
    for actor in (carol, dave, erin, frank, grace):
        await store.upsert_remote_actor(actor)
    for actor in (carol, dave, erin):
        await store.upsert_follow(follow(actor.uri, ALICE), None)
    await store.upsert_follow(follow(frank.uri, ALICE, state=FollowState.PENDING), None)
    await store.upsert_follow(follow(grace.uri, BOB), None)  # follows someone else
    await store.upsert_follow(follow(BOB, ALICE), BOB_ID)  # local: no delivery needed

    inboxes = await store.follower_inboxes(ALICE)
    assert sorted(inboxes) == sorted([shared, erin.inbox])
    assert len(inboxes) == len(set(inboxes))
    assert await store.follower_inboxes(BOB) == [grace.inbox]
    assert await store.follower_inboxes("https://local.test/users/nobody") == []


async def test_an_empty_shared_inbox_falls_back_to_the_inbox_like_preferred_inbox(
    store: Store,
) -> None:
    carol = remote_actor("carol", shared_inbox="")
    await store.upsert_remote_actor(carol)
    await store.upsert_follow(follow(carol.uri, ALICE), None)
    assert carol.preferred_inbox == carol.inbox
    assert await store.follower_inboxes(ALICE) == [carol.inbox]


async def test_follower_inboxes_follow_a_refreshed_actor_document(store: Store) -> None:
    carol = remote_actor("carol", shared_inbox=None)
    await store.upsert_remote_actor(carol)
    await store.upsert_follow(follow(carol.uri, ALICE), None)
    assert await store.follower_inboxes(ALICE) == [carol.inbox]
    moved = dataclasses.replace(carol, shared_inbox="https://remote.example/shared")
    await store.upsert_remote_actor(moved)
    assert await store.follower_inboxes(ALICE) == ["https://remote.example/shared"]


async def test_local_follower_ids_list_accepted_local_followers_only(store: Store) -> None:
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    await store.upsert_follow(follow(BOB, ALICE), BOB_ID)
    await store.upsert_follow(follow(f"{LOCAL}/erin", ALICE), "account-erin")
    await store.upsert_follow(
        follow(f"{LOCAL}/zed", ALICE, state=FollowState.PENDING), "account-zed"
    )
    await store.upsert_follow(follow(carol.uri, ALICE), None)
    await store.upsert_follow(follow(ALICE, BOB), ALICE_ID)  # the other direction
    assert sorted(await store.local_follower_ids(ALICE)) == ["account-bob", "account-erin"]
    assert await store.local_follower_ids(BOB) == [ALICE_ID]
    assert await store.local_follower_ids(carol.uri) == []


# --- inbox queue -------------------------------------------------------------------------------


async def test_an_activity_is_enqueued_once_per_id(store: Store) -> None:
    now = utc_now()
    item = inbox_item("a", now)
    assert await store.enqueue_inbox(item)
    assert not await store.enqueue_inbox(dataclasses.replace(item, raw='{"changed": true}'))
    assert await store.count_inbox(InboxState.PENDING) == 1
    [claimed] = await store.claim_inbox(now=now, lease_seconds=60, limit=10)
    assert dataclasses.replace(claimed, attempts=0) == item  # the first copy is the one kept


async def test_claiming_leases_the_oldest_pending_items_up_to_the_limit(store: Store) -> None:
    now = utc_now()
    items = [inbox_item(f"i{i}", now + seconds(i)) for i in range(5)]
    for item in (items[3], items[0], items[4], items[2], items[1]):
        assert await store.enqueue_inbox(item)
    claim_at = now + seconds(10)
    first = await store.claim_inbox(now=claim_at, lease_seconds=60, limit=3)
    assert [i.activity_id for i in first] == [i.activity_id for i in items[:3]]
    second = await store.claim_inbox(now=claim_at, lease_seconds=60, limit=3)
    assert [i.activity_id for i in second] == [i.activity_id for i in items[3:]]
    assert await store.claim_inbox(now=claim_at, lease_seconds=60, limit=3) == []
    assert await store.count_inbox(InboxState.PENDING) == 5  # leased, but not finished


async def test_a_claimed_item_is_not_claimed_again_before_its_lease_expires_but_is_after(
    store: Store,
) -> None:
    now = utc_now()
    await store.enqueue_inbox(inbox_item("a", now))
    [first] = await store.claim_inbox(now=now, lease_seconds=60, limit=10)
    assert await store.claim_inbox(now=now + seconds(1), lease_seconds=60, limit=10) == []
    assert await store.claim_inbox(now=now + seconds(59), lease_seconds=60, limit=10) == []
    [again] = await store.claim_inbox(now=now + seconds(61), lease_seconds=60, limit=10)
    assert again.activity_id == first.activity_id
    assert await store.claim_inbox(now=now + seconds(62), lease_seconds=60, limit=10) == []


async def test_a_claimed_item_counts_its_attempts_including_this_claim(store: Store) -> None:
    now = utc_now()
    await store.enqueue_inbox(inbox_item("a", now))
    [first] = await store.claim_inbox(now=now, lease_seconds=10, limit=1)
    [second] = await store.claim_inbox(now=now + seconds(11), lease_seconds=10, limit=1)
    [third] = await store.claim_inbox(now=now + seconds(22), lease_seconds=10, limit=1)
    assert [first.attempts, second.attempts, third.attempts] == [1, 2, 3]


async def test_finished_items_are_counted_by_state_and_never_claimed_again(store: Store) -> None:
    now = utc_now()
    for name in ("ok", "bad", "waiting"):
        await store.enqueue_inbox(inbox_item(name, now))
    claimed = await store.claim_inbox(now=now, lease_seconds=60, limit=2)
    assert len(claimed) == 2
    await store.finish_inbox(claimed[0].activity_id, InboxState.DONE, None)
    await store.finish_inbox(claimed[1].activity_id, InboxState.FAILED, "boom")
    assert await store.count_inbox(InboxState.DONE) == 1
    assert await store.count_inbox(InboxState.FAILED) == 1
    assert await store.count_inbox(InboxState.PENDING) == 1
    later = await store.claim_inbox(now=now + timedelta(hours=1), lease_seconds=60, limit=10)
    assert [i.activity_id for i in later] == [inbox_item("waiting", now).activity_id]


async def test_parallel_inbox_claims_never_hand_out_the_same_item_twice(store: Store) -> None:
    now = utc_now()
    items = [inbox_item(f"i{i:02}", now + timedelta(milliseconds=i)) for i in range(20)]
    for item in items:
        await store.enqueue_inbox(item)
    batches = await asyncio.gather(
        *(store.claim_inbox(now=now + seconds(1), lease_seconds=60, limit=6) for _ in range(5))
    )
    claimed = [item.activity_id for batch in batches for item in batch]
    assert len(claimed) == len(set(claimed))
    assert sorted(claimed) == sorted(item.activity_id for item in items)


# --- outbound deliveries -----------------------------------------------------------------------


async def test_create_outbound_stores_the_activity_and_one_pending_delivery_per_distinct_inbox(
    store: Store,
) -> None:
    now = utc_now()
    activity = outbound(now)
    inboxes = [
        "https://b.example/inbox",
        "https://A.Example:8443/users/x/inbox",
        "https://b.example/inbox",
        "https://c.example/inbox",
    ]
    assert await store.create_outbound(activity, inboxes, now=now) == 3
    assert await store.get_outbound(activity.id) == activity
    assert await store.get_outbound(f"{activity.id}/nope") is None
    deliveries = await store.list_deliveries(activity.id)
    assert [d.inbox_url for d in deliveries] == sorted(set(inboxes))
    assert [d.host for d in deliveries] == ["a.example:8443", "b.example", "c.example"]
    assert len({d.id for d in deliveries}) == 3
    for each in deliveries:
        assert each.activity_id == activity.id
        assert each.state is DeliveryState.PENDING
        assert each.attempts == 0
        assert each.next_attempt_at == now and each.created_at == now
        assert each.first_attempt_at is None
        assert each.last_status is None and each.last_error is None
    assert await store.count_deliveries(DeliveryState.PENDING) == 3


async def test_create_outbound_called_twice_creates_nothing_more(store: Store) -> None:
    now = utc_now()
    activity = outbound(now)
    inboxes = ["https://a.example/inbox", "https://b.example/inbox"]
    assert await store.create_outbound(activity, inboxes, now=now) == 2
    before = await store.list_deliveries(activity.id)
    assert await store.create_outbound(activity, inboxes, now=now + seconds(5)) == 2
    assert await store.list_deliveries(activity.id) == before
    assert await store.get_outbound(activity.id) == activity
    assert await store.count_deliveries(DeliveryState.PENDING) == 2


async def test_only_due_deliveries_are_claimed_with_their_activity_and_a_lease_token(
    store: Store,
) -> None:
    now = utc_now()
    due = outbound(now)
    later = outbound(now + timedelta(minutes=10))
    await store.create_outbound(
        due, ["https://a.example/inbox", "https://b.example/inbox"], now=now
    )
    await store.create_outbound(later, ["https://c.example/inbox"], now=now + timedelta(minutes=10))

    claimed = await store.claim_deliveries(now=now, lease_seconds=3600, limit=10)
    assert sorted(c.delivery.inbox_url for c in claimed) == [
        "https://a.example/inbox",
        "https://b.example/inbox",
    ]
    assert all(c.activity == due for c in claimed)
    assert all(c.lease_token for c in claimed)
    assert {c.delivery.id for c in claimed} == {d.id for d in await store.list_deliveries(due.id)}

    assert (
        await store.claim_deliveries(now=now + timedelta(minutes=9), lease_seconds=60, limit=10)
        == []
    )
    [other] = await store.claim_deliveries(
        now=now + timedelta(minutes=10), lease_seconds=60, limit=10
    )
    assert other.activity == later and other.delivery.inbox_url == "https://c.example/inbox"


async def test_claiming_deliveries_respects_the_limit_oldest_due_first(store: Store) -> None:
    now = utc_now()
    activities = [outbound(now + seconds(i)) for i in range(4)]
    for i, activity in enumerate(activities):
        await store.create_outbound(activity, [f"https://h{i}.example/inbox"], now=now + seconds(i))
    first = await store.claim_deliveries(now=now + seconds(10), lease_seconds=60, limit=3)
    assert sorted(c.activity.id for c in first) == sorted(a.id for a in activities[:3])
    [last] = await store.claim_deliveries(now=now + seconds(10), lease_seconds=60, limit=3)
    assert last.activity == activities[3]


async def test_a_claimed_delivery_is_claimable_again_only_after_its_lease_expires(
    store: Store,
) -> None:
    now = utc_now()
    activity = outbound(now)
    await store.create_outbound(activity, ["https://a.example/inbox"], now=now)
    [first] = await store.claim_deliveries(now=now, lease_seconds=30, limit=10)
    assert await store.claim_deliveries(now=now + seconds(29), lease_seconds=30, limit=10) == []
    [again] = await store.claim_deliveries(now=now + seconds(31), lease_seconds=30, limit=10)
    assert again.delivery.id == first.delivery.id
    assert again.lease_token != first.lease_token
    assert (await delivery(store, activity.id, "https://a.example/inbox")).attempts == 0


async def test_parallel_delivery_claimers_never_share_a_delivery(store: Store) -> None:
    now = utc_now()
    activity = outbound(now)
    inboxes = [f"https://h{i:02}.example/inbox" for i in range(20)]
    await store.create_outbound(activity, inboxes, now=now)
    batches = await asyncio.gather(
        *(store.claim_deliveries(now=now, lease_seconds=60, limit=6) for _ in range(5))
    )
    claimed = [c.delivery.id for batch in batches for c in batch]
    assert len(claimed) == len(set(claimed)) == 20
    for batch in batches:
        assert len({c.lease_token for c in batch}) <= 1  # one lease per claim call
    tokens = [batch[0].lease_token for batch in batches if batch]
    assert len(tokens) == len(set(tokens))  # and no two calls share one


async def test_finishing_a_delivery_records_the_attempt_and_releases_the_lease(
    store: Store,
) -> None:
    now = utc_now()
    activity = outbound(now)
    inbox = "https://a.example/inbox"
    await store.create_outbound(activity, [inbox], now=now)
    [claimed] = await store.claim_deliveries(now=now, lease_seconds=600, limit=1)
    first_try = now + seconds(1)
    retry_at = now + timedelta(minutes=5)
    await finish(store, claimed, now=first_try, next_attempt_at=retry_at, last_status=503)

    failed = await delivery(store, activity.id, inbox)
    assert failed.state is DeliveryState.PENDING
    assert failed.attempts == 1
    assert failed.next_attempt_at == retry_at
    assert failed.first_attempt_at == first_try
    assert failed.last_status == 503 and failed.last_error == "unavailable"
    # Released, but not due before the retry time (the old lease would still run for minutes).
    assert await store.claim_deliveries(now=retry_at - seconds(1), lease_seconds=60, limit=1) == []
    [retry] = await store.claim_deliveries(now=retry_at, lease_seconds=60, limit=1)
    assert retry.delivery == failed

    await finish(
        store,
        retry,
        now=retry_at + seconds(1),
        state=DeliveryState.DELIVERED,
        next_attempt_at=retry_at + seconds(1),
        last_status=202,
        last_error=None,
    )
    done = await delivery(store, activity.id, inbox)
    assert done.state is DeliveryState.DELIVERED
    assert done.attempts == 2
    assert done.first_attempt_at == first_try  # the first attempt's time is kept
    assert done.last_status == 202 and done.last_error is None
    assert await store.count_deliveries(DeliveryState.DELIVERED) == 1
    assert await store.count_deliveries(DeliveryState.PENDING) == 0
    assert (
        await store.claim_deliveries(now=now + timedelta(days=1), lease_seconds=60, limit=10) == []
    )


async def test_finishing_or_postponing_with_a_stale_lease_token_changes_nothing(
    store: Store,
) -> None:
    now = utc_now()
    activity = outbound(now)
    inbox = "https://a.example/inbox"
    await store.create_outbound(activity, [inbox], now=now)
    [stale] = await store.claim_deliveries(now=now, lease_seconds=30, limit=1)
    # The first worker stalls past its lease; a second one takes the delivery over.
    [current] = await store.claim_deliveries(now=now + seconds(31), lease_seconds=30, limit=1)
    untouched = await delivery(store, activity.id, inbox)

    await finish(store, stale, now=now + seconds(32), state=DeliveryState.GAVE_UP)
    await store.postpone_delivery(stale, now + timedelta(hours=1))
    assert await delivery(store, activity.id, inbox) == untouched
    assert await store.count_deliveries(DeliveryState.GAVE_UP) == 0

    # The lease holder is still in charge: its attempt is recorded.
    await finish(
        store, current, now=now + seconds(33), state=DeliveryState.DELIVERED, last_status=202
    )
    done = await delivery(store, activity.id, inbox)
    assert done.state is DeliveryState.DELIVERED and done.attempts == 1
    assert done.first_attempt_at == now + seconds(33)


async def test_a_finished_delivery_ignores_a_second_finish_with_the_same_lease(
    store: Store,
) -> None:
    now = utc_now()
    activity = outbound(now)
    await store.create_outbound(activity, ["https://a.example/inbox"], now=now)
    [claimed] = await store.claim_deliveries(now=now, lease_seconds=30, limit=1)
    await finish(store, claimed, now=now, state=DeliveryState.DELIVERED, last_status=202)
    recorded = await delivery(store, activity.id, "https://a.example/inbox")
    await finish(store, claimed, now=now + seconds(1), state=DeliveryState.GAVE_UP)
    assert await delivery(store, activity.id, "https://a.example/inbox") == recorded


async def test_postponing_a_delivery_moves_its_next_attempt_without_counting_one(
    store: Store,
) -> None:
    now = utc_now()
    activity = outbound(now)
    inbox = "https://a.example/inbox"
    await store.create_outbound(activity, [inbox], now=now)
    [claimed] = await store.claim_deliveries(now=now, lease_seconds=600, limit=1)
    until = now + seconds(10)
    await store.postpone_delivery(claimed, until)

    postponed = await delivery(store, activity.id, inbox)
    assert postponed.next_attempt_at == until
    assert postponed.attempts == 0 and postponed.first_attempt_at is None
    assert postponed.state is DeliveryState.PENDING
    assert await store.claim_deliveries(now=until - seconds(1), lease_seconds=60, limit=1) == []
    # The lease was released: it is claimable at `until`, long before the 600 s lease would end.
    [again] = await store.claim_deliveries(now=until, lease_seconds=60, limit=1)
    assert again.delivery.id == claimed.delivery.id


async def test_deliveries_are_listed_per_activity_and_counted_by_state(store: Store) -> None:
    now = utc_now()
    first = outbound(now)
    second = outbound(now + seconds(1))
    await store.create_outbound(first, [f"https://h{i}.example/inbox" for i in range(3)], now=now)
    await store.create_outbound(second, ["https://h9.example/inbox"], now=now)
    claimed = await store.claim_deliveries(now=now, lease_seconds=60, limit=10)
    by_inbox = {c.delivery.inbox_url: c for c in claimed}
    await finish(
        store, by_inbox["https://h0.example/inbox"], now=now, state=DeliveryState.DELIVERED
    )
    await finish(store, by_inbox["https://h1.example/inbox"], now=now, state=DeliveryState.GAVE_UP)
    assert await store.count_deliveries(DeliveryState.DELIVERED) == 1
    assert await store.count_deliveries(DeliveryState.GAVE_UP) == 1
    assert await store.count_deliveries(DeliveryState.PENDING) == 2
    states = {d.inbox_url: d.state for d in await store.list_deliveries(first.id)}
    assert states == {
        "https://h0.example/inbox": DeliveryState.DELIVERED,
        "https://h1.example/inbox": DeliveryState.GAVE_UP,
        "https://h2.example/inbox": DeliveryState.PENDING,
    }
    assert [d.inbox_url for d in await store.list_deliveries(second.id)] == [
        "https://h9.example/inbox"
    ]
    assert await store.list_deliveries("https://local.test/activities/unknown") == []


async def test_host_failures_count_up_and_reset_on_success(store: Store) -> None:
    now = utc_now()
    assert await store.host_failures("down.example") == (0, None)
    await store.record_host_result("down.example", ok=False, now=now)
    await store.record_host_result("down.example", ok=False, now=now + seconds(1))
    await store.record_host_result("down.example", ok=False, now=now + seconds(2))
    await store.record_host_result("flaky.example", ok=False, now=now)
    assert await store.host_failures("down.example") == (3, now + seconds(2))
    assert await store.host_failures("flaky.example") == (1, now)
    await store.record_host_result("down.example", ok=True, now=now + seconds(3))
    assert await store.host_failures("down.example") == (0, None)
    assert await store.host_failures("flaky.example") == (1, now)
    await store.record_host_result("down.example", ok=False, now=now + seconds(4))
    assert await store.host_failures("down.example") == (1, now + seconds(4))
    await store.record_host_result("fine.example", ok=True, now=now)
    assert await store.host_failures("fine.example") == (0, None)


# --- posts -------------------------------------------------------------------------------------


async def test_a_post_is_inserted_once_per_uri_and_reads_back_by_id_and_uri(store: Store) -> None:
    now = utc_now()
    original = dataclasses.replace(
        post(ALICE, published=now, local_account_id=ALICE_ID, visibility=Visibility.FOLLOWERS),
        in_reply_to="https://remote.example/notes/1",
        url="https://local.test/@alice/1",
        updated=now + seconds(1),
        audience=(f"{ALICE}/followers", "https://remote.example/users/carol"),
    )
    assert await store.insert_post(original)
    duplicate = dataclasses.replace(post(ALICE, published=now, text="again"), uri=original.uri)
    assert not await store.insert_post(duplicate)
    assert await store.get_post(original.id) == original
    assert await store.get_post_by_uri(original.uri) == original
    assert await store.get_post(duplicate.id) is None
    assert await store.get_post("no-such-id") is None
    assert await store.get_post_by_uri("https://local.test/no-such-post") is None


async def test_a_post_without_optional_fields_round_trips(store: Store) -> None:
    bare = dataclasses.replace(
        post("https://remote.example/users/carol", published=utc_now()), audience=()
    )
    assert await store.insert_post(bare)
    assert await store.get_post(bare.id) == bare


async def test_updating_a_post_replaces_its_editable_fields(store: Store) -> None:
    now = utc_now()
    original = post(ALICE, published=now, local_account_id=ALICE_ID)
    await store.insert_post(original)
    edited = dataclasses.replace(
        original,
        content_html="<p>edited</p>",
        source_text="edited",
        visibility=Visibility.DIRECT,
        in_reply_to="https://remote.example/notes/9",
        updated=now + seconds(30),
        url="https://local.test/@alice/edited",
        audience=("https://remote.example/users/carol",),
    )
    await store.update_post(edited)
    assert await store.get_post(original.id) == edited
    assert await store.get_post_by_uri(original.uri) == edited


async def test_deleting_a_post_tombstones_it_once_and_takes_it_out_of_every_listing(
    store: Store,
) -> None:
    now = utc_now()
    kept = post(ALICE, published=now, local_account_id=ALICE_ID, text="kept")
    doomed = post(ALICE, published=now + seconds(1), local_account_id=ALICE_ID, text="secret")
    for each in (kept, doomed):
        await store.insert_post(each)
        await store.add_to_timelines(each, [ALICE_ID, BOB_ID])
    assert await store.count_author_posts(ALICE, ("public",)) == 2

    deleted_at = now + seconds(5)
    tombstone = await store.mark_post_deleted(doomed.uri, deleted_at)
    assert tombstone is not None
    assert tombstone.id == doomed.id and tombstone.uri == doomed.uri
    assert tombstone.deleted_at == deleted_at
    assert tombstone.content_html == "" and tombstone.source_text == ""
    assert await store.get_post_by_uri(doomed.uri) == tombstone  # the URI now answers 410
    assert await store.get_post(doomed.id) == tombstone
    assert await store.mark_post_deleted(doomed.uri, deleted_at + seconds(1)) is None
    assert await store.mark_post_deleted("https://local.test/no-such-post", deleted_at) is None

    assert await store.author_posts(ALICE, ("public",), before=None, limit=10) == [kept]
    assert await store.count_author_posts(ALICE, ("public",)) == 1
    for owner in (ALICE_ID, BOB_ID):
        assert await store.home_timeline(owner, before=None, limit=10) == [kept]
    # A late fan-out of the tombstoned post does not bring it back.
    await store.add_to_timelines(tombstone, [ALICE_ID])
    assert await store.home_timeline(ALICE_ID, before=None, limit=10) == [kept]
    # A re-delivered Create of the same URI does not resurrect it either.
    assert not await store.insert_post(doomed)
    assert (await store.get_post_by_uri(doomed.uri)) == tombstone


async def test_author_posts_filter_by_visibility_newest_first(store: Store) -> None:
    now = utc_now()
    public = post(ALICE, published=now, visibility=Visibility.PUBLIC)
    followers = post(ALICE, published=now + seconds(1), visibility=Visibility.FOLLOWERS)
    direct = post(ALICE, published=now + seconds(2), visibility=Visibility.DIRECT)
    others = post(BOB, published=now + seconds(3))
    for each in (public, followers, direct, others):
        await store.insert_post(each)

    async def listed(*visibilities: str) -> list[Post]:
        return await store.author_posts(ALICE, visibilities, before=None, limit=10)

    assert await listed("public") == [public]
    assert await listed("public", "followers") == [followers, public]
    assert await listed("public", "followers", "direct") == [direct, followers, public]
    assert await listed("direct") == [direct]
    assert await listed() == []
    assert await store.count_author_posts(ALICE, ("public", "followers")) == 2
    assert await store.count_author_posts(ALICE, ("public", "followers", "direct")) == 3
    assert await store.count_author_posts(ALICE, ()) == 0
    assert await store.count_author_posts(BOB, ("public",)) == 1


async def test_author_posts_pages_walked_by_cursor_hold_every_post_once_even_with_equal_times(
    store: Store,
) -> None:
    now = utc_now()
    published = [now + seconds(i // 3) for i in range(10)]  # three posts per instant
    posts = [post(ALICE, published=at) for at in published]
    for each in posts:
        await store.insert_post(each)
    await store.insert_post(post(ALICE, published=now, visibility=Visibility.DIRECT))
    await store.insert_post(post(BOB, published=now))

    for page_size in (1, 2, 3, 4):
        pages = await walk_pages(
            lambda before, n: store.author_posts(ALICE, ("public",), before=before, limit=n),
            lambda p: (p.published, p.id),
            page_size,
        )
        assert len(pages) > 1
        assert [p.id for page in pages for p in page] == newest_first_posts(posts)


async def test_a_page_of_zero_items_is_empty_on_every_listing(store: Store) -> None:
    now = utc_now()
    note = post(ALICE, published=now)
    await store.insert_post(note)
    await store.add_to_timelines(note, [ALICE_ID])
    await store.upsert_follow(follow(BOB, ALICE, created_at=now), BOB_ID)
    assert await store.author_posts(ALICE, ("public",), before=None, limit=0) == []
    assert await store.home_timeline(ALICE_ID, before=None, limit=0) == []
    assert await store.list_followers(ALICE, FollowState.ACCEPTED, before=None, limit=0) == []
    assert await store.list_following(BOB, FollowState.ACCEPTED, before=None, limit=0) == []


# --- timelines ---------------------------------------------------------------------------------


async def test_adding_a_post_to_timelines_twice_shows_it_once(store: Store) -> None:
    now = utc_now()
    note = post("https://remote.example/users/carol", published=now)
    await store.insert_post(note)
    await store.add_to_timelines(note, [ALICE_ID, BOB_ID, ALICE_ID])
    await store.add_to_timelines(note, [ALICE_ID])
    await store.add_to_timelines(note, [])
    assert await store.home_timeline(ALICE_ID, before=None, limit=10) == [note]
    assert await store.home_timeline(BOB_ID, before=None, limit=10) == [note]


async def test_the_home_timeline_is_newest_first_by_published_time(store: Store) -> None:
    now = utc_now()
    # Inserted out of order: the timeline orders by publication, not by arrival.
    notes = [
        post("https://remote.example/users/carol", published=now + seconds(i)) for i in (2, 0, 3, 1)
    ]
    for note in notes:
        await store.insert_post(note)
        await store.add_to_timelines(note, [ALICE_ID])
    timeline = await store.home_timeline(ALICE_ID, before=None, limit=10)
    assert [p.id for p in timeline] == newest_first_posts(notes)
    assert await store.home_timeline(ALICE_ID, before=None, limit=2) == timeline[:2]
    assert await store.home_timeline("account-nobody", before=None, limit=10) == []


async def test_home_timeline_pages_walked_by_cursor_hold_every_post_once_even_with_equal_times(
    store: Store,
) -> None:
    now = utc_now()
    notes = [
        post(f"https://remote.example/users/u{i % 4}", published=now + seconds(i // 4))
        for i in range(13)
    ]
    for note in notes:
        await store.insert_post(note)
        await store.add_to_timelines(note, [ALICE_ID])

    for page_size in (1, 3, 4, 5):
        pages = await walk_pages(
            lambda before, n: store.home_timeline(ALICE_ID, before=before, limit=n),
            lambda p: (p.published, p.id),
            page_size,
        )
        assert len(pages) > 1
        assert [p.id for page in pages for p in page] == newest_first_posts(notes)


async def test_a_tombstoned_post_left_in_a_timeline_does_not_shorten_a_page(store: Store) -> None:
    now = utc_now()
    notes = [
        post("https://remote.example/users/carol", published=now + seconds(i)) for i in range(4)
    ]
    for note in notes:
        await store.insert_post(note)
    newest = notes[-1]
    await store.mark_post_deleted(newest.uri, now + seconds(10))
    for note in notes:  # the fan-out of the deleted post arrives after its Delete
        await store.add_to_timelines(note, [ALICE_ID])
    page = await store.home_timeline(ALICE_ID, before=None, limit=3)
    assert [p.id for p in page] == newest_first_posts(notes[:3])


async def test_one_owners_timeline_entries_never_show_in_anothers(store: Store) -> None:
    now = utc_now()
    for_alice = [
        post(f"https://remote.example/users/a{i}", published=now + seconds(i)) for i in range(3)
    ]
    for_bob = [
        post(f"https://remote.example/users/b{i}", published=now + seconds(i)) for i in range(3)
    ]
    shared = post("https://remote.example/users/both", published=now + seconds(1))
    for note in [*for_alice, *for_bob, shared]:
        await store.insert_post(note)
    for note in for_alice:
        await store.add_to_timelines(note, [ALICE_ID])
    for note in for_bob:
        await store.add_to_timelines(note, [BOB_ID])
    await store.add_to_timelines(shared, [ALICE_ID, BOB_ID])

    alices = await store.home_timeline(ALICE_ID, before=None, limit=10)
    bobs = await store.home_timeline(BOB_ID, before=None, limit=10)
    assert [p.id for p in alices] == newest_first_posts([*for_alice, shared])
    assert [p.id for p in bobs] == newest_first_posts([*for_bob, shared])
    # Paging with a cursor stays within the owner's entries too.
    middle = alices[1]
    after_cursor = await store.home_timeline(
        ALICE_ID, before=(middle.published, middle.id), limit=10
    )
    assert [p.id for p in after_cursor] == [p.id for p in alices[2:]]


async def test_an_inbox_item_put_back_with_a_retry_time_waits_until_then(store: Store) -> None:
    now = utc_now()
    await store.enqueue_inbox(inbox_item("retry", now))
    [claimed] = await store.claim_inbox(now=now, lease_seconds=60, limit=5)
    later = now + timedelta(minutes=5)
    await store.finish_inbox(claimed.activity_id, InboxState.PENDING, "peer down", retry_at=later)
    assert await store.claim_inbox(now=now + timedelta(minutes=4), lease_seconds=60, limit=5) == []
    again = await store.claim_inbox(now=later + timedelta(seconds=1), lease_seconds=60, limit=5)
    assert [item.activity_id for item in again] == [claimed.activity_id]
