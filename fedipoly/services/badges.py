"""Badges: the instance catalogue and its search, members' badge lists, and moderation.

Visibility: an approved badge is public. A pending or rejected badge is visible only to its
creator and to moderators; for everyone else it does not exist (NotFound), so its name never
leaks through the catalogue, badge pages, search, holders or federation. A new badge is usable
by its creator at once (it joins their list) and goes public when a moderator approves it.

Search ("pyhton" finds Python) without text indexes, which SecantusDB lacks: the store returns
a bounded candidate set — badges with a word starting with the first two letters of a query
word, plus every badge with a word starting with the whole query — and this service ranks them:
exact name or slug first, then prefix matches, then close spellings by difflib's
SequenceMatcher ratio (against each word-start term and its first len(query) characters).
A misspelt first or second letter is not found; that is the price of ordinary indexes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher

from fedipoly.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from fedipoly.models import (
    Account,
    ActivityTag,
    Badge,
    BadgeHolder,
    BadgeStatus,
    Clock,
    MemberBadge,
    MemberBadgeEntry,
    new_id,
)
from fedipoly.names import normalize_name, search_terms
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.profiles import ProfileService, clean_line
from fedipoly.store.base import Cursor, Store

SLUG_PATTERN = re.compile(r"[a-z0-9_]{1,64}")
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
MAX_DISPLAY_NAME = 64
MAX_ICON = 8
MAX_FEATURED = 10
MAX_MEMBER_BADGES = 100
MAX_PENDING_PER_MEMBER = 5  # user-created badges are a target for abuse (product rule 6)
MAX_REJECT_REASON = 500
MAX_QUERY = 100
MAX_PHRASE = 60
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
SEARCH_CANDIDATES = 200
FUZZY_THRESHOLD = 0.7


@dataclass(frozen=True)
class BadgePage:
    badges: list[Badge]
    next_cursor: str | None  # the last slug; None on the last page


@dataclass(frozen=True)
class HolderPage:
    holders: list[BadgeHolder]
    next_cursor: str | None


def can_see(badge: Badge, viewer: Account | None) -> bool:
    if badge.is_public:
        return True
    return viewer is not None and (viewer.id == badge.created_by or viewer.role.can_moderate)


def can_use(badge: Badge, member: Account) -> bool:
    """Approved badges, and the member's own badges still waiting for review."""
    return badge.is_public or (
        badge.status is BadgeStatus.PENDING and badge.created_by == member.id
    )


def clean_slug(slug: str, field: str = "slug") -> str:
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise ValidationFailed(
            "a badge slug has 1 to 64 lower-case letters, digits or underscores",
            {"field": field},
        )
    return slug


def clean_slugs(slugs: Sequence[str], field: str = "slugs") -> list[str]:
    """Valid slugs, duplicates dropped, order kept."""
    if isinstance(slugs, str):
        raise ValidationFailed("give a list of badge slugs", {"field": field})
    if len(slugs) > MAX_MEMBER_BADGES:
        raise ValidationFailed(f"at most {MAX_MEMBER_BADGES} badges at once", {"field": field})
    return list(dict.fromkeys(clean_slug(slug, field) for slug in slugs))


def clean_limit(limit: int | None, default: int = PAGE_SIZE) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit is 1 to {MAX_PAGE_SIZE}", {"field": "limit"})
    return limit


def encode_holder_cursor(added_at: datetime, account_id: str) -> str:
    raw = f"{added_at.isoformat()}|{account_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_holder_cursor(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment_text, account_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        moment = datetime.fromisoformat(moment_text)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("the page cursor is not valid", {"field": "cursor"}) from None
    if moment.tzinfo is None or not account_id:
        raise ValidationFailed("the page cursor is not valid", {"field": "cursor"})
    return moment, account_id


def _public_view(held: list[MemberBadge]) -> list[tuple[str, bool]]:
    """What followers see of a badge list: approved badges in order, and which are featured."""
    return [(item.badge.slug, item.featured) for item in held if item.badge.is_public]


def _entries(held: list[MemberBadge]) -> list[MemberBadgeEntry]:
    return [MemberBadgeEntry(item.badge.id, item.featured) for item in held]


def _rank(badge: Badge, query: str) -> tuple[int, float] | None:
    """(0 exact, 1 prefix, 2 close spelling; similarity) or None when it does not match."""
    name, slug_words = normalize_name(badge.display_name), badge.slug.replace("_", " ")
    if query in (name, slug_words, badge.slug):
        return 0, 1.0
    terms = search_terms(badge.slug, badge.display_name)
    if any(term.startswith(query) for term in terms):
        return 1, 1.0
    best = 0.0
    for term in terms:
        for candidate in (term, term[: len(query)]):
            best = max(best, SequenceMatcher(None, query, candidate).ratio())
    return (2, best) if best >= FUZZY_THRESHOLD else None


