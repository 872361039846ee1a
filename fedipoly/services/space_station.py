"""The Space Station: find people open to a collaboration reason, here and on the other
Fedipoly servers this one knows, filtered by badge and free text.

Only discoverable members appear: local members whose profile says so, remote ones whose actor
says `discoverable: true` and carries our extension data. Remote profiles are read whenever an
actor document is fetched (RemoteActors observers) and re-read in the background by
`refresh_once`, so their answers and end dates stay current.

Results come local members first (by account id), then remote profiles (by actor URI); the
opaque cursor says where the previous page stopped.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from federation.errors import FederationError
from federation.vocab import as_list
from fedipoly.collab_models import OpenToReason, RemoteProfile
from fedipoly.errors import FedipolyError, ValidationFailed
from fedipoly.models import Account, Clock, RemoteActor
from fedipoly.names import normalize_name
from fedipoly.services.actors import RemoteActors
from fedipoly.services.badges import clean_slug
from fedipoly.services.moderation_policy import refused_actor
from fedipoly.services.open_to import OpenToService, clean_reason_slug, remote_open_to
from fedipoly.services.posts import clamp_limit
from fedipoly.store.base import Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

MAX_QUERY = 100
SCAN_BATCH = 50
# Candidates one page looks at, at most: a page whose words match few people stops there and
# says where to go on (its cursor), so no request reads the whole list.
MAX_SCANNED = 500
REFRESH_BATCH = 10
LOCAL, REMOTE = "l", "r"


@dataclass(frozen=True)
class Match:
    """Someone open to the reason searched for."""

    actor_uri: str
    handle: str  # name@domain
    display_name: str
    headline: str
    url: str  # profile page: a site path for local members, else the remote profile
    local: bool
    badges: tuple[str, ...]  # slugs
    reason: OpenToReason


@dataclass(frozen=True)
class MatchPage:
    matches: list[Match]
    next_cursor: str | None


def _encode(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}|{key}".encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    try:
        kind, key = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|", 1)
        )
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("the page cursor is not valid", {"field": "cursor"}) from None
    if kind not in (LOCAL, REMOTE) or (kind == LOCAL and not key):
        raise ValidationFailed("the page cursor is not valid", {"field": "cursor"})
    return kind, key


def _clean_query(text: str | None) -> str:
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > MAX_QUERY:
        raise ValidationFailed(f"q has at most {MAX_QUERY} characters", {"field": "q"})
    return normalize_name(text)


def _matches_text(query: str, *values: str) -> bool:
    """Every word of the query appears in one of the values (normalised, case-insensitive)."""
    if not query:
        return True
    haystack = normalize_name(" ".join(values))
    return all(word in haystack for word in query.split())


def remote_profile(
    actor: RemoteActor, document: dict[str, Any], catalogue: list[OpenToReason], now: Any
) -> RemoteProfile:
    """What the Space Station keeps of a remote actor document."""
    is_fedipoly, answers = remote_open_to(document, catalogue)
    badges = [
        (item["fedipoly:slug"][:64], item.get("name"))
        for item in as_list(document.get("fedipoly:badges"))[:100]
        if isinstance(item, dict) and isinstance(item.get("fedipoly:slug"), str)
    ]
    headline = document.get("fedipoly:headline")
    return RemoteProfile(
        actor_uri=actor.uri,
        is_fedipoly=is_fedipoly,
        discoverable=document.get("discoverable") is True,
        headline=headline[:200] if isinstance(headline, str) else "",
        badges=tuple(slug for slug, _ in badges),
        open_to=answers,
        refreshed_at=now,
        badge_names=tuple(
            normalize_name(name[:200]) if isinstance(name, str) else "" for _, name in badges
        ),
    )


@dataclass(frozen=True)
class BadgeFilter:
    """The badge searched for: its slug, our badge's id (None when we have no such public
    badge) and its normalised name, which remote profiles match as the badge directory does."""

    slug: str
    badge_id: str | None
    normalized_name: str

    def matches_remote(self, profile: RemoteProfile) -> bool:
        return self.slug in profile.badges or (
            bool(self.normalized_name) and self.normalized_name in profile.badge_names
        )


class _Scan:
    """One page's matches and how many candidates it has looked at."""

    def __init__(self, size: int, budget: int) -> None:
        self.size = size
        self.budget = budget
        self.matches: list[Match] = []
        self.scanned = 0

    @property
    def done(self) -> bool:
        return len(self.matches) >= self.size or self.scanned >= self.budget

    def add(self, match: Match | None) -> None:
        self.scanned += 1
        if match is not None:
            self.matches.append(match)


