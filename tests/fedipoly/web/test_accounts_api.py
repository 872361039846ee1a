"""The JSON API for accounts, tokens and invites on both backends, errors included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from fedipoly.web.middlewares import SESSION_COOKIE
from tests.fedipoly.web.helpers import (
    PASSWORD,
    account_count,
    bearer,
    config_for,
    member_token,
    open_client,
    operator_invite,
    sign_up_api,
    sign_up_page,
)


async def error_of(response: ClientResponse, status: int, message: str = "") -> Any:
    """Check an API error: the status, a JSON body of exactly {error, detail}; returns detail."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert message in body["error"], body
    return body["detail"]


async def test_instance_facts_need_no_token(client: TestClient) -> None:
    answer = await client.get("/api/v1/instance")
    assert answer.status == 200
    body = await answer.json()
    assert body["registration_mode"] == "invite"
    assert body["url"].startswith("http://") and body["domain"] in body["url"]


async def test_sign_up_returns_the_account_and_a_working_token(client: TestClient) -> None:
    answer = await sign_up_api(client, "alice", invite=await operator_invite(client))
    assert answer.status == 201
    body = await answer.json()
    assert body["account"]["username"] == "alice"
    assert body["account"]["email"] == "alice@example.test"
    assert body["account"]["role"] == "member"
    assert body["token"]["label"] == "sign-up" and body["token"]["token"].startswith("fp_")
    me = await client.get("/api/v1/accounts/me", headers=bearer(body["token"]["token"]))
    assert me.status == 200
    assert (await me.json())["id"] == body["account"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "message", "detail"),
    [
        ({"username": "alice", "email": "a@example.test", "password": PASSWORD}, 400,
         "an invite code is needed", {"field": "invite"}),
        ({"username": "alice", "email": "a@example.test", "password": PASSWORD,
          "invite_code": "nope"}, 400, "unknown, used up or expired", None),
        ({"username": "api", "email": "a@example.test", "password": PASSWORD,
          "invite_code": "INVITE"}, 400, "the username 'api' is reserved", {"field": "username"}),
        ({"username": "alice", "email": "not an email", "password": PASSWORD,
          "invite_code": "INVITE"}, 400, "not a valid email address", {"field": "email"}),
        ({"username": "alice", "email": "a@example.test", "password": "short",
          "invite_code": "INVITE"}, 400, "a password has 10 to", {"field": "password"}),
        ({"username": 5, "email": "a@example.test", "password": PASSWORD}, 400,
         "username must be a string", {"field": "username"}),
        ({"email": "a@example.test", "password": PASSWORD}, 400,
         "username must be a string", {"field": "username"}),
    ],
)  # fmt: skip
async def test_bad_sign_ups_are_refused_and_create_nothing(
    client: TestClient, body: dict[str, Any], status: int, message: str, detail: Any
) -> None:
    if body.get("invite_code") == "INVITE":
        body = body | {"invite_code": await operator_invite(client)}
    answer = await client.post("/api/v1/accounts", json=body)
    assert await error_of(answer, status, message) == detail
    assert await account_count(client) == 0


async def test_taken_usernames_and_emails_conflict(client: TestClient) -> None:
    invite = await operator_invite(client, uses=5)
    assert (await sign_up_api(client, "Alice", invite=invite)).status == 201
    taken = await sign_up_api(client, "ALICE", invite=invite, email="other@example.test")
    await error_of(taken, 409, "the username 'alice' is taken")
    again = await client.post(
        "/api/v1/accounts",
        json={"username": "bob", "email": "ALICE@example.test", "password": PASSWORD,
              "invite_code": invite},
    )  # fmt: skip
    await error_of(again, 409, "an account with this email address exists")
    assert await account_count(client) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "the request body is not valid JSON"),
        (b"\xff\xfe", "the request body is not valid JSON"),
        (b"[1, 2]", "the request body must be a JSON object"),
        (b'"text"', "the request body must be a JSON object"),
    ],
)
async def test_invalid_json_is_a_400(client: TestClient, data: bytes, message: str) -> None:
    answer = await client.post(
        "/api/v1/accounts", data=data, headers={"Content-Type": "application/json"}
    )
    await error_of(answer, 400, message)


