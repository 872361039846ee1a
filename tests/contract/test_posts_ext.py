"""Activity-post fields, badge/local/federated timelines and threads, run against every adapter."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from fedipoly.models import Attachment, Post, PostActivityTag, Visibility, utc_now
from fedipoly.store import Store
from fedipoly.store.mongo import MongoStore
from fedipoly.store.sqlite import SqliteStore
from tests.contract.test_federation_store import (
    ALICE,
    ALICE_ID,
    BOB,
    BOB_ID,
    newest_first_posts,
    post,
    remote_actor,
    seconds,
    walk_pages,
)
from tests.support import SecantusServer

CAROL = "https://remote.example/users/carol"
BADGE = "badge-python"
OTHER_BADGE = "badge-chess"


def rich(author: str = ALICE, **changes: object) -> Post:
    base = post(author, published=utc_now(), local_account_id=ALICE_ID)
    return dataclasses.replace(
        base,
        activity_tags=(
            PostActivityTag("Wrote some code", "programming"),
            PostActivityTag("Fixed a flaky test", "python"),
        ),
        badges=("programming", "python"),
        hashtags=("Python", "café"),
        mentions=(CAROL, BOB),
        attachments=(
            Attachment(
                url="https://local.test/media/abc.png",
                media_type="image/png",
                alt="A cat on a keyboard",
                width=800,
                height=600,
                media_id="abc.png",
            ),
            Attachment(url="https://remote.example/x.jpg", media_type="image/jpeg"),
        ),
        happened_on=date(2024, 2, 29),
        reply_root="https://remote.example/notes/root",
        in_reply_to="https://remote.example/notes/parent",
        **changes,  # type: ignore[arg-type]
    )


# --- the post fields ---------------------------------------------------------------------


async def test_every_activity_post_field_round_trips_and_updates(store: Store) -> None:
    original = rich()
    assert await store.insert_post(original)
    assert await store.get_post(original.id) == original
    assert await store.get_post_by_uri(original.uri) == original

    edited = dataclasses.replace(
        original,
        activity_tags=(PostActivityTag("Gave a talk", "public_speaking"),),
        badges=("public_speaking",),
        hashtags=(),
        mentions=(CAROL,),
        attachments=(),
        happened_on=None,
        unlisted=True,
        updated=original.published + seconds(5),
    )
    await store.update_post(edited)
    assert await store.get_post(original.id) == edited
    # The defaults of a post written before these fields existed read back as defaults.
    bare = post(CAROL, published=utc_now())
    await store.insert_post(bare)
    fetched = await store.get_post(bare.id)
    assert fetched == bare and fetched.activity_tags == () and fetched.happened_on is None


async def test_a_tombstone_keeps_only_its_place_in_the_thread(store: Store) -> None:
    original = rich()
    await store.insert_post(original)
    await store.replace_badge_entries(original, [BADGE])
    tombstone = await store.mark_post_deleted(original.uri, utc_now())
    assert tombstone is not None
    assert tombstone.activity_tags == () and tombstone.badges == () and tombstone.hashtags == ()
    assert tombstone.mentions == () and tombstone.attachments == ()
    assert tombstone.happened_on is None
    assert tombstone.reply_root == original.reply_root
    assert tombstone.in_reply_to == original.in_reply_to
    assert await store.badge_timeline(BADGE, before=None, limit=10) == []


# --- badge timelines ---------------------------------------------------------------------


async def test_a_badge_timeline_is_newest_first_and_holds_only_that_badges_entries(
    store: Store,
) -> None:
    now = utc_now()
    notes = [post(ALICE, published=now + seconds(i), local_account_id=ALICE_ID) for i in (2, 0, 1)]
    chess = post(BOB, published=now + seconds(3), local_account_id=BOB_ID)
    for note in notes:
        await store.insert_post(note)
        await store.replace_badge_entries(note, [BADGE])
    await store.insert_post(chess)
    await store.replace_badge_entries(chess, [OTHER_BADGE])

    timeline = await store.badge_timeline(BADGE, before=None, limit=10)
    assert [p.id for p in timeline] == newest_first_posts(notes)
    assert await store.badge_timeline(OTHER_BADGE, before=None, limit=10) == [chess]
    assert await store.badge_timeline("badge-none", before=None, limit=10) == []
    assert await store.badge_timeline(BADGE, before=None, limit=0) == []
    middle = timeline[1]
    after = await store.badge_timeline(BADGE, before=(middle.published, middle.id), limit=10)
    assert after == timeline[2:]


async def test_replacing_badge_entries_is_idempotent_and_moves_the_post(store: Store) -> None:
    note = post(ALICE, published=utc_now(), local_account_id=ALICE_ID)
    await store.insert_post(note)
    await store.replace_badge_entries(note, [BADGE, BADGE, OTHER_BADGE])
    await store.replace_badge_entries(note, [BADGE, OTHER_BADGE])
    assert await store.badge_timeline(BADGE, before=None, limit=10) == [note]
    assert await store.badge_timeline(OTHER_BADGE, before=None, limit=10) == [note]
    await store.replace_badge_entries(note, [OTHER_BADGE])
    assert await store.badge_timeline(BADGE, before=None, limit=10) == []
    await store.replace_badge_entries(note, [])
    assert await store.badge_timeline(OTHER_BADGE, before=None, limit=10) == []


async def test_badge_timeline_pages_walked_by_cursor_hold_every_post_once(store: Store) -> None:
    now = utc_now()
    notes = [post(ALICE, published=now + seconds(i // 3)) for i in range(10)]
    for note in notes:
        await store.insert_post(note)
        await store.replace_badge_entries(note, [BADGE])
    for page_size in (1, 2, 3, 4):
        pages = await walk_pages(
            lambda before, n: store.badge_timeline(BADGE, before=before, limit=n),
            lambda p: (p.published, p.id),
            page_size,
        )
        assert [p.id for page in pages for p in page] == newest_first_posts(notes)


async def test_deleted_or_no_longer_public_posts_leave_badge_pages_without_shortening_them(
    store: Store,
) -> None:
    now = utc_now()
    notes = [post(ALICE, published=now + seconds(i)) for i in range(5)]
    for note in notes:
        await store.insert_post(note)
        await store.replace_badge_entries(note, [BADGE])
    await store.mark_post_deleted(notes[4].uri, now + seconds(10))
    await store.update_post(dataclasses.replace(notes[3], visibility=Visibility.FOLLOWERS))
    await store.update_post(dataclasses.replace(notes[2], unlisted=True))
    page = await store.badge_timeline(BADGE, before=None, limit=2)
    assert [p.id for p in page] == newest_first_posts(notes[:2])


async def test_deleting_a_remote_actor_takes_its_posts_off_badge_timelines(store: Store) -> None:
    carol = remote_actor("carol")
    await store.upsert_remote_actor(carol)
    note = post(carol.uri, published=utc_now())
    await store.insert_post(note)
    await store.replace_badge_entries(note, [BADGE])
    await store.delete_remote_actor(carol.uri)
    assert await store.badge_timeline(BADGE, before=None, limit=10) == []


async def test_backfill_puts_the_members_public_tagged_posts_on_the_badge_once(
    store: Store,
) -> None:
    now = utc_now()

    def tagged(i: int, **changes: object) -> Post:
        made = post(ALICE, published=now + seconds(i), local_account_id=ALICE_ID)
        return dataclasses.replace(made, badges=("knitting", "python"), **changes)  # type: ignore[arg-type]

    wanted = [tagged(0), tagged(1)]
    private = tagged(2, visibility=Visibility.FOLLOWERS)
    untagged = dataclasses.replace(tagged(3), badges=("python",))
    someone_elses = dataclasses.replace(tagged(4), local_account_id=BOB_ID, author=BOB)
    deleted = tagged(5)
    for note in [*wanted, private, untagged, someone_elses, deleted]:
        await store.insert_post(note)
    await store.mark_post_deleted(deleted.uri, now + seconds(9))

    assert await store.backfill_badge_entries("badge-knitting", "knitting", ALICE_ID) == 2
    assert await store.backfill_badge_entries("badge-knitting", "knitting", ALICE_ID) == 0
    timeline = await store.badge_timeline("badge-knitting", before=None, limit=10)
    assert [p.id for p in timeline] == newest_first_posts(wanted)
    assert await store.backfill_badge_entries("badge-x", "knitting", "account-nobody") == 0


# --- local and federated timelines -------------------------------------------------------


async def test_local_and_federated_timelines_hold_public_posts_only(store: Store) -> None:
    now = utc_now()
    local = [post(ALICE, published=now + seconds(i), local_account_id=ALICE_ID) for i in range(3)]
    remote = [post(CAROL, published=now + seconds(i) + seconds(0.5)) for i in range(2)]
    hidden = [
        post(ALICE, published=now + seconds(10), local_account_id=ALICE_ID, visibility=v)
        for v in (Visibility.FOLLOWERS, Visibility.DIRECT)
    ] + [
        post(CAROL, published=now + seconds(11), visibility=v)
        for v in (Visibility.FOLLOWERS, Visibility.DIRECT)
    ]
    hidden.append(dataclasses.replace(post(CAROL, published=now + seconds(13)), unlisted=True))
    deleted = post(BOB, published=now + seconds(12), local_account_id=BOB_ID)
    for note in [*local, *remote, *hidden, deleted]:
        await store.insert_post(note)
    await store.mark_post_deleted(deleted.uri, now + seconds(20))

    assert [p.id for p in await store.local_timeline(before=None, limit=20)] == newest_first_posts(
        local
    )
    federated = await store.public_timeline(before=None, limit=20)
    assert [p.id for p in federated] == newest_first_posts([*local, *remote])
    assert await store.local_timeline(before=None, limit=0) == []
    assert await store.public_timeline(before=None, limit=0) == []
    middle = federated[2]
    after = await store.public_timeline(before=(middle.published, middle.id), limit=20)
    assert after == federated[3:]


@pytest.mark.parametrize("page_size", [1, 2, 3, 5])
async def test_local_and_federated_pages_walked_by_cursor_hold_every_post_once(
    store: Store, page_size: int
) -> None:
    now = utc_now()
    local = [
        post(ALICE, published=now + seconds(i // 3), local_account_id=ALICE_ID) for i in range(7)
    ]
    remote = [post(CAROL, published=now + seconds(i // 2)) for i in range(5)]
    for note in [*local, *remote]:
        await store.insert_post(note)
    for fetch, expected in (
        (store.local_timeline, local),
        (store.public_timeline, [*local, *remote]),
    ):
        pages = await walk_pages(
            lambda before, n, fetch=fetch: fetch(before=before, limit=n),
            lambda p: (p.published, p.id),
            page_size,
        )
        assert [p.id for page in pages for p in page] == newest_first_posts(expected)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """SQLite only: for facts about that adapter (query plans), not the shared contract."""
    opened = SqliteStore(str(tmp_path / "plans.sqlite3"))
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def mongo_store(secantus: SecantusServer) -> AsyncIterator[MongoStore]:
    """MongoDB only: for that adapter's own migration behaviour."""
    opened = MongoStore(secantus.url, f"test_{uuid.uuid4().hex[:12]}")
    await opened.open()
    yield opened
    await opened.drop_database()
    await opened.close()


