"""Profiles, the badge catalogue, members' badges and activity tags on MongoDB.

Search uses a `terms` array (fedipoly.names.search_terms) with an ordinary multikey index and
`$elemMatch` range scans: SecantusDB (and some managed MongoDB tiers) have no text indexes.
Each member_badges document carries a copy of its holder's `discoverable`, so a badge page is
one index range scan; `save_profile` and `set_member_badges` both re-sync that copy from the
profile after writing, so whichever runs last leaves it right.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

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
from fedipoly.store.mongo.accounts import _PUBLIC_FIELDS, _account
from fedipoly.store.mongo.core import Document, MongoCore, as_utc
from fedipoly.store.seed import DEFAULT_ACTIVITY_TAGS, DEFAULT_BADGES, SEED_SETTING

_DUPLICATE_KEY = 11000


def _time(value: Any) -> datetime:
    moment = as_utc(value)
    assert moment is not None
    return moment


def _badge(doc: Document) -> Badge:
    return Badge(
        id=doc["_id"],
        slug=doc["slug"],
        display_name=doc["display_name"],
        color=doc["color"],
        icon=doc["icon"],
        status=BadgeStatus(doc["status"]),
        created_by=doc.get("created_by"),
        created_at=_time(doc["created_at"]),
        reviewed_by=doc.get("reviewed_by"),
        reviewed_at=as_utc(doc.get("reviewed_at")),
        reject_reason=doc.get("reject_reason"),
    )


def _badge_document(badge: Badge) -> Document:
    return {
        "_id": badge.id,
        "slug": badge.slug,
        "display_name": badge.display_name,
        "name_lower": normalize_name(badge.display_name),
        "terms": search_terms(badge.slug, badge.display_name),
        "color": badge.color,
        "icon": badge.icon,
        "status": badge.status.value,
        "created_by": badge.created_by,
        "created_at": badge.created_at,
        "reviewed_by": badge.reviewed_by,
        "reviewed_at": badge.reviewed_at,
        "reject_reason": badge.reject_reason,
    }


def _profile(doc: Document) -> Profile:
    return Profile(
        account_id=doc["_id"],
        headline=doc.get("headline", ""),
        bio=doc.get("bio", ""),
        bio_html=doc.get("bio_html", ""),
        positions=tuple(doc.get("positions", [])),
        links=tuple(ProfileLink(link["label"], link["url"]) for link in doc.get("links", [])),
        discoverable=bool(doc.get("discoverable", True)),
        avatar_media_id=doc.get("avatar_media_id"),
        updated_at=as_utc(doc.get("updated_at")),
    )


def _badge_filter(status: BadgeStatus | None, created_by: str | None) -> Document:
    query: Document = {}
    if status is not None:
        query["status"] = status.value
    if created_by is not None:
        query["created_by"] = created_by
    return query


def _term_prefix(prefix: str) -> Document:
    return {"terms": {"$elemMatch": {"$gte": prefix, "$lt": prefix_upper_bound(prefix)}}}


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(item.get("code") == _DUPLICATE_KEY for item in error.details.get("writeErrors", []))


class MongoProfilesBadges(MongoCore):
    async def _migrate(self) -> None:
        await super()._migrate()
        await self._seed_catalogue()

    async def _seed_catalogue(self) -> None:
        """Write the default catalogue once per database (see fedipoly/store/seed.py)."""
        if await self.get_setting(SEED_SETTING) is not None:
            return
        now = utc_now()
        badge_ops = []
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
            badge_ops.append(
                UpdateOne({"slug": slug}, {"$setOnInsert": _badge_document(seeded)}, upsert=True)
            )
        try:
            await self.mdb.badges.bulk_write(badge_ops, ordered=False)
        except BulkWriteError as error:  # another process seeding at the same moment
            if not _only_duplicates(error):
                raise
        slugs = [slug for _phrase, slug in DEFAULT_ACTIVITY_TAGS]
        ids = {
            doc["slug"]: doc["_id"]
            async for doc in self.mdb.badges.find({"slug": {"$in": slugs}}, {"slug": 1})
        }
        tag_ops = [
            UpdateOne(
                {"_id": normalize_phrase(phrase)},
                {"$setOnInsert": {"phrase": phrase, "badge_id": ids[slug], "created_at": now}},
                upsert=True,
            )
            for phrase, slug in DEFAULT_ACTIVITY_TAGS
            if slug in ids
        ]
        if tag_ops:
            try:
                await self.mdb.activity_tags.bulk_write(tag_ops, ordered=False)
            except BulkWriteError as error:
                if not _only_duplicates(error):
                    raise
        await self.put_setting_if_absent(SEED_SETTING, now.isoformat())

    # --- profiles ------------------------------------------------------------------------

    async def get_profile(self, account_id: str) -> Profile:
        doc = await self.mdb.profiles.find_one({"_id": account_id})
        return _profile(doc) if doc else Profile(account_id=account_id)

    async def save_profile(self, profile: Profile) -> Profile:
        await self.mdb.profiles.update_one(
            {"_id": profile.account_id},
            {
                "$set": {
                    "headline": profile.headline,
                    "bio": profile.bio,
                    "bio_html": profile.bio_html,
                    "positions": list(profile.positions),
                    "links": [{"label": link.label, "url": link.url} for link in profile.links],
                    "discoverable": profile.discoverable,
                    "updated_at": profile.updated_at,
                }
            },
            upsert=True,
        )
        stored = await self.get_profile(profile.account_id)
        await self._sync_discoverable(stored)
        return stored

    async def _sync_discoverable(self, profile: Profile) -> None:
        await self.mdb.member_badges.update_many(
            {"account_id": profile.account_id, "discoverable": {"$ne": profile.discoverable}},
            {"$set": {"discoverable": profile.discoverable}},
        )

    async def set_avatar(self, account_id: str, media_id: str | None) -> Profile:
        await self.mdb.profiles.update_one(
            {"_id": account_id}, {"$set": {"avatar_media_id": media_id}}, upsert=True
        )
        return await self.get_profile(account_id)

    # --- the badge catalogue -------------------------------------------------------------

    async def create_badge(self, badge: Badge) -> Badge:
        document = _badge_document(badge)
        try:
            await self.mdb.badges.insert_one(document)
        except DuplicateKeyError as error:
            if "slug" not in str(error):
                raise
            raise BadgeTaken(f"a badge with the slug {badge.slug!r} exists") from None
        return _badge(document)

    async def get_badge(self, badge_id: str) -> Badge | None:
        doc = await self.mdb.badges.find_one({"_id": badge_id})
        return _badge(doc) if doc else None

    async def get_badge_by_slug(self, slug: str) -> Badge | None:
        doc = await self.mdb.badges.find_one({"slug": slug})
        return _badge(doc) if doc else None

    async def get_badges_by_slugs(self, slugs: list[str]) -> list[Badge]:
        if not slugs:
            return []
        return [_badge(doc) async for doc in self.mdb.badges.find({"slug": {"$in": slugs}})]

    async def list_badges(
        self,
        status: BadgeStatus | None,
        *,
        prefix: str | None = None,
        created_by: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> list[Badge]:
        query = _badge_filter(status, created_by)
        if after is not None:
            query["slug"] = {"$gt": after}
        if prefix:
            query |= _term_prefix(prefix)
        cursor = self.mdb.badges.find(query).sort("slug", 1).limit(limit)
        return [_badge(doc) async for doc in cursor]

    async def search_badges(
        self, query: str, *, status: BadgeStatus | None, created_by: str | None = None, limit: int
    ) -> list[Badge]:
        prefixes = candidate_prefixes(query)
        if not prefixes:
            return []
        condition = _badge_filter(status, created_by)
        condition["$or"] = [_term_prefix(prefix) for prefix in prefixes]
        cursor = self.mdb.badges.find(condition).sort("slug", 1).limit(limit)
        return [_badge(doc) async for doc in cursor]

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
        condition: Document = {"slug": slug}
        if expected is not None:
            condition["status"] = expected.value
        result = await self.mdb.badges.update_one(
            condition,
            {
                "$set": {
                    "status": status.value,
                    "reviewed_by": reviewer,
                    "reviewed_at": now,
                    "reject_reason": reason,
                }
            },
        )
        return await self.get_badge_by_slug(slug) if result.matched_count == 1 else None

    # --- members' badges -----------------------------------------------------------------

    async def _badges_by_id(self, ids: list[str]) -> dict[str, Badge]:
        if not ids:
            return {}
        return {
            doc["_id"]: _badge(doc) async for doc in self.mdb.badges.find({"_id": {"$in": ids}})
        }

    async def member_badges(self, account_id: str) -> list[MemberBadge]:
        rows = [doc async for doc in self.mdb.member_badges.find({"account_id": account_id})]
        badges = await self._badges_by_id([row["badge_id"] for row in rows])
        held = [
            MemberBadge(
                badge=badges[row["badge_id"]],
                position=row["position"],
                featured=bool(row["featured"]),
            )
            for row in rows
            if row["badge_id"] in badges
        ]
        return sorted(held, key=lambda item: (item.position, item.badge.slug))

    async def set_member_badges(
        self, account_id: str, entries: list[MemberBadgeEntry], *, now: datetime
    ) -> list[MemberBadge]:
        ids = [entry.badge_id for entry in entries]
        if len(set(ids)) != len(ids):
            raise ValueError("a badge appears twice in the list")
        if ids and await self.mdb.badges.count_documents({"_id": {"$in": ids}}) != len(ids):
            raise NotFound("no such badge")
        discoverable = (await self.get_profile(account_id)).discoverable
        if entries:
            await self.mdb.member_badges.bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{account_id}:{entry.badge_id}"},
                        {
                            "$set": {
                                "account_id": account_id,
                                "badge_id": entry.badge_id,
                                "position": position,
                                "featured": entry.featured,
                                "discoverable": discoverable,
                            },
                            "$setOnInsert": {"added_at": now},
                        },
                        upsert=True,
                    )
                    for position, entry in enumerate(entries)
                ],
                ordered=False,
            )
        await self.mdb.member_badges.delete_many(
            {"account_id": account_id, "badge_id": {"$nin": ids}}
        )
        await self._sync_discoverable(await self.get_profile(account_id))
        return await self.member_badges(account_id)

    async def badge_holders(
        self, badge_id: str, *, discoverable_only: bool, before: Cursor | None, limit: int
    ) -> list[BadgeHolder]:
        query: Document = {"badge_id": badge_id}
        if discoverable_only:
            query["discoverable"] = True
        if before is not None:
            moment, last_id = before
            query["$or"] = [
                {"added_at": {"$lt": moment}},
                {"added_at": moment, "account_id": {"$lt": last_id}},
            ]
        cursor = (
            self.mdb.member_badges.find(query)
            .sort([("added_at", -1), ("account_id", -1)])
            .limit(limit)
        )
        rows = [doc async for doc in cursor]
        accounts = {
            doc["_id"]: _account(doc)
            async for doc in self.mdb.accounts.find(
                {"_id": {"$in": [row["account_id"] for row in rows]}}, _PUBLIC_FIELDS
            )
        }
        return [
            BadgeHolder(
                account=accounts[row["account_id"]],
                added_at=_time(row["added_at"]),
                featured=bool(row["featured"]),
            )
            for row in rows
            if row["account_id"] in accounts
        ]

    async def count_badge_holders(self, badge_id: str, *, discoverable_only: bool) -> int:
        query: Document = {"badge_id": badge_id}
        if discoverable_only:
            query["discoverable"] = True
        return await self.mdb.member_badges.count_documents(query)

    # --- activity tags -------------------------------------------------------------------

    async def list_activity_tag_catalogue(self) -> list[ActivityTag]:
        rows = [doc async for doc in self.mdb.activity_tags.find().sort("_id", 1)]
        badges = await self._badges_by_id(list({row["badge_id"] for row in rows}))
        return [
            ActivityTag(phrase=row["phrase"], badge=badges[row["badge_id"]])
            for row in rows
            if row["badge_id"] in badges
        ]

    async def add_activity_tag(self, phrase: str, badge_id: str, *, now: datetime) -> ActivityTag:
        badge = await self.get_badge(badge_id)
        if badge is None:
            raise NotFound("no such badge")
        try:
            await self.mdb.activity_tags.insert_one(
                {
                    "_id": normalize_phrase(phrase),
                    "phrase": phrase,
                    "badge_id": badge_id,
                    "created_at": now,
                }
            )
        except DuplicateKeyError:
            raise Conflict(f"the activity tag {phrase!r} exists") from None
        return ActivityTag(phrase=phrase, badge=badge)