class SpaceStation:
    def __init__(
        self,
        store: Store,
        open_to: OpenToService,
        actors: RemoteActors,
        urls: Urls,
        clock: Clock,
        *,
        refresh_after: timedelta = timedelta(days=1),
        max_scanned: int = MAX_SCANNED,
    ) -> None:
        self._store = store
        self._open_to = open_to
        self._actors = actors
        self._urls = urls
        self._clock = clock
        self._refresh_after = refresh_after
        self._max_scanned = max_scanned

    # --- remote profiles -----------------------------------------------------------------

    async def record(self, actor: RemoteActor, document: dict[str, Any]) -> None:
        """Keep the profile part of a freshly fetched actor document (a RemoteActors observer)."""
        profile = remote_profile(actor, document, await self._open_to.catalogue(), self._clock())
        await self._store.save_remote_profile(profile)

    async def refresh_once(self) -> bool:
        """Re-read a few remote profiles not read for `refresh_after` (a worker job)."""
        stale = await self._store.stale_remote_profiles(
            self._clock() - self._refresh_after, REFRESH_BATCH
        )
        for uri in stale:
            try:
                await self._actors.fetch(uri)  # the observer stores the new profile
            except (FederationError, FedipolyError) as error:
                log.info("remote profile %s not refreshed: %s", uri, error)
                known = await self._store.get_remote_profile(uri)
                if known is not None:  # try again after the next period, not in a loop
                    await self._store.save_remote_profile(
                        replace(known, refreshed_at=self._clock())
                    )
        return bool(stale)

    # --- search --------------------------------------------------------------------------

    async def search(
        self,
        viewer: Account | None,
        reason: str,
        *,
        badge: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> MatchPage:
        chosen = await self._open_to.reason(clean_reason_slug(reason))
        badge_filter = await self._badge_filter(badge) if badge else None
        query = _clean_query(text)
        size = clamp_limit(limit)
        position = _decode(cursor)
        scan = _Scan(size, self._max_scanned)
        if position is None or position[0] == LOCAL:
            after = position[1] if position else None
            resume = await self._scan_local(chosen, badge_filter, query, after, scan, viewer)
            if resume is not None:
                return MatchPage(scan.matches, _encode(LOCAL, resume))
            if scan.done:  # the local members filled it: remote profiles start the next page
                return MatchPage(scan.matches, _encode(REMOTE, ""))
            position = None
        after = position[1] if position else None
        resume = await self._scan_remote(chosen, badge_filter, query, after, scan)
        return MatchPage(scan.matches, _encode(REMOTE, resume) if resume else None)

    async def _badge_filter(self, badge: str) -> BadgeFilter:
        slug = clean_slug(badge)
        ours = await self._store.get_badge_by_slug(slug)
        if ours is None or not ours.is_public:
            return BadgeFilter(slug, None, "")
        return BadgeFilter(slug, ours.id, normalize_name(ours.display_name))

    async def _scan_local(
        self,
        reason: OpenToReason,
        badge: BadgeFilter | None,
        query: str,
        after: str | None,
        scan: _Scan,
        viewer: Account | None,
    ) -> str | None:
        """Add local matches after the account id `after`; the id to resume after when the
        page is full or its budget spent, None when no local member is left."""
        if badge is not None and badge.badge_id is None:
            return None  # no such public badge here: only remote profiles can match its slug
        while True:
            # Listed members with the badge, by an index range: only the text is checked here.
            ids = await self._store.listed_members_open_to(
                reason.slug,
                now=self._clock(),
                after=after,
                limit=SCAN_BATCH,
                badge_id=badge.badge_id if badge else None,
            )
            for account_id in ids:
                if scan.done:
                    return after
                after = account_id
                scan.add(await self._local_match(account_id, reason, query, viewer))
            if len(ids) < SCAN_BATCH:
                return None
            if scan.done:
                return after

    async def _local_match(
        self,
        account_id: str,
        reason: OpenToReason,
        query: str,
        viewer: Account | None,
    ) -> Match | None:
        account = await self._store.get_account(account_id)
        if account is None or account.suspended or (viewer and viewer.id == account.id):
            return None
        profile = await self._store.get_profile(account.id)
        if not profile.discoverable:
            return None
        slugs = tuple(
            held.badge.slug
            for held in await self._store.member_badges(account.id)
            if held.badge.is_public
        )
        if not _matches_text(query, account.display_name, account.username, profile.headline):
            return None
        return Match(
            actor_uri=self._urls.actor(account.username),
            handle=f"{account.username}@{self._urls.domain}",
            display_name=account.display_name or account.username,
            headline=profile.headline,
            url=f"/@{account.username}",
            local=True,
            badges=slugs,
            reason=reason,
        )

    async def _scan_remote(
        self,
        reason: OpenToReason,
        badge: BadgeFilter | None,
        query: str,
        after: str | None,
        scan: _Scan,
    ) -> str | None:
        """As `_scan_local`, over the remote profiles by actor URI."""
        while True:
            profiles = await self._store.remote_profiles_open_to(
                reason.slug, now=self._clock(), after=after, limit=SCAN_BATCH
            )
            for profile in profiles:
                if scan.done:
                    return after
                after = profile.actor_uri
                scan.add(await self._remote_match(profile, reason, badge, query))
            if len(profiles) < SCAN_BATCH:
                return None
            if scan.done:
                return after

    async def _remote_match(
        self, profile: RemoteProfile, reason: OpenToReason, badge: BadgeFilter | None, query: str
    ) -> Match | None:
        if badge is not None and not badge.matches_remote(profile):
            return None
        actor = await self._store.get_remote_actor(profile.actor_uri)
        if actor is None or await refused_actor(self._store, actor.uri) is not None:
            return None  # gone, or on a blocked server, or suspended here
        if not _matches_text(
            query, actor.display_name, actor.username, actor.domain, profile.headline
        ):
            return None
        url = actor.profile_url or actor.uri
        return Match(
            actor_uri=actor.uri,
            handle=actor.handle,
            display_name=actor.display_name or actor.username,
            headline=profile.headline,
            url=url if url.startswith(("https://", "http://")) else "",
            local=False,
            badges=profile.badges,
            reason=reason,
        )
