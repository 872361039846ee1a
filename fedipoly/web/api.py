"""The JSON API under /api/v1/ (bearer tokens). Described by the OpenAPI document in openapi.py."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import PayloadTooLarge, Unauthorized, ValidationFailed
from fedipoly.models import Account, ApiToken, Invite
from fedipoly.web.middlewares import API_TOKEN_KEY, current_account

routes = web.RouteTableDef()

MAX_JSON_BYTES = 64 * 1024


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413 that names the problem."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_JSON_BYTES} bytes")
    raw = await request.read()
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"the request body is larger than {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ValidationFailed("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("the request body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", {"field": name})
    return value


def int_field(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{name} must be an integer", {"field": name})
    return value


def require_account(request: web.Request) -> Account:
    account = current_account(request)
    if account is None:
        raise Unauthorized("this needs an API token: send 'Authorization: Bearer <token>'")
    return account


def account_json(account: Account, *, private: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role.value,
        "created_at": account.created_at.isoformat(),
    }
    if private:
        data["email"] = account.email
    return data


def token_json(token: ApiToken, secret: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": token.id,
        "label": token.label,
        "created_at": token.created_at.isoformat(),
    }
    if secret is not None:
        data["token"] = secret
    return data


def invite_json(invite: Invite) -> dict[str, Any]:
    return {
        "code": invite.code,
        "max_uses": invite.max_uses,
        "uses_left": invite.uses_left,
        "expires_at": invite.expires_at.isoformat() if invite.expires_at else None,
        "created_at": invite.created_at.isoformat(),
    }


@routes.get("/api/v1/instance")
async def instance(request: web.Request) -> web.Response:
    config = request.app[appkeys.CONFIG]
    return web.json_response(
        {
            "domain": config.server.domain,
            "url": config.server.base_url,
            "registration_mode": config.registration.mode,
        }
    )


@routes.post("/api/v1/accounts")
async def register(request: web.Request) -> web.Response:
    body = await read_json(request)
    accounts = request.app[appkeys.ACCOUNTS]
    account = await accounts.register(
        username=text_field(body, "username"),
        email=text_field(body, "email"),
        password=text_field(body, "password"),
        invite_code=text_field(body, "invite_code", required=False) or None,
    )
    issued = await accounts.issue_token(
        account, text_field(body, "token_label", required=False) or "sign-up"
    )
    return web.json_response(
        {
            "account": account_json(account, private=True),
            "token": token_json(issued.token, issued.secret),
        },
        status=201,
    )


@routes.post("/api/v1/auth/token")
async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    accounts = request.app[appkeys.ACCOUNTS]
    account = await accounts.authenticate(
        text_field(body, "username"), text_field(body, "password")
    )
    issued = await accounts.issue_token(
        account, text_field(body, "label", required=False) or "sign-in"
    )
    return web.json_response(token_json(issued.token, issued.secret), status=201)


@routes.delete("/api/v1/auth/token")
async def logout(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.ACCOUNTS].revoke_token(account, request[API_TOKEN_KEY].id)
    return web.Response(status=204)


@routes.get("/api/v1/accounts/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response(account_json(require_account(request), private=True))


@routes.put("/api/v1/accounts/me/password")
async def change_password(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    await request.app[appkeys.ACCOUNTS].change_password(
        account, text_field(body, "current_password"), text_field(body, "new_password")
    )
    return web.Response(status=204)


@routes.get("/api/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[appkeys.ACCOUNTS].list_tokens(require_account(request))
    return web.json_response([token_json(token) for token in tokens])


@routes.post("/api/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    issued = await request.app[appkeys.ACCOUNTS].issue_token(account, text_field(body, "label"))
    return web.json_response(token_json(issued.token, issued.secret), status=201)


@routes.delete("/api/v1/tokens/{token_id}")
async def delete_token(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.ACCOUNTS].revoke_token(account, request.match_info["token_id"])
    return web.Response(status=204)


@routes.get("/api/v1/invites")
async def list_invites(request: web.Request) -> web.Response:
    invites = await request.app[appkeys.ACCOUNTS].list_invites(require_account(request))
    return web.json_response([invite_json(invite) for invite in invites])


@routes.post("/api/v1/invites")
async def create_invite(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    invite = await request.app[appkeys.ACCOUNTS].create_member_invite(
        account, max_uses=int_field(body, "uses", 1)
    )
    return web.json_response(invite_json(invite), status=201)


@routes.delete("/api/v1/invites/{code}")
async def delete_invite(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.ACCOUNTS].delete_invite(account, request.match_info["code"])
    return web.Response(status=204)
