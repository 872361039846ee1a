"""Domain dataclasses of moderation: reports, domain blocks, remote restrictions, the audit
log, member notifications and badge merges (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ReportTarget(StrEnum):
    POST = "post"  # target: the post's URI (local or remote)
    BADGE = "badge"  # target: the badge slug
    ACCOUNT = "account"  # target: the actor URI (local or remote)


class ReportState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # acted upon
    DISMISSED = "dismissed"  # nothing to do


@dataclass(frozen=True)
class Report:
    """A complaint from a member (`reporter_account_id`) or another server (`reporter_actor`,
    the sender of a `Flag`). `target_actor` is the actor URI the complaint is about (the
    post's author, the account itself; None for a badge), so a report can be forwarded."""

    id: str
    target_kind: ReportTarget
    target: str
    target_actor: str | None
    comment: str
    state: ReportState
    created_at: datetime
    reporter_account_id: str | None = None
    reporter_actor: str | None = None
    flag_id: str | None = None  # the incoming Flag's activity id (deduplicates redeliveries)
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    forwarded: bool = False


@dataclass(frozen=True)
class DomainBlock:
    """Every server under `domain` (host[:port], subdomains included) is refused."""

    domain: str
    reason: str
    created_by: str | None
    created_at: datetime


class RestrictionLevel(StrEnum):
    SILENCED = "silenced"  # posts kept out of the public timelines and badge pages
    SUSPENDED = "suspended"  # content purged, inbox traffic refused


@dataclass(frozen=True)
class RemoteRestriction:
    actor_uri: str
    level: RestrictionLevel
    reason: str
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One moderator action: who (account id; None for the command line), what, on which
    target, why and when."""

    id: str
    moderator_id: str | None
    action: str
    target: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    """Something a member should learn about (e.g. their badge was rejected, and why)."""

    id: str
    account_id: str
    kind: str
    message: str
    link: str | None
    created_at: datetime
    read_at: datetime | None = None


@dataclass(frozen=True)
class BadgeMerge:
    """`source` folded into `target`. `undo` holds, as JSON, what the merge changed (holders'
    original lists, posts' original tags, activity tags moved, the source's old status), so
    reverting restores both badges. Active while `reverted_at` is None."""

    id: str
    source_id: str
    source_slug: str
    target_id: str
    target_slug: str
    undo: str
    created_by: str | None
    created_at: datetime
    reverted_at: datetime | None = None


@dataclass(frozen=True)
class Steward:
    badge_id: str
    account_id: str
    appointed_by: str | None
    created_at: datetime
