"""The SQLite adapter (default): one file, WAL mode, created with its directory on first start."""

from __future__ import annotations

import sqlite3

from fedipoly.store.guard import guard_unavailable
from fedipoly.store.moderation_cache import ModerationCache
from fedipoly.store.sqlite.accounts import SqliteAccounts
from fedipoly.store.sqlite.badge_federation import SqliteBadgeFederation
from fedipoly.store.sqlite.collab import SqliteCollab
from fedipoly.store.sqlite.delivery_batch import SqliteDeliveryBatch
from fedipoly.store.sqlite.federation import SqliteFederation
from fedipoly.store.sqlite.media import SqliteMedia
from fedipoly.store.sqlite.moderation import SqliteModeration
from fedipoly.store.sqlite.posts_ext import SqlitePostsExt
from fedipoly.store.sqlite.profiles_badges import SqliteProfilesBadges

_UNAVAILABLE_MESSAGES = ("locked", "busy", "disk i/o", "unable to open", "readonly")


def _sqlite_unavailable(error: BaseException) -> bool:
    return any(text in str(error).lower() for text in _UNAVAILABLE_MESSAGES)


@guard_unavailable((sqlite3.OperationalError,), _sqlite_unavailable)
class SqliteStore(
    SqliteAccounts,
    SqliteFederation,
    SqliteProfilesBadges,
    SqlitePostsExt,
    SqliteBadgeFederation,
    ModerationCache,
    SqliteModeration,
    SqliteCollab,
    SqliteMedia,
    SqliteDeliveryBatch,
):
    """Composes the per-domain mixins; each mixin holds the queries of one domain."""


__all__ = ["SqliteStore"]
