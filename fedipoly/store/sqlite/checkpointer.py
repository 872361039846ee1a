"""WAL checkpoints on a connection of their own, off the write path.

A checkpoint copies committed pages from the write-ahead log back into the database file and
fsyncs both. SQLite runs one inside whichever commit pushes the log past 1,000 pages, so that
commit, and every write queued behind it on our one connection, waits for the disk: about 12%
of the inbox worker's wall time (bench/inbox_bench.py; with `synchronous=OFF` the gap
vanished). Here the writing connection never checkpoints, and a second connection on its own
thread runs a PASSIVE checkpoint every interval: it never blocks readers or writers, and
commits stay as durable as before (WAL with `synchronous=NORMAL` survives a process crash
either way; the checkpoint only decides when the log's pages reach the main file).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

import aiosqlite

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_SECONDS = 1.0


class BackgroundCheckpointer:
    def __init__(self, path: str, *, interval_seconds: float, busy_timeout_ms: int) -> None:
        self._path = path
        self._interval = interval_seconds
        self._busy_timeout_ms = busy_timeout_ms
        self._connection: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connection = await aiosqlite.connect(self._path, isolation_level=None)
        await self._connection.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        self._task = asyncio.create_task(self._run(self._connection))

    async def stop(self) -> None:
        """Stops checkpointing; the last connection to close checkpoints what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _run(self, connection: aiosqlite.Connection) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as error:  # the disk is full or gone: the log keeps it all
                log.warning("WAL checkpoint of %s failed: %s", self._path, error)