async def test_a_too_large_body_is_a_413(client: TestClient) -> None:
    body = json.dumps({"username": "alice", "padding": "x" * 70_000}).encode()
    answer = await client.post(
        "/api/v1/accounts", data=body, headers={"Content-Type": "application/json"}
    )
    await error_of(answer, 413, "larger than")

    async def chunks() -> Any:  # no Content-Length: the size is counted while reading
        for _ in range(10):
            yield b" " * 10_000

    streamed = await client.post(
        "/api/v1/accounts", data=chunks(), headers={"Content-Type": "application/json"}
    )
    await error_of(streamed, 413, "larger than")
    assert await account_count(client) == 0


async def test_closed_registration_is_a_403(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(backend, tmp_path, mongo_url, registration={"mode": "closed"})
    async with open_client(config) as client:
        answer = await sign_up_api(client, "alice", invite=await operator_invite(client))
        await error_of(answer, 403, "registration is closed")


async def test_sign_in_issues_a_token_and_sign_out_revokes_it(client: TestClient) -> None:
    await member_token(client, "alice")
    wrong = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "wrong password"}
    )
    await error_of(wrong, 401, "wrong username or password")
    unknown = await client.post("/api/v1/auth/token", json={"username": "zed", "password": "x"})
    await error_of(unknown, 401, "wrong username or password")
    await error_of(
        await client.post("/api/v1/auth/token", json={"username": "alice"}),
        400,
        "password must be a string",
    )

    signed_in = await client.post(
        "/api/v1/auth/token", json={"username": "Alice", "password": PASSWORD, "label": "phone"}
    )
    assert signed_in.status == 201
    token = await signed_in.json()
    assert token["label"] == "phone" and token["token"].startswith("fp_")

    assert (await client.delete("/api/v1/auth/token", headers=bearer(token["token"]))).status == 204
    revoked = await client.get("/api/v1/accounts/me", headers=bearer(token["token"]))
    await error_of(revoked, 401, "the bearer token is invalid or revoked")
    await error_of(await client.delete("/api/v1/auth/token"), 401, "needs an API token")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer fp_not_a_real_token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="},
    ],
)
async def test_endpoints_that_need_a_token_answer_401_without_one(
    client: TestClient, headers: dict[str, str]
) -> None:
    for method, path in [
        ("GET", "/api/v1/accounts/me"),
        ("PUT", "/api/v1/accounts/me/password"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/x"),
        ("GET", "/api/v1/invites"),
        ("POST", "/api/v1/invites"),
        ("DELETE", "/api/v1/invites/x"),
        ("DELETE", "/api/v1/auth/token"),
    ]:
        answer = await client.request(method, path, json={}, headers=headers)
        await error_of(answer, 401)


async def test_the_api_ignores_the_session_cookie(client: TestClient) -> None:
    """A page on another site can't drive the API with a visitor's browser session."""
    answer = await sign_up_page(client, "alice", invite=await operator_invite(client))
    assert answer.status == 303
    assert SESSION_COOKIE in {cookie.key for cookie in client.session.cookie_jar}
    assert (await client.get("/settings")).status == 200  # the cookie works for pages
    await error_of(await client.get("/api/v1/accounts/me"), 401, "needs an API token")
    created = await client.post("/api/v1/tokens", json={"label": "csrf"})
    await error_of(created, 401)


async def test_tokens_are_listed_without_secrets_and_revoked(client: TestClient) -> None:
    token = await member_token(client, "alice")
    made = await client.post("/api/v1/tokens", json={"label": "ci"}, headers=bearer(token))
    assert made.status == 201
    ci = await made.json()
    listed = await (await client.get("/api/v1/tokens", headers=bearer(token))).json()
    assert [t["label"] for t in listed] == ["sign-up", "ci"]
    assert all("token" not in t for t in listed)
    await error_of(
        await client.post("/api/v1/tokens", json={"label": ""}, headers=bearer(token)),
        400,
        "a token label has 1 to 100 characters",
    )
    await error_of(
        await client.post("/api/v1/tokens", json={}, headers=bearer(token)),
        400,
        "label must be a string",
    )
    assert (await client.delete(f"/api/v1/tokens/{ci['id']}", headers=bearer(token))).status == 204
    await error_of(await client.get("/api/v1/tokens", headers=bearer(ci["token"])), 401)
    await error_of(
        await client.delete(f"/api/v1/tokens/{ci['id']}", headers=bearer(token)), 404, "no such"
    )


async def test_a_member_cannot_revoke_someone_elses_token(client: TestClient) -> None:
    alice = await member_token(client, "alice")
    bob = await member_token(client, "bob")
    bobs = await (await client.get("/api/v1/tokens", headers=bearer(bob))).json()
    answer = await client.delete(f"/api/v1/tokens/{bobs[0]['id']}", headers=bearer(alice))
    await error_of(answer, 404)
    assert (await client.get("/api/v1/accounts/me", headers=bearer(bob))).status == 200


async def test_the_password_changes_through_the_api(client: TestClient) -> None:
    token = await member_token(client, "alice")
    wrong = await client.put(
        "/api/v1/accounts/me/password",
        json={"current_password": "wrong password", "new_password": "another password"},
        headers=bearer(token),
    )
    assert await error_of(wrong, 400, "the current password is wrong") == {
        "field": "current_password"
    }
    changed = await client.put(
        "/api/v1/accounts/me/password",
        json={"current_password": PASSWORD, "new_password": "another password"},
        headers=bearer(token),
    )
    assert changed.status == 204
    old = await client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    await error_of(old, 401)
    new = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "another password"}
    )
    assert new.status == 201


