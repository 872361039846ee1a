""" "Open to", collaboration requests, conversations, blocks and remote profiles on MongoDB
(migration 6). No transactions: every write is one atomic document operation, or a sequence
that is safe to repeat."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from fedipoly.collab_models import (
    CollabRequest,
    Conversation,
    ConversationMessage,
    MemberBlock,
    OpenToEntry,
    OpenToReason,
    RemoteProfile,
    RequestState,
)
from fedipoly.errors import Conflict
from fedipoly.models import Post, new_id, utc_now
from fedipoly.store.base import Cursor
from fedipoly.store.mongo.core import Document, MongoCore, as_utc
from fedipoly.store.mongo.federation import _before_filter, _post, _time
from fedipoly.store.open_to_seed import DEFAULT_OPEN_TO_REASONS, OPEN_TO_SEED_SETTING

# Candidates checked per round by listed_members_open_to.
LISTED_BATCH = 200


def _reason(doc: Document) -> OpenToReason:
    return OpenToReason(
        slug=doc["_id"],
        label=doc["label"],
        position=doc["position"],
        created_at=_time(doc["created_at"]),
    )


def _entry(doc: Document) -> OpenToEntry:
    return OpenToEntry(
        reason_slug=doc["reason_slug"], open=bool(doc["open"]), until=as_utc(doc.get("until"))
    )


def _request(doc: Document) -> CollabRequest:
    return CollabRequest(
        id=doc["_id"],
        uri=doc["uri"],
        sender=doc["sender"],
        recipient=doc["recipient"],
        sender_account_id=doc.get("sender_account_id"),
        recipient_account_id=doc.get("recipient_account_id"),
        reason_slug=doc["reason_slug"],
        reason_label=doc["reason_label"],
        message=doc["message"],
        state=RequestState(doc["state"]),
        created_at=_time(doc["created_at"]),
        decided_at=as_utc(doc.get("decided_at")),
    )


def _conversation(doc: Document) -> Conversation:
    return Conversation(
        id=doc["_id"],
        account_id=doc["account_id"],
        peer=doc["peer"],
        request_id=doc.get("request_id"),
        created_at=_time(doc["created_at"]),
        last_message_at=_time(doc["last_message_at"]),
    )


def _not_lapsed(now: datetime) -> Document:
    return {"$or": [{"until": None}, {"until": {"$gt": now}}]}


class MongoCollab(MongoCore):
    async def _migrate(self) -> None:
        await super()._migrate()
        await self._seed_open_to()

    async def _seed_open_to(self) -> None:
        """Write the default reasons once per database (see fedipoly/store/open_to_seed.py)."""
        if await self.get_setting(OPEN_TO_SEED_SETTING) is not None:
            return
        now = utc_now()
        operations = [
            UpdateOne(
                {"_id": slug},
                {"$setOnInsert": {"label": label, "position": position, "created_at": now}},
                upsert=True,
            )
            for position, (slug, label) in enumerate(DEFAULT_OPEN_TO_REASONS)
        ]
        try:
            await self.mdb.open_to_reasons.bulk_write(operations, ordered=False)
        except BulkWriteError as error:  # another process seeding at the same moment
            if any(item.get("code") != 11000 for item in error.details.get("writeErrors", [])):
                raise
        await self.put_setting_if_absent(OPEN_TO_SEED_SETTING, now.isoformat())

    # --- catalogue -----------------------------------------------------------------------

    async def list_open_to_reasons(self) -> list[OpenToReason]:
        cursor = self.mdb.open_to_reasons.find({}).sort([("position", 1), ("_id", 1)])
        return [_reason(doc) async for doc in cursor]

    async def get_open_to_reason(self, slug: str) -> OpenToReason | None:
        doc = await self.mdb.open_to_reasons.find_one({"_id": slug})
        return _reason(doc) if doc else None

    async def create_open_to_reason(self, reason: OpenToReason) -> OpenToReason:
        try:
            await self.mdb.open_to_reasons.insert_one(
                {
                    "_id": reason.slug,
                    "label": reason.label,
                    "position": reason.position,
                    "created_at": reason.created_at,
                }
            )
        except DuplicateKeyError:
            raise Conflict(
                f"there is already a reason {reason.slug!r}", {"field": "slug"}
            ) from None
        return reason

    async def rename_open_to_reason(self, slug: str, label: str) -> OpenToReason | None:
        await self.mdb.open_to_reasons.update_one({"_id": slug}, {"$set": {"label": label}})
        return await self.get_open_to_reason(slug)

    async def delete_open_to_reason(self, slug: str) -> bool:
        result = await self.mdb.open_to_reasons.delete_one({"_id": slug})
        await self.mdb.member_open_to.delete_many({"reason_slug": slug})
        return result.deleted_count == 1

    # --- members' answers ----------------------------------------------------------------

    async def member_open_to(self, account_id: str) -> list[OpenToEntry]:
        cursor = self.mdb.member_open_to.find({"account_id": account_id}).sort("reason_slug", 1)
        return [_entry(doc) async for doc in cursor]

    async def set_member_open_to(self, account_id: str, entries: list[OpenToEntry]) -> None:
        # Upsert the new answers first, then remove the others: a reader in between sees the
        # new answers (and perhaps a stale extra one), never an empty list.
        for entry in entries:
            await self.mdb.member_open_to.update_one(
                {"account_id": account_id, "reason_slug": entry.reason_slug},
                {"$set": {"open": entry.open, "until": entry.until}},
                upsert=True,
            )
        await self.mdb.member_open_to.delete_many(
            {
                "account_id": account_id,
                "reason_slug": {"$nin": [entry.reason_slug for entry in entries]},
            }
        )

    async def members_open_to(
        self, reason_slug: str, *, now: datetime, after: str | None, limit: int
    ) -> list[str]:
        query = {
            "reason_slug": reason_slug,
            "open": True,
            "account_id": {"$gt": after or ""},
        } | _not_lapsed(now)
        cursor = (
            self.mdb.member_open_to.find(query, {"account_id": 1})
            .sort("account_id", 1)
            .limit(limit)
        )
        return [doc["account_id"] async for doc in cursor]

    async def listed_members_open_to(
        self,
        reason_slug: str,
        *,
        now: datetime,
        after: str | None,
        limit: int,
        badge_id: str | None = None,
    ) -> list[str]:
        # No joins here: each batch of candidates is checked with one `$in` query per
        # collection (indexed by _id / account_id), never one query per member.
        found: list[str] = []
        batch = max(limit, LISTED_BATCH)
        while len(found) < limit:
            ids = await self.members_open_to(reason_slug, now=now, after=after, limit=batch)
            if not ids:
                break
            after = ids[-1]
            active = {
                doc["_id"]
                async for doc in self.mdb.accounts.find(
                    {"_id": {"$in": ids}, "suspended": {"$ne": True}}, {"_id": 1}
                )
            }
            hidden = {
                doc["_id"]
                async for doc in self.mdb.profiles.find(
                    {"_id": {"$in": ids}, "discoverable": False}, {"_id": 1}
                )
            }
            holders = (
                {
                    doc["account_id"]
                    async for doc in self.mdb.member_badges.find(
                        {"account_id": {"$in": ids}, "badge_id": badge_id}, {"account_id": 1}
                    )
                }
                if badge_id is not None
                else active
            )
            found += [i for i in ids if i in active and i not in hidden and i in holders]
            if len(ids) < batch:
                break
        return found[:limit]

    # --- remote profiles -----------------------------------------------------------------

    async def save_remote_profile(self, profile: RemoteProfile) -> None:
        listed = profile.is_fedipoly and profile.discoverable
        await self.mdb.remote_profiles.update_one(
            {"_id": profile.actor_uri},
            {
                "$set": {
                    "is_fedipoly": profile.is_fedipoly,
                    "discoverable": profile.discoverable,
                    "headline": profile.headline,
                    "badges": list(profile.badges),
                    "badge_names": list(profile.badge_names),
                    "refreshed_at": profile.refreshed_at,
                }
            },
            upsert=True,
        )
        for entry in profile.open_to:
            await self.mdb.remote_open_to.update_one(
                {"actor_uri": profile.actor_uri, "reason_slug": entry.reason_slug},
                {"$set": {"open": entry.open, "until": entry.until, "listed": listed}},
                upsert=True,
            )
        await self.mdb.remote_open_to.delete_many(
            {
                "actor_uri": profile.actor_uri,
                "reason_slug": {"$nin": [entry.reason_slug for entry in profile.open_to]},
            }
        )

    async def get_remote_profile(self, actor_uri: str) -> RemoteProfile | None:
        doc = await self.mdb.remote_profiles.find_one({"_id": actor_uri})
        return await self._remote_profile(doc) if doc else None

    async def _remote_profile(self, doc: Document) -> RemoteProfile:
        entries = self.mdb.remote_open_to.find({"actor_uri": doc["_id"]}).sort("reason_slug", 1)
        return RemoteProfile(
            actor_uri=doc["_id"],
            is_fedipoly=bool(doc["is_fedipoly"]),
            discoverable=bool(doc["discoverable"]),
            headline=doc.get("headline", ""),
            badges=tuple(doc.get("badges", [])),
            open_to=tuple([_entry(entry) async for entry in entries]),
            refreshed_at=_time(doc["refreshed_at"]),
            badge_names=tuple(doc.get("badge_names", [])),
        )

    async def remote_profiles_open_to(
        self, reason_slug: str, *, now: datetime, after: str | None, limit: int
    ) -> list[RemoteProfile]:
        query = {
            "reason_slug": reason_slug,
            "open": True,
            "listed": True,
            "actor_uri": {"$gt": after or ""},
        } | _not_lapsed(now)
        cursor = (
            self.mdb.remote_open_to.find(query, {"actor_uri": 1}).sort("actor_uri", 1).limit(limit)
        )
        uris = [doc["actor_uri"] async for doc in cursor]
        found = {
            doc["_id"]: doc async for doc in self.mdb.remote_profiles.find({"_id": {"$in": uris}})
        }
        return [await self._remote_profile(found[uri]) for uri in uris if uri in found]

    async def stale_remote_profiles(self, refreshed_before: datetime, limit: int) -> list[str]:
        cursor = (
            self.mdb.remote_profiles.find({"refreshed_at": {"$lt": refreshed_before}}, {"_id": 1})
            .sort("refreshed_at", 1)
            .limit(limit)
        )
        return [doc["_id"] async for doc in cursor]

    # --- requests ------------------------------------------------------------------------

    async def insert_collab_request(self, request: CollabRequest) -> bool:
        try:
            await self.mdb.collab_requests.insert_one(
                {
                    "_id": request.id,
                    "uri": request.uri,
                    "sender": request.sender,
                    "recipient": request.recipient,
                    "sender_account_id": request.sender_account_id,
                    "recipient_account_id": request.recipient_account_id,
                    "reason_slug": request.reason_slug,
                    "reason_label": request.reason_label,
                    "message": request.message,
                    "state": request.state.value,
                    "created_at": request.created_at,
                    "decided_at": request.decided_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def get_collab_request(self, request_id: str) -> CollabRequest | None:
        doc = await self.mdb.collab_requests.find_one({"_id": request_id})
        return _request(doc) if doc else None

    async def decide_collab_request(
        self, request_id: str, state: RequestState, *, now: datetime
    ) -> CollabRequest | None:
        result = await self.mdb.collab_requests.update_one(
            {"_id": request_id, "state": RequestState.PENDING.value},
            {"$set": {"state": state.value, "decided_at": now}},
        )
        return await self.get_collab_request(request_id) if result.modified_count == 1 else None

    async def _request_page(
        self, query: Document, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        cursor = (
            self.mdb.collab_requests.find(query | _before_filter("created_at", "_id", before))
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit)
        )
        return [_request(doc) async for doc in cursor]

    async def received_collab_requests(
        self, account_id: str, state: RequestState, *, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        query = {"recipient_account_id": account_id, "state": state.value}
        return await self._request_page(query, before, limit)

    async def sent_collab_requests(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        return await self._request_page({"sender_account_id": account_id}, before, limit)

    async def latest_collab_request(self, sender: str, recipient: str) -> CollabRequest | None:
        doc = await self.mdb.collab_requests.find_one(
            {"sender": sender, "recipient": recipient}, sort=[("created_at", -1)]
        )
        return _request(doc) if doc else None

    async def count_collab_requests_since(self, sender: str, since: datetime) -> int:
        return await self.mdb.collab_requests.count_documents(
            {"sender": sender, "created_at": {"$gte": since}}
        )

    # --- conversations -------------------------------------------------------------------

    async def open_conversation(
        self, account_id: str, peer: str, *, request_id: str | None, now: datetime
    ) -> Conversation:
        # Opened by someone else at the same moment: theirs is the one.
        with contextlib.suppress(DuplicateKeyError):
            await self.mdb.conversations.update_one(
                {"account_id": account_id, "peer": peer},
                {
                    "$setOnInsert": {
                        "_id": new_id(now),
                        "request_id": request_id,
                        "created_at": now,
                        "last_message_at": now,
                    }
                },
                upsert=True,
            )
        found = await self.find_conversation(account_id, peer)
        assert found is not None
        return found

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        doc = await self.mdb.conversations.find_one({"_id": conversation_id})
        return _conversation(doc) if doc else None

    async def find_conversation(self, account_id: str, peer: str) -> Conversation | None:
        doc = await self.mdb.conversations.find_one({"account_id": account_id, "peer": peer})
        return _conversation(doc) if doc else None

    async def list_conversations(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[Conversation]:
        query = {"account_id": account_id} | _before_filter("last_message_at", "_id", before)
        cursor = (
            self.mdb.conversations.find(query)
            .sort([("last_message_at", -1), ("_id", -1)])
            .limit(limit)
        )
        return [_conversation(doc) async for doc in cursor]

    async def add_conversation_message(
        self, conversation_id: str, post: Post, *, at: datetime
    ) -> None:
        result = await self.mdb.conversation_messages.update_one(
            {"conversation_id": conversation_id, "post_id": post.id},
            {"$setOnInsert": {"at": at}},
            upsert=True,
        )
        if result.upserted_id is None:
            return  # listed already (a redelivery)
        await self.mdb.conversations.update_one(
            {"_id": conversation_id}, {"$max": {"last_message_at": at}}
        )

    async def conversation_messages(
        self, conversation_id: str, *, before: Cursor | None, limit: int
    ) -> list[ConversationMessage]:
        messages: list[ConversationMessage] = []
        # Messages deleted since are skipped; read on so the page still holds `limit` of them.
        while len(messages) < limit:
            wanted = limit - len(messages)
            query: dict[str, Any] = {"conversation_id": conversation_id} | _before_filter(
                "at", "post_id", before
            )
            cursor = (
                self.mdb.conversation_messages.find(query)
                .sort([("at", -1), ("post_id", -1)])
                .limit(wanted)
            )
            entries = [doc async for doc in cursor]
            ids = [entry["post_id"] for entry in entries]
            found = {
                doc["_id"]: _post(doc)
                async for doc in self.mdb.posts.find({"_id": {"$in": ids}, "deleted_at": None})
            }
            messages.extend(
                ConversationMessage(_time(entry["at"]), found[entry["post_id"]])
                for entry in entries
                if entry["post_id"] in found
            )
            if len(entries) < wanted:
                break
            before = (_time(entries[-1]["at"]), entries[-1]["post_id"])
        return messages

    # --- blocks --------------------------------------------------------------------------

    async def block_actor(self, block: MemberBlock) -> None:
        await self.mdb.member_blocks.update_one(
            {"account_id": block.account_id, "blocked": block.blocked},
            {"$setOnInsert": {"created_at": block.created_at}},
            upsert=True,
        )

    async def unblock_actor(self, account_id: str, blocked: str) -> bool:
        result = await self.mdb.member_blocks.delete_one(
            {"account_id": account_id, "blocked": blocked}
        )
        return result.deleted_count == 1

    async def is_blocked(self, account_id: str, actor: str) -> bool:
        found = await self.mdb.member_blocks.find_one({"account_id": account_id, "blocked": actor})
        return found is not None

    async def list_blocks(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[MemberBlock]:
        query = {"account_id": account_id} | _before_filter("created_at", "blocked", before)
        cursor = (
            self.mdb.member_blocks.find(query)
            .sort([("created_at", -1), ("blocked", -1)])
            .limit(limit)
        )
        return [
            MemberBlock(
                account_id=doc["account_id"],
                blocked=doc["blocked"],
                created_at=_time(doc["created_at"]),
            )
            async for doc in cursor
        ]