async def test_sqlite_reads_the_public_timelines_from_their_partial_indexes(
    sqlite_store: SqliteStore,
) -> None:
    store = sqlite_store
    for scope, index in (
        ("AND local_account_id IS NOT NULL", "posts_local_public"),
        ("", "posts_public"),
    ):
        rows = await store.fetch_all(
            "EXPLAIN QUERY PLAN SELECT * FROM posts WHERE visibility = 'public' AND unlisted = 0"
            f" {scope}"
            " AND (published, id) < (?, ?) AND deleted_at IS NULL"
            " ORDER BY published DESC, id DESC LIMIT ?",
            ("2030-01-01", "x", 20),
        )
        plan = " ".join(str(row["detail"]) for row in rows)
        assert index in plan and "TEMP B-TREE" not in plan, plan


# --- threads -----------------------------------------------------------------------------


async def test_thread_posts_are_the_roots_replies_oldest_first(store: Store) -> None:
    now = utc_now()
    root = post(ALICE, published=now, local_account_id=ALICE_ID)
    replies = [
        dataclasses.replace(
            post(CAROL if i % 2 else BOB, published=now + seconds(3 - i)),
            in_reply_to=root.uri,
            reply_root=root.uri,
        )
        for i in range(3)
    ]
    elsewhere = dataclasses.replace(
        post(CAROL, published=now),
        in_reply_to="https://x.example/1",
        reply_root="https://x.example/1",
    )
    gone = dataclasses.replace(
        post(BOB, published=now + seconds(1.5)), in_reply_to=root.uri, reply_root=root.uri
    )
    for note in [root, *replies, elsewhere, gone]:
        await store.insert_post(note)
    await store.mark_post_deleted(gone.uri, now + seconds(9))

    thread = await store.thread_posts(root.uri, limit=10)
    assert [p.id for p in thread] == list(reversed(newest_first_posts(replies)))
    assert await store.thread_posts(root.uri, limit=2) == thread[:2]
    assert await store.thread_posts(root.uri, limit=0) == []
    assert await store.thread_posts("https://nowhere.example/1", limit=10) == []


async def test_mongodb_flags_posts_stored_before_the_local_timeline_existed(
    mongo_store: MongoStore,
) -> None:
    store = mongo_store
    now = utc_now()
    local = post(ALICE, published=now, local_account_id=ALICE_ID)
    remote = post(CAROL, published=now + seconds(1))
    for note in (local, remote):
        await store.insert_post(note)
    # As written before schema version 5: no `local` field, version 5 not applied.
    await store.mdb.posts.update_many({}, {"$unset": {"local": ""}})
    await store.mdb.schema_migrations.delete_one({"_id": 5})
    await store.open()
    assert await store.local_timeline(before=None, limit=10) == [local]
    assert [p.id for p in await store.public_timeline(before=None, limit=10)] == [
        remote.id,
        local.id,
    ]