class BadgeService:
    def __init__(
        self,
        store: Store,
        profiles: ProfileService,
        clock: Clock,
        *,
        audit: AuditLog,
        badge_actors: BadgeActorService | None = None,
    ) -> None:
        """`audit` records the moderators' actions here (reviews, activity tags);
        `badge_actors` withdraws the announces of a badge a member stops holding."""
        self._store = store
        self._profiles = profiles
        self._clock = clock
        self._audit = audit
        self._badge_actors = badge_actors

    # --- the catalogue -------------------------------------------------------------------

    async def get_badge(self, slug: str, viewer: Account | None) -> Badge:
        """The badge, if this viewer may see it; NotFound otherwise."""
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        if badge is None or not can_see(badge, viewer):
            raise NotFound("no such badge")
        return badge

    async def create_badge(
        self, creator: Account, *, slug: str, display_name: str, color: str, icon: str
    ) -> Badge:
        """A new pending badge, added to its creator's list at once; public once approved."""
        slug = clean_slug(slug)
        name = clean_line(display_name, "display_name", MAX_DISPLAY_NAME)
        if not name:
            raise ValidationFailed("a badge needs a display name", {"field": "display_name"})
        if not isinstance(color, str) or not COLOR_PATTERN.fullmatch(color.strip()):
            raise ValidationFailed("a colour is written #rrggbb", {"field": "color"})
        glyph = clean_line(icon, "icon", MAX_ICON)
        if not glyph or " " in glyph:
            raise ValidationFailed(
                f"an icon is 1 to {MAX_ICON} characters without spaces, e.g. an emoji",
                {"field": "icon"},
            )
        held = await self._store.member_badges(creator.id)
        if len(held) >= MAX_MEMBER_BADGES:
            raise ValidationFailed(
                f"a member has at most {MAX_MEMBER_BADGES} badges", {"field": "slugs"}
            )
        waiting = await self._store.list_badges(
            BadgeStatus.PENDING, created_by=creator.id, limit=MAX_PENDING_PER_MEMBER
        )
        if len(waiting) >= MAX_PENDING_PER_MEMBER:
            raise RateLimited(
                f"you have {MAX_PENDING_PER_MEMBER} badges waiting for review; "
                "wait until a moderator has looked at them"
            )
        now = self._clock()
        badge = await self._store.create_badge(
            Badge(
                id=new_id(now),
                slug=slug,
                display_name=name,
                color=color.strip().lower(),
                icon=glyph,
                status=BadgeStatus.PENDING,
                created_by=creator.id,
                created_at=now,
            )
        )
        await self._store.set_member_badges(
            creator.id, [*_entries(held), MemberBadgeEntry(badge.id)], now=now
        )
        return badge

    async def catalogue(
        self,
        viewer: Account | None,
        *,
        query: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> BadgePage:
        """Approved badges (and the viewer's own pending ones) in slug order, keyset-paged.

        With a query, the ranked search results instead (one page, no cursor).
        """
        limit = clean_limit(limit)
        if query is not None and normalize_name(query):
            return BadgePage(await self.search(viewer, query, limit=limit), None)
        after = clean_slug(cursor, "cursor") if cursor else None
        # A keyset merge of two slug-ordered lists: approved, and the viewer's own pending.
        approved = await self._store.list_badges(BadgeStatus.APPROVED, after=after, limit=limit)
        own: list[Badge] = []
        if viewer is not None:
            own = await self._store.list_badges(
                BadgeStatus.PENDING, created_by=viewer.id, after=after, limit=limit
            )
        merged = sorted([*approved, *own], key=lambda badge: badge.slug)
        more = len(approved) == limit or len(own) == limit or len(merged) > limit
        badges = merged[:limit]
        return BadgePage(badges, badges[-1].slug if more and badges else None)

    async def search(
        self, viewer: Account | None, query: str, *, limit: int = PAGE_SIZE
    ) -> list[Badge]:
        """Catalogue search by name, word prefix and close spelling, best matches first."""
        if len(query) > MAX_QUERY:
            raise ValidationFailed(f"a search has at most {MAX_QUERY} characters", {"field": "q"})
        normalized = normalize_name(query)
        if not normalized:
            return []
        scopes: list[tuple[BadgeStatus, str | None]] = [(BadgeStatus.APPROVED, None)]
        if viewer is not None:
            scopes.append((BadgeStatus.PENDING, viewer.id))
        found: dict[str, Badge] = {}
        for status, creator in scopes:
            for badge in [
                *await self._store.list_badges(
                    status, prefix=normalized, created_by=creator, limit=SEARCH_CANDIDATES
                ),
                *await self._store.search_badges(
                    normalized, status=status, created_by=creator, limit=SEARCH_CANDIDATES
                ),
            ]:
                found[badge.id] = badge
        ranked = []
        for badge in found.values():
            rank = _rank(badge, normalized)
            if rank is not None:
                ranked.append((rank[0], -rank[1], badge.slug, badge))
        ranked.sort(key=lambda item: item[:3])
        return [item[3] for item in ranked[: clean_limit(limit)]]

    # --- a member's badges ---------------------------------------------------------------

    async def member_badges(self, member: Account, viewer: Account | None) -> list[MemberBadge]:
        """The member's badges in order; others see only the approved ones."""
        held = await self._store.member_badges(member.id)
        if viewer is not None and (viewer.id == member.id or viewer.role.can_moderate):
            return held
        return [item for item in held if item.badge.is_public]

    async def _resolve_usable(self, member: Account, slugs: list[str]) -> list[Badge]:
        found = {badge.slug: badge for badge in await self._store.get_badges_by_slugs(slugs)}
        badges = []
        for slug in slugs:
            badge = found.get(slug)
            if badge is None or not can_see(badge, member):
                raise NotFound(f"no badge {slug!r}", {"field": "slugs", "slug": slug})
            if not can_use(badge, member):
                raise ValidationFailed(
                    f"the badge {slug!r} is not approved", {"field": "slugs", "slug": slug}
                )
            badges.append(badge)
        return badges

    async def _save(
        self, member: Account, before: list[MemberBadge], entries: list[MemberBadgeEntry]
    ) -> list[MemberBadge]:
        after = await self._store.set_member_badges(member.id, entries, now=self._clock())
        if _public_view(after) != _public_view(before):
            await self._profiles.announce_update(member)
        if self._badge_actors is not None:
            kept = {item.badge.id for item in after}
            dropped = [item.badge.id for item in before if item.badge.id not in kept]
            await self._badge_actors.badges_removed(member, dropped)
        return after

    async def add_badges(self, member: Account, slugs: Sequence[str]) -> list[MemberBadge]:
        """Append badges to the member's list; ones already held stay where they are."""
        wanted = clean_slugs(slugs)
        badges = await self._resolve_usable(member, wanted)
        held = await self._store.member_badges(member.id)
        held_ids = {item.badge.id for item in held}
        new = [MemberBadgeEntry(badge.id) for badge in badges if badge.id not in held_ids]
        if len(held) + len(new) > MAX_MEMBER_BADGES:
            raise ValidationFailed(
                f"a member has at most {MAX_MEMBER_BADGES} badges", {"field": "slugs"}
            )
        if not new:
            return held
        return await self._save(member, held, [*_entries(held), *new])

    async def remove_badges(self, member: Account, slugs: Sequence[str]) -> list[MemberBadge]:
        """Take badges off the member's list; slugs they do not hold are ignored."""
        unwanted = set(clean_slugs(slugs))
        held = await self._store.member_badges(member.id)
        kept = [item for item in held if item.badge.slug not in unwanted]
        if len(kept) == len(held):
            return held
        return await self._save(member, held, _entries(kept))

    async def reorder(self, member: Account, slugs: Sequence[str]) -> list[MemberBadge]:
        """Put the member's badges in this order; `slugs` must name each of them exactly once."""
        order = clean_slugs(slugs)
        held = await self._store.member_badges(member.id)
        by_slug = {item.badge.slug: item for item in held}
        if len(order) != len(slugs) or set(order) != set(by_slug):
            missing = sorted(set(by_slug) - set(order))
            extra = sorted(set(order) - set(by_slug))
            raise ValidationFailed(
                "give every badge you hold exactly once",
                {"field": "slugs", "missing": missing, "not_held": extra},
            )
        return await self._save(member, held, _entries([by_slug[slug] for slug in order]))

    async def set_featured(self, member: Account, slugs: Sequence[str]) -> list[MemberBadge]:
        """Feature exactly these badges (at most 10, all held); the order stays."""
        featured = clean_slugs(slugs)
        if len(featured) > MAX_FEATURED:
            raise ValidationFailed(
                f"at most {MAX_FEATURED} badges can be featured", {"field": "slugs"}
            )
        held = await self._store.member_badges(member.id)
        not_held = sorted(set(featured) - {item.badge.slug for item in held})
        if not_held:
            raise ValidationFailed(
                "you can only feature badges you hold", {"field": "slugs", "not_held": not_held}
            )
        chosen = set(featured)
        entries = [MemberBadgeEntry(item.badge.id, item.badge.slug in chosen) for item in held]
        return await self._save(member, held, entries)

    # --- holders -------------------------------------------------------------------------

    async def holders(
        self,
        slug: str,
        viewer: Account | None,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> HolderPage:
        """Members holding the badge who chose to be listed, most recent first."""
        badge = await self.get_badge(slug, viewer)
        limit = clean_limit(limit)
        rows = await self._store.badge_holders(
            badge.id, discoverable_only=True, before=decode_holder_cursor(cursor), limit=limit
        )
        next_cursor = (
            encode_holder_cursor(rows[-1].added_at, rows[-1].account.id)
            if len(rows) == limit
            else None
        )
        return HolderPage([row for row in rows if not row.account.suspended], next_cursor)

    async def count_holders(self, slug: str, viewer: Account | None) -> int:
        badge = await self.get_badge(slug, viewer)
        return await self._store.count_badge_holders(badge.id, discoverable_only=True)

    # --- moderation ----------------------------------------------------------------------

    @staticmethod
    def _require_moderator(account: Account) -> None:
        if not account.role.can_moderate:
            raise Forbidden("only moderators can do this")

    async def pending_badges(
        self, moderator: Account, *, cursor: str | None = None, limit: int | None = None
    ) -> BadgePage:
        """The review queue, in slug order."""
        self._require_moderator(moderator)
        limit = clean_limit(limit)
        after = clean_slug(cursor, "cursor") if cursor else None
        badges = await self._store.list_badges(BadgeStatus.PENDING, after=after, limit=limit)
        return BadgePage(badges, badges[-1].slug if len(badges) == limit else None)

    async def _review(
        self, moderator: Account, slug: str, status: BadgeStatus, reason: str | None
    ) -> Badge:
        self._require_moderator(moderator)
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        if badge is None:
            raise NotFound("no such badge")
        reviewed = await self._store.set_badge_status(
            badge.slug,
            status,
            reviewer=moderator.id,
            reason=reason,
            now=self._clock(),
            expected=BadgeStatus.PENDING,
        )
        self._profiles.forget_all_documents()  # its Group actor and holders' actors changed
        if reviewed is None:
            current = await self._store.get_badge_by_slug(badge.slug)
            state = current.status.value if current else "gone"
            raise Conflict(f"this badge was reviewed already ({state})")
        return reviewed

    async def approve(self, moderator: Account, slug: str) -> Badge:
        """Make a pending badge public; its creator's followers learn about it."""
        badge = await self._review(moderator, slug, BadgeStatus.APPROVED, None)
        await self._audit.record(moderator, "badge.approve", f"badge:{badge.slug}")
        if badge.created_by is not None:
            # Badge timelines list approved badges only, so posts tagged while the badge was
            # pending are not on its page yet. Only its creator could tag it then: put their
            # public posts with it there now (PostService fans out later posts on write).
            await self._store.backfill_badge_entries(badge.id, badge.slug, badge.created_by)
            creator = await self._store.get_account(badge.created_by)
            held = await self._store.member_badges(badge.created_by)
            if creator is not None and any(item.badge.id == badge.id for item in held):
                await self._profiles.announce_update(creator)
        return badge

    async def reject(self, moderator: Account, slug: str, reason: str = "") -> Badge:
        """Refuse a pending badge: it leaves every list; its slug stays taken."""
        cleaned = clean_line(reason, "reason", MAX_REJECT_REASON) or None
        badge = await self._review(moderator, slug, BadgeStatus.REJECTED, cleaned)
        await self._audit.record(
            moderator, "badge.reject", f"badge:{badge.slug}", badge.reject_reason or ""
        )
        # Only its creator can hold a pending badge, but clear every holder to be sure.
        while rows := await self._store.badge_holders(
            badge.id, discoverable_only=False, before=None, limit=MAX_PAGE_SIZE
        ):
            for row in rows:
                held = await self._store.member_badges(row.account.id)
                kept = [item for item in held if item.badge.id != badge.id]
                await self._store.set_member_badges(
                    row.account.id, _entries(kept), now=self._clock()
                )
        return badge

    # --- activity tags -------------------------------------------------------------------

    async def activity_tags(self) -> list[ActivityTag]:
        """The instance's activity-tag catalogue, approved badges only, by phrase."""
        return [
            tag for tag in await self._store.list_activity_tag_catalogue() if tag.badge.is_public
        ]

    async def add_activity_tag(self, moderator: Account, phrase: str, slug: str) -> ActivityTag:
        self._require_moderator(moderator)
        text = clean_line(phrase, "phrase", MAX_PHRASE)
        if not text:
            raise ValidationFailed("an activity tag needs a phrase", {"field": "phrase"})
        badge = await self.get_badge(slug, moderator)
        if not badge.is_public:
            raise ValidationFailed("activity tags point at approved badges", {"field": "slug"})
        tag = await self._store.add_activity_tag(text, badge.id, now=self._clock())
        await self._audit.record(moderator, "activity_tag.add", f"badge:{badge.slug}", text)
        return tag
