"""Records of uploaded images on MongoDB (migration 9). `_id` is the media id; attaching is
one conditional update_one, so no transaction is needed."""

from __future__ import annotations

from datetime import datetime

from fedipoly.media_models import MediaRecord, MediaState
from fedipoly.store.mongo.core import Document, MongoCore
from fedipoly.store.mongo.federation import _time


def _record(doc: Document) -> MediaRecord:
    return MediaRecord(
        id=doc["_id"],
        owner_account_id=doc["owner_account_id"],
        purpose=doc["purpose"],
        created_at=_time(doc["created_at"]),
        state=MediaState(doc["state"]),
        attached_to=doc.get("attached_to"),
    )


class MongoMedia(MongoCore):
    async def insert_media(self, record: MediaRecord) -> None:
        await self.mdb.media.insert_one(
            {
                "_id": record.id,
                "owner_account_id": record.owner_account_id,
                "purpose": record.purpose,
                "state": record.state.value,
                "attached_to": record.attached_to,
                "created_at": record.created_at,
            }
        )

    async def get_media(self, media_id: str) -> MediaRecord | None:
        doc = await self.mdb.media.find_one({"_id": media_id})
        return _record(doc) if doc is not None else None

    async def attach_media(
        self, media_id: str, *, owner_account_id: str, purpose: str, target: str
    ) -> bool:
        result = await self.mdb.media.update_one(
            {
                "_id": media_id,
                "owner_account_id": owner_account_id,
                "purpose": purpose,
                "$or": [
                    {"state": MediaState.UNATTACHED.value},
                    {"state": MediaState.ATTACHED.value, "attached_to": target},
                ],
            },
            {"$set": {"state": MediaState.ATTACHED.value, "attached_to": target}},
        )
        return result.matched_count == 1

    async def detach_media(self, media_id: str, *, target: str) -> bool:
        result = await self.mdb.media.update_one(
            {"_id": media_id, "state": MediaState.ATTACHED.value, "attached_to": target},
            {"$set": {"state": MediaState.UNATTACHED.value, "attached_to": None}},
        )
        return result.matched_count == 1

    async def delete_media(self, media_id: str) -> bool:
        return (await self.mdb.media.delete_one({"_id": media_id})).deleted_count == 1

    async def claim_media_purge(self, before: datetime, *, limit: int) -> list[MediaRecord]:
        await self.mdb.media.update_many(
            {"state": MediaState.UNATTACHED.value, "created_at": {"$lt": before}},
            {"$set": {"state": MediaState.PURGING.value}},
        )
        cursor = (
            self.mdb.media.find({"state": MediaState.PURGING.value})
            .sort([("created_at", 1), ("_id", 1)])
            .limit(limit)
        )
        return [_record(doc) async for doc in cursor]
