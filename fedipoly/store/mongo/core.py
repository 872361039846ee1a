"""MongoDB connection handling and migrations shared by the domain mixins (PyMongo async API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from fedipoly.errors import StoreUnavailable
from fedipoly.store.migrations.mongo import MIGRATIONS

Document = dict[str, Any]


def as_utc(moment: datetime | None) -> datetime | None:
    """BSON dates hold milliseconds; the client is tz-aware, so values come back in UTC."""
    return None if moment is None else moment.astimezone(UTC)


class MongoCore:
    def __init__(self, url: str, database: str, connect_timeout_seconds: float = 5.0) -> None:
        self._url = url
        self._database_name = database
        self._timeout_ms = int(connect_timeout_seconds * 1000)
        self._client: AsyncMongoClient[Document] | None = None

    @property
    def mdb(self) -> AsyncDatabase[Document]:
        if self._client is None:
            raise StoreUnavailable("the database is not open")
        return self._client[self._database_name]

    async def open(self) -> None:
        if self._client is not None:  # already open: only bring the schema up to date
            await self._migrate()
            return
        self._client = AsyncMongoClient(
            self._url,
            tz_aware=True,
            serverSelectionTimeoutMS=self._timeout_ms,
            connectTimeoutMS=self._timeout_ms,
            # Majority writes: an acknowledged write survives a primary failover.
            w="majority",
            retryWrites=True,
        )
        try:
            await self._client.admin.command("ping")
            await self._migrate()
        except PyMongoError as error:
            await self.close()
            raise StoreUnavailable(f"cannot reach MongoDB at {self._url}: {error}") from error

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ping(self) -> None:
        await self.mdb.command("ping")

    async def schema_version(self) -> int:
        newest = await self.mdb.schema_migrations.find_one(sort=[("_id", -1)])
        return int(newest["_id"]) if newest else 0

    async def get_setting(self, name: str) -> str | None:
        doc = await self.mdb.settings.find_one({"_id": name})
        return str(doc["value"]) if doc else None

    async def put_setting_if_absent(self, name: str, value: str) -> str:
        await self.mdb.settings.update_one(
            {"_id": name}, {"$setOnInsert": {"value": value}}, upsert=True
        )
        stored = await self.get_setting(name)
        assert stored is not None
        return stored

    async def hidden_authors(self, *, suspended_only: bool) -> list[str]:
        """Authors moderation hides at read time (one row each, so a small set): the
        timelines add `author: {$nin: ...}` to their index-ordered scans."""
        query = {"level": "suspended"} if suspended_only else {}
        return [doc["_id"] async for doc in self.mdb.hidden_authors.find(query, {"_id": 1})]

    async def _migrate(self) -> None:
        applied = {doc["_id"] async for doc in self.mdb.schema_migrations.find({}, {"_id": 1})}
        for version, indexes in MIGRATIONS:
            if version in applied:
                continue
            for collection, keys, options in indexes:
                await self.mdb[collection].create_index(keys, **options)
            await self.mdb.schema_migrations.update_one(
                {"_id": version},
                {"$setOnInsert": {"applied_at": datetime.now(UTC)}},
                upsert=True,
            )

    async def drop_database(self) -> None:
        """Remove every collection of this store (used by tests and `fedipoly` resets)."""
        if self._client is not None:
            await self._client.drop_database(self._database_name)
