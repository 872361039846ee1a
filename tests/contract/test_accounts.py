"""The account part of the store port, run against every adapter."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from fedipoly.errors import EmailTaken, InvalidInvite, UsernameTaken
from fedipoly.models import ApiToken, Invite, NewAccount, Role, Session, new_id, utc_now
from fedipoly.store import Store


def new_account(username: str, email: str | None = None, role: Role = Role.MEMBER) -> NewAccount:
    now = utc_now()
    return NewAccount(
        id=new_id(now),
        username=username,
        email=email or f"{username}@example.test",
        role=role,
        display_name=username.title(),
        password_hash="$argon2id$fake",
        public_key_pem="PUBLIC",
        private_key_pem="PRIVATE",
        created_at=now,
    )


def invite(
    code: str, uses: int = 1, expires_in: timedelta | None = None, created_by: str | None = None
) -> Invite:
    now = utc_now()
    return Invite(
        code=code,
        created_by=created_by,
        max_uses=uses,
        uses_left=uses,
        expires_at=now + expires_in if expires_in is not None else None,
        created_at=now,
    )


async def test_a_created_account_reads_back_without_its_secrets(store: Store) -> None:
    created = await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    found = await store.get_account_by_username("ALICE")
    assert found == created
    assert found.username == "alice" and found.role is Role.MEMBER
    assert not hasattr(found, "password_hash") and not hasattr(found, "private_key_pem")
    assert await store.get_password_hash(created.id) == "$argon2id$fake"
    assert await store.get_private_key(created.id) == "PRIVATE"
    assert await store.count_accounts() == 1


async def test_usernames_and_emails_are_unique_case_insensitively(store: Store) -> None:
    await store.create_account(
        new_account("alice", "Alice@Example.test"), invite_code=None, now=utc_now()
    )
    with pytest.raises(UsernameTaken):
        await store.create_account(
            new_account("ALICE", "other@example.test"), invite_code=None, now=utc_now()
        )
    with pytest.raises(EmailTaken):
        await store.create_account(
            new_account("bob", "alice@example.TEST"), invite_code=None, now=utc_now()
        )
    assert await store.count_accounts() == 1


async def test_an_invite_use_is_consumed_by_a_sign_up(store: Store) -> None:
    await store.create_invite(invite("code-1", uses=2))
    await store.create_account(new_account("alice"), invite_code="code-1", now=utc_now())
    stored = await store.get_invite("code-1")
    assert stored is not None and stored.uses_left == 1 and stored.max_uses == 2


async def test_unknown_used_up_and_expired_invites_are_refused(store: Store) -> None:
    await store.create_invite(invite("once"))
    await store.create_invite(invite("old", expires_in=timedelta(seconds=-1)))
    await store.create_account(new_account("alice"), invite_code="once", now=utc_now())
    for code in ("once", "old", "nope"):
        with pytest.raises(InvalidInvite):
            await store.create_account(new_account(f"u_{code}"), invite_code=code, now=utc_now())
    assert await store.count_accounts() == 1


async def test_a_failed_sign_up_does_not_spend_the_invite(store: Store) -> None:
    await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    await store.create_invite(invite("code", uses=1))
    with pytest.raises(UsernameTaken):
        await store.create_account(
            new_account("alice", "x@example.test"), invite_code="code", now=utc_now()
        )
    stored = await store.get_invite("code")
    assert stored is not None and stored.uses_left == 1


async def test_a_one_use_invite_raced_by_parallel_sign_ups_admits_exactly_one(store: Store) -> None:
    await store.create_invite(invite("race", uses=1))
    attempts = [
        store.create_account(new_account(f"racer{i}"), invite_code="race", now=utc_now())
        for i in range(8)
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    admitted = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, InvalidInvite)]
    assert len(admitted) == 1 and len(refused) == 7
    assert await store.count_accounts() == 1
    stored = await store.get_invite("race")
    assert stored is not None and stored.uses_left == 0


async def test_invites_are_listed_per_creator_newest_first_and_deletable(store: Store) -> None:
    alice = await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    first = invite("first", created_by=alice.id)
    second = Invite(
        **{
            **first.__dict__,
            "code": "second",
            "created_at": first.created_at + timedelta(seconds=1),
        }
    )
    await store.create_invite(first)
    await store.create_invite(second)
    await store.create_invite(invite("operator"))
    assert [i.code for i in await store.list_invites(alice.id)] == ["second", "first"]
    assert [i.code for i in await store.list_invites(None)] == ["operator"]
    assert await store.count_invites(alice.id) == 2
    assert not await store.delete_invite("operator", alice.id)
    assert await store.delete_invite("first", alice.id)
    assert await store.count_invites(alice.id) == 1


async def test_tokens_are_found_by_hash_listed_and_revoked(store: Store) -> None:
    alice = await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    bob = await store.create_account(new_account("bob"), invite_code=None, now=utc_now())
    token = ApiToken(
        id=new_id(), account_id=alice.id, label="cli", token_hash="h1", created_at=utc_now()
    )
    await store.create_token(token)
    assert await store.get_token_by_hash("h1") == token
    assert await store.list_tokens(alice.id) == [token]
    assert await store.list_tokens(bob.id) == []
    assert not await store.delete_token(bob.id, token.id)
    assert await store.delete_token(alice.id, token.id)
    assert await store.get_token_by_hash("h1") is None


async def test_sessions_expire_and_are_purged(store: Store) -> None:
    alice = await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    now = utc_now()
    live = Session(
        id_hash="live", account_id=alice.id, created_at=now, expires_at=now + timedelta(days=1)
    )
    dead = Session(
        id_hash="dead", account_id=alice.id, created_at=now, expires_at=now - timedelta(seconds=1)
    )
    await store.create_session(live)
    await store.create_session(dead)
    assert await store.get_session("live") == live
    assert await store.delete_expired_sessions(now) == 1
    assert await store.get_session("dead") is None
    await store.delete_session("live")
    assert await store.get_session("live") is None


async def test_roles_and_passwords_can_change(store: Store) -> None:
    alice = await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    await store.set_role(alice.id, Role.MODERATOR)
    await store.set_password_hash(alice.id, "$argon2id$new")
    changed = await store.get_account(alice.id)
    assert changed is not None and changed.role is Role.MODERATOR
    assert await store.get_password_hash(alice.id) == "$argon2id$new"


async def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    version = await store.schema_version()
    assert version >= 1
    await store.open()  # opening again must not re-run or fail
    assert await store.schema_version() == version
    await store.ping()


async def test_a_setting_is_written_once_and_the_first_value_wins(store: Store) -> None:
    assert await store.get_setting("instance_key") is None
    assert await store.put_setting_if_absent("instance_key", "first") == "first"
    assert await store.put_setting_if_absent("instance_key", "second") == "first"
    assert await store.get_setting("instance_key") == "first"


async def test_the_profile_basics_can_change(store: Store) -> None:
    alice = await store.create_account(new_account("alice"), invite_code=None, now=utc_now())
    changed = await store.update_account_profile(
        alice.id, display_name="Alice A.", manually_approves_followers=True
    )
    assert changed is not None
    assert changed.display_name == "Alice A." and changed.manually_approves_followers
    assert await store.get_account(alice.id) == changed
