"""Badge, local and federated timelines and threads on MongoDB.

Each read walks one index (migration 5): badge_entries (badge_id, published, post_id) for a
badge, posts (local, visibility, published, _id) and (visibility, published, _id) for the local
and federated timelines, and posts (reply_root, published, _id) for a thread.
"""

from __future__ import annotations

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from fedipoly.models import Post
from fedipoly.store.base import Cursor
from fedipoly.store.mongo.core import Document, MongoCore
from fedipoly.store.mongo.federation import _before_filter, _post, _time

SCHEMA_WITH_LOCAL_FLAG = 5


class MongoPostsExt(MongoCore):
    async def _migrate(self) -> None:
        fresh = await self.mdb.schema_migrations.find_one({"_id": SCHEMA_WITH_LOCAL_FLAG}) is None
        await super()._migrate()
        if fresh:
            # Posts stored before version 5 lack the `local` flag the local timeline's index
            # reads; set it once, when that version is applied (later writes always carry it).
            await self.mdb.posts.update_many(
                {"local": {"$exists": False}, "local_account_id": None}, {"$set": {"local": False}}
            )
            await self.mdb.posts.update_many(
                {"local": {"$exists": False}}, {"$set": {"local": True}}
            )

    async def _add_badge_entries(self, entries: list[Document]) -> int:
        if not entries:
            return 0
        operations = [
            UpdateOne(entry, {"$setOnInsert": {"badge_id": entry["badge_id"]}}, upsert=True)
            for entry in entries
        ]
        try:
            result = await self.mdb.badge_entries.bulk_write(operations, ordered=False)
        except BulkWriteError as error:  # two writers raced on one entry: it exists, fine
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise
            return int(error.details.get("nUpserted", 0))
        return result.upserted_count

    async def replace_badge_entries(self, post: Post, badge_ids: list[str]) -> None:
        await self.mdb.badge_entries.delete_many({"post_id": post.id})
        await self._add_badge_entries(
            [
                {"badge_id": badge_id, "published": post.published, "post_id": post.id}
                for badge_id in sorted(set(badge_ids))
            ]
        )

    async def backfill_badge_entries(self, badge_id: str, slug: str, account_id: str) -> int:
        # Only the badge's creator could tag a pending badge, so their posts are all there is
        # to look at (index local_account_id, published).
        cursor = self.mdb.posts.find(
            {
                "local_account_id": account_id,
                "badges": slug,
                "visibility": "public",
                "unlisted": {"$ne": True},
                "deleted_at": None,
            },
            {"published": 1},
        )
        return await self._add_badge_entries(
            [
                {"badge_id": badge_id, "published": doc["published"], "post_id": doc["_id"]}
                async for doc in cursor
            ]
        )

    async def badge_timeline(
        self, badge_id: str, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        posts: list[Post] = []
        hidden = await self.hidden_authors(suspended_only=False)
        # Entries whose post was deleted or made non-public are skipped; read on so the page
        # still holds `limit` posts.
        while len(posts) < limit:
            wanted = limit - len(posts)
            query = {"badge_id": badge_id} | _before_filter("published", "post_id", before)
            cursor = (
                self.mdb.badge_entries.find(query, {"post_id": 1, "published": 1})
                .sort([("published", -1), ("post_id", -1)])
                .limit(wanted)
            )
            entries = [doc async for doc in cursor]
            post_ids = [entry["post_id"] for entry in entries]
            found = {
                doc["_id"]: _post(doc)
                async for doc in self.mdb.posts.find(
                    {
                        "_id": {"$in": post_ids},
                        "deleted_at": None,
                        "visibility": "public",
                        "unlisted": {"$ne": True},
                        "author": {"$nin": hidden},
                    }
                )
            }
            posts.extend(found[post_id] for post_id in post_ids if post_id in found)
            if len(entries) < wanted:
                break
            before = (_time(entries[-1]["published"]), entries[-1]["post_id"])
        return posts

    async def local_timeline(self, *, before: Cursor | None, limit: int) -> list[Post]:
        return await self._public_posts({"local": True}, before, limit)

    async def public_timeline(self, *, before: Cursor | None, limit: int) -> list[Post]:
        return await self._public_posts({}, before, limit)

    async def _public_posts(self, scope: Document, before: Cursor | None, limit: int) -> list[Post]:
        if limit <= 0:  # MongoDB reads limit(0) as "no limit"
            return []
        query = (
            scope
            | {"visibility": "public", "unlisted": {"$ne": True}, "deleted_at": None}
            | {"author": {"$nin": await self.hidden_authors(suspended_only=False)}}
            | _before_filter("published", "_id", before)
        )
        cursor = self.mdb.posts.find(query).sort([("published", -1), ("_id", -1)]).limit(limit)
        return [_post(doc) async for doc in cursor]

    async def thread_posts(self, root_uri: str, *, limit: int) -> list[Post]:
        if limit <= 0:
            return []
        cursor = (
            self.mdb.posts.find(
                {
                    "reply_root": root_uri,
                    "deleted_at": None,
                    "author": {"$nin": await self.hidden_authors(suspended_only=True)},
                }
            )
            .sort([("published", 1), ("_id", 1)])
            .limit(limit)
        )
        return [_post(doc) async for doc in cursor]
