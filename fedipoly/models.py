"""Domain dataclasses shared by services, the store and the web layer (no I/O here)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from fedipoly.names import badge_hashtag

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, truncated to milliseconds: the precision every store keeps (BSON dates hold ms).

    Built from the integer millisecond count, which is cheaper than truncating
    ``datetime.now``; an accepted inbox POST reads the clock three times."""
    return datetime_from_ms(time.time_ns() // 1_000_000)


def datetime_from_ms(ms: int) -> datetime:
    """The UTC time ``ms`` milliseconds after the Unix epoch, exactly, until 2106.

    ``fromtimestamp`` rounds to the nearest microsecond and the float ``ms / 1000`` is
    within 0.25 µs of the true value below 2**32 seconds: a third cheaper than adding a
    ``timedelta`` to the epoch, with the same result."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def new_id(now: datetime | None = None) -> str:
    """A time-ordered, unguessable identifier: 12 hex digits of milliseconds, 16 of randomness."""
    moment = now or datetime.now(UTC)
    return f"{int(moment.timestamp() * 1000):012x}{secrets.token_hex(8)}"


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    MEMBER = "member"

    @property
    def can_moderate(self) -> bool:
        return self in (Role.ADMIN, Role.MODERATOR)


class RegistrationMode(StrEnum):
    INVITE = "invite"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Account:
    """A local member. Secrets (password hash, private key) are deliberately not part of it."""

    id: str
    username: str
    email: str
    role: Role
    display_name: str
    created_at: datetime
    public_key_pem: str
    manually_approves_followers: bool = False
    suspended: bool = False


@dataclass(frozen=True)
class NewAccount:
    """Everything the store needs to create an account, secrets included."""

    id: str
    username: str
    email: str
    role: Role
    display_name: str
    password_hash: str
    public_key_pem: str
    private_key_pem: str
    created_at: datetime


@dataclass(frozen=True)
class Invite:
    code: str
    created_by: str | None  # None for invites an operator made from the command line
    max_uses: int
    uses_left: int
    expires_at: datetime | None
    created_at: datetime

    def usable_at(self, now: datetime) -> bool:
        return self.uses_left > 0 and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class ApiToken:
    """A bearer token; only the SHA-256 of the secret is stored."""

    id: str
    account_id: str
    label: str
    token_hash: str
    created_at: datetime


@dataclass(frozen=True)
class Session:
    """A signed-in browser; only the SHA-256 of the cookie value is stored."""

    id_hash: str
    account_id: str
    created_at: datetime
    expires_at: datetime


class FollowState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class RemoteActor:
    """A cached copy of another server's actor document (Person, Service, Group, ...)."""

    uri: str
    actor_type: str
    username: str
    domain: str
    inbox: str
    shared_inbox: str | None
    followers_url: str | None
    display_name: str
    summary_html: str
    profile_url: str | None
    icon_url: str | None
    key_id: str
    public_key_pem: str
    manually_approves_followers: bool
    fetched_at: datetime

    @property
    def handle(self) -> str:
        return f"{self.username}@{self.domain}"

    @property
    def preferred_inbox(self) -> str:
        """Fan-out goes to the shared inbox when there is one (Mastodon: preferred_inbox_url)."""
        return self.shared_inbox or self.inbox


@dataclass(frozen=True)
class Follow:
    """`follower` follows `followed`; both are actor URIs, local or remote."""

    id: str
    follower: str
    followed: str
    activity_id: str
    state: FollowState
    created_at: datetime


class InboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class InboxItem:
    """A verified incoming activity, stored before it is processed (persist, then process)."""

    activity_id: str
    actor: str
    activity_type: str
    raw: str
    received_at: datetime
    attempts: int = 0


@dataclass(frozen=True)
class OutboundActivity:
    """An activity we publish; deliveries point at it so 10 000 inboxes share one body."""

    id: str
    actor: str
    signer_account_id: str | None  # None: the instance actor signs
    activity_type: str
    raw: str
    created_at: datetime


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class Delivery:
    id: str
    activity_id: str
    inbox_url: str
    host: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    first_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to one worker, with what it needs to sign and send."""

    delivery: Delivery
    activity: OutboundActivity
    lease_token: str


@dataclass(frozen=True)
class FinishedDelivery:
    """The outcome of one attempt, to record and release its lease (see finish_deliveries)."""

    claimed: ClaimedDelivery
    state: DeliveryState
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    finished_at: datetime


class Visibility(StrEnum):
    PUBLIC = "public"
    FOLLOWERS = "followers"
    DIRECT = "direct"


@dataclass(frozen=True)
class PostActivityTag:
    """An activity tag on a post: a verb phrase tied to a badge ("Wrote some code" -> python).

    The phrase comes from the instance catalogue or is the author's own; `badge_slug` is a
    badge of this instance for local posts, and the sending instance's slug for remote ones.
    """

    phrase: str
    badge_slug: str


@dataclass(frozen=True)
class Attachment:
    """An image on a post. Local images carry their media-store id; `url` is absolute."""

    url: str
    media_type: str
    alt: str = ""
    width: int | None = None
    height: int | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class Post:
    """A note, local or remote. `uri` is its ActivityPub id."""

    id: str
    uri: str
    author: str  # actor URI
    local_account_id: str | None
    content_html: str
    source_text: str
    visibility: Visibility
    in_reply_to: str | None
    published: datetime
    updated: datetime | None
    url: str | None
    audience: tuple[str, ...] = ()
    deleted_at: datetime | None = None
    activity_tags: tuple[PostActivityTag, ...] = ()
    badges: tuple[str, ...] = ()  # slugs the post appears under: those of its activity tags
    hashtags: tuple[str, ...] = ()  # as written, without '#'
    mentions: tuple[str, ...] = ()  # actor URIs (they are in `audience` too)
    attachments: tuple[Attachment, ...] = ()  # at most 4
    happened_on: date | None = None  # backdating for a work timeline; feeds order by `published`
    reply_root: str | None = None  # URI of the post that started the thread, for replies
    # A remote public post addressed to Public in cc only (Mastodon's "unlisted"): anyone may
    # see it, but it stays out of the local, federated and badge timelines.
    unlisted: bool = False

    @property
    def is_local(self) -> bool:
        return self.local_account_id is not None


@dataclass(frozen=True)
class TimelinePage:
    posts: list[Post]
    next_cursor: str | None


# --- profiles and badges ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileLink:
    label: str
    url: str  # an http(s) URL, validated by the profile service


@dataclass(frozen=True)
class Profile:
    """What a member says about what they do. A member who never saved one gets these defaults."""

    account_id: str
    headline: str = ""
    bio: str = ""  # the plain text the member wrote
    bio_html: str = ""  # bio rendered to safe HTML when saved
    positions: tuple[str, ...] = ()  # at most two short lines: jobs take little space
    links: tuple[ProfileLink, ...] = ()
    discoverable: bool = True  # listed on badge pages and in search
    avatar_media_id: str | None = None  # a media reference; upload and encoding live elsewhere
    updated_at: datetime | None = None


class BadgeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    MERGED = "merged"  # folded into another badge; its slug redirects there (revertible)


@dataclass(frozen=True)
class Badge:
    id: str
    slug: str
    display_name: str
    color: str  # "#rrggbb"
    icon: str  # a few characters, e.g. an emoji
    status: BadgeStatus
    created_by: str | None  # None for operator-made and seeded badges
    created_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    reject_reason: str | None = None

    @property
    def hashtag(self) -> str:
        """CamelCase Hashtag name without '#' (Mastodon hashtags allow no hyphens)."""
        return badge_hashtag(self.display_name, self.slug)

    @property
    def is_public(self) -> bool:
        """Only approved badges appear in the catalogue, on badge pages and in federation."""
        return self.status is BadgeStatus.APPROVED


@dataclass(frozen=True)
class MemberBadgeEntry:
    """One row of a member's badge list as written: its position is its index in the list."""

    badge_id: str
    featured: bool = False


@dataclass(frozen=True)
class MemberBadge:
    badge: Badge
    position: int
    featured: bool


@dataclass(frozen=True)
class BadgeHolder:
    account: Account
    added_at: datetime
    featured: bool


@dataclass(frozen=True)
class ActivityTag:
    """A verb phrase from the instance catalogue tied to a badge ("Gave a talk" -> public_speaking)."""

    phrase: str
    badge: Badge
