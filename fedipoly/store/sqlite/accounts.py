"""Accounts, invites, API tokens and sessions on SQLite."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from fedipoly.errors import EmailTaken, InvalidInvite, UsernameTaken
from fedipoly.models import Account, ApiToken, Invite, NewAccount, Role, Session
from fedipoly.store.sqlite.core import (
    SqliteCore,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    to_db_time_or_none,
)

_ACCOUNT_COLUMNS = (
    "id, username, email, role, display_name, created_at, public_key_pem, "
    "manually_approves_followers, suspended"
)


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        role=Role(row["role"]),
        display_name=row["display_name"],
        created_at=from_db_time(row["created_at"]),
        public_key_pem=row["public_key_pem"],
        manually_approves_followers=bool(row["manually_approves_followers"]),
        suspended=bool(row["suspended"]),
    )


def _invite(row: sqlite3.Row) -> Invite:
    return Invite(
        code=row["code"],
        created_by=row["created_by"],
        max_uses=row["max_uses"],
        uses_left=row["uses_left"],
        expires_at=from_db_time_or_none(row["expires_at"]),
        created_at=from_db_time(row["created_at"]),
    )


def _token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        account_id=row["account_id"],
        label=row["label"],
        token_hash=row["token_hash"],
        created_at=from_db_time(row["created_at"]),
    )


class SqliteAccounts(SqliteCore):
    async def create_account(
        self, account: NewAccount, *, invite_code: str | None, now: datetime
    ) -> Account:
        async with self.transaction() as db:
            if invite_code is not None:
                # The conditional decrement is the race guard: of two sign-ups using the last
                # use of a code, only one UPDATE matches a row.
                cursor = await db.execute(
                    "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ? "
                    "AND uses_left > 0 AND (expires_at IS NULL OR expires_at > ?)",
                    (invite_code, to_db_time(now)),
                )
                if cursor.rowcount != 1:
                    raise InvalidInvite("this invite code is unknown, used up or expired")
            try:
                await db.execute(
                    "INSERT INTO accounts (id, username, username_lower, email, email_lower, role,"
                    " display_name, password_hash, public_key_pem, private_key_pem, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        account.id,
                        account.username,
                        account.username.lower(),
                        account.email,
                        account.email.lower(),
                        account.role.value,
                        account.display_name,
                        account.password_hash,
                        account.public_key_pem,
                        account.private_key_pem,
                        to_db_time(account.created_at),
                    ),
                )
            except sqlite3.IntegrityError as error:
                if "email_lower" in str(error):
                    raise EmailTaken("an account with this email address exists") from None
                raise UsernameTaken(f"the username {account.username!r} is taken") from None
        created = await self.get_account(account.id)
        assert created is not None
        return created

    async def get_account(self, account_id: str) -> Account | None:
        row = await self.fetch_one(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
        )
        return _account(row) if row else None

    async def get_account_by_username(self, username: str) -> Account | None:
        row = await self.fetch_one(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = ?",
            (username.lower(),),
        )
        return _account(row) if row else None

    async def get_password_hash(self, account_id: str) -> str | None:
        row = await self.fetch_one("SELECT password_hash FROM accounts WHERE id = ?", (account_id,))
        return row["password_hash"] if row else None

    async def get_private_key(self, account_id: str) -> str | None:
        row = await self.fetch_one(
            "SELECT private_key_pem FROM accounts WHERE id = ?", (account_id,)
        )
        return row["private_key_pem"] if row else None

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self.execute(
            "UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id)
        )

    async def set_role(self, account_id: str, role: Role) -> None:
        await self.execute("UPDATE accounts SET role = ? WHERE id = ?", (role.value, account_id))

    async def update_account_profile(
        self, account_id: str, *, display_name: str, manually_approves_followers: bool
    ) -> Account | None:
        await self.execute(
            "UPDATE accounts SET display_name = ?, manually_approves_followers = ? WHERE id = ?",
            (display_name, int(manually_approves_followers), account_id),
        )
        return await self.get_account(account_id)

    async def count_accounts(self) -> int:
        row = await self.fetch_one("SELECT COUNT(*) AS n FROM accounts")
        return int(row["n"]) if row else 0

    async def create_invite(self, invite: Invite) -> None:
        await self.execute(
            "INSERT INTO invites (code, created_by, max_uses, uses_left, expires_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                invite.code,
                invite.created_by,
                invite.max_uses,
                invite.uses_left,
                to_db_time_or_none(invite.expires_at),
                to_db_time(invite.created_at),
            ),
        )

    async def get_invite(self, code: str) -> Invite | None:
        row = await self.fetch_one("SELECT * FROM invites WHERE code = ?", (code,))
        return _invite(row) if row else None

    async def list_invites(self, created_by: str | None) -> list[Invite]:
        rows = await self.fetch_all(
            "SELECT * FROM invites WHERE created_by IS ? ORDER BY created_at DESC, code DESC",
            (created_by,),
        )
        return [_invite(row) for row in rows]

    async def count_invites(self, created_by: str) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM invites WHERE created_by = ?", (created_by,)
        )
        return int(row["n"]) if row else 0

    async def delete_invite(self, code: str, created_by: str | None) -> bool:
        changed = await self.execute(
            "DELETE FROM invites WHERE code = ? AND created_by IS ?", (code, created_by)
        )
        return changed == 1

    async def create_token(self, token: ApiToken) -> None:
        await self.execute(
            "INSERT INTO api_tokens (id, account_id, label, token_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                token.id,
                token.account_id,
                token.label,
                token.token_hash,
                to_db_time(token.created_at),
            ),
        )

    async def get_token_by_hash(self, token_hash: str) -> ApiToken | None:
        row = await self.fetch_one("SELECT * FROM api_tokens WHERE token_hash = ?", (token_hash,))
        return _token(row) if row else None

    async def list_tokens(self, account_id: str) -> list[ApiToken]:
        rows = await self.fetch_all(
            "SELECT * FROM api_tokens WHERE account_id = ? ORDER BY created_at, id", (account_id,)
        )
        return [_token(row) for row in rows]

    async def delete_token(self, account_id: str, token_id: str) -> bool:
        changed = await self.execute(
            "DELETE FROM api_tokens WHERE id = ? AND account_id = ?", (token_id, account_id)
        )
        return changed == 1

    async def create_session(self, session: Session) -> None:
        await self.execute(
            "INSERT INTO sessions (id_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (
                session.id_hash,
                session.account_id,
                to_db_time(session.created_at),
                to_db_time(session.expires_at),
            ),
        )

    async def get_session(self, id_hash: str) -> Session | None:
        row = await self.fetch_one("SELECT * FROM sessions WHERE id_hash = ?", (id_hash,))
        if row is None:
            return None
        return Session(
            id_hash=row["id_hash"],
            account_id=row["account_id"],
            created_at=from_db_time(row["created_at"]),
            expires_at=from_db_time(row["expires_at"]),
        )

    async def delete_session(self, id_hash: str) -> None:
        await self.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    async def delete_expired_sessions(self, now: datetime) -> int:
        return await self.execute("DELETE FROM sessions WHERE expires_at <= ?", (to_db_time(now),))
