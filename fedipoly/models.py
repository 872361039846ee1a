"""Domain dataclasses shared by services, the store and the web layer (no I/O here)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, truncated to milliseconds: the precision every store keeps (BSON dates hold ms)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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
