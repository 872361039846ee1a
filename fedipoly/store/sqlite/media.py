"""Records of uploaded images on SQLite (migration 9)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from fedipoly.media_models import MediaRecord, MediaState
from fedipoly.store.sqlite.core import SqliteCore, from_db_time, to_db_time

_COLUMNS = "id, owner_account_id, purpose, state, attached_to, created_at"


def _record(row: sqlite3.Row) -> MediaRecord:
    return MediaRecord(
        id=row["id"],
        owner_account_id=row["owner_account_id"],
        purpose=row["purpose"],
        created_at=from_db_time(row["created_at"]),
        state=MediaState(row["state"]),
        attached_to=row["attached_to"],
    )


class SqliteMedia(SqliteCore):
    async def insert_media(self, record: MediaRecord) -> None:
        await self.execute(
            f"INSERT INTO media ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.owner_account_id,
                record.purpose,
                record.state.value,
                record.attached_to,
                to_db_time(record.created_at),
            ),
        )

    async def get_media(self, media_id: str) -> MediaRecord | None:
        row = await self.fetch_one(f"SELECT {_COLUMNS} FROM media WHERE id = ?", (media_id,))
        return _record(row) if row is not None else None

    async def attach_media(
        self, media_id: str, *, owner_account_id: str, purpose: str, target: str
    ) -> bool:
        changed = await self.execute(
            "UPDATE media SET state = ?, attached_to = ?"
            " WHERE id = ? AND owner_account_id = ? AND purpose = ?"
            " AND (state = ? OR (state = ? AND attached_to = ?))",
            (
                MediaState.ATTACHED.value,
                target,
                media_id,
                owner_account_id,
                purpose,
                MediaState.UNATTACHED.value,
                MediaState.ATTACHED.value,
                target,
            ),
        )
        return changed == 1

    async def detach_media(self, media_id: str, *, target: str) -> bool:
        changed = await self.execute(
            "UPDATE media SET state = ?, attached_to = NULL"
            " WHERE id = ? AND state = ? AND attached_to = ?",
            (MediaState.UNATTACHED.value, media_id, MediaState.ATTACHED.value, target),
        )
        return changed == 1

    async def delete_media(self, media_id: str) -> bool:
        return await self.execute("DELETE FROM media WHERE id = ?", (media_id,)) == 1

    async def claim_media_purge(self, before: datetime, *, limit: int) -> list[MediaRecord]:
        await self.execute(
            "UPDATE media SET state = ? WHERE state = ? AND created_at < ?",
            (MediaState.PURGING.value, MediaState.UNATTACHED.value, to_db_time(before)),
        )
        rows = await self.fetch_all(
            f"SELECT {_COLUMNS} FROM media WHERE state = ? ORDER BY created_at, id LIMIT ?",
            (MediaState.PURGING.value, limit),
        )
        return [_record(row) for row in rows]
