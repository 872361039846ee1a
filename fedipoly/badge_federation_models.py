"""Dataclasses of badge federation: badge actors' announces, peer instances and their badges.

Kept apart from models.py because only the badge federation services and their store mixins
use them (no I/O here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BadgeAnnounce:
    """A badge actor's `Announce` of one local post. `undone_at` is set once it was withdrawn
    (`Undo{Announce}`); the row is kept so rate limits count what was sent."""

    badge_id: str
    post_uri: str
    post_id: str
    author_account_id: str
    announce_id: str
    created_at: datetime
    undone_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.undone_at is None


@dataclass(frozen=True)
class BadgePeer:
    """Another instance whose badge directory we read. Approved peers' badge actors are
    followed by ours, and the posts they announce join our badge pages."""

    host: str  # host or host:port, lower case
    approved: bool
    added_at: datetime
    next_fetch_at: datetime
    fetched_at: datetime | None = None
    last_error: str | None = None
    badge_count: int = 0


@dataclass(frozen=True)
class PeerBadge:
    """One approved badge of a peer, as its directory describes it."""

    host: str
    slug: str
    name: str
    normalized_name: str
    icon: str
    holder_count: int
    actor_uri: str | None
    url: str | None
    updated: datetime | None
    fetched_at: datetime
