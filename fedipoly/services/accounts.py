"""Accounts: registration, sign-in, sessions, API tokens, invites and roles."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from federation.keys import generate_rsa_keypair
from fedipoly.config import RegistrationConfig, SecurityConfig
from fedipoly.errors import Forbidden, InvalidInvite, NotFound, Unauthorized, ValidationFailed
from fedipoly.models import (
    Account,
    ApiToken,
    Clock,
    Invite,
    NewAccount,
    RegistrationMode,
    Role,
    Session,
    new_id,
)
from fedipoly.store.base import Store

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"^[a-z0-9_]{1,30}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_LABEL_LENGTH = 100
MAX_INVITE_DAYS = 365
# The one-use invite `fedipoly serve` makes while the instance has no account. Only the service
# creates invite codes (random, without this prefix), so the prefix plus `created_by is None`
# identifies it; signing up with it while there are no accounts makes the first admin.
BOOTSTRAP_INVITE_PREFIX = "bootstrap-"

# Names that would shadow routes, well-known paths or look official to other people.
RESERVED_USERNAMES = frozenset(
    [
        "about",
        "abuse",
        "account",
        "accounts",
        "actor",
        "admin",
        "administrator",
        "api",
        "apps",
        "auth",
        "badge",
        "badges",
        "contact",
        "explore",
        "fedipoly",
        "federated",
        "feed",
        "followers",
        "following",
        "health",
        "healthz",
        "help",
        "home",
        "hostmaster",
        "inbox",
        "info",
        "instance",
        "invite",
        "invites",
        "local",
        "login",
        "logout",
        "media",
        "messages",
        "moderation",
        "moderator",
        "moderators",
        "nodeinfo",
        "noreply",
        "no_reply",
        "notifications",
        "null",
        "outbox",
        "postmaster",
        "posts",
        "privacy",
        "public",
        "register",
        "requests",
        "root",
        "search",
        "security",
        "settings",
        "signin",
        "signup",
        "space_station",
        "static",
        "staff",
        "status",
        "support",
        "system",
        "tag",
        "tags",
        "terms",
        "timeline",
        "timelines",
        "user",
        "users",
        "webfinger",
        "webmaster",
        "well_known",
        "www",
    ]
)


def normalise_username(raw: str) -> str:
    """Usernames are unique case-insensitively, so they are kept in lower case."""
    return raw.strip().lower()


def validate_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed(
            "a username is 1 to 30 characters: lower-case letters, digits and underscores",
            {"field": "username"},
        )
    if username in RESERVED_USERNAMES:
        raise ValidationFailed(f"the username {username!r} is reserved", {"field": "username"})


def validate_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            {"field": "password"},
        )


def validate_email(email: str) -> str:
    cleaned = email.strip()
    if len(cleaned) > 254 or not EMAIL_PATTERN.fullmatch(cleaned):
        raise ValidationFailed("this is not a valid email address", {"field": "email"})
    return cleaned


def hash_secret(raw: str) -> str:
    """Tokens and session ids are long random strings, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new API token; `secret` is shown once and never stored."""

    token: ApiToken
    secret: str


@dataclass(frozen=True)
class StartedSession:
    session: Session
    cookie_value: str


class AccountService:
    def __init__(
        self,
        store: Store,
        registration: RegistrationConfig,
        security: SecurityConfig,
        clock: Clock,
    ) -> None:
        self._store = store
        self._registration = registration
        self._security = security
        self._clock = clock
        self._hasher = PasswordHasher(
            time_cost=security.argon2_time_cost,
            memory_cost=security.argon2_memory_kib,
            # Argon2 needs 8 KiB per lane: 4 lanes (argon2-cffi's default) unless the configured
            # memory is too small for them (tests use 8 KiB).
            parallelism=max(1, min(4, security.argon2_memory_kib // 8)),
        )
        self._dummy: str | None = None

    @property
    def registration_mode(self) -> RegistrationMode:
        return RegistrationMode(self._registration.mode)

    async def register(
        self,
        *,
        username: str,
        email: str,
        password: str,
        invite_code: str | None,
        role: Role = Role.MEMBER,
        bypass_registration_mode: bool = False,
    ) -> Account:
        """Create a member. Operators (the CLI) bypass the registration mode and invites.

        The bootstrap invite (see `ensure_bootstrap_invite`) is honoured in every registration
        mode, and makes an admin while the instance has no account yet.
        """
        username = normalise_username(username)
        validate_username(username)
        email = validate_email(email)
        validate_password(password)
        code = (invite_code or "").strip() or None
        if bypass_registration_mode:
            code = None
        elif await self._is_bootstrap_invite(code):
            # Two sign-ups can't both spend the one use (the store consumes it atomically), so
            # at most one account gets admin through one bootstrap code. The count is read
            # before the insert: a member created meanwhile through another path does not stop
            # the operator's own bootstrap sign-up from becoming admin, which is what they want.
            if await self._store.count_accounts() == 0:
                role = Role.ADMIN
        else:
            mode = self.registration_mode
            if mode is RegistrationMode.CLOSED:
                raise Forbidden("registration is closed on this server")
            if mode is RegistrationMode.INVITE and code is None:
                raise InvalidInvite("an invite code is needed to sign up here", {"field": "invite"})
            if mode is RegistrationMode.OPEN:
                code = None  # open servers don't spend invites
        password_hash, keys = await asyncio.gather(
            asyncio.to_thread(self._hasher.hash, password),
            asyncio.to_thread(generate_rsa_keypair),  # RSA generation takes ~100 ms of CPU
        )
        now = self._clock()
        account = NewAccount(
            id=new_id(now),
            username=username,
            email=email,
            role=role,
            display_name=username,
            password_hash=password_hash,
            public_key_pem=keys.public_pem,
            private_key_pem=keys.private_pem,
            created_at=now,
        )
        created = await self._store.create_account(account, invite_code=code, now=now)
        log.info("account created", extra={"username": username, "role": role.value})
        return created

    async def authenticate(self, username: str, password: str) -> Account:
        account = await self._store.get_account_by_username(normalise_username(username))
        stored_hash = await self._store.get_password_hash(account.id) if account else None
        if account is None or stored_hash is None:
            # Spend the same time as a real check so response timing doesn't reveal usernames.
            await asyncio.to_thread(self._verify, await self._dummy_hash(), password)
            raise Unauthorized("wrong username or password")
        if not await asyncio.to_thread(self._verify, stored_hash, password):
            raise Unauthorized("wrong username or password")
        if account.suspended:
            raise Forbidden("this account is suspended")
        return account

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def change_password(self, account: Account, current: str, new: str) -> None:
        stored_hash = await self._store.get_password_hash(account.id)
        if stored_hash is None or not await asyncio.to_thread(self._verify, stored_hash, current):
            raise ValidationFailed("the current password is wrong", {"field": "current_password"})
        validate_password(new)
        await self._store.set_password_hash(
            account.id, await asyncio.to_thread(self._hasher.hash, new)
        )

    async def start_session(self, account: Account) -> StartedSession:
        cookie_value = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(
            id_hash=hash_secret(cookie_value),
            account_id=account.id,
            created_at=now,
            expires_at=now + timedelta(days=self._security.session_days),
        )
        await self._store.create_session(session)
        return StartedSession(session=session, cookie_value=cookie_value)

    async def account_for_session(self, cookie_value: str) -> Account | None:
        session = await self._store.get_session(hash_secret(cookie_value))
        if session is None or session.expires_at <= self._clock():
            return None
        return await self._active_account(session.account_id)

    async def end_session(self, cookie_value: str) -> None:
        await self._store.delete_session(hash_secret(cookie_value))

    async def purge_expired_sessions(self) -> int:
        return await self._store.delete_expired_sessions(self._clock())

    async def issue_token(self, account: Account, label: str) -> IssuedToken:
        label = label.strip()
        if not 1 <= len(label) <= MAX_LABEL_LENGTH:
            raise ValidationFailed(
                f"a token label has 1 to {MAX_LABEL_LENGTH} characters", {"field": "label"}
            )
        secret = "fp_" + secrets.token_urlsafe(32)
        now = self._clock()
        token = ApiToken(
            id=new_id(now),
            account_id=account.id,
            label=label,
            token_hash=hash_secret(secret),
            created_at=now,
        )
        await self._store.create_token(token)
        return IssuedToken(token=token, secret=secret)

    async def account_for_token(self, secret: str) -> tuple[Account, ApiToken] | None:
        token = await self._store.get_token_by_hash(hash_secret(secret))
        if token is None:
            return None
        account = await self._active_account(token.account_id)
        return (account, token) if account else None

    async def list_tokens(self, account: Account) -> list[ApiToken]:
        return await self._store.list_tokens(account.id)

    async def revoke_token(self, account: Account, token_id: str) -> None:
        if not await self._store.delete_token(account.id, token_id):
            raise NotFound("no such token")

    async def create_member_invite(self, account: Account, *, max_uses: int = 1) -> Invite:
        """A member's personal invite; each member may hold a configured number of them."""
        if self.registration_mode is RegistrationMode.CLOSED:
            raise Forbidden("registration is closed on this server")
        limit = self._registration.invites_per_member
        if await self._store.count_invites(account.id) >= limit:
            raise Forbidden(f"you can hold at most {limit} invite codes; delete one first")
        return await self._create_invite(account.id, max_uses=max_uses, expires_days=None)

    async def create_operator_invite(self, *, max_uses: int, expires_days: int | None) -> Invite:
        return await self._create_invite(None, max_uses=max_uses, expires_days=expires_days)

    async def ensure_bootstrap_invite(self) -> Invite | None:
        """While there is no account: the usable bootstrap invite, made if there is none.

        Once accounts exist it returns None and deletes bootstrap invites nobody used, so an old
        code from a log can't be used later. Restarts reuse the same code rather than adding one.
        """
        operator_invites = await self._store.list_invites(None)
        bootstrap = [i for i in operator_invites if i.code.startswith(BOOTSTRAP_INVITE_PREFIX)]
        if await self._store.count_accounts() > 0:
            for invite in bootstrap:
                await self._store.delete_invite(invite.code, None)
            return None
        now = self._clock()
        usable = [invite for invite in bootstrap if invite.usable_at(now)]
        if usable:
            return usable[0]
        return await self._create_invite(
            None, max_uses=1, expires_days=None, prefix=BOOTSTRAP_INVITE_PREFIX
        )

    async def _is_bootstrap_invite(self, code: str | None) -> bool:
        if code is None or not code.startswith(BOOTSTRAP_INVITE_PREFIX):
            return False
        invite = await self._store.get_invite(code)
        return invite is not None and invite.created_by is None

    async def _create_invite(
        self,
        created_by: str | None,
        *,
        max_uses: int,
        expires_days: int | None,
        prefix: str = "",
    ) -> Invite:
        if not 1 <= max_uses <= self._registration.invite_max_uses:
            raise ValidationFailed(
                f"an invite has 1 to {self._registration.invite_max_uses} uses",
                {"field": "uses"},
            )
        if expires_days is not None and not 1 <= expires_days <= MAX_INVITE_DAYS:
            raise ValidationFailed(
                f"an invite expires after 1 to {MAX_INVITE_DAYS} days", {"field": "expires_days"}
            )
        now = self._clock()
        invite = Invite(
            code=prefix + secrets.token_urlsafe(12),
            created_by=created_by,
            max_uses=max_uses,
            uses_left=max_uses,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
            created_at=now,
        )
        await self._store.create_invite(invite)
        return invite

    async def list_invites(self, account: Account) -> list[Invite]:
        return await self._store.list_invites(account.id)

    async def delete_invite(self, account: Account, code: str) -> None:
        if not await self._store.delete_invite(code, account.id):
            raise NotFound("no such invite")

    async def get_by_username(self, username: str) -> Account:
        account = await self._store.get_account_by_username(normalise_username(username))
        if account is None:
            raise NotFound(f"no member called {username!r}")
        return account

    async def count_members(self) -> int:
        return await self._store.count_accounts()

    async def _active_account(self, account_id: str) -> Account | None:
        account = await self._store.get_account(account_id)
        if account is None or account.suspended:
            return None
        return account

    def now(self) -> datetime:
        return self._clock()

    async def _dummy_hash(self) -> str:
        """A hash with the real cost parameters, made on first need rather than at start."""
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(16))
        return self._dummy
