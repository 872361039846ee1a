"""Remote actors, follows, the inbox queue, outbound deliveries, posts and timelines on MongoDB."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from fedipoly.models import (
    ClaimedDelivery,
    Delivery,
    DeliveryState,
    Follow,
    FollowState,
    InboxItem,
    InboxState,
    OutboundActivity,
    Post,
    RemoteActor,
    Visibility,
    new_id,
)
from fedipoly.store.base import Cursor
from fedipoly.store.mongo.core import Document, MongoCore, as_utc
from fedipoly.store.post_fields import cleared_on_delete, ext_fields, ext_values


def _time(value: Any) -> datetime:
    moment = as_utc(value)
    assert moment is not None
    return moment


def _remote_actor(doc: Document) -> RemoteActor:
    return RemoteActor(
        uri=doc["_id"],
        actor_type=doc["actor_type"],
        username=doc["username"],
        domain=doc["domain"],
        inbox=doc["inbox"],
        shared_inbox=doc.get("shared_inbox"),
        followers_url=doc.get("followers_url"),
        display_name=doc["display_name"],
        summary_html=doc["summary_html"],
        profile_url=doc.get("profile_url"),
        icon_url=doc.get("icon_url"),
        key_id=doc["key_id"],
        public_key_pem=doc["public_key_pem"],
        manually_approves_followers=bool(doc["manually_approves_followers"]),
        fetched_at=_time(doc["fetched_at"]),
    )


def _follow(doc: Document) -> Follow:
    return Follow(
        id=doc["_id"],
        follower=doc["follower"],
        followed=doc["followed"],
        activity_id=doc["activity_id"],
        state=FollowState(doc["state"]),
        created_at=_time(doc["created_at"]),
    )


def _inbox_item(doc: Document) -> InboxItem:
    return InboxItem(
        activity_id=doc["_id"],
        actor=doc["actor"],
        activity_type=doc["activity_type"],
        raw=doc["raw"],
        received_at=_time(doc["received_at"]),
        attempts=doc.get("attempts", 0),
    )


def _outbound(doc: Document) -> OutboundActivity:
    return OutboundActivity(
        id=doc["_id"],
        actor=doc["actor"],
        signer_account_id=doc.get("signer_account_id"),
        activity_type=doc["activity_type"],
        raw=doc["raw"],
        created_at=_time(doc["created_at"]),
    )


def _delivery(doc: Document) -> Delivery:
    return Delivery(
        id=doc["_id"],
        activity_id=doc["activity_id"],
        inbox_url=doc["inbox_url"],
        host=doc["host"],
        state=DeliveryState(doc["state"]),
        attempts=doc.get("attempts", 0),
        next_attempt_at=_time(doc["next_attempt_at"]),
        first_attempt_at=as_utc(doc.get("first_attempt_at")),
        last_status=doc.get("last_status"),
        last_error=doc.get("last_error"),
        created_at=_time(doc["created_at"]),
    )


def _post(doc: Document) -> Post:
    return Post(
        id=doc["_id"],
        uri=doc["uri"],
        author=doc["author"],
        local_account_id=doc.get("local_account_id"),
        content_html=doc["content_html"],
        source_text=doc["source_text"],
        visibility=Visibility(doc["visibility"]),
        in_reply_to=doc.get("in_reply_to"),
        published=_time(doc["published"]),
        updated=as_utc(doc.get("updated")),
        url=doc.get("url"),
        audience=tuple(doc.get("audience", [])),
        deleted_at=as_utc(doc.get("deleted_at")),
        **ext_fields(doc),
    )


def _post_document(post: Post) -> Document:
    return {
        "_id": post.id,
        "uri": post.uri,
        "author": post.author,
        "local_account_id": post.local_account_id,
        "content_html": post.content_html,
        "source_text": post.source_text,
        "visibility": post.visibility.value,
        "in_reply_to": post.in_reply_to,
        "published": post.published,
        "updated": post.updated,
        "url": post.url,
        "audience": list(post.audience),
        "deleted_at": post.deleted_at,
        # For the local timeline's index (store/mongo/posts_ext.py).
        "local": post.local_account_id is not None,
        **ext_values(post),
    }


def _before_filter(time_field: str, id_field: str, before: Cursor | None) -> Document:
    """Keyset pagination on (time, id), newest first."""
    if before is None:
        return {}
    moment, last_id = before
    return {
        "$or": [
            {time_field: {"$lt": moment}},
            {time_field: moment, id_field: {"$lt": last_id}},
        ]
    }


class MongoFederation(MongoCore):
    # --- remote actors -------------------------------------------------------------------

    async def upsert_remote_actor(self, actor: RemoteActor) -> None:
        document = {
            "actor_type": actor.actor_type,
            "username": actor.username,
            "domain": actor.domain,
            "handle_lower": actor.handle.lower(),
            "inbox": actor.inbox,
            "shared_inbox": actor.shared_inbox,
            "followers_url": actor.followers_url,
            "display_name": actor.display_name,
            "summary_html": actor.summary_html,
            "profile_url": actor.profile_url,
            "icon_url": actor.icon_url,
            "key_id": actor.key_id,
            "public_key_pem": actor.public_key_pem,
            "manually_approves_followers": actor.manually_approves_followers,
            "fetched_at": actor.fetched_at,
        }
        await self.mdb.remote_actors.update_one({"_id": actor.uri}, {"$set": document}, upsert=True)

    async def get_remote_actor(self, uri: str) -> RemoteActor | None:
        doc = await self.mdb.remote_actors.find_one({"_id": uri})
        return _remote_actor(doc) if doc else None

    async def get_remote_actors(self, uris: list[str]) -> dict[str, RemoteActor]:
        if not uris:
            return {}
        cursor = self.mdb.remote_actors.find({"_id": {"$in": sorted(set(uris))}})
        return {doc["_id"]: _remote_actor(doc) async for doc in cursor}

    async def get_remote_actor_by_key(self, key_id: str) -> RemoteActor | None:
        doc = await self.mdb.remote_actors.find_one({"key_id": key_id})
        return _remote_actor(doc) if doc else None

    async def get_remote_actor_by_handle(self, username: str, domain: str) -> RemoteActor | None:
        doc = await self.mdb.remote_actors.find_one(
            {"handle_lower": f"{username}@{domain}".lower()}, sort=[("fetched_at", -1)]
        )
        return _remote_actor(doc) if doc else None

    async def delete_remote_actor(self, uri: str) -> None:
        post_ids = [doc["_id"] async for doc in self.mdb.posts.find({"author": uri}, {"_id": 1})]
        if post_ids:
            await self.mdb.timeline_entries.delete_many({"post_id": {"$in": post_ids}})
            await self.mdb.badge_entries.delete_many({"post_id": {"$in": post_ids}})
        await self.mdb.posts.delete_many({"author": uri})
        await self.mdb.follows.delete_many({"$or": [{"follower": uri}, {"followed": uri}]})
        await self.mdb.remote_actors.delete_one({"_id": uri})

    # --- follows -------------------------------------------------------------------------

    async def upsert_follow(self, follow: Follow, follower_account_id: str | None) -> Follow:
        try:
            doc = await self.mdb.follows.find_one_and_update(
                {"follower": follow.follower, "followed": follow.followed},
                {
                    "$set": {"activity_id": follow.activity_id, "state": follow.state.value},
                    "$setOnInsert": {
                        "_id": follow.id,
                        "follower_account_id": follower_account_id,
                        "created_at": follow.created_at,
                    },
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # Two upserts raced on the unique pair; the second one now finds the row.
            return await self.upsert_follow(follow, follower_account_id)
        assert doc is not None  # an upsert with ReturnDocument.AFTER always returns the row
        return _follow(doc)

    async def get_follow(self, follower: str, followed: str) -> Follow | None:
        doc = await self.mdb.follows.find_one({"follower": follower, "followed": followed})
        return _follow(doc) if doc else None

    async def get_follow_by_activity(self, activity_id: str) -> Follow | None:
        doc = await self.mdb.follows.find_one({"activity_id": activity_id})
        return _follow(doc) if doc else None

    async def set_follow_state(self, follower: str, followed: str, state: FollowState) -> bool:
        result = await self.mdb.follows.update_one(
            {"follower": follower, "followed": followed}, {"$set": {"state": state.value}}
        )
        return result.matched_count == 1

    async def delete_follow(self, follower: str, followed: str) -> bool:
        result = await self.mdb.follows.delete_one({"follower": follower, "followed": followed})
        return result.deleted_count == 1

    async def _list_follows(
        self, field: str, value: str, state: FollowState, before: Cursor | None, limit: int
    ) -> list[Follow]:
        if limit <= 0:  # MongoDB reads limit(0) as "no limit"
            return []
        query = {field: value, "state": state.value} | _before_filter("created_at", "_id", before)
        cursor = self.mdb.follows.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [_follow(doc) async for doc in cursor]

    async def list_followers(
        self, followed: str, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[Follow]:
        return await self._list_follows("followed", followed, state, before, limit)

    async def list_following(
        self, follower: str, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[Follow]:
        return await self._list_follows("follower", follower, state, before, limit)

    async def count_followers(self, followed: str) -> int:
        return await self.mdb.follows.count_documents({"followed": followed, "state": "accepted"})

    async def count_following(self, follower: str) -> int:
        return await self.mdb.follows.count_documents({"follower": follower, "state": "accepted"})

    async def follower_inboxes(self, followed: str) -> list[str]:
        followers = [
            doc["follower"]
            async for doc in self.mdb.follows.find(
                {"followed": followed, "state": "accepted", "follower_account_id": None},
                {"follower": 1},
            )
        ]
        inboxes: set[str] = set()
        for start in range(0, len(followers), 1000):
            chunk = followers[start : start + 1000]
            async for actor in self.mdb.remote_actors.find(
                {"_id": {"$in": chunk}}, {"inbox": 1, "shared_inbox": 1}
            ):
                inboxes.add(actor.get("shared_inbox") or actor["inbox"])
        return sorted(inboxes)

    async def local_follower_ids(self, followed: str) -> list[str]:
        cursor = self.mdb.follows.find(
            {"followed": followed, "state": "accepted", "follower_account_id": {"$ne": None}},
            {"follower_account_id": 1},
        )
        return [doc["follower_account_id"] async for doc in cursor]

    async def local_follower_ids_of(self, followed: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {uri: [] for uri in followed}
        if not found:
            return found
        cursor = self.mdb.follows.find(
            {
                "followed": {"$in": sorted(found)},
                "state": "accepted",
                "follower_account_id": {"$ne": None},
            },
            {"followed": 1, "follower_account_id": 1},
        )
        async for doc in cursor:
            found[doc["followed"]].append(doc["follower_account_id"])
        return found

    # --- inbox queue ---------------------------------------------------------------------

    async def enqueue_inbox(self, item: InboxItem) -> bool:
        try:
            await self.mdb.inbox_items.insert_one(
                {
                    "_id": item.activity_id,
                    "actor": item.actor,
                    "activity_type": item.activity_type,
                    "raw": item.raw,
                    "received_at": item.received_at,
                    "state": InboxState.PENDING.value,
                    "attempts": 0,
                    "lease_until": None,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def claim_inbox(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[InboxItem]:
        token = secrets.token_hex(8)
        lease_until = now + timedelta(seconds=lease_seconds)
        due: Document = {
            "state": InboxState.PENDING.value,
            "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}],
        }
        # As claim_deliveries: a few round trips per batch instead of one findAndModify per
        # item (which made a 20-item claim cost 20 round trips). update_many re-checks the
        # filter on each document atomically, so two workers never lease one item; the token
        # says which items this call won. A round that loses items to another claimer tries
        # again for the rest; every lost item was leased by someone, so this ends.
        candidates: list[Any] = []
        won = 0
        for _ in range(limit):
            cursor = (
                self.mdb.inbox_items.find(due, {"_id": 1}).sort("received_at", 1).limit(limit - won)
            )
            batch = [doc["_id"] async for doc in cursor]
            if not batch:
                break
            result = await self.mdb.inbox_items.update_many(
                {"_id": {"$in": batch}, **due},
                {
                    "$set": {"lease_until": lease_until, "lease_token": token},
                    "$inc": {"attempts": 1},
                },
            )
            candidates += batch
            won += result.modified_count
            if result.modified_count == len(batch) or won >= limit:
                break
        if not won:
            return []
        docs = [
            doc
            async for doc in self.mdb.inbox_items.find(
                {"_id": {"$in": candidates}, "lease_token": token}
            ).sort("received_at", 1)
        ]
        return [_inbox_item(doc) for doc in docs]

    async def finish_inbox(
        self,
        activity_id: str,
        state: InboxState,
        error: str | None,
        *,
        retry_at: datetime | None = None,
    ) -> None:
        # The lease doubles as the retry time: claim_inbox skips items leased into the future.
        await self.mdb.inbox_items.update_one(
            {"_id": activity_id},
            {"$set": {"state": state.value, "error": error, "lease_until": retry_at}},
        )

    async def finish_inbox_items(self, activity_ids: list[str], state: InboxState) -> None:
        if not activity_ids:
            return
        await self.mdb.inbox_items.update_many(
            {"_id": {"$in": activity_ids}},
            {"$set": {"state": state.value, "error": None, "lease_until": None}},
        )

    async def count_inbox(self, state: InboxState) -> int:
        return await self.mdb.inbox_items.count_documents({"state": state.value})

    # --- outbound deliveries -------------------------------------------------------------

    async def create_outbound(
        self, activity: OutboundActivity, inboxes: list[str], *, now: datetime
    ) -> int:
        distinct = sorted(set(inboxes))
        await self.mdb.outbound_activities.update_one(
            {"_id": activity.id},
            {
                "$setOnInsert": {
                    "actor": activity.actor,
                    "signer_account_id": activity.signer_account_id,
                    "activity_type": activity.activity_type,
                    "raw": activity.raw,
                    "created_at": activity.created_at,
                }
            },
            upsert=True,
        )
        # Upserts keyed by the unique (activity, inbox) pair make a retried call harmless.
        operations = [
            UpdateOne(
                {"activity_id": activity.id, "inbox_url": inbox},
                {
                    "$setOnInsert": {
                        "_id": new_id(now),
                        "host": (urlsplit(inbox).netloc or "").lower(),
                        "state": DeliveryState.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "first_attempt_at": None,
                        "last_status": None,
                        "last_error": None,
                        "lease_token": None,
                        "lease_until": None,
                        "created_at": now,
                    }
                },
                upsert=True,
            )
            for inbox in distinct
        ]
        for start in range(0, len(operations), 1000):
            try:
                await self.mdb.deliveries.bulk_write(
                    operations[start : start + 1000], ordered=False
                )
            except BulkWriteError as error:
                if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                    raise
        return len(distinct)

    async def get_outbound(self, activity_id: str) -> OutboundActivity | None:
        doc = await self.mdb.outbound_activities.find_one({"_id": activity_id})
        return _outbound(doc) if doc else None

    async def claim_deliveries(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[ClaimedDelivery]:
        token = secrets.token_hex(8)
        lease_until = now + timedelta(seconds=lease_seconds)
        due: Document = {
            "state": DeliveryState.PENDING.value,
            "next_attempt_at": {"$lte": now},
            "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}],
        }
        # A few round trips per batch rather than one findAndModify per row: pick due rows,
        # lease those still due (update_many re-checks the filter on each document
        # atomically, so two workers never lease one row), read back what this token won.
        # A round that loses rows to another claimer tries again for the rest; every lost
        # row was leased by someone, so this ends (and never takes more rounds than rows).
        candidates: list[Any] = []
        won = 0
        for _ in range(limit):
            cursor = (
                self.mdb.deliveries.find(due, {"_id": 1})
                .sort("next_attempt_at", 1)
                .limit(limit - won)
            )
            batch = [doc["_id"] async for doc in cursor]
            if not batch:
                break
            result = await self.mdb.deliveries.update_many(
                {"_id": {"$in": batch}, **due},
                {"$set": {"lease_token": token, "lease_until": lease_until}},
            )
            candidates += batch
            won += result.modified_count
            if result.modified_count == len(batch) or won >= limit:
                break
        if not won:
            return []
        docs = [
            doc
            async for doc in self.mdb.deliveries.find(
                {"_id": {"$in": candidates}, "lease_token": token}
            )
        ]
        activities = {
            doc["_id"]: _outbound(doc)
            async for doc in self.mdb.outbound_activities.find(
                {"_id": {"$in": sorted({doc["activity_id"] for doc in docs})}}
            )
        }
        return [
            ClaimedDelivery(
                delivery=_delivery(doc), activity=activities[doc["activity_id"]], lease_token=token
            )
            for doc in docs
            if doc["activity_id"] in activities
        ]

    async def finish_delivery(
        self,
        claimed: ClaimedDelivery,
        *,
        state: DeliveryState,
        next_attempt_at: datetime,
        last_status: int | None,
        last_error: str | None,
        now: datetime,
    ) -> None:
        # One update, and only while this worker still holds the lease (a stale worker must
        # change nothing). While the lease is ours nobody else can have written the row, so
        # the first attempt time read at claim time is still current.
        update: Document = {
            "$set": {
                "state": state.value,
                "next_attempt_at": next_attempt_at,
                "first_attempt_at": claimed.delivery.first_attempt_at or now,
                "last_status": last_status,
                "last_error": last_error,
                "lease_token": None,
                "lease_until": None,
            },
            "$inc": {"attempts": 1},
        }
        await self.mdb.deliveries.update_one(
            {"_id": claimed.delivery.id, "lease_token": claimed.lease_token}, update
        )

    async def postpone_delivery(self, claimed: ClaimedDelivery, until: datetime) -> None:
        await self.mdb.deliveries.update_one(
            {"_id": claimed.delivery.id, "lease_token": claimed.lease_token},
            {"$set": {"next_attempt_at": until, "lease_token": None, "lease_until": None}},
        )

    async def list_deliveries(self, activity_id: str) -> list[Delivery]:
        cursor = self.mdb.deliveries.find({"activity_id": activity_id}).sort("inbox_url", 1)
        return [_delivery(doc) async for doc in cursor]

    async def count_deliveries(self, state: DeliveryState) -> int:
        return await self.mdb.deliveries.count_documents({"state": state.value})

    async def host_failures(self, host: str) -> tuple[int, datetime | None]:
        doc = await self.mdb.host_health.find_one({"_id": host})
        if doc is None:
            return 0, None
        return int(doc["consecutive_failures"]), as_utc(doc.get("last_failure_at"))

    async def record_host_result(self, host: str, *, ok: bool, now: datetime) -> None:
        if ok:
            await self.mdb.host_health.delete_one({"_id": host})
            return
        await self.mdb.host_health.update_one(
            {"_id": host},
            {"$inc": {"consecutive_failures": 1}, "$set": {"last_failure_at": now}},
            upsert=True,
        )

    # --- posts and timelines -------------------------------------------------------------

    async def insert_post(self, post: Post) -> bool:
        try:
            await self.mdb.posts.insert_one(_post_document(post))
        except DuplicateKeyError:
            return False
        return True

    async def insert_post_on_timelines(self, post: Post, owner_ids: list[str]) -> bool:
        # No transactions here: the post first, then its rows (each write idempotent), as
        # insert_post followed by add_to_timelines; a crash in between can leave the post
        # stored but off those timelines, which the SQLite adapter's one transaction avoids.
        if not await self.insert_post(post):
            return False
        await self.add_to_timelines(post, owner_ids)
        return True

    async def get_post(self, post_id: str) -> Post | None:
        doc = await self.mdb.posts.find_one({"_id": post_id})
        return _post(doc) if doc else None

    async def get_post_by_uri(self, uri: str) -> Post | None:
        doc = await self.mdb.posts.find_one({"uri": uri})
        return _post(doc) if doc else None

    async def update_post(self, post: Post) -> None:
        document = _post_document(post)
        for fixed in ("_id", "uri", "author", "local_account_id", "published", "deleted_at"):
            document.pop(fixed)
        await self.mdb.posts.update_one({"_id": post.id}, {"$set": document})

    async def mark_post_deleted(self, uri: str, now: datetime) -> Post | None:
        doc = await self.mdb.posts.find_one_and_update(
            {"uri": uri, "deleted_at": None},
            {
                "$set": {"deleted_at": now, "content_html": "", "source_text": ""}
                | cleared_on_delete()
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        await self.mdb.timeline_entries.delete_many({"post_id": doc["_id"]})
        await self.mdb.badge_entries.delete_many({"post_id": doc["_id"]})
        return _post(doc)

    async def author_posts(
        self, author: str, visibilities: tuple[str, ...], *, before: Cursor | None, limit: int
    ) -> list[Post]:
        if limit <= 0:  # MongoDB reads limit(0) as "no limit"
            return []
        query = {
            "author": author,
            "deleted_at": None,
            "visibility": {"$in": list(visibilities)},
        } | _before_filter("published", "_id", before)
        cursor = self.mdb.posts.find(query).sort([("published", -1), ("_id", -1)]).limit(limit)
        return [_post(doc) async for doc in cursor]

    async def count_author_posts(self, author: str, visibilities: tuple[str, ...]) -> int:
        return await self.mdb.posts.count_documents(
            {"author": author, "deleted_at": None, "visibility": {"$in": list(visibilities)}}
        )

    async def count_local_posts(self) -> int:
        return await self.mdb.posts.count_documents(
            {"local_account_id": {"$ne": None}, "deleted_at": None}
        )

    async def add_to_timelines(self, post: Post, owner_ids: list[str]) -> None:
        if not owner_ids:
            return
        operations = [
            UpdateOne(
                {"owner_id": owner, "published": post.published, "post_id": post.id},
                {"$setOnInsert": {"owner_id": owner}},
                upsert=True,
            )
            for owner in sorted(set(owner_ids))
        ]
        try:
            await self.mdb.timeline_entries.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise

    async def home_timeline(
        self, owner_id: str, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        posts: list[Post] = []
        hidden = await self.hidden_authors(suspended_only=True)
        # Entries of tombstoned posts are skipped; read on so the page still holds `limit` posts.
        while len(posts) < limit:
            wanted = limit - len(posts)
            query = {"owner_id": owner_id} | _before_filter("published", "post_id", before)
            cursor = (
                self.mdb.timeline_entries.find(query, {"post_id": 1, "published": 1})
                .sort([("published", -1), ("post_id", -1)])
                .limit(wanted)
            )
            entries = [doc async for doc in cursor]
            post_ids = [entry["post_id"] for entry in entries]
            found = {
                doc["_id"]: _post(doc)
                async for doc in self.mdb.posts.find(
                    {"_id": {"$in": post_ids}, "deleted_at": None, "author": {"$nin": hidden}}
                )
            }
            posts.extend(found[post_id] for post_id in post_ids if post_id in found)
            if len(entries) < wanted:
                break
            before = (_time(entries[-1]["published"]), entries[-1]["post_id"])
        return posts
