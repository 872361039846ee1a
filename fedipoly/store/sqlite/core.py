"""SQLite connection handling, transactions and migrations shared by the domain mixins."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from fedipoly.errors import StoreUnavailable
from fedipoly.store.migrations.sqlite import MIGRATIONS
from fedipoly.store.sqlite.checkpointer import CHECKPOINT_INTERVAL_SECONDS, BackgroundCheckpointer
from fedipoly.store.sqlite.group_commit import GroupCommit

BUSY_TIMEOUT_MS = 5000

_T = TypeVar("_T")


def to_db_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds: fixed width, so text order is time order."""
    # isoformat with fixed microseconds writes the same text as strftime, several times faster.
    if moment.tzinfo is UTC:  # what utc_now gives: only the "+00:00" suffix to replace
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_db_time_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else to_db_time(moment)


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def from_db_time_or_none(value: str | None) -> datetime | None:
    return None if value is None else from_db_time(value)


class SqliteCore:
    """One connection in WAL mode; writes are serialised by a lock and run in explicit transactions.

    aiosqlite runs every call on one background thread, so a single connection is already
    serialised; the lock only keeps one coroutine's BEGIN...COMMIT from interleaving with another's.
    Several processes (`serve --no-workers` and `worker`) may open the same file: WAL lets readers
    and one writer proceed together and `busy_timeout` makes writers wait for each other.
    """

    def __init__(
        self, path: str, *, checkpoint_interval_seconds: float = CHECKPOINT_INTERVAL_SECONDS
    ) -> None:
        self._path = path
        self._connection: aiosqlite.Connection | None = None
        self._checkpointer: BackgroundCheckpointer | None = None
        self._checkpoint_interval = checkpoint_interval_seconds
        self._write_lock = asyncio.Lock()
        self._grouped_writes: GroupCommit[Any] = GroupCommit(self)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise StoreUnavailable("the database is not open")
        return self._connection

    async def open(self) -> None:
        if self._connection is not None:  # already open: only bring the schema up to date
            await self._migrate()
            return
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = await aiosqlite.connect(self._path, isolation_level=None)
            self._connection.row_factory = sqlite3.Row
            await self._connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode keeps every committed transaction across a process crash
            # (SIGKILL); only an operating-system crash may lose the last few.
            await self._connection.execute("PRAGMA synchronous=NORMAL")
            await self._connection.execute("PRAGMA foreign_keys=ON")
            await self._connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if self._path != ":memory:":
                # Checkpoints run on a connection of their own (checkpointer.py).
                await self._connection.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = BackgroundCheckpointer(
                    self._path, interval_seconds=self._checkpoint_interval
                )
                await self._checkpointer.start()
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(f"cannot open SQLite database {self._path}: {error}") from error
        await self._migrate()

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.stop()
            self._checkpointer = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def ping(self) -> None:
        try:
            await self.fetch_one("SELECT 1")
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite does not answer: {error}") from error

    async def schema_version(self) -> int:
        row = await self.fetch_one("SELECT MAX(version) AS version FROM schema_migrations")
        return int(row["version"] or 0) if row else 0

    async def get_setting(self, name: str) -> str | None:
        row = await self.fetch_one("SELECT value FROM settings WHERE name = ?", (name,))
        return row["value"] if row else None

    async def put_setting_if_absent(self, name: str, value: str) -> str:
        await self.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, value),
        )
        stored = await self.get_setting(name)
        assert stored is not None
        return stored

    async def _migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        async with self.transaction() as db:
            cursor = await db.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in await cursor.fetchall()}
            for version, script in MIGRATIONS:
                if version in applied:
                    continue
                for statement in _statements(script):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) "
                    "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                    (version,),
                )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        async with self._write_lock:
            db = self.db
            try:
                await db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"SQLite is busy: {error}") from error
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            else:
                await db.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write statement; returns the changed row count once it is committed.

        Group commit: statements that arrive while another write is in flight are committed
        together, in one transaction and one hop to the database thread, each in its own
        savepoint. An accepted inbox POST is one such write, and under load dozens arrive at
        once: a commit and a hop each were 40% of an accepted POST's CPU (bench/README.md).
        """
        values = tuple(params)
        count: int = await self.write_grouped(
            lambda connection: connection.execute(sql, values).rowcount
        )
        return count

    async def write_grouped(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work(connection)`` in a transaction it may share with concurrent calls.

        ``work`` runs on the database thread inside a savepoint of its own: its exception
        rolls back only its statements and is raised to this caller only.
        """
        result: _T = await self._grouped_writes.run(work)
        return result

    async def run_in_transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work(connection)`` inside BEGIN IMMEDIATE ... COMMIT as one hop to the thread.

        For hot paths whose whole transaction is known up front (several statements, no await
        in between): ``transaction()`` costs a hop per statement plus two, and holds the write
        lock across all of them. ``work`` runs on the database thread and must not touch the
        event loop; any exception rolls the transaction back and is re-raised here.
        """
        async with self._write_lock:
            return await self._on_connection_thread(
                lambda connection: _atomically(connection, work)
            )

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        values = tuple(params)
        row: sqlite3.Row | None = await self._on_connection_thread(
            lambda connection: connection.execute(sql, values).fetchone()
        )
        return row

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        # aiosqlite's own one-hop read (execute and fetchall together).
        return list(await self.db.execute_fetchall(sql, tuple(params)))

    async def _on_connection_thread(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` with the raw connection on aiosqlite's thread, in one hop.

        Each public aiosqlite call (execute, fetchone, close...) is a hop of its own: a queue
        put, a thread switch and an event-loop wake-up, about 50-100 µs of latency each. This
        queues the steps together through aiosqlite's ``_execute``, the private method its
        public calls are built on (as of 0.22; every store test goes through here, so a change
        there fails the suite). The raw connection never leaves its thread.
        """
        db = self.db
        result: _T = await db._execute(lambda: work(db._conn))  # type: ignore[no-untyped-call]
        return result


def _atomically(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise StoreUnavailable(f"SQLite is busy: {error}") from error
    try:
        result = work(connection)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:  # a failed COMMIT can leave it open too
            connection.execute("ROLLBACK")
        raise
    return result


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
