"""Group commit: concurrent writes share one transaction, each isolated in its savepoint."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fedipoly.errors import StoreUnavailable
from fedipoly.store.sqlite.core import SqliteCore
from fedipoly.store.sqlite.group_commit import GroupCommit

T = TypeVar("T")


class CountingCore(SqliteCore):
    """Counts the transactions that reach the database."""

    transactions = 0

    async def run_in_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        self.transactions += 1
        return await super().run_in_transaction(work)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[CountingCore]:
    opened = CountingCore(str(tmp_path / "group.sqlite3"))
    await opened.open()
    await opened.execute("CREATE TABLE notes (name TEXT PRIMARY KEY)")
    opened.transactions = 0
    yield opened
    await opened.close()


def insert(name: str, *more: str) -> Callable[[sqlite3.Connection], str]:
    def work(connection: sqlite3.Connection) -> str:
        for each in (name, *more):
            connection.execute("INSERT INTO notes (name) VALUES (?)", (each,))
        return name

    return work


async def names(core: SqliteCore) -> list[str]:
    return sorted(row["name"] for row in await core.fetch_all("SELECT name FROM notes"))


async def test_a_call_made_alone_is_written_at_once(core: CountingCore) -> None:
    writes: GroupCommit[str] = GroupCommit(core)
    assert await writes.run(insert("a")) == "a"
    assert await names(core) == ["a"]
    assert await writes.run(insert("b")) == "b"
    assert await names(core) == ["a", "b"]
    assert core.transactions == 2


async def test_calls_made_together_share_one_transaction_and_each_gets_its_own_result(
    core: CountingCore,
) -> None:
    writes: GroupCommit[str] = GroupCommit(core)
    wanted = [f"n{i:02}" for i in range(20)]
    assert await asyncio.gather(*(writes.run(insert(name)) for name in wanted)) == wanted
    assert await names(core) == wanted
    assert core.transactions == 1


async def test_calls_made_while_a_group_is_written_go_in_the_next_group(
    core: CountingCore,
) -> None:
    writes: GroupCommit[str] = GroupCommit(core)

    async def after_a_pause(name: str) -> str:
        await asyncio.sleep(0)  # arrives once the first group is on its way
        return await writes.run(insert(name))

    first = [writes.run(insert(f"a{i}")) for i in range(3)]
    later = [after_a_pause(f"b{i}") for i in range(3)]
    assert await asyncio.gather(*first, *later) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert await names(core) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert core.transactions == 2


async def test_a_failing_call_rolls_back_only_its_own_statements_and_fails_only_its_caller(
    core: CountingCore,
) -> None:
    writes: GroupCommit[str] = GroupCommit(core)
    await core.execute("INSERT INTO notes (name) VALUES ('taken')")
    core.transactions = 0
    outcomes: Any = await asyncio.gather(
        writes.run(insert("before")),
        # Its first insert succeeds, its second breaks the key: neither may stay.
        writes.run(insert("half", "taken")),
        writes.run(insert("after")),
        return_exceptions=True,
    )
    assert outcomes[0] == "before" and outcomes[2] == "after"
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert await names(core) == ["after", "before", "taken"]
    assert core.transactions == 1


async def test_when_the_transaction_itself_fails_every_caller_hears_of_it_and_nothing_is_kept(
    core: CountingCore,
) -> None:
    writes: GroupCommit[str] = GroupCommit(core)
    other = sqlite3.connect(core._path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    await core.db.execute("PRAGMA busy_timeout=50")  # not a write: no transaction around it
    try:
        outcomes = await asyncio.gather(
            writes.run(insert("a")), writes.run(insert("b")), return_exceptions=True
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
    assert await names(core) == []
    # The writer is free again for the next calls.
    assert await writes.run(insert("c")) == "c"
    assert await names(core) == ["c"]


async def test_single_statement_writes_made_together_share_one_transaction(
    core: CountingCore,
) -> None:
    """`execute` (one statement, as an accepted inbox POST makes) group-commits too."""
    sql = "INSERT INTO notes (name) VALUES (?) ON CONFLICT DO NOTHING"
    counts = await asyncio.gather(*(core.execute(sql, (f"p{i}",)) for i in range(10)))
    assert counts == [1] * 10
    assert core.transactions == 1
    assert await core.execute(sql, ("p0",)) == 0  # a duplicate changes nothing
    assert await names(core) == [f"p{i}" for i in range(10)]


async def test_a_failing_statement_fails_only_its_caller(core: CountingCore) -> None:
    sql = "INSERT INTO notes (name) VALUES (?)"
    await core.execute(sql, ("taken",))
    outcomes = await asyncio.gather(
        core.execute(sql, ("first",)),
        core.execute(sql, ("taken",)),
        core.execute(sql, ("last",)),
        return_exceptions=True,
    )
    assert outcomes[0] == 1 and outcomes[2] == 1
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert await names(core) == ["first", "last", "taken"]
