"""WAL checkpoints on a connection of their own, off the write path.

A checkpoint copies committed pages from the write-ahead log back into the database file and
fsyncs both. SQLite runs one inside whichever commit pushes the log past 1,000 pages, so that
commit, and every write queued behind it on our one connection, waits for the disk: about 12%
of the inbox worker's wall time (bench/inbox_bench.py; with `synchronous=OFF` the gap
vanished). Here the writing connection never checkpoints, and a second connection on its own
thread runs a PASSIVE checkpoint every interval: it never blocks readers or writers, and
commits stay as durable as before (WAL with `synchronous=NORMAL` survives a process crash
either way; the checkpoint only decides when the log's pages reach the main file).

A PASSIVE checkpoint never rewinds the log: only a write that starts when every frame is
copied back does, and under steady writes new frames always arrive first, so the log (and
its index, mapped into memory) would grow for ever. Once it holds `RESTART_AFTER_FRAMES`
frames, all copied back, a RESTART checkpoint waits for the current writer and readers to
finish and makes the next write start the log from the beginning. It has nothing left to
copy or sync by then, but it holds new writers back while it waits for readers (another
process's long read, say), so it waits `REWIND_WAIT_MS` at most and otherwise tries again at
the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

import aiosqlite

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_SECONDS = 1.0
# SQLite's own automatic checkpoint size: the log is rewound at about this length (4 MB).
RESTART_AFTER_FRAMES = 1000
# The checkpointing connection's busy timeout: only a RESTART waits on it (PASSIVE never does).
REWIND_WAIT_MS = 200


class BackgroundCheckpointer:
    """Checkpoints one database file every ``interval_seconds`` until stopped."""

    def __init__(self, path: str, *, interval_seconds: float) -> None:
        self._path = path
        self._interval = interval_seconds
        self._connection: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connection = await aiosqlite.connect(self._path, isolation_level=None)
        await self._connection.execute(f"PRAGMA busy_timeout={REWIND_WAIT_MS}")
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
                await self._checkpoint(connection)
            except sqlite3.Error as error:  # the disk is full or gone: the log keeps it all
                log.warning("WAL checkpoint of %s failed: %s", self._path, error)

    async def _checkpoint(self, connection: aiosqlite.Connection) -> None:
        # Every statement is read to its end: one left open would hold a read lock on the log,
        # and with it no write could ever start the log afresh.
        rows = await connection.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, logged, copied = next(iter(rows))
        if logged >= RESTART_AFTER_FRAMES and copied == logged:
            await connection.execute_fetchall("PRAGMA wal_checkpoint(RESTART)")
