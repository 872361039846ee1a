"""Accounts, invites, API tokens and sessions on MongoDB."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from fedipoly.errors import EmailTaken, InvalidInvite, UsernameTaken
from fedipoly.models import Account, ApiToken, Invite, NewAccount, Role, Session
from fedipoly.store.mongo.core import Document, MongoCore, as_utc

_PUBLIC_FIELDS = {"password_hash": 0, "private_key_pem": 0}


def _account(doc: Document) -> Account:
    created_at = as_utc(doc["created_at"])
    assert created_at is not None
    return Account(
        id=doc["_id"],
        username=doc["username"],
        email=doc["email"],
        role=Role(doc["role"]),
        display_name=doc["display_name"],
        created_at=created_at,
        public_key_pem=doc["public_key_pem"],
        manually_approves_followers=bool(doc.get("manually_approves_followers", False)),
        suspended=bool(doc.get("suspended", False)),
    )


def _invite(doc: Document) -> Invite:
    created_at = as_utc(doc["created_at"])
    assert created_at is not None
    return Invite(
        code=doc["_id"],
        created_by=doc.get("created_by"),
        max_uses=doc["max_uses"],
        uses_left=doc["uses_left"],
        expires_at=as_utc(doc.get("expires_at")),
        created_at=created_at,
    )


def _token(doc: Document) -> ApiToken:
    created_at = as_utc(doc["created_at"])
    assert created_at is not None
    return ApiToken(
        id=doc["_id"],
        account_id=doc["account_id"],
        label=doc["label"],
        token_hash=doc["token_hash"],
        created_at=created_at,
    )


class MongoAccounts(MongoCore):
    async def create_account(
        self, account: NewAccount, *, invite_code: str | None, now: datetime
    ) -> Account:
        if invite_code is not None:
            # A single conditional find-and-modify is atomic on one document: of two sign-ups
            # racing for the last use, only one matches.
            taken = await self.mdb.invites.find_one_and_update(
                {
                    "_id": invite_code,
                    "uses_left": {"$gt": 0},
                    "$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}],
                },
                {"$inc": {"uses_left": -1}},
                return_document=ReturnDocument.AFTER,
            )
            if taken is None:
                raise InvalidInvite("this invite code is unknown, used up or expired")
        document = {
            "_id": account.id,
            "username": account.username,
            "username_lower": account.username.lower(),
            "email": account.email,
            "email_lower": account.email.lower(),
            "role": account.role.value,
            "display_name": account.display_name,
            "password_hash": account.password_hash,
            "public_key_pem": account.public_key_pem,
            "private_key_pem": account.private_key_pem,
            "manually_approves_followers": False,
            "suspended": False,
            "created_at": account.created_at,
        }
        try:
            await self.mdb.accounts.insert_one(document)
        except DuplicateKeyError as error:
            if invite_code is not None:
                # Give the use back: the sign-up did not happen.
                await self.mdb.invites.update_one({"_id": invite_code}, {"$inc": {"uses_left": 1}})
            if "email_lower" in str(error):
                raise EmailTaken("an account with this email address exists") from None
            raise UsernameTaken(f"the username {account.username!r} is taken") from None
        return _account(document)

    async def get_account(self, account_id: str) -> Account | None:
        doc = await self.mdb.accounts.find_one({"_id": account_id}, _PUBLIC_FIELDS)
        return _account(doc) if doc else None

    async def get_account_by_username(self, username: str) -> Account | None:
        doc = await self.mdb.accounts.find_one({"username_lower": username.lower()}, _PUBLIC_FIELDS)
        return _account(doc) if doc else None

    async def get_password_hash(self, account_id: str) -> str | None:
        doc = await self.mdb.accounts.find_one({"_id": account_id}, {"password_hash": 1})
        return doc["password_hash"] if doc else None

    async def get_private_key(self, account_id: str) -> str | None:
        doc = await self.mdb.accounts.find_one({"_id": account_id}, {"private_key_pem": 1})
        return doc["private_key_pem"] if doc else None

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self.mdb.accounts.update_one(
            {"_id": account_id}, {"$set": {"password_hash": password_hash}}
        )

    async def set_role(self, account_id: str, role: Role) -> None:
        await self.mdb.accounts.update_one({"_id": account_id}, {"$set": {"role": role.value}})

    async def update_account_profile(
        self, account_id: str, *, display_name: str, manually_approves_followers: bool
    ) -> Account | None:
        await self.mdb.accounts.update_one(
            {"_id": account_id},
            {
                "$set": {
                    "display_name": display_name,
                    "manually_approves_followers": manually_approves_followers,
                }
            },
        )
        return await self.get_account(account_id)

    async def count_accounts(self) -> int:
        return await self.mdb.accounts.count_documents({})

    async def create_invite(self, invite: Invite) -> None:
        await self.mdb.invites.insert_one(
            {
                "_id": invite.code,
                "created_by": invite.created_by,
                "max_uses": invite.max_uses,
                "uses_left": invite.uses_left,
                "expires_at": invite.expires_at,
                "created_at": invite.created_at,
            }
        )

    async def get_invite(self, code: str) -> Invite | None:
        doc = await self.mdb.invites.find_one({"_id": code})
        return _invite(doc) if doc else None

    async def list_invites(self, created_by: str | None) -> list[Invite]:
        cursor = self.mdb.invites.find({"created_by": created_by}).sort(
            [("created_at", -1), ("_id", -1)]
        )
        return [_invite(doc) async for doc in cursor]

    async def count_invites(self, created_by: str) -> int:
        return await self.mdb.invites.count_documents({"created_by": created_by})

    async def delete_invite(self, code: str, created_by: str | None) -> bool:
        result = await self.mdb.invites.delete_one({"_id": code, "created_by": created_by})
        return result.deleted_count == 1

    async def create_token(self, token: ApiToken) -> None:
        await self.mdb.api_tokens.insert_one(
            {
                "_id": token.id,
                "account_id": token.account_id,
                "label": token.label,
                "token_hash": token.token_hash,
                "created_at": token.created_at,
            }
        )

    async def get_token_by_hash(self, token_hash: str) -> ApiToken | None:
        doc = await self.mdb.api_tokens.find_one({"token_hash": token_hash})
        return _token(doc) if doc else None

    async def list_tokens(self, account_id: str) -> list[ApiToken]:
        cursor = self.mdb.api_tokens.find({"account_id": account_id}).sort(
            [("created_at", 1), ("_id", 1)]
        )
        return [_token(doc) async for doc in cursor]

    async def delete_token(self, account_id: str, token_id: str) -> bool:
        result = await self.mdb.api_tokens.delete_one({"_id": token_id, "account_id": account_id})
        return result.deleted_count == 1

    async def create_session(self, session: Session) -> None:
        await self.mdb.sessions.insert_one(
            {
                "_id": session.id_hash,
                "account_id": session.account_id,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
            }
        )

    async def get_session(self, id_hash: str) -> Session | None:
        doc = await self.mdb.sessions.find_one({"_id": id_hash})
        if doc is None:
            return None
        created_at, expires_at = as_utc(doc["created_at"]), as_utc(doc["expires_at"])
        assert created_at is not None and expires_at is not None
        return Session(
            id_hash=doc["_id"],
            account_id=doc["account_id"],
            created_at=created_at,
            expires_at=expires_at,
        )

    async def delete_session(self, id_hash: str) -> None:
        await self.mdb.sessions.delete_one({"_id": id_hash})

    async def delete_expired_sessions(self, now: datetime) -> int:
        result = await self.mdb.sessions.delete_many({"expires_at": {"$lte": now}})
        return result.deleted_count
