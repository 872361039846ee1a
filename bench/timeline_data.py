"""Bench-only bulk loader: a SQLite database of members, follows, posts and home timelines.

It opens the real `SqliteStore` (so the schema is exactly what the migrations create) and
bulk-inserts through that store's own connection inside large transactions. Rows are
serialised the way the store serialises them (`_post_values`, `to_db_time`), and every post is
fanned out the way `PostService._fan_out_locally` + `add_to_timelines` do it: one
timeline_entries row for the author and one for each local follower (or, above the row budget,
for each follower with probability `share`; see `Shape.share`).

Nothing here belongs in the application: it skips the services and trades durability for speed
while loading (journal off, then back to WAL). Use it for benchmarks only.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import itertools
import json
import math
import random
import re
import time
from array import array
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from federation.keys import generate_rsa_keypair
from fedipoly.models import Post, PostActivityTag, Visibility
from fedipoly.services.text import plain_text_to_html
from fedipoly.store.sqlite import SqliteStore
from fedipoly.store.sqlite.core import to_db_time
from fedipoly.store.sqlite.federation import _post_values
from fedipoly.urls import Urls

DATASET_SETTING = "bench.timeline_dataset"
URLS = Urls("https://bench.fedipoly.example")
END = datetime(2026, 5, 1, tzinfo=UTC)  # fixed, so a seed always gives the same database
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH_ROWS = 100_000  # rows per executemany call
TRANSACTION_ROWS = 1_000_000  # rows per transaction
LOAD_CACHE_KIB = 256 * 1024  # SQLite page cache while loading (random index inserts)
ZIPF_EXPONENT = 0.5  # popularity and posting activity: a few members are much busier than most

Log = Callable[[str], None]
_HASHTAG = re.compile(r"#(\w+)")


@dataclass(frozen=True)
class Shape:
    """What to generate. `max_fanout_rows` bounds the follower rows of timeline_entries.

    The app writes 1 + followers rows per post. With `follows` = 50 that is ~51 rows per post:
    51M rows (~10 GB with its index) at 1M posts. Above the budget each follower receives each
    post with probability `share`, so every reader's home timeline holds that share of what the
    people they follow wrote (the author's own row is always written, as in the app).
    """

    members: int
    posts: int
    follows: int
    max_fanout_rows: int
    seed: int
    span_days: int = 365

    @property
    def share(self) -> float:
        return min(1.0, self.max_fanout_rows / max(1, self.posts * self.follows))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def dataset_path(directory: Path, shape: Shape) -> Path:
    return directory / (
        f"timeline-{shape.posts}p-{shape.members}m-{shape.follows}f-"
        f"{shape.max_fanout_rows}r-s{shape.seed}.sqlite3"
    )


async def stored_dataset(store: SqliteStore) -> dict[str, Any] | None:
    """The description written as the last step of a completed generation, or None."""
    value = await store.get_setting(DATASET_SETTING)
    return json.loads(value) if value else None


def _ms_time(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _zipf_cumulative(rng: random.Random, count: int) -> list[float]:
    """Cumulative weights 1/rank**a over a random order of `count` members."""
    ranks = list(range(1, count + 1))
    rng.shuffle(ranks)
    return list(itertools.accumulate(1.0 / rank**ZIPF_EXPONENT for rank in ranks))


_VERBS = [
    "Wrote some code",
    "Streamed on Twitch",
    "Published a newsletter",
    "Gave a talk",
    "Mentored a junior developer",
    "Recorded a podcast episode",
    "Shipped a release",
    "Sketched some ideas",
    "Ran a workshop",
    "Reviewed a pull request",
    "Played a chess tournament",
    "Baked sourdough",
]
_DETAILS = [
    "about federated timelines",
    "on keyset pagination in SQLite",
    "with the local meetup group",
    "for the open-source accessibility project",
    "after a long week",
    "and learned a lot about indexes",
    "with friends from the fediverse",
    "- slides and notes are on my site https://example.org/notes",
    "about why chronological feeds matter",
    "on a rainy Sunday",
]
_TAILS = [
    "",
    " Feedback welcome!",
    " More soon.",
    " Thanks to everyone who joined.\n\nNext one is in two weeks.",
    " #python #sqlite",
    " It went better than expected, and the questions afterwards were great.",
]


def _texts(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(source text, HTML rendered by the app's own renderer), one-liners to a few sentences."""
    pool = []
    for _ in range(count):
        text = f"{rng.choice(_VERBS)} {rng.choice(_DETAILS)}.{rng.choice(_TAILS)}"
        pool.append((text, plain_text_to_html(text)))
    return pool


def _geometric_sample(values: array, share: float, rng: random.Random) -> Iterator[int]:
    """Each value independently with probability `share` (Bernoulli), by skipping ahead."""
    if share >= 1.0:
        yield from values
        return
    log_miss = math.log1p(-share)
    index = -1
    length = len(values)
    while True:
        index += 1 + int(math.log(1.0 - rng.random()) / log_miss)
        if index >= length:
            return
        yield values[index]


class _Loader:
    """executemany in big batches inside big transactions, through the store's connection.

    The next batch is built while SQLite writes the previous one on aiosqlite's thread.
    """

    def __init__(self, store: SqliteStore, sql: str) -> None:
        self._store = store
        self._sql = sql
        self.rows = 0

    async def load(self, batches: Iterator[list[tuple[Any, ...]]]) -> int:
        pending: Awaitable[Any] | None = None
        in_transaction = 0
        transaction = self._store.transaction()
        db = await transaction.__aenter__()
        try:
            for batch in batches:
                if pending is not None:
                    await pending
                if in_transaction >= TRANSACTION_ROWS:
                    await transaction.__aexit__(None, None, None)
                    transaction = self._store.transaction()
                    db = await transaction.__aenter__()
                    in_transaction = 0
                pending = asyncio.ensure_future(db.executemany(self._sql, batch))
                in_transaction += len(batch)
                self.rows += len(batch)
            if pending is not None:
                await pending
        except BaseException as error:
            if pending is not None and not pending.done():
                await asyncio.gather(pending, return_exceptions=True)
            await transaction.__aexit__(type(error), error, error.__traceback__)
            raise
        await transaction.__aexit__(None, None, None)
        return self.rows


def _batched(rows: Iterator[tuple[Any, ...]], size: int = BATCH_ROWS) -> Iterator[list[Any]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


async def generate(path: Path, shape: Shape, log: Log) -> dict[str, Any]:
    """Create the database at `path` (which must not exist) and return its description."""
    started = time.perf_counter()
    rng = random.Random(shape.seed)
    store = SqliteStore(str(path))
    await store.open()  # migrations and the seeded badge catalogue, as in production
    db = store.db
    # Loading only: no rollback journal, no fsync, a big page cache. Back to WAL at the end.
    await db.execute("PRAGMA journal_mode=OFF")
    await db.execute("PRAGMA synchronous=OFF")
    await db.execute(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
    timings: dict[str, float] = {}
    try:
        mark = time.perf_counter()
        members = await _load_members(store, shape, rng)
        timings["members"] = time.perf_counter() - mark

        mark = time.perf_counter()
        followees = await _load_follows(store, shape, rng, members)
        follow_rows = sum(len(f) for f in followees)
        timings["follows"] = time.perf_counter() - mark
        log(f"  {len(members):,} members, {follow_rows:,} follows ({timings['follows']:.1f}s)")

        mark = time.perf_counter()
        post_ids, post_times, by_author = await _load_posts(store, shape, rng, members)
        timings["posts"] = time.perf_counter() - mark
        log(f"  {len(post_ids):,} posts ({timings['posts']:.1f}s)")

        mark = time.perf_counter()
        timeline_rows, lengths = await _load_timelines(
            store, shape, rng, members, followees, post_ids, post_times, by_author, log
        )
        timings["timelines"] = time.perf_counter() - mark
        del post_ids, post_times, by_author, followees

        lengths.sort()
        description = {
            "shape": shape.as_dict(),
            "share": shape.share,
            "members": len(members),
            "follows": follow_rows,
            "posts": shape.posts,
            "timeline_rows": timeline_rows,
            "timeline_length": {
                "min": lengths[0],
                "median": lengths[len(lengths) // 2],
                "max": lengths[-1],
            },
            "generation_seconds": round(time.perf_counter() - started, 1),
            "timings": {name: round(value, 1) for name, value in timings.items()},
        }
        await store.put_setting_if_absent(DATASET_SETTING, json.dumps(description))
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
    finally:
        await store.close()
    description["generation_seconds"] = round(time.perf_counter() - started, 1)
    return description


@dataclass(frozen=True)
class _Member:
    id: str
    username: str


async def _load_members(store: SqliteStore, shape: Shape, rng: random.Random) -> list[_Member]:
    """Members sorted by id (the order of the timeline primary key). One shared key pair:
    generating 10k RSA keys would take minutes and nothing here signs."""
    keys = generate_rsa_keypair()
    start_ms = int((END - timedelta(days=shape.span_days + 30) - EPOCH).total_seconds() * 1000)
    rows = []
    for index in range(shape.members):
        created_ms = start_ms + index * 1000
        member_id = f"{created_ms:012x}{rng.getrandbits(64):016x}"  # fedipoly.models.new_id
        username = f"member{index:05d}"
        rows.append(
            (
                member_id,
                username,
                username,
                f"{username}@bench.invalid",
                f"{username}@bench.invalid",
                "member",
                f"Member {index:05d}",
                "!bench-no-password",
                keys.public_pem,
                keys.private_pem,
                to_db_time(_ms_time(created_ms)),
            )
        )
    await _Loader(
        store,
        "INSERT INTO accounts (id, username, username_lower, email, email_lower, role,"
        " display_name, password_hash, public_key_pem, private_key_pem, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).load(_batched(iter(rows)))
    members = [_Member(row[0], row[1]) for row in rows]
    members.sort(key=lambda member: member.id)
    return members


async def _load_follows(
    store: SqliteStore, shape: Shape, rng: random.Random, members: list[_Member]
) -> list[array]:
    """Each member follows `shape.follows` distinct others, picked by a Zipf popularity."""
    count = len(members)
    wanted = min(shape.follows, count - 1)
    cumulative = _zipf_cumulative(rng, count)
    total = cumulative[-1]
    followees: list[array] = []
    for index in range(count):
        chosen: set[int] = set()
        while len(chosen) < wanted:
            pick = bisect.bisect_right(cumulative, rng.random() * total)
            if pick != index and pick < count:
                chosen.add(pick)
        followees.append(array("i", sorted(chosen)))
    created = to_db_time(END - timedelta(days=shape.span_days + 1))
    created_ms = int((END - timedelta(days=shape.span_days + 1) - EPOCH).total_seconds() * 1000)

    def rows() -> Iterator[tuple[Any, ...]]:
        for index, followed in enumerate(followees):
            member = members[index]
            me = URLS.actor(member.username)
            for other in followed:
                follow_id = f"{created_ms:012x}{rng.getrandbits(64):016x}"
                yield (
                    follow_id,
                    me,
                    URLS.actor(members[other].username),
                    member.id,
                    URLS.activity(member.username, "follows", follow_id),
                    "accepted",
                    created,
                )

    await _Loader(
        store,
        "INSERT INTO follows (id, follower, followed, follower_account_id, activity_id, state,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).load(_batched(rows()))
    return followees


async def _statement_of(store: SqliteStore, call: Callable[[], Awaitable[Any]]) -> str:
    """The SQL a store method runs through `execute`, caught without running it, so the bulk
    insert is the store's own statement whatever columns the schema has grown."""
    caught: list[str] = []

    async def spy(sql: str, params: Any = ()) -> int:
        caught.append(sql)
        return 1

    store.execute = spy  # type: ignore[method-assign]
    try:
        await call()
    finally:
        del store.execute
    assert len(caught) == 1, caught
    return caught[0]


async def _catalogue(store: SqliteStore) -> list[tuple[str, str, str]]:
    """(phrase, badge slug, badge id) of the seeded activity tags whose badge is approved."""
    rows = await store.fetch_all(
        "SELECT t.phrase, b.slug, b.id FROM activity_tags t JOIN badges b ON b.id = t.badge_id"
        " WHERE b.status = 'approved' ORDER BY t.phrase"
    )
    return [(row["phrase"], row["slug"], row["id"]) for row in rows]


async def _load_posts(
    store: SqliteStore, shape: Shape, rng: random.Random, members: list[_Member]
) -> tuple[list[str], list[str], list[array]]:
    """Posts in (published, id) order, authors by a Zipf activity independent of popularity.

    Two in three carry an activity tag from the seeded catalogue; public ones with a tag get
    their badge_entries row, as PostService._fan_out_to_badges writes it."""
    end_ms = int((END - EPOCH).total_seconds() * 1000)
    span_ms = shape.span_days * 86_400_000
    cumulative = _zipf_cumulative(rng, len(members))
    authors = rng.choices(range(len(members)), cum_weights=cumulative, k=shape.posts)
    # new_id's format: 12 hex digits of the publication millisecond, then 16 random ones.
    # Sorting the ids sorts by (published, id), the order of every timeline index.
    keyed = sorted(
        (f"{end_ms - rng.randrange(span_ms):012x}{rng.getrandbits(64):016x}", author)
        for author in authors
    )
    del authors
    post_ids = [key for key, _ in keyed]
    post_authors = array("i", (author for _, author in keyed))
    del keyed
    post_times: list[str] = []
    by_author = [array("i") for _ in members]
    texts = _texts(rng, 4000)
    catalogue = await _catalogue(store)
    badge_rows: list[tuple[str, str, str]] = []

    def post_at(index: int) -> Post:
        post_id = post_ids[index]
        author = members[post_authors[index]]
        text, html = texts[rng.randrange(len(texts))]
        tags: tuple[PostActivityTag, ...] = ()
        if catalogue and rng.random() < 2 / 3:
            phrase, slug, _ = catalogue[rng.randrange(len(catalogue))]
            tags = (PostActivityTag(phrase, slug),)
        return Post(
            id=post_id,
            uri=URLS.note(author.username, post_id),
            author=URLS.actor(author.username),
            local_account_id=author.id,
            content_html=html,
            source_text=text,
            visibility=Visibility.FOLLOWERS if rng.random() < 0.1 else Visibility.PUBLIC,
            in_reply_to=None,
            published=_ms_time(int(post_id[:12], 16)),
            updated=None,
            url=URLS.note_page(author.username, post_id),
            activity_tags=tags,
            badges=tuple(tag.badge_slug for tag in tags),
            hashtags=tuple(_HASHTAG.findall(text)),
        )

    badge_ids = {slug: badge_id for _, slug, badge_id in catalogue}

    def rows() -> Iterator[tuple[Any, ...]]:
        for index in range(len(post_ids)):
            post = post_at(index)
            by_author[post_authors[index]].append(index)
            published = to_db_time(post.published)
            post_times.append(published)  # as add_to_timelines writes it
            if post.visibility is Visibility.PUBLIC:
                badge_rows.extend((badge_ids[slug], published, post.id) for slug in post.badges)
            yield _post_values(post)

    insert = await _statement_of(store, lambda: store.insert_post(post_at(0)))
    await _Loader(store, insert).load(_batched(rows(), 20_000))
    await _Loader(
        store, "INSERT INTO badge_entries (badge_id, published, post_id) VALUES (?, ?, ?)"
    ).load(_batched(iter(badge_rows)))
    return post_ids, post_times, by_author


async def _load_timelines(
    store: SqliteStore,
    shape: Shape,
    rng: random.Random,
    members: list[_Member],
    followees: list[array],
    post_ids: list[str],
    post_times: list[str],
    by_author: list[array],
    log: Log,
) -> tuple[int, list[int]]:
    """Fan-out rows written reader by reader, in primary-key order (owner_id, published,
    post_id), so the WITHOUT ROWID table grows by appending. timeline_entries_by_post is dropped
    first and re-created afterwards from its own stored SQL: the same index, built by one sort."""
    row = await store.fetch_one(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'timeline_entries_by_post'"
    )
    assert row is not None, "the migrations no longer create timeline_entries_by_post"
    index_sql = row["sql"]
    await store.execute("DROP INDEX timeline_entries_by_post")
    share = shape.share
    lengths: list[int] = []
    started = time.perf_counter()

    def rows() -> Iterator[tuple[Any, ...]]:
        for reader, member in enumerate(members):
            entries = list(by_author[reader])  # the author's own posts: always on their timeline
            for followed in followees[reader]:
                entries.extend(_geometric_sample(by_author[followed], share, rng))
            entries.sort()
            lengths.append(len(entries))
            owner = member.id
            for index in entries:
                yield (owner, post_times[index], post_ids[index])
            if reader and reader % 2000 == 0:
                log(f"    timelines of {reader:,} readers ({time.perf_counter() - started:.0f}s)")

    loader = _Loader(
        store, "INSERT INTO timeline_entries (owner_id, published, post_id) VALUES (?, ?, ?)"
    )
    total = await loader.load(_batched(rows()))
    log(f"  {total:,} timeline rows ({time.perf_counter() - started:.1f}s); indexing by post")
    mark = time.perf_counter()
    async with store.transaction() as db:
        await db.execute(index_sql)
    log(f"  timeline_entries_by_post re-created ({time.perf_counter() - mark:.1f}s)")
    return total, lengths
