"""Moderation on MongoDB: reports, domain blocks, remote restrictions, suspensions, the audit
log, notifications, badge merges and stewards (index migration 8).

Conditional updates (`close_report`, `mark_badge_merge_reverted`) are single-document
filters on the current state, so two moderators can never both decide the same thing.
URIs on a host are found with [low, high) string ranges rather than regular expressions, so
a purge is an index range scan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from fedipoly.models import Account, Badge, Post
from fedipoly.moderation_models import (
    AuditEntry,
    BadgeMerge,
    DomainBlock,
    Notification,
    RemoteRestriction,
    ReportState,
    ReportTarget,
    RestrictionLevel,
    Steward,
)
from fedipoly.moderation_models import Report as ReportRecord
from fedipoly.names import normalize_name, search_terms
from fedipoly.store.base import Cursor
from fedipoly.store.mongo.accounts import _PUBLIC_FIELDS, _account
from fedipoly.store.mongo.core import Document, MongoCore, as_utc
from fedipoly.store.mongo.federation import _before_filter, _post
from fedipoly.store.mongo.profiles_badges import _badge


def _time(value: Any) -> datetime:
    moment = as_utc(value)
    assert moment is not None
    return moment


def _report(doc: Document) -> ReportRecord:
    return ReportRecord(
        id=doc["_id"],
        target_kind=ReportTarget(doc["target_kind"]),
        target=doc["target"],
        target_actor=doc.get("target_actor"),
        comment=doc["comment"],
        state=ReportState(doc["state"]),
        created_at=_time(doc["created_at"]),
        reporter_account_id=doc.get("reporter_account_id"),
        reporter_actor=doc.get("reporter_actor"),
        flag_id=doc.get("flag_id"),
        resolved_by=doc.get("resolved_by"),
        resolved_at=as_utc(doc.get("resolved_at")),
        resolution=doc.get("resolution"),
        forwarded=bool(doc.get("forwarded")),
    )


def _block(doc: Document) -> DomainBlock:
    return DomainBlock(
        domain=doc["_id"],
        reason=doc["reason"],
        created_by=doc.get("created_by"),
        created_at=_time(doc["created_at"]),
    )


def _restriction(doc: Document) -> RemoteRestriction:
    return RemoteRestriction(
        actor_uri=doc["_id"],
        level=RestrictionLevel(doc["level"]),
        reason=doc["reason"],
        created_by=doc.get("created_by"),
        created_at=_time(doc["created_at"]),
    )


def _merge(doc: Document) -> BadgeMerge:
    return BadgeMerge(
        id=doc["_id"],
        source_id=doc["source_id"],
        source_slug=doc["source_slug"],
        target_id=doc["target_id"],
        target_slug=doc["target_slug"],
        undo=doc["undo"],
        created_by=doc.get("created_by"),
        created_at=_time(doc["created_at"]),
        reverted_at=as_utc(doc.get("reverted_at")),
    )


def _steward(doc: Document) -> Steward:
    return Steward(
        badge_id=doc["badge_id"],
        account_id=doc["account_id"],
        appointed_by=doc.get("appointed_by"),
        created_at=_time(doc["created_at"]),
    )


def _on_host(field: str, domain: str) -> Document:
    """URIs on the host, for both schemes ('0' is the character after '/')."""
    return {
        "$or": [
            {field: {"$gte": f"{scheme}://{domain}/", "$lt": f"{scheme}://{domain}0"}}
            for scheme in ("https", "http")
        ]
    }


class MongoModeration(MongoCore):
    # --- domain blocks -------------------------------------------------------------------

    async def put_domain_block(self, block: DomainBlock) -> bool:
        result = await self.mdb.domain_blocks.update_one(
            {"_id": block.domain},
            {
                "$setOnInsert": {
                    "reason": block.reason,
                    "created_by": block.created_by,
                    "created_at": block.created_at,
                }
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def delete_domain_block(self, domain: str) -> bool:
        result = await self.mdb.domain_blocks.delete_one({"_id": domain})
        return result.deleted_count == 1

    async def list_domain_blocks(self) -> list[DomainBlock]:
        return [_block(doc) async for doc in self.mdb.domain_blocks.find().sort("_id", 1)]

    async def find_domain_blocks(self, domains: list[str]) -> list[DomainBlock]:
        if not domains:
            return []
        cursor = self.mdb.domain_blocks.find({"_id": {"$in": domains}}).sort("_id", 1)
        return [_block(doc) async for doc in cursor]

    async def purge_domain(self, domain: str) -> int:
        posts = _on_host("author", domain)
        post_ids = [doc["_id"] async for doc in self.mdb.posts.find(posts, {"_id": 1})]
        if post_ids:
            await self.mdb.timeline_entries.delete_many({"post_id": {"$in": post_ids}})
            await self.mdb.badge_entries.delete_many({"post_id": {"$in": post_ids}})
            await self.mdb.posts.delete_many({"_id": {"$in": post_ids}})
        for field in ("follower", "followed"):
            await self.mdb.follows.delete_many(_on_host(field, domain))
        result = await self.mdb.remote_actors.delete_many({"domain": domain})
        return result.deleted_count

    # --- remote actors -------------------------------------------------------------------

    async def put_remote_restriction(self, restriction: RemoteRestriction) -> None:
        await self.mdb.remote_restrictions.replace_one(
            {"_id": restriction.actor_uri},
            {
                "level": restriction.level.value,
                "reason": restriction.reason,
                "created_by": restriction.created_by,
                "created_at": restriction.created_at,
            },
            upsert=True,
        )

    async def delete_remote_restriction(self, actor_uri: str) -> bool:
        result = await self.mdb.remote_restrictions.delete_one({"_id": actor_uri})
        return result.deleted_count == 1

    async def get_remote_restriction(self, actor_uri: str) -> RemoteRestriction | None:
        doc = await self.mdb.remote_restrictions.find_one({"_id": actor_uri})
        return _restriction(doc) if doc else None

    async def list_remote_restrictions(self) -> list[RemoteRestriction]:
        cursor = self.mdb.remote_restrictions.find().sort([("created_at", -1), ("_id", 1)])
        return [_restriction(doc) async for doc in cursor]

    async def set_author_hidden(self, actor_uri: str, level: RestrictionLevel | None) -> None:
        if level is None:
            await self.mdb.hidden_authors.delete_one({"_id": actor_uri})
            return
        await self.mdb.hidden_authors.update_one(
            {"_id": actor_uri}, {"$set": {"level": level.value}}, upsert=True
        )

    async def author_hidden(self, actor_uri: str) -> RestrictionLevel | None:
        doc = await self.mdb.hidden_authors.find_one({"_id": actor_uri})
        return RestrictionLevel(doc["level"]) if doc else None

    # --- local accounts ------------------------------------------------------------------

    async def set_account_suspended(self, account_id: str, suspended: bool) -> Account | None:
        doc = await self.mdb.accounts.find_one_and_update(
            {"_id": account_id},
            {"$set": {"suspended": suspended}},
            projection=_PUBLIC_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        return _account(doc) if doc else None

    # --- reports -------------------------------------------------------------------------

    async def create_report(self, report: ReportRecord) -> bool:
        document: Document = {
            "_id": report.id,
            "target_kind": report.target_kind.value,
            "target": report.target,
            "target_actor": report.target_actor,
            "comment": report.comment,
            "state": report.state.value,
            "created_at": report.created_at,
            "reporter_account_id": report.reporter_account_id,
            "reporter_actor": report.reporter_actor,
            "resolved_by": report.resolved_by,
            "resolved_at": report.resolved_at,
            "resolution": report.resolution,
            "forwarded": report.forwarded,
        }
        if report.flag_id is not None:  # absent, not null: the unique index is partial
            document["flag_id"] = report.flag_id
        try:
            await self.mdb.reports.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get_report(self, report_id: str) -> ReportRecord | None:
        doc = await self.mdb.reports.find_one({"_id": report_id})
        return _report(doc) if doc else None

    async def list_reports(
        self, state: ReportState | None, *, before: Cursor | None, limit: int
    ) -> list[ReportRecord]:
        query = _before_filter("created_at", "_id", before)
        if state is not None:
            query["state"] = state.value
        cursor = self.mdb.reports.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [_report(doc) async for doc in cursor]

    async def list_reports_about(
        self,
        target_kind: ReportTarget,
        target: str,
        state: ReportState | None,
        *,
        before: Cursor | None,
        limit: int,
    ) -> list[ReportRecord]:
        query = {"target_kind": target_kind.value, "target": target} | _before_filter(
            "created_at", "_id", before
        )
        if state is not None:
            query["state"] = state.value
        cursor = self.mdb.reports.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [_report(doc) async for doc in cursor]

    async def close_report(
        self,
        report_id: str,
        state: ReportState,
        *,
        by: str | None,
        resolution: str,
        forwarded: bool,
        now: datetime,
    ) -> ReportRecord | None:
        doc = await self.mdb.reports.find_one_and_update(
            {"_id": report_id, "state": ReportState.OPEN.value},
            {
                "$set": {
                    "state": state.value,
                    "resolved_by": by,
                    "resolved_at": now,
                    "resolution": resolution,
                    "forwarded": forwarded,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _report(doc) if doc else None

    # --- audit log and notifications -----------------------------------------------------

    async def add_audit_entry(self, entry: AuditEntry) -> None:
        await self.mdb.audit_log.insert_one(
            {
                "_id": entry.id,
                "moderator_id": entry.moderator_id,
                "action": entry.action,
                "target": entry.target,
                "reason": entry.reason,
                "created_at": entry.created_at,
            }
        )

    async def list_audit_entries(self, *, before: Cursor | None, limit: int) -> list[AuditEntry]:
        cursor = (
            self.mdb.audit_log.find(_before_filter("created_at", "_id", before))
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit)
        )
        return [
            AuditEntry(
                id=doc["_id"],
                moderator_id=doc.get("moderator_id"),
                action=doc["action"],
                target=doc["target"],
                reason=doc["reason"],
                created_at=_time(doc["created_at"]),
            )
            async for doc in cursor
        ]

    async def add_notification(self, notification: Notification) -> None:
        await self.mdb.notifications.insert_one(
            {
                "_id": notification.id,
                "account_id": notification.account_id,
                "kind": notification.kind,
                "message": notification.message,
                "link": notification.link,
                "created_at": notification.created_at,
                "read_at": notification.read_at,
            }
        )

    async def list_notifications(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[Notification]:
        query = {"account_id": account_id} | _before_filter("created_at", "_id", before)
        cursor = (
            self.mdb.notifications.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        )
        return [
            Notification(
                id=doc["_id"],
                account_id=doc["account_id"],
                kind=doc["kind"],
                message=doc["message"],
                link=doc.get("link"),
                created_at=_time(doc["created_at"]),
                read_at=as_utc(doc.get("read_at")),
            )
            async for doc in cursor
        ]

    async def mark_notifications_read(self, account_id: str, now: datetime) -> int:
        result = await self.mdb.notifications.update_many(
            {"account_id": account_id, "read_at": None}, {"$set": {"read_at": now}}
        )
        return result.modified_count

    async def count_unread_notifications(self, account_id: str) -> int:
        return await self.mdb.notifications.count_documents(
            {"account_id": account_id, "read_at": None}
        )

    # --- badges --------------------------------------------------------------------------

    async def rename_badge(self, badge_id: str, display_name: str) -> Badge | None:
        current = await self.mdb.badges.find_one({"_id": badge_id}, {"slug": 1})
        if current is None:
            return None
        doc = await self.mdb.badges.find_one_and_update(
            {"_id": badge_id},
            {
                "$set": {
                    "display_name": display_name,
                    "name_lower": normalize_name(display_name),
                    "terms": search_terms(current["slug"], display_name),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _badge(doc) if doc else None

    async def local_posts_tagged(
        self, slug: str, *, after_id: str | None, limit: int
    ) -> list[Post]:
        query: Document = {"badges": slug, "local": True, "deleted_at": None}
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        cursor = self.mdb.posts.find(query).sort("_id", 1).limit(limit)
        return [_post(doc) async for doc in cursor]

    async def repoint_activity_tags(
        self, from_badge_id: str, to_badge_id: str, keys: list[str] | None = None
    ) -> list[str]:
        found = [
            doc["_id"]
            async for doc in self.mdb.activity_tags.find({"badge_id": from_badge_id}, {"_id": 1})
        ]
        moved = [key for key in found if keys is None or key in keys]
        if moved:
            await self.mdb.activity_tags.update_many(
                {"_id": {"$in": moved}}, {"$set": {"badge_id": to_badge_id}}
            )
        return moved

    async def create_badge_merge(self, merge: BadgeMerge) -> None:
        await self.mdb.badge_merges.insert_one(
            {
                "_id": merge.id,
                "source_id": merge.source_id,
                "source_slug": merge.source_slug,
                "target_id": merge.target_id,
                "target_slug": merge.target_slug,
                "undo": merge.undo,
                "created_by": merge.created_by,
                "created_at": merge.created_at,
                "reverted_at": merge.reverted_at,
            }
        )

    async def get_badge_merge(self, merge_id: str) -> BadgeMerge | None:
        doc = await self.mdb.badge_merges.find_one({"_id": merge_id})
        return _merge(doc) if doc else None

    async def active_badge_merge(self, source_slug: str) -> BadgeMerge | None:
        doc = await self.mdb.badge_merges.find_one(
            {"source_slug": source_slug, "reverted_at": None}, sort=[("created_at", -1)]
        )
        return _merge(doc) if doc else None

    async def list_badge_merges(self, *, limit: int) -> list[BadgeMerge]:
        cursor = self.mdb.badge_merges.find().sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [_merge(doc) async for doc in cursor]

    async def mark_badge_merge_reverted(self, merge_id: str, now: datetime) -> bool:
        result = await self.mdb.badge_merges.update_one(
            {"_id": merge_id, "reverted_at": None}, {"$set": {"reverted_at": now}}
        )
        return result.modified_count == 1

    async def add_steward(self, steward: Steward) -> bool:
        result = await self.mdb.badge_stewards.update_one(
            {"badge_id": steward.badge_id, "account_id": steward.account_id},
            {
                "$setOnInsert": {
                    "appointed_by": steward.appointed_by,
                    "created_at": steward.created_at,
                }
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def remove_steward(self, badge_id: str, account_id: str) -> bool:
        result = await self.mdb.badge_stewards.delete_one(
            {"badge_id": badge_id, "account_id": account_id}
        )
        return result.deleted_count == 1

    async def list_stewards(self, badge_id: str) -> list[Steward]:
        cursor = self.mdb.badge_stewards.find({"badge_id": badge_id}).sort(
            [("created_at", 1), ("account_id", 1)]
        )
        return [_steward(doc) async for doc in cursor]

    async def is_steward(self, badge_id: str, account_id: str) -> bool:
        doc = await self.mdb.badge_stewards.find_one(
            {"badge_id": badge_id, "account_id": account_id}, {"_id": 1}
        )
        return doc is not None
