"""The server-rendered account pages on both backends: sign-up, sign-in, settings, CSRF."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.models import Role
from fedipoly.services.accounts import BOOTSTRAP_INVITE_PREFIX
from fedipoly.web.middlewares import CSRF_COOKIE, SESSION_COOKIE
from tests.fedipoly.web.helpers import (
    PASSWORD,
    account_count,
    bearer,
    config_for,
    csrf_token,
    open_client,
    operator_invite,
    sign_in_page,
    sign_up_page,
    submit,
)


def set_cookie(response: ClientResponse, name: str) -> dict[str, str | bool]:
    """The attributes of the Set-Cookie header for `name` (lower-case keys)."""
    for header in response.headers.getall("Set-Cookie", []):
        parsed = SimpleCookie()
        parsed.load(header)
        if name in parsed:
            morsel = parsed[name]
            return {"value": morsel.value} | {k: v for k, v in morsel.items() if v}
    raise AssertionError(f"no Set-Cookie for {name}")


async def test_sign_up_without_a_valid_invite_is_refused_and_creates_nothing(
    client: TestClient,
) -> None:
    page = await client.get("/signup")
    assert page.status == 200
    assert 'name="invite"' in await page.text()
    missing = await sign_up_page(client, "alice")
    assert missing.status == 400
    assert "an invite code is needed to sign up here" in await missing.text()
    wrong = await sign_up_page(client, "alice", invite="not-a-code")
    assert wrong.status == 400
    assert "this invite code is unknown, used up or expired" in await wrong.text()
    assert SESSION_COOKIE not in {c.key for c in client.session.cookie_jar}
    assert await account_count(client) == 0


async def test_sign_up_signs_in_with_a_safe_session_cookie(client: TestClient) -> None:
    invite = await operator_invite(client)
    answer = await sign_up_page(client, "Alice", invite=invite)
    assert answer.status == 303
    assert answer.headers["Location"] == "/?notice=welcome"
    cookie = set_cookie(answer, SESSION_COOKIE)
    assert cookie["httponly"] is True
    assert str(cookie["samesite"]).lower() == "lax"
    assert "secure" not in cookie  # http:// public_url
    assert cookie["path"] == "/"
    home = await client.get("/?notice=welcome")
    text = await home.text()
    assert "Welcome to Fedipoly!" in text and "@alice@" in text
    account = await client.app[appkeys.ACCOUNTS].get_by_username("alice")
    assert account.role is Role.MEMBER and account.email == "alice@example.test"


async def test_cookies_are_secure_when_the_public_url_is_https(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(
        backend, tmp_path, mongo_url, server={"public_url": "https://social.example"}
    )
    async with open_client(config) as client:
        page = await client.get("/signup")
        assert set_cookie(page, CSRF_COOKIE)["secure"] is True
        # The jar keeps Secure cookies away from this plain-http test server: send them by hand.
        token = set_cookie(page, CSRF_COOKIE)["value"]
        invite = await operator_invite(client)
        answer = await client.post(
            "/signup",
            data={"csrf_token": token, "username": "alice", "email": "a@example.test",
                  "password": PASSWORD, "invite": invite},
            headers={"Cookie": f"{CSRF_COOKIE}={token}"},
            allow_redirects=False,
        )  # fmt: skip
        assert answer.status == 303
        cookie = set_cookie(answer, SESSION_COOKIE)
        assert cookie["secure"] is True and cookie["httponly"] is True
        assert str(cookie["samesite"]).lower() == "lax"


async def test_sign_in_and_sign_out(client: TestClient) -> None:
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    client.session.cookie_jar.clear()
    assert (await client.get("/settings", allow_redirects=False)).status == 303

    wrong = await sign_in_page(client, "alice", "wrong password!")
    assert wrong.status == 401
    assert "wrong username or password" in await wrong.text()
    unknown = await sign_in_page(client, "nobody")
    assert unknown.status == 401

    signed_in = await submit(
        client, "/login", {"username": "ALICE", "password": PASSWORD, "next": "/settings"}
    )
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/settings"
    assert set_cookie(signed_in, SESSION_COOKIE)["httponly"] is True
    settings = await client.get("/settings")
    assert settings.status == 200 and "@alice" in await settings.text()

    signed_out = await submit(client, "/logout", {}, form_page="/settings")
    assert signed_out.status == 303
    after = await client.get("/settings", allow_redirects=False)
    assert after.status == 303 and after.headers["Location"].startswith("/login")


async def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = await submit(
            client, "/login", {"username": "alice", "password": PASSWORD, "next": target}
        )
        assert answer.headers["Location"] == "/"


async def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(client: TestClient) -> None:
    invite = await operator_invite(client)
    await csrf_token(client, "/signup")  # the browser has the CSRF cookie
    fields = {"username": "alice", "email": "a@example.test", "password": PASSWORD,
              "invite": invite}  # fmt: skip
    for extra in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        answer = await client.post(
            "/signup", data=fields | extra, headers={"Accept": "text/html"}, allow_redirects=False
        )
        assert answer.status == 403
        assert "the form expired or came from another site" in await answer.text()
    # Another site's page posts with no CSRF cookie at all (and a token it made up).
    client.session.cookie_jar.clear()
    forged = await client.post(
        "/signup", data=fields | {"csrf_token": "forged"}, allow_redirects=False
    )
    assert forged.status == 403
    assert await account_count(client) == 0
    stored = await client.app[appkeys.STORE].get_invite(invite)
    assert stored is not None and stored.uses_left == 1


async def test_csrf_protects_signed_in_forms_too(client: TestClient) -> None:
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    await csrf_token(client, "/settings")
    for path, fields in (
        ("/settings/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
        ("/settings/tokens", {"label": "sneaky"}),
        ("/settings/invites", {}),
        ("/logout", {}),
    ):
        answer = await client.post(
            path, data=fields | {"csrf_token": "forged"}, allow_redirects=False
        )
        assert answer.status == 403, path
    account = await client.app[appkeys.ACCOUNTS].authenticate("alice", PASSWORD)
    accounts = client.app[appkeys.ACCOUNTS]
    assert await accounts.list_tokens(account) == []
    assert await accounts.list_invites(account) == []
    assert (await client.get("/settings")).status == 200  # still signed in


async def test_settings_change_the_password(client: TestClient) -> None:
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    wrong = await submit(
        client,
        "/settings/password",
        {"current_password": "not my password", "new_password": "a new password"},
        form_page="/settings",
    )
    assert wrong.status == 400 and "the current password is wrong" in await wrong.text()
    short = await submit(
        client,
        "/settings/password",
        {"current_password": PASSWORD, "new_password": "short"},
        form_page="/settings",
    )
    assert short.status == 400
    changed = await submit(
        client,
        "/settings/password",
        {"current_password": PASSWORD, "new_password": "a new password"},
        form_page="/settings",
    )
    assert changed.status == 303 and changed.headers["Location"] == "/settings?notice=password"
    client.session.cookie_jar.clear()
    assert (await sign_in_page(client, "alice")).status == 401
    assert (await sign_in_page(client, "alice", "a new password")).status == 303


async def test_settings_create_a_token_shown_once_and_revoke_it(client: TestClient) -> None:
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    created = await submit(
        client, "/settings/tokens", {"label": "my script"}, form_page="/settings"
    )
    assert created.status == 200
    page = await created.text()
    secret = page.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert secret.startswith("fp_")
    assert "it will not be shown again" in page
    again = await (await client.get("/settings")).text()
    assert secret not in again and "my script" in again

    me = await client.get("/api/v1/accounts/me", headers=bearer(secret))
    assert me.status == 200
    token_id = (await (await client.get("/api/v1/tokens", headers=bearer(secret))).json())[0]["id"]
    revoked = await submit(client, f"/settings/tokens/{token_id}/delete", {}, form_page="/settings")
    assert revoked.status == 303
    assert (await client.get("/api/v1/accounts/me", headers=bearer(secret))).status == 401
    unknown = await submit(client, "/settings/tokens/nope/delete", {}, form_page="/settings")
    assert unknown.status == 404


async def test_an_empty_token_label_is_refused(client: TestClient) -> None:
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    answer = await submit(client, "/settings/tokens", {"label": "  "}, form_page="/settings")
    assert answer.status == 400 and "a token label has 1 to 100 characters" in await answer.text()


async def test_members_create_invites_up_to_their_limit(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(backend, tmp_path, mongo_url, registration={"invites_per_member": 2})
    async with open_client(config) as client:
        await sign_up_page(client, "alice", invite=await operator_invite(client))
        for _ in range(2):
            made = await submit(client, "/settings/invites", {}, form_page="/settings")
            assert made.status == 303 and made.headers["Location"] == "/settings?notice=invite"
        refused = await submit(client, "/settings/invites", {}, form_page="/settings")
        assert refused.status == 403
        assert "you can hold at most 2 invite codes" in await refused.text()
        alice = await client.app[appkeys.ACCOUNTS].get_by_username("alice")
        invites = await client.app[appkeys.ACCOUNTS].list_invites(alice)
        assert len(invites) == 2

        # A member's invite signs someone up; deleting one makes room for a new one.
        client.session.cookie_jar.clear()
        assert (await sign_up_page(client, "bob", invite=invites[0].code)).status == 303
        client.session.cookie_jar.clear()
        await sign_in_page(client, "alice")
        page = await (await client.get("/settings")).text()
        assert invites[1].code in page
        deleted = await submit(
            client, f"/settings/invites/{invites[1].code}/delete", {}, form_page="/settings"
        )
        assert deleted.status == 303
        assert (await submit(client, "/settings/invites", {}, form_page="/settings")).status == 303


async def test_a_one_use_invite_raced_by_two_sign_ups_admits_exactly_one(
    client: TestClient,
) -> None:
    invite = await operator_invite(client)
    token = await csrf_token(client, "/signup")

    async def attempt(name: str) -> ClientResponse:
        return await client.post(
            "/signup",
            data={"csrf_token": token, "username": name, "email": f"{name}@example.test",
                  "password": PASSWORD, "invite": invite},
            allow_redirects=False,
        )  # fmt: skip

    answers = await asyncio.gather(attempt("racer_a"), attempt("racer_b"))
    assert sorted(answer.status for answer in answers) == [303, 400]
    refused = next(answer for answer in answers if answer.status == 400)
    assert "used up" in await refused.text()
    assert await account_count(client) == 1


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("admin", "the username 'admin' is reserved"),
        ("inbox", "the username 'inbox' is reserved"),
        ("well_known", "the username 'well_known' is reserved"),
        ("Bad Name", "a username is 1 to 30 characters"),
        ("al-ice", "a username is 1 to 30 characters"),
        ("élise", "a username is 1 to 30 characters"),
        ("x" * 31, "a username is 1 to 30 characters"),
        ("", "a username is 1 to 30 characters"),
    ],
)
async def test_reserved_and_malformed_usernames_are_refused(
    client: TestClient, username: str, message: str
) -> None:
    invite = await operator_invite(client)
    answer = await sign_up_page(client, username, invite=invite, email="someone@example.test")
    assert answer.status == 400
    assert message in (await answer.text()).replace("&#39;", "'")
    assert await account_count(client) == 0


async def test_usernames_are_unique_case_insensitively(client: TestClient) -> None:
    invite = await operator_invite(client, uses=3)
    assert (await sign_up_page(client, "Alice", invite=invite)).status == 303
    client.session.cookie_jar.clear()
    again = await sign_up_page(client, "alice", invite=invite, email="other@example.test")
    assert again.status == 409
    assert "the username &#39;alice&#39; is taken" in await again.text()
    assert await account_count(client) == 1
    stored = await client.app[appkeys.STORE].get_invite(invite)
    assert stored is not None and stored.uses_left == 2  # the refused sign-up spent nothing


@pytest.mark.parametrize("mode", ["invite", "open", "closed"])
async def test_the_bootstrap_link_makes_the_first_account_admin_in_every_mode(
    backend: str, tmp_path: Path, mongo_url: str | None, mode: str
) -> None:
    config = config_for(backend, tmp_path, mongo_url, registration={"mode": mode})
    async with open_client(config) as client:
        accounts = client.app[appkeys.ACCOUNTS]
        invite = await accounts.ensure_bootstrap_invite()
        assert invite is not None and invite.code.startswith(BOOTSTRAP_INVITE_PREFIX)
        assert invite.max_uses == 1 and invite.created_by is None and invite.expires_at is None
        assert (await accounts.ensure_bootstrap_invite()) == invite  # restarts reuse it
        form = await (await client.get(f"/signup?invite={invite.code}")).text()
        assert f'name="invite" required value="{invite.code}"' in form
        assert (await sign_up_page(client, "owner", invite=invite.code)).status == 303
        assert (await accounts.get_by_username("owner")).role is Role.ADMIN
        assert await accounts.ensure_bootstrap_invite() is None


async def test_an_ordinary_operator_invite_does_not_make_an_admin(client: TestClient) -> None:
    assert (await sign_up_page(client, "first", invite=await operator_invite(client))).status == 303
    account = await client.app[appkeys.ACCOUNTS].get_by_username("first")
    assert account.role is Role.MEMBER


async def test_a_bootstrap_link_used_after_someone_signed_up_makes_a_member(
    client: TestClient,
) -> None:
    accounts = client.app[appkeys.ACCOUNTS]
    bootstrap = await accounts.ensure_bootstrap_invite()
    assert bootstrap is not None
    await sign_up_page(client, "early", invite=await operator_invite(client))
    client.session.cookie_jar.clear()
    assert (await sign_up_page(client, "late", invite=bootstrap.code)).status == 303
    assert (await accounts.get_by_username("late")).role is Role.MEMBER


async def test_unused_bootstrap_invites_are_removed_once_accounts_exist(
    client: TestClient,
) -> None:
    accounts = client.app[appkeys.ACCOUNTS]
    bootstrap = await accounts.ensure_bootstrap_invite()
    assert bootstrap is not None
    await sign_up_page(client, "someone", invite=await operator_invite(client))
    assert await accounts.ensure_bootstrap_invite() is None
    assert await client.app[appkeys.STORE].get_invite(bootstrap.code) is None


async def test_closed_registration_refuses_sign_ups(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(backend, tmp_path, mongo_url, registration={"mode": "closed"})
    async with open_client(config) as client:
        page = await (await client.get("/signup")).text()
        assert "Registration is closed on this server." in page
        token = await csrf_token(client)
        answer = await client.post(
            "/signup",
            data={"csrf_token": token, "username": "alice", "email": "a@example.test",
                  "password": PASSWORD, "invite": await operator_invite(client)},
            allow_redirects=False,
        )  # fmt: skip
        assert answer.status == 403
        assert "registration is closed" in await answer.text()
        assert await account_count(client) == 0


async def test_open_registration_needs_no_invite(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(backend, tmp_path, mongo_url, registration={"mode": "open"})
    async with open_client(config) as client:
        assert 'name="invite"' not in await (await client.get("/signup")).text()
        assert (await sign_up_page(client, "alice")).status == 303


async def test_only_pages_set_the_csrf_cookie(client: TestClient) -> None:
    """Forms live on pages; JSON, WebFinger and ActivityPub answers carry no Set-Cookie."""
    await sign_up_page(client, "alice", invite=await operator_invite(client))
    client.session.cookie_jar.clear()
    domain = client.app[appkeys.URLS].domain
    for path, accept in (
        (f"/.well-known/webfinger?resource=acct:alice@{domain}", "application/jrd+json"),
        ("/users/alice", "application/activity+json"),
        ("/nodeinfo/2.1", "application/json"),
        ("/healthz", "application/json"),
    ):
        answer = await client.get(path, headers={"Accept": accept})
        assert answer.status == 200, path
        assert "Set-Cookie" not in answer.headers, path
    page = await client.get("/login", headers={"Accept": "text/html"})
    assert set_cookie(page, CSRF_COOKIE)["httponly"]
