"""Badge actors' announces and preferences, badge peers and their directories on MongoDB
(migration 7). Single-document atomic updates only: SecantusDB has no transactions."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from fedipoly.badge_federation_models import BadgeAnnounce, BadgePeer, PeerBadge
from fedipoly.models import Post
from fedipoly.store.base import Cursor
from fedipoly.store.mongo.core import Document, MongoCore, as_utc
from fedipoly.store.mongo.federation import _before_filter, _time


def _announce(doc: Document) -> BadgeAnnounce:
    return BadgeAnnounce(
        badge_id=doc["badge_id"],
        post_uri=doc["post_uri"],
        post_id=doc["post_id"],
        author_account_id=doc["author_account_id"],
        announce_id=doc["announce_id"],
        created_at=_time(doc["created_at"]),
        undone_at=as_utc(doc.get("undone_at")),
    )


def _peer(doc: Document) -> BadgePeer:
    return BadgePeer(
        host=doc["_id"],
        approved=bool(doc["approved"]),
        added_at=_time(doc["added_at"]),
        next_fetch_at=_time(doc["next_fetch_at"]),
        fetched_at=as_utc(doc.get("fetched_at")),
        last_error=doc.get("last_error"),
        badge_count=int(doc.get("badge_count", 0)),
    )


def _peer_badge(doc: Document) -> PeerBadge:
    return PeerBadge(
        host=doc["host"],
        slug=doc["slug"],
        name=doc["name"],
        normalized_name=doc["normalized_name"],
        icon=doc["icon"],
        holder_count=int(doc["holder_count"]),
        actor_uri=doc.get("actor_uri"),
        url=doc.get("url"),
        updated=as_utc(doc.get("updated")),
        fetched_at=_time(doc["fetched_at"]),
    )


class MongoBadgeFederation(MongoCore):
    # --- announces -----------------------------------------------------------------------

    async def record_badge_announce(self, announce: BadgeAnnounce) -> bool:
        fresh = {
            "announce_id": announce.announce_id,
            "created_at": announce.created_at,
            "undone_at": None,
            "active": True,
        }
        revived = await self.mdb.badge_announces.update_one(
            {"badge_id": announce.badge_id, "post_uri": announce.post_uri, "active": False},
            {"$set": fresh},
        )
        if revived.modified_count:
            return True
        try:
            await self.mdb.badge_announces.insert_one(
                {
                    "badge_id": announce.badge_id,
                    "post_uri": announce.post_uri,
                    "post_id": announce.post_id,
                    "author_account_id": announce.author_account_id,
                }
                | fresh
            )
        except DuplicateKeyError:
            return False  # an active announce of the pair exists
        return True

    async def withdraw_badge_announce(
        self, badge_id: str, post_uri: str, now: datetime
    ) -> BadgeAnnounce | None:
        doc = await self.mdb.badge_announces.find_one_and_update(
            {"badge_id": badge_id, "post_uri": post_uri, "active": True},
            {"$set": {"active": False, "undone_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return _announce(doc) if doc else None

    async def badge_announces_of_post(self, post_uri: str) -> list[BadgeAnnounce]:
        cursor = self.mdb.badge_announces.find({"post_uri": post_uri, "active": True}).sort(
            "badge_id", 1
        )
        return [_announce(doc) async for doc in cursor]

    async def badge_announces_of_author(
        self, author_account_id: str, badge_id: str
    ) -> list[BadgeAnnounce]:
        cursor = self.mdb.badge_announces.find(
            {"author_account_id": author_account_id, "badge_id": badge_id, "active": True}
        ).sort("created_at", 1)
        return [_announce(doc) async for doc in cursor]

    async def list_badge_announces(
        self, badge_id: str, *, before: Cursor | None, limit: int
    ) -> list[BadgeAnnounce]:
        query = {"badge_id": badge_id, "active": True} | _before_filter(
            "created_at", "announce_id", before
        )
        cursor = (
            self.mdb.badge_announces.find(query)
            .sort([("created_at", -1), ("announce_id", -1)])
            .limit(limit)
        )
        return [_announce(doc) async for doc in cursor]

    async def count_badge_announces(self, badge_id: str) -> int:
        return await self.mdb.badge_announces.count_documents(
            {"badge_id": badge_id, "active": True}
        )

    async def count_recent_badge_announces(
        self, since: datetime, *, badge_id: str | None = None, author_account_id: str | None = None
    ) -> int:
        if author_account_id is not None:
            query: Document = {"author_account_id": author_account_id}
        elif badge_id is not None:
            query = {"badge_id": badge_id}
        else:
            raise ValueError("give a badge_id or an author_account_id")
        return await self.mdb.badge_announces.count_documents(
            query | {"created_at": {"$gte": since}}
        )

    # --- members' preference ---------------------------------------------------------------

    async def get_badge_announce_preference(self, account_id: str) -> bool | None:
        doc = await self.mdb.badge_announce_preferences.find_one({"_id": account_id})
        return bool(doc["enabled"]) if doc else None

    async def set_badge_announce_preference(self, account_id: str, enabled: bool) -> None:
        await self.mdb.badge_announce_preferences.update_one(
            {"_id": account_id}, {"$set": {"enabled": enabled}}, upsert=True
        )

    # --- peers -----------------------------------------------------------------------------

    async def save_badge_peer(self, peer: BadgePeer) -> BadgePeer:
        doc = await self.mdb.badge_peers.find_one_and_update(
            {"_id": peer.host},
            {
                "$set": {"approved": peer.approved, "next_fetch_at": peer.next_fetch_at},
                "$setOnInsert": {
                    "added_at": peer.added_at,
                    "fetched_at": peer.fetched_at,
                    "last_error": peer.last_error,
                    "badge_count": peer.badge_count,
                },
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # an upsert returning the document after it always has one
        return _peer(doc)

    async def get_badge_peer(self, host: str) -> BadgePeer | None:
        doc = await self.mdb.badge_peers.find_one({"_id": host})
        return _peer(doc) if doc else None

    async def list_badge_peers(self) -> list[BadgePeer]:
        return [_peer(doc) async for doc in self.mdb.badge_peers.find({}).sort("_id", 1)]

    async def delete_badge_peer(self, host: str) -> bool:
        await self.mdb.peer_badges.delete_many({"host": host})
        result = await self.mdb.badge_peers.delete_one({"_id": host})
        return result.deleted_count == 1

    async def claim_due_badge_peer(self, now: datetime, lease_seconds: float) -> BadgePeer | None:
        doc = await self.mdb.badge_peers.find_one_and_update(
            {"next_fetch_at": {"$lte": now}},
            {"$set": {"next_fetch_at": now + timedelta(seconds=lease_seconds)}},
            sort=[("next_fetch_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return _peer(doc) if doc else None

    async def record_badge_peer_fetch(
        self,
        host: str,
        *,
        fetched_at: datetime | None,
        next_fetch_at: datetime,
        error: str | None,
        badges: list[PeerBadge] | None,
    ) -> None:
        update: Document = {"next_fetch_at": next_fetch_at, "last_error": error}
        if fetched_at is not None:
            update["fetched_at"] = fetched_at
        if badges is not None:
            # Without transactions: write the new rows, then drop the ones no longer listed,
            # so a reader sees the old or the new directory, never an empty one.
            slugs = [badge.slug for badge in badges]
            for badge in badges:
                await self.mdb.peer_badges.replace_one(
                    {"host": host, "slug": badge.slug},
                    {
                        "host": host,
                        "slug": badge.slug,
                        "name": badge.name,
                        "normalized_name": badge.normalized_name,
                        "icon": badge.icon,
                        "holder_count": badge.holder_count,
                        "actor_uri": badge.actor_uri,
                        "url": badge.url,
                        "updated": badge.updated,
                        "fetched_at": badge.fetched_at,
                    },
                    upsert=True,
                )
            await self.mdb.peer_badges.delete_many({"host": host, "slug": {"$nin": slugs}})
            update["badge_count"] = len(badges)
        await self.mdb.badge_peers.update_one({"_id": host}, {"$set": update})

    async def peer_badges_named(self, normalized_name: str) -> list[PeerBadge]:
        cursor = self.mdb.peer_badges.find({"normalized_name": normalized_name}).sort("host", 1)
        return [_peer_badge(doc) async for doc in cursor]

    async def get_peer_badge_by_actor(self, actor_uri: str) -> PeerBadge | None:
        doc = await self.mdb.peer_badges.find_one({"actor_uri": actor_uri})
        return _peer_badge(doc) if doc else None

    async def list_peer_badges(self, host: str) -> list[PeerBadge]:
        cursor = self.mdb.peer_badges.find({"host": host}).sort("slug", 1)
        return [_peer_badge(doc) async for doc in cursor]

    async def known_remote_domains(self, *, limit: int) -> list[str]:
        domains = await self.mdb.remote_actors.distinct("domain")
        return sorted(str(domain) for domain in domains)[:limit]

    async def add_badge_entries(self, post: Post, badge_ids: list[str]) -> None:
        for badge_id in sorted(set(badge_ids)):
            entry = {"badge_id": badge_id, "published": post.published, "post_id": post.id}
            # Two writers racing on one entry: it exists, which is what was asked.
            with contextlib.suppress(DuplicateKeyError):
                await self.mdb.badge_entries.update_one(
                    entry, {"$setOnInsert": {"badge_id": badge_id}}, upsert=True
                )

    async def remove_badge_entries(self, post_id: str, badge_ids: list[str]) -> None:
        await self.mdb.badge_entries.delete_many(
            {"post_id": post_id, "badge_id": {"$in": sorted(set(badge_ids))}}
        )
