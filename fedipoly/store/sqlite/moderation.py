"""Moderation on SQLite: reports, domain blocks, remote restrictions, suspensions, the audit
log, notifications, badge merges and stewards (migration 8)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

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
from fedipoly.store.sqlite.accounts import _ACCOUNT_COLUMNS, _account
from fedipoly.store.sqlite.core import (
    SqliteCore,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    to_db_time_or_none,
)
from fedipoly.store.sqlite.federation import _post
from fedipoly.store.sqlite.profiles_badges import _BADGE_COLUMNS, _badge


def _report(row: sqlite3.Row) -> ReportRecord:
    return ReportRecord(
        id=row["id"],
        target_kind=ReportTarget(row["target_kind"]),
        target=row["target"],
        target_actor=row["target_actor"],
        comment=row["comment"],
        state=ReportState(row["state"]),
        created_at=from_db_time(row["created_at"]),
        reporter_account_id=row["reporter_account_id"],
        reporter_actor=row["reporter_actor"],
        flag_id=row["flag_id"],
        resolved_by=row["resolved_by"],
        resolved_at=from_db_time_or_none(row["resolved_at"]),
        resolution=row["resolution"],
        forwarded=bool(row["forwarded"]),
    )


def _block(row: sqlite3.Row) -> DomainBlock:
    return DomainBlock(
        domain=row["domain"],
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
    )


def _restriction(row: sqlite3.Row) -> RemoteRestriction:
    return RemoteRestriction(
        actor_uri=row["actor_uri"],
        level=RestrictionLevel(row["level"]),
        reason=row["reason"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
    )


def _merge(row: sqlite3.Row) -> BadgeMerge:
    return BadgeMerge(
        id=row["id"],
        source_id=row["source_id"],
        source_slug=row["source_slug"],
        target_id=row["target_id"],
        target_slug=row["target_slug"],
        undo=row["undo"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        reverted_at=from_db_time_or_none(row["reverted_at"]),
    )


def _newest_first(before: Cursor | None) -> tuple[str, tuple[Any, ...]]:
    if before is None:
        return "", ()
    return " AND (created_at, id) < (?, ?)", (to_db_time(before[0]), before[1])


def _uri_prefixes(domain: str) -> list[tuple[str, str]]:
    """[low, high) ranges of URIs on the host, for both schemes ('0' follows '/')."""
    return [(f"{scheme}://{domain}/", f"{scheme}://{domain}0") for scheme in ("https", "http")]


class SqliteModeration(SqliteCore):
    # --- domain blocks -------------------------------------------------------------------

    async def put_domain_block(self, block: DomainBlock) -> bool:
        return (
            await self.execute(
                "INSERT INTO domain_blocks (domain, reason, created_by, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (domain) DO NOTHING",
                (block.domain, block.reason, block.created_by, to_db_time(block.created_at)),
            )
            == 1
        )

    async def delete_domain_block(self, domain: str) -> bool:
        return await self.execute("DELETE FROM domain_blocks WHERE domain = ?", (domain,)) == 1

    async def list_domain_blocks(self) -> list[DomainBlock]:
        return [
            _block(row)
            for row in await self.fetch_all("SELECT * FROM domain_blocks ORDER BY domain")
        ]

    async def find_domain_blocks(self, domains: list[str]) -> list[DomainBlock]:
        if not domains:
            return []
        marks = ",".join("?" * len(domains))
        rows = await self.fetch_all(
            f"SELECT * FROM domain_blocks WHERE domain IN ({marks}) ORDER BY domain", domains
        )
        return [_block(row) for row in rows]

    async def purge_domain(self, domain: str) -> int:
        ranges = _uri_prefixes(domain)
        on_host = " OR ".join("({column} >= ? AND {column} < ?)" for _ in ranges)
        bounds = [bound for pair in ranges for bound in pair]
        async with self.transaction() as db:
            posts = f"SELECT id FROM posts WHERE {on_host.format(column='author')}"
            for table in ("timeline_entries", "badge_entries"):
                await db.execute(f"DELETE FROM {table} WHERE post_id IN ({posts})", bounds)
            await db.execute(f"DELETE FROM posts WHERE {on_host.format(column='author')}", bounds)
            await db.execute(
                f"DELETE FROM follows WHERE {on_host.format(column='follower')}"
                f" OR {on_host.format(column='followed')}",
                bounds * 2,
            )
            cursor = await db.execute("DELETE FROM remote_actors WHERE domain = ?", (domain,))
            return cursor.rowcount

    # --- remote actors -------------------------------------------------------------------

    async def put_remote_restriction(self, restriction: RemoteRestriction) -> None:
        await self.execute(
            "INSERT INTO remote_restrictions (actor_uri, level, reason, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (actor_uri) DO UPDATE SET"
            " level = excluded.level, reason = excluded.reason,"
            " created_by = excluded.created_by, created_at = excluded.created_at",
            (
                restriction.actor_uri,
                restriction.level.value,
                restriction.reason,
                restriction.created_by,
                to_db_time(restriction.created_at),
            ),
        )

    async def delete_remote_restriction(self, actor_uri: str) -> bool:
        return (
            await self.execute("DELETE FROM remote_restrictions WHERE actor_uri = ?", (actor_uri,))
            == 1
        )

    async def get_remote_restriction(self, actor_uri: str) -> RemoteRestriction | None:
        row = await self.fetch_one(
            "SELECT * FROM remote_restrictions WHERE actor_uri = ?", (actor_uri,)
        )
        return _restriction(row) if row else None

    async def list_remote_restrictions(self) -> list[RemoteRestriction]:
        rows = await self.fetch_all(
            "SELECT * FROM remote_restrictions ORDER BY created_at DESC, actor_uri"
        )
        return [_restriction(row) for row in rows]

    async def set_author_hidden(self, actor_uri: str, level: RestrictionLevel | None) -> None:
        if level is None:
            await self.execute("DELETE FROM hidden_authors WHERE actor_uri = ?", (actor_uri,))
            return
        await self.execute(
            "INSERT INTO hidden_authors (actor_uri, level) VALUES (?, ?)"
            " ON CONFLICT (actor_uri) DO UPDATE SET level = excluded.level",
            (actor_uri, level.value),
        )

    async def author_hidden(self, actor_uri: str) -> RestrictionLevel | None:
        row = await self.fetch_one(
            "SELECT level FROM hidden_authors WHERE actor_uri = ?", (actor_uri,)
        )
        return RestrictionLevel(row["level"]) if row else None

    # --- local accounts ------------------------------------------------------------------

    async def set_account_suspended(self, account_id: str, suspended: bool) -> Account | None:
        await self.execute(
            "UPDATE accounts SET suspended = ? WHERE id = ?", (int(suspended), account_id)
        )
        row = await self.fetch_one(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
        )
        return _account(row) if row else None

    # --- reports -------------------------------------------------------------------------

    async def create_report(self, report: ReportRecord) -> bool:
        try:
            await self.execute(
                "INSERT INTO reports (id, target_kind, target, target_actor, comment, state,"
                " created_at, reporter_account_id, reporter_actor, flag_id, resolved_by,"
                " resolved_at, resolution, forwarded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?)",
                (
                    report.id,
                    report.target_kind.value,
                    report.target,
                    report.target_actor,
                    report.comment,
                    report.state.value,
                    to_db_time(report.created_at),
                    report.reporter_account_id,
                    report.reporter_actor,
                    report.flag_id,
                    report.resolved_by,
                    to_db_time_or_none(report.resolved_at),
                    report.resolution,
                    int(report.forwarded),
                ),
            )
        except sqlite3.IntegrityError as error:
            if "flag_id" not in str(error):
                raise
            return False
        return True

    async def get_report(self, report_id: str) -> ReportRecord | None:
        row = await self.fetch_one("SELECT * FROM reports WHERE id = ?", (report_id,))
        return _report(row) if row else None

    async def list_reports(
        self, state: ReportState | None, *, before: Cursor | None, limit: int
    ) -> list[ReportRecord]:
        clause, params = _newest_first(before)
        if state is not None:
            clause += " AND state = ?"
            params += (state.value,)
        rows = await self.fetch_all(
            f"SELECT * FROM reports WHERE 1 = 1{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_report(row) for row in rows]

    async def list_reports_about(
        self,
        target_kind: ReportTarget,
        target: str,
        state: ReportState | None,
        *,
        before: Cursor | None,
        limit: int,
    ) -> list[ReportRecord]:
        clause, params = _newest_first(before)
        if state is not None:
            clause += " AND state = ?"
            params += (state.value,)
        rows = await self.fetch_all(
            f"SELECT * FROM reports WHERE target_kind = ? AND target = ?{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (target_kind.value, target, *params, limit),
        )
        return [_report(row) for row in rows]

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
        changed = await self.execute(
            "UPDATE reports SET state = ?, resolved_by = ?, resolved_at = ?, resolution = ?,"
            " forwarded = ? WHERE id = ? AND state = ?",
            (
                state.value,
                by,
                to_db_time(now),
                resolution,
                int(forwarded),
                report_id,
                ReportState.OPEN.value,
            ),
        )
        return await self.get_report(report_id) if changed == 1 else None

    # --- audit log and notifications -----------------------------------------------------

    async def add_audit_entry(self, entry: AuditEntry) -> None:
        await self.execute(
            "INSERT INTO audit_log (id, moderator_id, action, target, reason, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                entry.id,
                entry.moderator_id,
                entry.action,
                entry.target,
                entry.reason,
                to_db_time(entry.created_at),
            ),
        )

    async def list_audit_entries(self, *, before: Cursor | None, limit: int) -> list[AuditEntry]:
        clause, params = _newest_first(before)
        rows = await self.fetch_all(
            f"SELECT * FROM audit_log WHERE 1 = 1{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            AuditEntry(
                id=row["id"],
                moderator_id=row["moderator_id"],
                action=row["action"],
                target=row["target"],
                reason=row["reason"],
                created_at=from_db_time(row["created_at"]),
            )
            for row in rows
        ]

    async def add_notification(self, notification: Notification) -> None:
        await self.execute(
            "INSERT INTO notifications (id, account_id, kind, message, link, created_at, read_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                notification.id,
                notification.account_id,
                notification.kind,
                notification.message,
                notification.link,
                to_db_time(notification.created_at),
                to_db_time_or_none(notification.read_at),
            ),
        )

    async def list_notifications(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[Notification]:
        clause, params = _newest_first(before)
        rows = await self.fetch_all(
            f"SELECT * FROM notifications WHERE account_id = ?{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (account_id, *params, limit),
        )
        return [
            Notification(
                id=row["id"],
                account_id=row["account_id"],
                kind=row["kind"],
                message=row["message"],
                link=row["link"],
                created_at=from_db_time(row["created_at"]),
                read_at=from_db_time_or_none(row["read_at"]),
            )
            for row in rows
        ]

    async def mark_notifications_read(self, account_id: str, now: datetime) -> int:
        return await self.execute(
            "UPDATE notifications SET read_at = ? WHERE account_id = ? AND read_at IS NULL",
            (to_db_time(now), account_id),
        )

    async def count_unread_notifications(self, account_id: str) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM notifications WHERE account_id = ? AND read_at IS NULL",
            (account_id,),
        )
        return int(row["n"]) if row else 0

    # --- badges --------------------------------------------------------------------------

    async def rename_badge(self, badge_id: str, display_name: str) -> Badge | None:
        async with self.transaction() as db:
            cursor = await db.execute(
                f"SELECT {_BADGE_COLUMNS} FROM badges b WHERE b.id = ?", (badge_id,)
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            slug = _badge(row).slug
            await db.execute(
                "UPDATE badges SET display_name = ?, name_lower = ? WHERE id = ?",
                (display_name, normalize_name(display_name), badge_id),
            )
            await db.execute("DELETE FROM badge_terms WHERE badge_id = ?", (badge_id,))
            await db.executemany(
                "INSERT INTO badge_terms (term, badge_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(term, badge_id) for term in search_terms(slug, display_name)],
            )
        row = await self.fetch_one(
            f"SELECT {_BADGE_COLUMNS} FROM badges b WHERE b.id = ?", (badge_id,)
        )
        return _badge(row) if row else None

    async def local_posts_tagged(
        self, slug: str, *, after_id: str | None, limit: int
    ) -> list[Post]:
        # A rare moderator action: json_each reads each local post's badge list.
        rows = await self.fetch_all(
            "SELECT * FROM posts p WHERE p.local_account_id IS NOT NULL"
            " AND p.deleted_at IS NULL AND p.id > ?"
            " AND EXISTS (SELECT 1 FROM json_each(p.badges) WHERE json_each.value = ?)"
            " ORDER BY p.id LIMIT ?",
            (after_id or "", slug, limit),
        )
        return [_post(row) for row in rows]

    async def repoint_activity_tags(
        self, from_badge_id: str, to_badge_id: str, keys: list[str] | None = None
    ) -> list[str]:
        async with self.transaction() as db:
            cursor = await db.execute(
                "SELECT phrase_lower FROM activity_tags WHERE badge_id = ?", (from_badge_id,)
            )
            found = [row[0] for row in await cursor.fetchall()]
            moved = [key for key in found if keys is None or key in keys]
            await db.executemany(
                "UPDATE activity_tags SET badge_id = ? WHERE phrase_lower = ?",
                [(to_badge_id, key) for key in moved],
            )
        return moved

    async def create_badge_merge(self, merge: BadgeMerge) -> None:
        await self.execute(
            "INSERT INTO badge_merges (id, source_id, source_slug, target_id, target_slug, undo,"
            " created_by, created_at, reverted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                merge.id,
                merge.source_id,
                merge.source_slug,
                merge.target_id,
                merge.target_slug,
                merge.undo,
                merge.created_by,
                to_db_time(merge.created_at),
                to_db_time_or_none(merge.reverted_at),
            ),
        )

    async def get_badge_merge(self, merge_id: str) -> BadgeMerge | None:
        row = await self.fetch_one("SELECT * FROM badge_merges WHERE id = ?", (merge_id,))
        return _merge(row) if row else None

    async def active_badge_merge(self, source_slug: str) -> BadgeMerge | None:
        row = await self.fetch_one(
            "SELECT * FROM badge_merges WHERE source_slug = ? AND reverted_at IS NULL"
            " ORDER BY created_at DESC LIMIT 1",
            (source_slug,),
        )
        return _merge(row) if row else None

    async def list_badge_merges(self, *, limit: int) -> list[BadgeMerge]:
        rows = await self.fetch_all(
            "SELECT * FROM badge_merges ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_merge(row) for row in rows]

    async def mark_badge_merge_reverted(self, merge_id: str, now: datetime) -> bool:
        return (
            await self.execute(
                "UPDATE badge_merges SET reverted_at = ? WHERE id = ? AND reverted_at IS NULL",
                (to_db_time(now), merge_id),
            )
            == 1
        )

    async def add_steward(self, steward: Steward) -> bool:
        return (
            await self.execute(
                "INSERT INTO badge_stewards (badge_id, account_id, appointed_by, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    steward.badge_id,
                    steward.account_id,
                    steward.appointed_by,
                    to_db_time(steward.created_at),
                ),
            )
            == 1
        )

    async def remove_steward(self, badge_id: str, account_id: str) -> bool:
        return (
            await self.execute(
                "DELETE FROM badge_stewards WHERE badge_id = ? AND account_id = ?",
                (badge_id, account_id),
            )
            == 1
        )

    async def list_stewards(self, badge_id: str) -> list[Steward]:
        rows = await self.fetch_all(
            "SELECT * FROM badge_stewards WHERE badge_id = ? ORDER BY created_at, account_id",
            (badge_id,),
        )
        return [
            Steward(
                badge_id=row["badge_id"],
                account_id=row["account_id"],
                appointed_by=row["appointed_by"],
                created_at=from_db_time(row["created_at"]),
            )
            for row in rows
        ]

    async def is_steward(self, badge_id: str, account_id: str) -> bool:
        row = await self.fetch_one(
            "SELECT 1 FROM badge_stewards WHERE badge_id = ? AND account_id = ?",
            (badge_id, account_id),
        )
        return row is not None
