"""SQLite connection handling, transactions and migrations shared by the domain mixins."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from fedipoly.errors import StoreUnavailable
from fedipoly.store.migrations.sqlite import MIGRATIONS

BUSY_TIMEOUT_MS = 5000


def to_db_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds: fixed width, so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

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
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(f"cannot open SQLite database {self._path}: {error}") from error
        await self._migrate()

    async def close(self) -> None:
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
        """Run one write statement in its own transaction; returns the changed row count."""
        # The connection is in autocommit mode, where one statement is its own transaction
        # and a write statement takes the write lock as it starts (as BEGIN IMMEDIATE would).
        # Holding our lock keeps it out of another coroutine's open transaction; skipping
        # BEGIN/COMMIT saves two hops to aiosqlite's thread per write (an inbox POST is one).
        async with self._write_lock:
            cursor = await self.db.execute(sql, tuple(params))
            return cursor.rowcount

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        cursor = await self.db.execute(sql, tuple(params))
        row = await cursor.fetchone()
        await cursor.close()
        return row

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        cursor = await self.db.execute(sql, tuple(params))
        rows = await cursor.fetchall()
        await cursor.close()
        return list(rows)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
