"""Badge actors' announces and preferences, badge peers and their directories on SQLite
(migration 7)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from fedipoly.badge_federation_models import BadgeAnnounce, BadgePeer, PeerBadge
from fedipoly.models import Post
from fedipoly.store.base import Cursor
from fedipoly.store.sqlite.core import (
    SqliteCore,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    to_db_time_or_none,
)


def _announce(row: sqlite3.Row) -> BadgeAnnounce:
    return BadgeAnnounce(
        badge_id=row["badge_id"],
        post_uri=row["post_uri"],
        post_id=row["post_id"],
        author_account_id=row["author_account_id"],
        announce_id=row["announce_id"],
        created_at=from_db_time(row["created_at"]),
        undone_at=from_db_time_or_none(row["undone_at"]),
    )


def _peer(row: sqlite3.Row) -> BadgePeer:
    return BadgePeer(
        host=row["host"],
        approved=bool(row["approved"]),
        added_at=from_db_time(row["added_at"]),
        next_fetch_at=from_db_time(row["next_fetch_at"]),
        fetched_at=from_db_time_or_none(row["fetched_at"]),
        last_error=row["last_error"],
        badge_count=int(row["badge_count"]),
    )


def _peer_badge(row: sqlite3.Row) -> PeerBadge:
    return PeerBadge(
        host=row["host"],
        slug=row["slug"],
        name=row["name"],
        normalized_name=row["normalized_name"],
        icon=row["icon"],
        holder_count=int(row["holder_count"]),
        actor_uri=row["actor_uri"],
        url=row["url"],
        updated=from_db_time_or_none(row["updated"]),
        fetched_at=from_db_time(row["fetched_at"]),
    )


class SqliteBadgeFederation(SqliteCore):
    # --- announces -----------------------------------------------------------------------

    async def record_badge_announce(self, announce: BadgeAnnounce) -> bool:
        changed = await self.execute(
            "INSERT INTO badge_announces (badge_id, post_uri, post_id, author_account_id,"
            " announce_id, created_at, undone_at) VALUES (?, ?, ?, ?, ?, ?, NULL)"
            " ON CONFLICT (badge_id, post_uri) DO UPDATE SET announce_id = excluded.announce_id,"
            " created_at = excluded.created_at, undone_at = NULL"
            " WHERE badge_announces.undone_at IS NOT NULL",
            (
                announce.badge_id,
                announce.post_uri,
                announce.post_id,
                announce.author_account_id,
                announce.announce_id,
                to_db_time(announce.created_at),
            ),
        )
        return changed == 1

    async def withdraw_badge_announce(
        self, badge_id: str, post_uri: str, now: datetime
    ) -> BadgeAnnounce | None:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE badge_announces SET undone_at = ? WHERE badge_id = ? AND post_uri = ?"
                " AND undone_at IS NULL RETURNING *",
                (to_db_time(now), badge_id, post_uri),
            )
            row = await cursor.fetchone()
            await cursor.close()
        return _announce(row) if row else None

    async def badge_announces_of_post(self, post_uri: str) -> list[BadgeAnnounce]:
        rows = await self.fetch_all(
            "SELECT * FROM badge_announces WHERE post_uri = ? AND undone_at IS NULL"
            " ORDER BY badge_id",
            (post_uri,),
        )
        return [_announce(row) for row in rows]

    async def badge_announces_of_author(
        self, author_account_id: str, badge_id: str
    ) -> list[BadgeAnnounce]:
        rows = await self.fetch_all(
            "SELECT * FROM badge_announces WHERE author_account_id = ? AND badge_id = ?"
            " AND undone_at IS NULL ORDER BY created_at",
            (author_account_id, badge_id),
        )
        return [_announce(row) for row in rows]

    async def list_badge_announces(
        self, badge_id: str, *, before: Cursor | None, limit: int
    ) -> list[BadgeAnnounce]:
        params: tuple[Any, ...] = (badge_id,)
        clause = ""
        if before is not None:
            clause = " AND (created_at, announce_id) < (?, ?)"
            params += (to_db_time(before[0]), before[1])
        rows = await self.fetch_all(
            f"SELECT * FROM badge_announces WHERE badge_id = ?{clause} AND undone_at IS NULL"
            " ORDER BY created_at DESC, announce_id DESC LIMIT ?",
            (*params, limit),
        )
        return [_announce(row) for row in rows]

    async def count_badge_announces(self, badge_id: str) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM badge_announces WHERE badge_id = ? AND undone_at IS NULL",
            (badge_id,),
        )
        return int(row["n"]) if row else 0

    async def count_recent_badge_announces(
        self, since: datetime, *, badge_id: str | None = None, author_account_id: str | None = None
    ) -> int:
        if author_account_id is not None:
            row = await self.fetch_one(
                "SELECT COUNT(*) AS n FROM badge_announces"
                " WHERE author_account_id = ? AND created_at >= ?",
                (author_account_id, to_db_time(since)),
            )
        elif badge_id is not None:
            row = await self.fetch_one(
                "SELECT COUNT(*) AS n FROM badge_announces WHERE badge_id = ? AND created_at >= ?",
                (badge_id, to_db_time(since)),
            )
        else:
            raise ValueError("give a badge_id or an author_account_id")
        return int(row["n"]) if row else 0

    # --- members' preference ---------------------------------------------------------------

    async def get_badge_announce_preference(self, account_id: str) -> bool | None:
        row = await self.fetch_one(
            "SELECT enabled FROM badge_announce_preferences WHERE account_id = ?", (account_id,)
        )
        return bool(row["enabled"]) if row else None

    async def set_badge_announce_preference(self, account_id: str, enabled: bool) -> None:
        await self.execute(
            "INSERT INTO badge_announce_preferences (account_id, enabled) VALUES (?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET enabled = excluded.enabled",
            (account_id, int(enabled)),
        )

    # --- peers -----------------------------------------------------------------------------

    async def save_badge_peer(self, peer: BadgePeer) -> BadgePeer:
        await self.execute(
            "INSERT INTO badge_peers (host, approved, added_at, next_fetch_at, fetched_at,"
            " last_error, badge_count) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (host) DO UPDATE SET approved = excluded.approved,"
            " next_fetch_at = excluded.next_fetch_at",
            (
                peer.host,
                int(peer.approved),
                to_db_time(peer.added_at),
                to_db_time(peer.next_fetch_at),
                to_db_time_or_none(peer.fetched_at),
                peer.last_error,
                peer.badge_count,
            ),
        )
        stored = await self.get_badge_peer(peer.host)
        assert stored is not None
        return stored

    async def get_badge_peer(self, host: str) -> BadgePeer | None:
        row = await self.fetch_one("SELECT * FROM badge_peers WHERE host = ?", (host,))
        return _peer(row) if row else None

    async def list_badge_peers(self) -> list[BadgePeer]:
        return [
            _peer(row) for row in await self.fetch_all("SELECT * FROM badge_peers ORDER BY host")
        ]

    async def delete_badge_peer(self, host: str) -> bool:
        async with self.transaction() as db:
            await db.execute("DELETE FROM peer_badges WHERE host = ?", (host,))
            cursor = await db.execute("DELETE FROM badge_peers WHERE host = ?", (host,))
            return cursor.rowcount == 1

    async def claim_due_badge_peer(self, now: datetime, lease_seconds: float) -> BadgePeer | None:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE badge_peers SET next_fetch_at = ? WHERE host = ("
                " SELECT host FROM badge_peers WHERE next_fetch_at <= ?"
                " ORDER BY next_fetch_at LIMIT 1) RETURNING *",
                (to_db_time(now + timedelta(seconds=lease_seconds)), to_db_time(now)),
            )
            row = await cursor.fetchone()
            await cursor.close()
        return _peer(row) if row else None

    async def record_badge_peer_fetch(
        self,
        host: str,
        *,
        fetched_at: datetime | None,
        next_fetch_at: datetime,
        error: str | None,
        badges: list[PeerBadge] | None,
    ) -> None:
        async with self.transaction() as db:
            if badges is not None:
                await db.execute("DELETE FROM peer_badges WHERE host = ?", (host,))
                await db.executemany(
                    "INSERT INTO peer_badges (host, slug, name, normalized_name, icon,"
                    " holder_count, actor_uri, url, updated, fetched_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        (
                            host,
                            badge.slug,
                            badge.name,
                            badge.normalized_name,
                            badge.icon,
                            badge.holder_count,
                            badge.actor_uri,
                            badge.url,
                            to_db_time_or_none(badge.updated),
                            to_db_time(badge.fetched_at),
                        )
                        for badge in badges
                    ],
                )
            count_clause = ", badge_count = ?" if badges is not None else ""
            count_params: tuple[Any, ...] = (len(badges),) if badges is not None else ()
            await db.execute(
                "UPDATE badge_peers SET next_fetch_at = ?, last_error = ?,"
                f" fetched_at = COALESCE(?, fetched_at){count_clause} WHERE host = ?",
                (
                    to_db_time(next_fetch_at),
                    error,
                    to_db_time_or_none(fetched_at),
                    *count_params,
                    host,
                ),
            )

    async def peer_badges_named(self, normalized_name: str) -> list[PeerBadge]:
        rows = await self.fetch_all(
            "SELECT * FROM peer_badges WHERE normalized_name = ? ORDER BY host",
            (normalized_name,),
        )
        return [_peer_badge(row) for row in rows]

    async def get_peer_badge_by_actor(self, actor_uri: str) -> PeerBadge | None:
        row = await self.fetch_one("SELECT * FROM peer_badges WHERE actor_uri = ?", (actor_uri,))
        return _peer_badge(row) if row else None

    async def list_peer_badges(self, host: str) -> list[PeerBadge]:
        rows = await self.fetch_all(
            "SELECT * FROM peer_badges WHERE host = ? ORDER BY slug", (host,)
        )
        return [_peer_badge(row) for row in rows]

    async def known_remote_domains(self, *, limit: int) -> list[str]:
        rows = await self.fetch_all(
            "SELECT DISTINCT domain FROM remote_actors ORDER BY domain LIMIT ?", (limit,)
        )
        return [row["domain"] for row in rows]

    async def add_badge_entries(self, post: Post, badge_ids: list[str]) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO badge_entries (badge_id, published, post_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(badge_id, to_db_time(post.published), post.id) for badge_id in set(badge_ids)],
            )

    async def remove_badge_entries(self, post_id: str, badge_ids: list[str]) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "DELETE FROM badge_entries WHERE post_id = ? AND badge_id = ?",
                [(post_id, badge_id) for badge_id in set(badge_ids)],
            )
