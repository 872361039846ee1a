"""Group commit: writes of one kind made at about the same time share one transaction.

The inbox accepts POSTs side by side (one insert each) and the inbox worker stores a claimed
batch's notes side by side, each a small transaction of its own. On our one connection every
transaction costs a hop to aiosqlite's thread, a wake-up of the event loop and a commit, which
together outweigh the few statements inside (bench/README.md). Calls arriving while the
previous group is being written wait for the next group, so under load they go to the
database in one transaction, and a call made alone is written at once.

Each call runs inside a SAVEPOINT of its own: one call's failure rolls back its statements
only and is raised to its caller only. A failure of the transaction as a whole (the database
busy or gone) reaches every caller of the group, none of whose writes were kept.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # the core holds one of these for its single-statement writes
    from fedipoly.store.sqlite.core import SqliteCore

_T = TypeVar("_T")

Work = Callable[[sqlite3.Connection], _T]


@dataclass(frozen=True)
class _Failed:
    error: Exception


class GroupCommit(Generic[_T]):
    def __init__(self, core: SqliteCore) -> None:
        self._core = core
        self._waiting: list[tuple[Work[_T], asyncio.Future[_T]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, work: Work[_T]) -> _T:
        """``work(connection)`` in a transaction, possibly along with other calls' work."""
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._writer is None or self._writer.done():  # done: its event loop went away
            self._writer = asyncio.create_task(self._write_groups())
        return await future

    async def _write_groups(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                await self._write(group)
        finally:
            self._writer = None
            # Left waiting only when this task was cancelled (the loop shutting down).
            for _, future in self._waiting:
                future.cancel()
            self._waiting = []

    async def _write(self, group: list[tuple[Work[_T], asyncio.Future[_T]]]) -> None:
        works = [work for work, _ in group]
        try:
            outcomes = await self._core.run_in_transaction(
                lambda connection: [_isolated(connection, work) for work in works]
            )
        except Exception as error:
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, future in group:
                future.cancel()
            raise
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if future.done():
                continue  # its caller was cancelled meanwhile; the write is kept all the same
            if isinstance(outcome, _Failed):
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome)


def _isolated(connection: sqlite3.Connection, work: Work[_T]) -> _T | _Failed:
    connection.execute("SAVEPOINT group_member")
    try:
        result = work(connection)
    except Exception as error:
        connection.execute("ROLLBACK TO group_member")
        connection.execute("RELEASE group_member")
        return _Failed(error)
    connection.execute("RELEASE group_member")
    return result
