"""Domain dataclasses of "open to", collaboration requests, direct conversations and the Space
Station (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fedipoly.models import Post


@dataclass(frozen=True)
class OpenToReason:
    """A collaboration reason of the instance catalogue ("Guest lecture", slug guest_lecture).

    Slugs are shared by every Fedipoly instance that kept the seeded catalogue, so a remote
    member's "open to podcast_guest" matches ours."""

    slug: str
    label: str
    position: int
    created_at: datetime


@dataclass(frozen=True)
class OpenToEntry:
    """A member's answer for one reason: yes or no, optionally until an end date."""

    reason_slug: str
    open: bool
    until: datetime | None = None

    def is_open_at(self, now: datetime) -> bool:
        """Yes, and not lapsed: an entry past its end date counts as not said at all."""
        return self.open and (self.until is None or self.until > now)

    def lapsed_at(self, now: datetime) -> bool:
        return self.until is not None and self.until <= now


class RequestState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # the recipient was interested: a conversation exists
    DECLINED = "declined"  # "not right now": the sender is never told


@dataclass(frozen=True)
class CollabRequest:
    """A collaboration request. `sender` and `recipient` are actor URIs; the account ids are
    set for the local side(s). `uri` is the id of the direct Note that carries it (ours when
    the sender is local, the sender's when it came from another server)."""

    id: str
    uri: str
    sender: str
    recipient: str
    sender_account_id: str | None
    recipient_account_id: str | None
    reason_slug: str
    reason_label: str
    message: str
    state: RequestState
    created_at: datetime
    decided_at: datetime | None = None


@dataclass(frozen=True)
class Conversation:
    """A local member's direct conversation with one other actor (local or remote). Each local
    participant has their own row; messages are direct posts listed per conversation."""

    id: str
    account_id: str
    peer: str  # actor URI
    request_id: str | None
    created_at: datetime
    last_message_at: datetime


@dataclass(frozen=True)
class ConversationMessage:
    """A message listed in a conversation. `at` orders the conversation: when it was sent
    here or received here, since remote clocks (and their second-precision dates) may put a
    reply before the message it answers."""

    at: datetime
    post: Post


@dataclass(frozen=True)
class RemoteProfile:
    """What the Space Station knows of a remote actor: read from its actor document, kept
    fresh by a background job. `is_fedipoly`: it carries our extension data."""

    actor_uri: str
    is_fedipoly: bool
    discoverable: bool
    headline: str
    badges: tuple[str, ...]  # slugs, as the actor's server spells them
    open_to: tuple[OpenToEntry, ...]
    refreshed_at: datetime
    # The badges' names normalised (fedipoly.names.normalize_name), one per slug in `badges`:
    # servers match badges by name (the same badge may have another slug there).
    badge_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberBlock:
    """A member refuses everything from that actor: requests and direct messages."""

    account_id: str
    blocked: str  # actor URI
    created_at: datetime
