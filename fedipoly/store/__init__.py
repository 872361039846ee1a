"""Storage: the port (`base`) and its adapters (`sqlite`, `mongo`). Only this package imports drivers."""

from __future__ import annotations

from fedipoly.config import StorageConfig
from fedipoly.store.base import Store


def create_store(config: StorageConfig) -> Store:
    """The adapter the configuration names; it is opened by the caller (`await store.open()`)."""
    if config.backend == "mongodb":
        from fedipoly.store.mongo import MongoStore

        mongo = MongoStore(
            config.mongodb_url, config.mongodb_database, config.connect_timeout_seconds
        )
        mongo.moderation_cache_seconds = config.moderation_cache_seconds
        return mongo
    from fedipoly.store.sqlite import SqliteStore

    sqlite = SqliteStore(config.sqlite_path)
    sqlite.moderation_cache_seconds = config.moderation_cache_seconds
    return sqlite


__all__ = ["Store", "create_store"]
