"""The inbox worker's batch reads and writes (InboxBatchStore), per adapter.

One read of the batch's actors and their local followers, one write per incoming note (the
post with its home-timeline rows) and one write finishing the batch's done items.
"""

from __future__ import annotations

from datetime import timedelta

from fedipoly.models import FollowState, InboxState, Visibility, utc_now
from fedipoly.store import Store
from tests.contract.test_federation_store import (
    ALICE,
    ALICE_ID,
    BOB,
    BOB_ID,
    LOCAL,
    follow,
    inbox_item,
    post,
    remote_actor,
)


async def test_remote_actors_are_read_together_by_uri_and_unknown_ones_are_left_out(
    store: Store,
) -> None:
    carol, dave = remote_actor("carol"), remote_actor("dave", "elsewhere.example")
    for actor in (carol, dave, remote_actor("erin")):
        await store.upsert_remote_actor(actor)
    unknown = "https://remote.example/users/nobody"
    found = await store.get_remote_actors([carol.uri, unknown, dave.uri, carol.uri])
    assert found == {carol.uri: carol, dave.uri: dave}
    assert await store.get_remote_actors([]) == {}
    assert await store.get_remote_actors([unknown]) == {}


async def test_local_followers_of_several_actors_are_read_together_accepted_local_ones_only(
    store: Store,
) -> None:
    carol, dave, erin = remote_actor("carol"), remote_actor("dave"), remote_actor("erin")
    for actor in (carol, dave, erin):
        await store.upsert_remote_actor(actor)
    await store.upsert_follow(follow(ALICE, carol.uri), ALICE_ID)
    await store.upsert_follow(follow(BOB, carol.uri), BOB_ID)
    await store.upsert_follow(follow(ALICE, dave.uri), ALICE_ID)
    await store.upsert_follow(follow(BOB, dave.uri, state=FollowState.PENDING), BOB_ID)
    await store.upsert_follow(follow(erin.uri, dave.uri), None)  # a remote follower
    await store.upsert_follow(follow(carol.uri, ALICE), None)  # the other direction
    found = await store.local_follower_ids_of([carol.uri, dave.uri, erin.uri])
    assert sorted(found) == sorted([carol.uri, dave.uri, erin.uri])
    assert sorted(found[carol.uri]) == [ALICE_ID, BOB_ID]
    assert found[dave.uri] == [ALICE_ID]
    assert found[erin.uri] == []
    for uri in (carol.uri, dave.uri, erin.uri):  # the same as one actor at a time
        assert sorted(found[uri]) == sorted(await store.local_follower_ids(uri))
    assert await store.local_follower_ids_of([]) == {}


async def test_a_new_post_is_stored_with_its_timeline_rows_and_a_known_one_changes_nothing(
    store: Store,
) -> None:
    now = utc_now()
    carol = "https://remote.example/users/carol"
    note = post(carol, published=now)
    assert await store.insert_post_on_timelines(note, [ALICE_ID, BOB_ID, ALICE_ID])
    assert await store.get_post_by_uri(note.uri) == note
    assert await store.home_timeline(ALICE_ID, before=None, limit=10) == [note]
    assert await store.home_timeline(BOB_ID, before=None, limit=10) == [note]
    # The same URI again (a redelivered Create, a retry after a crash): nothing changes,
    # not the stored post nor anyone's timeline.
    again = post(carol, published=now + timedelta(seconds=1), uri=note.uri, text="changed")
    assert not await store.insert_post_on_timelines(again, [ALICE_ID, "account-erin"])
    assert await store.get_post_by_uri(note.uri) == note
    assert await store.home_timeline(ALICE_ID, before=None, limit=10) == [note]
    assert await store.home_timeline("account-erin", before=None, limit=10) == []


async def test_a_post_for_nobody_here_is_stored_on_no_timeline(store: Store) -> None:
    note = post(f"{LOCAL}/alice", published=utc_now(), visibility=Visibility.DIRECT)
    assert await store.insert_post_on_timelines(note, [])
    assert await store.get_post(note.id) == note
    assert await store.home_timeline(ALICE_ID, before=None, limit=10) == []


async def test_finishing_several_items_at_once_records_each_and_leaves_the_others(
    store: Store,
) -> None:
    now = utc_now()
    items = [inbox_item(f"i{i}", now + timedelta(milliseconds=i)) for i in range(4)]
    for item in items:
        await store.enqueue_inbox(item)
    claimed = await store.claim_inbox(now=now, lease_seconds=60, limit=10)
    assert len(claimed) == 4
    await store.finish_inbox_items([items[0].activity_id, items[2].activity_id], InboxState.DONE)
    await store.finish_inbox_items([], InboxState.DONE)
    assert await store.count_inbox(InboxState.DONE) == 2
    assert await store.count_inbox(InboxState.PENDING) == 2
    # The unfinished ones come back when their lease runs out; the finished ones never do.
    later = await store.claim_inbox(now=now + timedelta(hours=1), lease_seconds=60, limit=10)
    assert [i.activity_id for i in later] == [items[1].activity_id, items[3].activity_id]


async def test_finishing_several_items_clears_a_retry_time_and_an_earlier_error(
    store: Store,
) -> None:
    now = utc_now()
    item = inbox_item("flaky", now)
    await store.enqueue_inbox(item)
    await store.claim_inbox(now=now, lease_seconds=60, limit=1)
    retry_at = now + timedelta(minutes=5)
    await store.finish_inbox(item.activity_id, InboxState.PENDING, "peer down", retry_at=retry_at)
    [again] = await store.claim_inbox(
        now=retry_at + timedelta(seconds=1), lease_seconds=60, limit=1
    )
    await store.finish_inbox_items([again.activity_id], InboxState.DONE)
    assert await store.count_inbox(InboxState.DONE) == 1
    assert await store.count_inbox(InboxState.PENDING) == 0
    assert await store.claim_inbox(now=now + timedelta(days=1), lease_seconds=60, limit=1) == []
