"""Profiles, the badge catalogue, members' badges and activity tags on SQLite."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import aiosqlite

from fedipoly.errors import BadgeTaken, Conflict, NotFound
from fedipoly.models import (
    ActivityTag,
    Badge,
    BadgeHolder,
    BadgeStatus,
    MemberBadge,
    MemberBadgeEntry,
    Profile,
    ProfileLink,
    new_id,
    utc_now,
)
from fedipoly.names import (
    candidate_prefixes,
    normalize_name,
    normalize_phrase,
    prefix_upper_bound,
    search_terms,
)
from fedipoly.store.base import Cursor
from fedipoly.store.seed import DEFAULT_ACTIVITY_TAGS, DEFAULT_BADGES, SEED_SETTING
from fedipoly.store.sqlite.accounts import _ACCOUNT_COLUMNS, _account
from fedipoly.store.sqlite.core import (
    SqliteCore,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    to_db_time_or_none,
)

_BADGE_FIELDS = (
    "id",
    "slug",
    "display_name",
    "color",
    "icon",
    "status",
    "created_by",
    "created_at",
    "reviewed_by",
    "reviewed_at",
    "reject_reason",
)
_BADGE_COLUMNS = ", ".join(f"b.{name} AS b_{name}" for name in _BADGE_FIELDS)
_HOLDER_ACCOUNT_COLUMNS = ", ".join(f"a.{name.strip()}" for name in _ACCOUNT_COLUMNS.split(","))


def _badge(row: sqlite3.Row) -> Badge:
    return Badge(
        id=row["b_id"],
        slug=row["b_slug"],
        display_name=row["b_display_name"],
        color=row["b_color"],
        icon=row["b_icon"],
        status=BadgeStatus(row["b_status"]),
        created_by=row["b_created_by"],
        created_at=from_db_time(row["b_created_at"]),
        reviewed_by=row["b_reviewed_by"],
        reviewed_at=from_db_time_or_none(row["b_reviewed_at"]),
        reject_reason=row["b_reject_reason"],
    )


def _profile(row: sqlite3.Row) -> Profile:
    return Profile(
        account_id=row["account_id"],
        headline=row["headline"],
        bio=row["bio"],
        bio_html=row["bio_html"],
        positions=tuple(json.loads(row["positions"])),
        links=tuple(ProfileLink(label, url) for label, url in json.loads(row["links"])),
        discoverable=bool(row["discoverable"]),
        avatar_media_id=row["avatar_media_id"],
        updated_at=from_db_time_or_none(row["updated_at"]),
    )


def _badge_filters(
    status: BadgeStatus | None, created_by: str | None
) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("b.status = ?")
        params.append(status.value)
    if created_by is not None:
        clauses.append("b.created_by = ?")
        params.append(created_by)
    return clauses, params


async def _insert_badge(db: aiosqlite.Connection, badge: Badge, *, if_absent: bool) -> bool:
    cursor = await db.execute(
        "INSERT INTO badges (id, slug, display_name, name_lower, color, icon, status, created_by,"
        " created_at, reviewed_by, reviewed_at, reject_reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        + (" ON CONFLICT (slug) DO NOTHING" if if_absent else ""),
        (
            badge.id,
            badge.slug,
            badge.display_name,
            normalize_name(badge.display_name),
            badge.color,
            badge.icon,
            badge.status.value,
            badge.created_by,
            to_db_time(badge.created_at),
            badge.reviewed_by,
            to_db_time_or_none(badge.reviewed_at),
            badge.reject_reason,
        ),
    )
    if cursor.rowcount != 1:
        return False
    await db.executemany(
        "INSERT INTO badge_terms (term, badge_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(term, badge.id) for term in search_terms(badge.slug, badge.display_name)],
    )
    return True


class SqliteProfilesBadges(SqliteCore):
    async def _migrate(self) -> None:
        await super()._migrate()
        await self._seed_catalogue()

    async def _seed_catalogue(self) -> None:
        """Write the default catalogue once per database (see fedipoly/store/seed.py)."""
        if await self.get_setting(SEED_SETTING) is not None:
            return
        now = utc_now()
        async with self.transaction() as db:
            for slug, name, color, icon in DEFAULT_BADGES:
                seeded = Badge(
                    id=new_id(now),
                    slug=slug,
                    display_name=name,
                    color=color,
                    icon=icon,
                    status=BadgeStatus.APPROVED,
                    created_by=None,
                    created_at=now,
                    reviewed_at=now,
                )
                await _insert_badge(db, seeded, if_absent=True)
            for phrase, slug in DEFAULT_ACTIVITY_TAGS:
                await db.execute(
                    "INSERT INTO activity_tags (phrase_lower, phrase, badge_id, created_at)"
                    " SELECT ?, ?, id, ? FROM badges WHERE slug = ? ON CONFLICT DO NOTHING",
                    (normalize_phrase(phrase), phrase, to_db_time(now), slug),
                )
            await db.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (SEED_SETTING, to_db_time(now)),
            )

    # --- profiles ------------------------------------------------------------------------

    async def get_profile(self, account_id: str) -> Profile:
        row = await self.fetch_one("SELECT * FROM profiles WHERE account_id = ?", (account_id,))
        return _profile(row) if row else Profile(account_id=account_id)

    async def save_profile(self, profile: Profile) -> Profile:
        await self.execute(
            "INSERT INTO profiles (account_id, headline, bio, bio_html, positions, links,"
            " discoverable, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET headline = excluded.headline,"
            " bio = excluded.bio, bio_html = excluded.bio_html, positions = excluded.positions,"
            " links = excluded.links, discoverable = excluded.discoverable,"
            " updated_at = excluded.updated_at",
            (
                profile.account_id,
                profile.headline,
                profile.bio,
                profile.bio_html,
                json.dumps(list(profile.positions)),
                json.dumps([[link.label, link.url] for link in profile.links]),
                int(profile.discoverable),
                to_db_time_or_none(profile.updated_at),
            ),
        )
        return await self.get_profile(profile.account_id)

    async def set_avatar(self, account_id: str, media_id: str | None) -> Profile:
        await self.execute(
            "INSERT INTO profiles (account_id, avatar_media_id) VALUES (?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET avatar_media_id = excluded.avatar_media_id",
            (account_id, media_id),
        )
        return await self.get_profile(account_id)

    # --- the badge catalogue -------------------------------------------------------------

    async def create_badge(self, badge: Badge) -> Badge:
        async with self.transaction() as db:
            try:
                await _insert_badge(db, badge, if_absent=False)
            except sqlite3.IntegrityError as error:
                if "slug" not in str(error):
                    raise
                raise BadgeTaken(f"a badge with the slug {badge.slug!r} exists") from None
        created = await self.get_badge(badge.id)
        assert created is not None
        return created

    async def get_badge(self, badge_id: str) -> Badge | None:
        row = await self.fetch_one(
            f"SELECT {_BADGE_COLUMNS} FROM badges b WHERE b.id = ?", (badge_id,)
        )
        return _badge(row) if row else None

    async def get_badge_by_slug(self, slug: str) -> Badge | None:
        row = await self.fetch_one(
            f"SELECT {_BADGE_COLUMNS} FROM badges b WHERE b.slug = ?", (slug,)
        )
        return _badge(row) if row else None

    async def get_badges_by_slugs(self, slugs: list[str]) -> list[Badge]:
        if not slugs:
            return []
        marks = ",".join("?" * len(slugs))
        rows = await self.fetch_all(
            f"SELECT {_BADGE_COLUMNS} FROM badges b WHERE b.slug IN ({marks})", slugs
        )
        return [_badge(row) for row in rows]

    async def list_badges(
        self,
        status: BadgeStatus | None,
        *,
        prefix: str | None = None,
        created_by: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> list[Badge]:
        clauses, params = _badge_filters(status, created_by)
        if after is not None:
            clauses.append("b.slug > ?")
            params.append(after)
        if prefix:
            clauses.append(
                "EXISTS (SELECT 1 FROM badge_terms t WHERE t.badge_id = b.id"
                " AND t.term >= ? AND t.term < ?)"
            )
            params += [prefix, prefix_upper_bound(prefix)]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self.fetch_all(
            f"SELECT {_BADGE_COLUMNS} FROM badges b{where} ORDER BY b.slug LIMIT ?",
            (*params, limit),
        )
        return [_badge(row) for row in rows]

    async def search_badges(
        self, query: str, *, status: BadgeStatus | None, created_by: str | None = None, limit: int
    ) -> list[Badge]:
        prefixes = candidate_prefixes(query)
        if not prefixes:
            return []
        clauses, params = _badge_filters(status, created_by)
        ranges = " OR ".join("(term >= ? AND term < ?)" for _ in prefixes)
        clauses.append(f"b.id IN (SELECT badge_id FROM badge_terms WHERE {ranges})")
        for prefix in prefixes:
            params += [prefix, prefix_upper_bound(prefix)]
        rows = await self.fetch_all(
            f"SELECT {_BADGE_COLUMNS} FROM badges b WHERE {' AND '.join(clauses)}"
            " ORDER BY b.slug LIMIT ?",
            (*params, limit),
        )
        return [_badge(row) for row in rows]

    async def set_badge_status(
        self,
        slug: str,
        status: BadgeStatus,
        *,
        reviewer: str | None,
        reason: str | None,
        now: datetime,
        expected: BadgeStatus | None = None,
    ) -> Badge | None:
        condition = ""
        params: tuple[str, ...] = ()
        if expected is not None:
            condition, params = " AND status = ?", (expected.value,)
        changed = await self.execute(
            "UPDATE badges SET status = ?, reviewed_by = ?, reviewed_at = ?, reject_reason = ?"
            f" WHERE slug = ?{condition}",
            (status.value, reviewer, to_db_time(now), reason, slug, *params),
        )
        return await self.get_badge_by_slug(slug) if changed == 1 else None

    # --- members' badges -----------------------------------------------------------------

    async def member_badges(self, account_id: str) -> list[MemberBadge]:
        rows = await self.fetch_all(
            f"SELECT m.position, m.featured, {_BADGE_COLUMNS} FROM member_badges m"
            " JOIN badges b ON b.id = m.badge_id WHERE m.account_id = ?"
            " ORDER BY m.position, b.slug",
            (account_id,),
        )
        return [
            MemberBadge(badge=_badge(row), position=row["position"], featured=bool(row["featured"]))
            for row in rows
        ]

    async def set_member_badges(
        self, account_id: str, entries: list[MemberBadgeEntry], *, now: datetime
    ) -> list[MemberBadge]:
        ids = [entry.badge_id for entry in entries]
        if len(set(ids)) != len(ids):
            raise ValueError("a badge appears twice in the list")
        marks = ",".join("?" * len(ids))
        async with self.transaction() as db:
            if ids:
                cursor = await db.execute(f"SELECT COUNT(*) FROM badges WHERE id IN ({marks})", ids)
                row = await cursor.fetchone()
                if row is None or row[0] != len(ids):
                    raise NotFound("no such badge")
            await db.executemany(
                "INSERT INTO member_badges (account_id, badge_id, position, featured, added_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, badge_id) DO UPDATE SET"
                " position = excluded.position, featured = excluded.featured",
                [
                    (account_id, entry.badge_id, position, int(entry.featured), to_db_time(now))
                    for position, entry in enumerate(entries)
                ],
            )
            await db.execute(
                f"DELETE FROM member_badges WHERE account_id = ? AND badge_id NOT IN ({marks})",
                (account_id, *ids),
            )
        return await self.member_badges(account_id)

    async def badge_holders(
        self, badge_id: str, *, discoverable_only: bool, before: Cursor | None, limit: int
    ) -> list[BadgeHolder]:
        clauses = ["m.badge_id = ?"]
        params: list[Any] = [badge_id]
        if discoverable_only:
            clauses.append("COALESCE(p.discoverable, 1) = 1")
        if before is not None:
            clauses.append("(m.added_at, m.account_id) < (?, ?)")
            params += [to_db_time(before[0]), before[1]]
        rows = await self.fetch_all(
            f"SELECT {_HOLDER_ACCOUNT_COLUMNS}, m.added_at AS m_added_at,"
            " m.featured AS m_featured FROM member_badges m"
            " JOIN accounts a ON a.id = m.account_id"
            " LEFT JOIN profiles p ON p.account_id = m.account_id"
            f" WHERE {' AND '.join(clauses)}"
            " ORDER BY m.added_at DESC, m.account_id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            BadgeHolder(
                account=_account(row),
                added_at=from_db_time(row["m_added_at"]),
                featured=bool(row["m_featured"]),
            )
            for row in rows
        ]

    async def count_badge_holders(self, badge_id: str, *, discoverable_only: bool) -> int:
        condition = " AND COALESCE(p.discoverable, 1) = 1" if discoverable_only else ""
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM member_badges m"
            " LEFT JOIN profiles p ON p.account_id = m.account_id"
            f" WHERE m.badge_id = ?{condition}",
            (badge_id,),
        )
        return int(row["n"]) if row else 0

    # --- activity tags -------------------------------------------------------------------

    async def list_activity_tag_catalogue(self) -> list[ActivityTag]:
        rows = await self.fetch_all(
            f"SELECT t.phrase, {_BADGE_COLUMNS} FROM activity_tags t"
            " JOIN badges b ON b.id = t.badge_id ORDER BY t.phrase_lower"
        )
        return [ActivityTag(phrase=row["phrase"], badge=_badge(row)) for row in rows]

    async def add_activity_tag(self, phrase: str, badge_id: str, *, now: datetime) -> ActivityTag:
        badge = await self.get_badge(badge_id)
        if badge is None:
            raise NotFound("no such badge")
        changed = await self.execute(
            "INSERT INTO activity_tags (phrase_lower, phrase, badge_id, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (phrase_lower) DO NOTHING",
            (normalize_phrase(phrase), phrase, badge_id, to_db_time(now)),
        )
        if changed != 1:
            raise Conflict(f"the activity tag {phrase!r} exists")
        return ActivityTag(phrase=phrase, badge=badge)
