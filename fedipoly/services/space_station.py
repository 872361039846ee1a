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
from dataclasses import dataclass
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
    if kind not in (LOCAL, REMOTE) or not key:
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
    slugs = [
        item["fedipoly:slug"]
        for item in as_list(document.get("fedipoly:badges"))[:100]
        if isinstance(item, dict) and isinstance(item.get("fedipoly:slug"), str)
    ]
    headline = document.get("fedipoly:headline")
    return RemoteProfile(
        actor_uri=actor.uri,
        is_fedipoly=is_fedipoly,
        discoverable=document.get("discoverable") is True,
        headline=headline[:200] if isinstance(headline, str) else "",
        badges=tuple(slug[:64] for slug in slugs),
        open_to=answers,
        refreshed_at=now,
    )


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
    ) -> None:
        self._store = store
        self._open_to = open_to
        self._actors = actors
        self._urls = urls
        self._clock = clock
        self._refresh_after = refresh_after

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
                        RemoteProfile(
                            actor_uri=known.actor_uri,
                            is_fedipoly=known.is_fedipoly,
                            discoverable=known.discoverable,
                            headline=known.headline,
                            badges=known.badges,
                            open_to=known.open_to,
                            refreshed_at=self._clock(),
                        )
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
        badge_slug = clean_slug(badge) if badge else None
        query = _clean_query(text)
        size = clamp_limit(limit)
        position = _decode(cursor)
        matches: list[Match] = []
        last: tuple[str, str] | None = None
        if position is None or position[0] == LOCAL:
            after = position[1] if position else None
            last = await self._scan_local(chosen, badge_slug, query, after, size, matches, viewer)
            if len(matches) < size:
                last = None
                position = None
        if len(matches) < size:
            after = position[1] if position and position[0] == REMOTE else None
            last = await self._scan_remote(chosen, badge_slug, query, after, size, matches)
        next_cursor = _encode(*last) if last and len(matches) == size else None
        return MatchPage(matches, next_cursor)

    async def _scan_local(
        self,
        reason: OpenToReason,
        badge: str | None,
        query: str,
        after: str | None,
        size: int,
        matches: list[Match],
        viewer: Account | None,
    ) -> tuple[str, str] | None:
        last: tuple[str, str] | None = None
        while len(matches) < size:
            ids = await self._store.members_open_to(
                reason.slug, now=self._clock(), after=after, limit=SCAN_BATCH
            )
            for account_id in ids:
                after = account_id
                match = await self._local_match(account_id, reason, badge, query, viewer)
                if match is not None:
                    matches.append(match)
                    last = (LOCAL, account_id)
                    if len(matches) == size:
                        return last
            if len(ids) < SCAN_BATCH:
                break
        return last

    async def _local_match(
        self,
        account_id: str,
        reason: OpenToReason,
        badge: str | None,
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
        if badge and badge not in slugs:
            return None
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
        badge: str | None,
        query: str,
        after: str | None,
        size: int,
        matches: list[Match],
    ) -> tuple[str, str] | None:
        last: tuple[str, str] | None = None
        while len(matches) < size:
            profiles = await self._store.remote_profiles_open_to(
                reason.slug, now=self._clock(), after=after, limit=SCAN_BATCH
            )
            for profile in profiles:
                after = profile.actor_uri
                match = await self._remote_match(profile, reason, badge, query)
                if match is not None:
                    matches.append(match)
                    last = (REMOTE, profile.actor_uri)
                    if len(matches) == size:
                        return last
            if len(profiles) < SCAN_BATCH:
                break
        return last

    async def _remote_match(
        self, profile: RemoteProfile, reason: OpenToReason, badge: str | None, query: str
    ) -> Match | None:
        if badge and badge not in profile.badges:
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
