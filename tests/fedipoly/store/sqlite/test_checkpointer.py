"""WAL checkpoints run on their own connection, never inside a write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fedipoly.store.sqlite.core import SqliteCore

PAGE_BYTES = 4096
ROWS = 1500  # 4 KB each: 6 MB of log, past the 1,000 pages at which SQLite would checkpoint
NEVER = 3600.0


async def opened(path: Path, interval: float) -> SqliteCore:
    core = SqliteCore(str(path), checkpoint_interval_seconds=interval)
    await core.open()
    await core.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return core


def size_of(file: Path) -> int:
    return file.stat().st_size


async def write_rows(core: SqliteCore) -> None:
    for _ in range(ROWS):
        await core.execute("INSERT INTO notes (body) VALUES (?)", ("x" * PAGE_BYTES,))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Path]:
    yield tmp_path / "wal.sqlite3"


async def test_writes_leave_their_pages_in_the_log_however_long_it_grows(database: Path) -> None:
    core = await opened(database, NEVER)
    try:
        await write_rows(core)
        assert size_of(Path(f"{database}-wal")) > ROWS * PAGE_BYTES
        assert size_of(database) < 100 * PAGE_BYTES  # no commit waited for a checkpoint
        rows = await core.fetch_one("SELECT COUNT(*) AS n FROM notes")
        assert rows is not None and rows["n"] == ROWS
    finally:
        await core.close()


async def test_the_background_connection_copies_the_log_into_the_database_file(
    database: Path,
) -> None:
    core = await opened(database, 0.05)
    try:
        await write_rows(core)
        for _ in range(200):  # up to 10 s; the first pass after the writes is enough
            if size_of(database) > ROWS * PAGE_BYTES:
                break
            await asyncio.sleep(0.05)
        assert size_of(database) > ROWS * PAGE_BYTES
    finally:
        await core.close()


async def test_closing_stops_the_checkpoints_and_keeps_every_row(database: Path) -> None:
    core = await opened(database, 0.05)
    await write_rows(core)
    await core.close()
    reopened = await opened_again(database)
    try:
        rows = await reopened.fetch_one("SELECT COUNT(*) AS n FROM notes")
        assert rows is not None and rows["n"] == ROWS
    finally:
        await reopened.close()


async def opened_again(path: Path) -> SqliteCore:
    core = SqliteCore(str(path), checkpoint_interval_seconds=NEVER)
    await core.open()
    return core


async def test_under_steady_writes_the_log_is_rewound_and_stops_growing(database: Path) -> None:
    core = await opened(database, 0.05)
    try:
        # 18 MB of frames, written back to back while the checkpoints run beside them: a
        # write almost never starts just when every frame has been copied back, which is
        # when SQLite rewinds the log by itself.
        rows = 3 * ROWS
        for _ in range(rows):
            await core.execute("INSERT INTO notes (body) VALUES (?)", ("x" * PAGE_BYTES,))
        # Never rewound, the log would hold every frame: over three a row (58 MB here).
        # Rewound, it holds what came between two checkpoints (about 14 MB here).
        assert size_of(Path(f"{database}-wal")) < 2 * rows * PAGE_BYTES
    finally:
        await core.close()
