"""A member's blocks are read a page at a time from an index, however many they hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fedipoly.store.sqlite import SqliteStore


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(str(tmp_path / "blocks.sqlite3"))
    await opened.open()
    yield opened
    await opened.close()


async def test_the_blocks_page_walks_the_time_index_without_sorting(
    sqlite_store: SqliteStore,
) -> None:
    rows = await sqlite_store.fetch_all(
        "EXPLAIN QUERY PLAN SELECT * FROM member_blocks WHERE account_id = ?"
        " AND (created_at, blocked) < (?, ?) ORDER BY created_at DESC, blocked DESC LIMIT ?",
        ("account-bob", "2030-01-01T00:00:00.000000Z", "https://x.example/u", 20),
    )
    plan = " ".join(str(row["detail"]) for row in rows)
    assert "member_blocks_by_time" in plan and "TEMP B-TREE" not in plan, plan
