""" "Open to", collaboration requests, conversations, blocks and remote profiles on SQLite
(migration 6)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

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
from fedipoly.store.open_to_seed import DEFAULT_OPEN_TO_REASONS, OPEN_TO_SEED_SETTING
from fedipoly.store.sqlite.core import (
    SqliteCore,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    to_db_time_or_none,
)
from fedipoly.store.sqlite.federation import _post


def _reason(row: sqlite3.Row) -> OpenToReason:
    return OpenToReason(
        slug=row["slug"],
        label=row["label"],
        position=row["position"],
        created_at=from_db_time(row["created_at"]),
    )


def _entry(row: sqlite3.Row) -> OpenToEntry:
    return OpenToEntry(
        reason_slug=row["reason_slug"],
        open=bool(row["open"]),
        until=from_db_time_or_none(row["until"]),
    )


def _request(row: sqlite3.Row) -> CollabRequest:
    return CollabRequest(
        id=row["id"],
        uri=row["uri"],
        sender=row["sender"],
        recipient=row["recipient"],
        sender_account_id=row["sender_account_id"],
        recipient_account_id=row["recipient_account_id"],
        reason_slug=row["reason_slug"],
        reason_label=row["reason_label"],
        message=row["message"],
        state=RequestState(row["state"]),
        created_at=from_db_time(row["created_at"]),
        decided_at=from_db_time_or_none(row["decided_at"]),
    )


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        account_id=row["account_id"],
        peer=row["peer"],
        request_id=row["request_id"],
        created_at=from_db_time(row["created_at"]),
        last_message_at=from_db_time(row["last_message_at"]),
    )


def _keyset(time_column: str, id_column: str, before: Cursor | None) -> tuple[str, tuple[Any, ...]]:
    if before is None:
        return "", ()
    return f" AND ({time_column}, {id_column}) < (?, ?)", (to_db_time(before[0]), before[1])


class SqliteCollab(SqliteCore):
    async def _migrate(self) -> None:
        await super()._migrate()
        await self._seed_open_to()

    async def _seed_open_to(self) -> None:
        """Write the default reasons once per database (see fedipoly/store/open_to_seed.py)."""
        if await self.get_setting(OPEN_TO_SEED_SETTING) is not None:
            return
        now = to_db_time(utc_now())
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO open_to_reasons (slug, label, position, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (slug, label, position, now)
                    for position, (slug, label) in enumerate(DEFAULT_OPEN_TO_REASONS)
                ],
            )
            await db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (OPEN_TO_SEED_SETTING, now),
            )

    # --- catalogue -----------------------------------------------------------------------

    async def list_open_to_reasons(self) -> list[OpenToReason]:
        rows = await self.fetch_all("SELECT * FROM open_to_reasons ORDER BY position, slug")
        return [_reason(row) for row in rows]

    async def get_open_to_reason(self, slug: str) -> OpenToReason | None:
        row = await self.fetch_one("SELECT * FROM open_to_reasons WHERE slug = ?", (slug,))
        return _reason(row) if row else None

    async def create_open_to_reason(self, reason: OpenToReason) -> OpenToReason:
        changed = await self.execute(
            "INSERT INTO open_to_reasons (slug, label, position, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (reason.slug, reason.label, reason.position, to_db_time(reason.created_at)),
        )
        if changed != 1:
            raise Conflict(f"there is already a reason {reason.slug!r}", {"field": "slug"})
        return reason

    async def rename_open_to_reason(self, slug: str, label: str) -> OpenToReason | None:
        await self.execute("UPDATE open_to_reasons SET label = ? WHERE slug = ?", (label, slug))
        return await self.get_open_to_reason(slug)

    async def delete_open_to_reason(self, slug: str) -> bool:
        return await self.execute("DELETE FROM open_to_reasons WHERE slug = ?", (slug,)) == 1

    # --- members' answers ----------------------------------------------------------------

    async def member_open_to(self, account_id: str) -> list[OpenToEntry]:
        rows = await self.fetch_all(
            "SELECT * FROM member_open_to WHERE account_id = ? ORDER BY reason_slug",
            (account_id,),
        )
        return [_entry(row) for row in rows]

    async def set_member_open_to(self, account_id: str, entries: list[OpenToEntry]) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM member_open_to WHERE account_id = ?", (account_id,))
            await db.executemany(
                "INSERT INTO member_open_to (account_id, reason_slug, open, until)"
                " VALUES (?, ?, ?, ?)",
                [
                    (
                        account_id,
                        entry.reason_slug,
                        int(entry.open),
                        to_db_time_or_none(entry.until),
                    )
                    for entry in entries
                ],
            )

    async def members_open_to(
        self, reason_slug: str, *, now: datetime, after: str | None, limit: int
    ) -> list[str]:
        rows = await self.fetch_all(
            "SELECT account_id FROM member_open_to"
            " WHERE reason_slug = ? AND open = 1 AND account_id > ?"
            " AND (until IS NULL OR until > ?) ORDER BY account_id LIMIT ?",
            (reason_slug, after or "", to_db_time(now), limit),
        )
        return [row["account_id"] for row in rows]

    async def listed_members_open_to(
        self,
        reason_slug: str,
        *,
        now: datetime,
        after: str | None,
        limit: int,
        badge_id: str | None = None,
    ) -> list[str]:
        holds_badge = (
            " AND EXISTS (SELECT 1 FROM member_badges b"
            " WHERE b.account_id = o.account_id AND b.badge_id = ?)"
            if badge_id is not None
            else ""
        )
        rows = await self.fetch_all(
            "SELECT o.account_id FROM member_open_to o"
            " JOIN accounts a ON a.id = o.account_id"
            " LEFT JOIN profiles p ON p.account_id = o.account_id"
            " WHERE o.reason_slug = ? AND o.open = 1 AND o.account_id > ?"
            " AND (o.until IS NULL OR o.until > ?)"
            " AND a.suspended = 0 AND COALESCE(p.discoverable, 1) = 1"
            + holds_badge
            + " ORDER BY o.account_id LIMIT ?",
            (
                reason_slug,
                after or "",
                to_db_time(now),
                *((badge_id,) if badge_id is not None else ()),
                limit,
            ),
        )
        return [row["account_id"] for row in rows]

    # --- remote profiles -----------------------------------------------------------------

    async def save_remote_profile(self, profile: RemoteProfile) -> None:
        listed = int(profile.is_fedipoly and profile.discoverable)
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO remote_profiles"
                " (actor_uri, is_fedipoly, discoverable, headline, badges, refreshed_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (actor_uri) DO UPDATE SET"
                " is_fedipoly = excluded.is_fedipoly, discoverable = excluded.discoverable,"
                " headline = excluded.headline, badges = excluded.badges,"
                " refreshed_at = excluded.refreshed_at",
                (
                    profile.actor_uri,
                    int(profile.is_fedipoly),
                    int(profile.discoverable),
                    profile.headline,
                    json.dumps({"slugs": list(profile.badges), "names": list(profile.badge_names)}),
                    to_db_time(profile.refreshed_at),
                ),
            )
            await db.execute("DELETE FROM remote_open_to WHERE actor_uri = ?", (profile.actor_uri,))
            await db.executemany(
                "INSERT INTO remote_open_to (actor_uri, reason_slug, open, until, listed)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        profile.actor_uri,
                        entry.reason_slug,
                        int(entry.open),
                        to_db_time_or_none(entry.until),
                        listed,
                    )
                    for entry in profile.open_to
                ],
            )

    async def get_remote_profile(self, actor_uri: str) -> RemoteProfile | None:
        row = await self.fetch_one(
            "SELECT * FROM remote_profiles WHERE actor_uri = ?", (actor_uri,)
        )
        if row is None:
            return None
        return await self._remote_profile(row)

    async def _remote_profile(self, row: sqlite3.Row) -> RemoteProfile:
        entries = await self.fetch_all(
            "SELECT * FROM remote_open_to WHERE actor_uri = ? ORDER BY reason_slug",
            (row["actor_uri"],),
        )
        badges = json.loads(row["badges"])
        if isinstance(badges, list):  # written before badge names were kept
            badges = {"slugs": badges, "names": []}
        return RemoteProfile(
            actor_uri=row["actor_uri"],
            is_fedipoly=bool(row["is_fedipoly"]),
            discoverable=bool(row["discoverable"]),
            headline=row["headline"],
            badges=tuple(badges["slugs"]),
            open_to=tuple(_entry(entry) for entry in entries),
            refreshed_at=from_db_time(row["refreshed_at"]),
            badge_names=tuple(badges["names"]),
        )

    async def remote_profiles_open_to(
        self, reason_slug: str, *, now: datetime, after: str | None, limit: int
    ) -> list[RemoteProfile]:
        rows = await self.fetch_all(
            "SELECT p.* FROM remote_open_to o JOIN remote_profiles p ON p.actor_uri = o.actor_uri"
            " WHERE o.reason_slug = ? AND o.open = 1 AND o.listed = 1 AND o.actor_uri > ?"
            " AND (o.until IS NULL OR o.until > ?) ORDER BY o.actor_uri LIMIT ?",
            (reason_slug, after or "", to_db_time(now), limit),
        )
        return [await self._remote_profile(row) for row in rows]

    async def stale_remote_profiles(self, refreshed_before: datetime, limit: int) -> list[str]:
        rows = await self.fetch_all(
            "SELECT actor_uri FROM remote_profiles WHERE refreshed_at < ?"
            " ORDER BY refreshed_at LIMIT ?",
            (to_db_time(refreshed_before), limit),
        )
        return [row["actor_uri"] for row in rows]

    # --- requests ------------------------------------------------------------------------

    async def insert_collab_request(self, request: CollabRequest) -> bool:
        changed = await self.execute(
            "INSERT INTO collab_requests (id, uri, sender, recipient, sender_account_id,"
            " recipient_account_id, reason_slug, reason_label, message, state, created_at,"
            " decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                request.id,
                request.uri,
                request.sender,
                request.recipient,
                request.sender_account_id,
                request.recipient_account_id,
                request.reason_slug,
                request.reason_label,
                request.message,
                request.state.value,
                to_db_time(request.created_at),
                to_db_time_or_none(request.decided_at),
            ),
        )
        return changed == 1

    async def get_collab_request(self, request_id: str) -> CollabRequest | None:
        row = await self.fetch_one("SELECT * FROM collab_requests WHERE id = ?", (request_id,))
        return _request(row) if row else None

    async def decide_collab_request(
        self, request_id: str, state: RequestState, *, now: datetime
    ) -> CollabRequest | None:
        changed = await self.execute(
            "UPDATE collab_requests SET state = ?, decided_at = ? WHERE id = ? AND state = ?",
            (state.value, to_db_time(now), request_id, RequestState.PENDING.value),
        )
        return await self.get_collab_request(request_id) if changed == 1 else None

    async def received_collab_requests(
        self, account_id: str, state: RequestState, *, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        clause, params = _keyset("created_at", "id", before)
        rows = await self.fetch_all(
            "SELECT * FROM collab_requests WHERE recipient_account_id = ? AND state = ?"
            f"{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            (account_id, state.value, *params, limit),
        )
        return [_request(row) for row in rows]

    async def sent_collab_requests(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        clause, params = _keyset("created_at", "id", before)
        rows = await self.fetch_all(
            f"SELECT * FROM collab_requests WHERE sender_account_id = ?{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (account_id, *params, limit),
        )
        return [_request(row) for row in rows]

    async def latest_collab_request(self, sender: str, recipient: str) -> CollabRequest | None:
        row = await self.fetch_one(
            "SELECT * FROM collab_requests WHERE sender = ? AND recipient = ?"
            " ORDER BY created_at DESC LIMIT 1",
            (sender, recipient),
        )
        return _request(row) if row else None

    async def count_collab_requests_since(self, sender: str, since: datetime) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM collab_requests WHERE sender = ? AND created_at >= ?",
            (sender, to_db_time(since)),
        )
        return int(row["n"]) if row else 0

    # --- conversations -------------------------------------------------------------------

    async def open_conversation(
        self, account_id: str, peer: str, *, request_id: str | None, now: datetime
    ) -> Conversation:
        await self.execute(
            "INSERT INTO conversations (id, account_id, peer, request_id, created_at,"
            " last_message_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (new_id(now), account_id, peer, request_id, to_db_time(now), to_db_time(now)),
        )
        found = await self.find_conversation(account_id, peer)
        assert found is not None
        return found

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self.fetch_one("SELECT * FROM conversations WHERE id = ?", (conversation_id,))
        return _conversation(row) if row else None

    async def find_conversation(self, account_id: str, peer: str) -> Conversation | None:
        row = await self.fetch_one(
            "SELECT * FROM conversations WHERE account_id = ? AND peer = ?", (account_id, peer)
        )
        return _conversation(row) if row else None

    async def list_conversations(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[Conversation]:
        clause, params = _keyset("last_message_at", "id", before)
        rows = await self.fetch_all(
            f"SELECT * FROM conversations WHERE account_id = ?{clause}"
            " ORDER BY last_message_at DESC, id DESC LIMIT ?",
            (account_id, *params, limit),
        )
        return [_conversation(row) for row in rows]

    async def add_conversation_message(
        self, conversation_id: str, post: Post, *, at: datetime
    ) -> None:
        moment = to_db_time(at)
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO conversation_messages (conversation_id, at, post_id)"
                " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (conversation_id, moment, post.id),
            )
            if cursor.rowcount != 1:
                return  # listed already (a redelivery)
            await db.execute(
                "UPDATE conversations SET last_message_at = MAX(last_message_at, ?) WHERE id = ?",
                (moment, conversation_id),
            )

    async def conversation_messages(
        self, conversation_id: str, *, before: Cursor | None, limit: int
    ) -> list[ConversationMessage]:
        clause, params = _keyset("m.at", "m.post_id", before)
        rows = await self.fetch_all(
            "SELECT m.at AS message_at, p.* FROM conversation_messages m"
            " JOIN posts p ON p.id = m.post_id"
            f" WHERE m.conversation_id = ?{clause} AND p.deleted_at IS NULL"
            " ORDER BY m.at DESC, m.post_id DESC LIMIT ?",
            (conversation_id, *params, limit),
        )
        return [ConversationMessage(from_db_time(row["message_at"]), _post(row)) for row in rows]

    # --- blocks --------------------------------------------------------------------------

    async def block_actor(self, block: MemberBlock) -> None:
        await self.execute(
            "INSERT INTO member_blocks (account_id, blocked, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (block.account_id, block.blocked, to_db_time(block.created_at)),
        )

    async def unblock_actor(self, account_id: str, blocked: str) -> bool:
        changed = await self.execute(
            "DELETE FROM member_blocks WHERE account_id = ? AND blocked = ?",
            (account_id, blocked),
        )
        return changed == 1

    async def is_blocked(self, account_id: str, actor: str) -> bool:
        row = await self.fetch_one(
            "SELECT 1 FROM member_blocks WHERE account_id = ? AND blocked = ?",
            (account_id, actor),
        )
        return row is not None

    async def list_blocks(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[MemberBlock]:
        clause, params = _keyset("created_at", "blocked", before)
        rows = await self.fetch_all(
            f"SELECT * FROM member_blocks WHERE account_id = ?{clause}"
            " ORDER BY created_at DESC, blocked DESC LIMIT ?",
            (account_id, *params, limit),
        )
        return [
            MemberBlock(
                account_id=row["account_id"],
                blocked=row["blocked"],
                created_at=from_db_time(row["created_at"]),
            )
            for row in rows
        ]
