"""The MongoDB adapter (PyMongo's async API) for deployments that outgrow one machine."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

from fedipoly.store.guard import guard_unavailable
from fedipoly.store.moderation_cache import ModerationCache
from fedipoly.store.mongo.accounts import MongoAccounts
from fedipoly.store.mongo.badge_federation import MongoBadgeFederation
from fedipoly.store.mongo.collab import MongoCollab
from fedipoly.store.mongo.delivery_batch import MongoDeliveryBatch
from fedipoly.store.mongo.federation import MongoFederation
from fedipoly.store.mongo.media import MongoMedia
from fedipoly.store.mongo.moderation import MongoModeration
from fedipoly.store.mongo.posts_ext import MongoPostsExt
from fedipoly.store.mongo.profiles_badges import MongoProfilesBadges


@guard_unavailable((ConnectionFailure, ServerSelectionTimeoutError), lambda _error: True)
class MongoStore(
    MongoAccounts,
    MongoFederation,
    MongoProfilesBadges,
    MongoPostsExt,
    MongoBadgeFederation,
    ModerationCache,
    MongoModeration,
    MongoCollab,
    MongoMedia,
    MongoDeliveryBatch,
):
    """Composes the per-domain mixins; each mixin holds the queries of one domain."""


__all__ = ["MongoStore"]