async def test_invites_through_the_api_up_to_the_limit(
    backend: str, tmp_path: Path, mongo_url: str | None
) -> None:
    config = config_for(
        backend, tmp_path, mongo_url, registration={"invites_per_member": 2, "invite_max_uses": 3}
    )
    async with open_client(config) as client:
        token = await member_token(client, "alice")
        made = await client.post("/api/v1/invites", json={"uses": 3}, headers=bearer(token))
        assert made.status == 201
        invite = await made.json()
        assert invite["max_uses"] == invite["uses_left"] == 3 and invite["expires_at"] is None
        for uses, message in ((4, "an invite has 1 to 3 uses"), (0, "an invite has 1 to 3 uses"),
                              ("2", "uses must be an integer"), (True, "uses must be an integer")):  # fmt: skip
            answer = await client.post(
                "/api/v1/invites", json={"uses": uses}, headers=bearer(token)
            )
            await error_of(answer, 400, message)
        assert (await client.post("/api/v1/invites", json={}, headers=bearer(token))).status == 201
        refused = await client.post("/api/v1/invites", json={}, headers=bearer(token))
        await error_of(refused, 403, "you can hold at most 2 invite codes")

        listed = await (await client.get("/api/v1/invites", headers=bearer(token))).json()
        assert len(listed) == 2 and invite["code"] in {i["code"] for i in listed}
        assert (await sign_up_api(client, "bob", invite=invite["code"])).status == 201
        bob = await client.post(
            "/api/v1/auth/token", json={"username": "bob", "password": PASSWORD}
        )
        bob_token = (await bob.json())["token"]
        stranger = await client.delete(
            f"/api/v1/invites/{invite['code']}", headers=bearer(bob_token)
        )
        await error_of(stranger, 404, "no such invite")
        deleted = await client.delete(f"/api/v1/invites/{invite['code']}", headers=bearer(token))
        assert deleted.status == 204
        await error_of(await sign_up_api(client, "carol", invite=invite["code"]), 400)


async def test_unknown_routes_and_methods_are_json_errors(client: TestClient) -> None:
    await error_of(await client.get("/api/v1/nothing-here"), 404)
    wrong_method = await client.patch("/api/v1/instance", headers={"Accept": "text/html"})
    await error_of(wrong_method, 405)
    assert "GET" in wrong_method.headers["Allow"]


async def test_page_errors_are_html_for_browsers_and_json_for_others(client: TestClient) -> None:
    page = await client.get("/settings/nothing", headers={"Accept": "text/html"})
    assert page.status == 404 and page.content_type == "text/html"
    assert "Something went wrong (404)" in await page.text()
    await error_of(await client.get("/settings/nothing"), 404)
