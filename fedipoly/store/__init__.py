"""Storage: the port (`base`) and its adapters (`sqlite`, `mongo`). Only this package imports drivers."""

from __future__ import annotations

from fedipoly.config import StorageConfig
from fedipoly.store.base import Store


def create_store(config: StorageConfig) -> Store:
    """The adapter the configuration names; it is opened by the caller (`await store.open()`)."""
    if config.backend == "mongodb":
        from fedipoly.store.mongo import MongoStore

        return MongoStore(
            config.mongodb_url, config.mongodb_database, config.connect_timeout_seconds
        )
    from fedipoly.store.sqlite import SqliteStore

    return SqliteStore(config.sqlite_path)


__all__ = ["Store", "create_store"]
