"""Domain blocks and remote restrictions are answered from memory (fedipoly/store/moderation_cache.py),
run against every adapter: a change through the same store object applies at once, a change made by
another process (another store object on the same database) once the copy is older than
`moderation_cache_seconds`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fedipoly.models import utc_now
from fedipoly.moderation_models import DomainBlock, RemoteRestriction, RestrictionLevel
from fedipoly.store import Store
from fedipoly.store.mongo import MongoStore
from fedipoly.store.sqlite import SqliteStore


@asynccontextmanager
async def other_process(store: Store, cache_seconds: float) -> AsyncIterator[Store]:
    """A second store object on the same database, as another `serve` or `worker` holds."""
    other: SqliteStore | MongoStore
    if isinstance(store, SqliteStore):
        other = SqliteStore(store._path)
    else:
        assert isinstance(store, MongoStore)
        other = MongoStore(store._url, store._database_name)
    other.moderation_cache_seconds = cache_seconds
    await other.open()
    try:
        yield other
    finally:
        await other.close()


async def test_a_block_made_here_applies_at_once(store: Store) -> None:
    assert await store.find_domain_blocks(["spam.example"]) == []  # the empty set is now cached
    assert await store.put_domain_block(DomainBlock("spam.example", "spam", "mod", utc_now()))
    found = await store.find_domain_blocks(["x.spam.example", "spam.example", "example"])
    assert [block.domain for block in found] == ["spam.example"]
    assert await store.delete_domain_block("spam.example")
    assert await store.find_domain_blocks(["spam.example"]) == []


async def test_a_suspension_made_here_applies_at_once(store: Store) -> None:
    uri = "https://remote.example/users/bob"
    assert await store.get_remote_restriction(uri) is None
    await store.put_remote_restriction(
        RemoteRestriction(uri, RestrictionLevel.SUSPENDED, "spam", "mod", utc_now())
    )
    restriction = await store.get_remote_restriction(uri)
    assert restriction is not None and restriction.level is RestrictionLevel.SUSPENDED
    assert await store.delete_remote_restriction(uri)
    assert await store.get_remote_restriction(uri) is None


async def test_another_process_sees_changes_once_its_copy_expires(store: Store) -> None:
    uri = "https://remote.example/users/bob"
    async with (
        other_process(store, cache_seconds=3600) as cached,
        other_process(store, cache_seconds=0) as uncached,
    ):
        assert await cached.find_domain_blocks(["spam.example"]) == []
        assert await cached.get_remote_restriction(uri) is None
        await store.put_domain_block(DomainBlock("spam.example", "spam", "mod", utc_now()))
        await store.put_remote_restriction(
            RemoteRestriction(uri, RestrictionLevel.SUSPENDED, "spam", "mod", utc_now())
        )
        # Within its TTL the other process still answers from its copy...
        assert await cached.find_domain_blocks(["spam.example"]) == []
        assert await cached.get_remote_restriction(uri) is None
        # ...and with the copy expired it reads the database again.
        assert [b.domain for b in await uncached.find_domain_blocks(["spam.example"])] == [
            "spam.example"
        ]
        assert await uncached.get_remote_restriction(uri) is not None
        cached.moderation_cache_seconds = 0
        assert len(await cached.find_domain_blocks(["spam.example"])) == 1
        assert await cached.get_remote_restriction(uri) is not None
