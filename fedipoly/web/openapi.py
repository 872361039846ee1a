"""The OpenAPI 3.1 document for /api/v1/, served at /api/openapi.json.

A test compares it with the router, so every API route is documented and nothing else is.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from fedipoly import appkeys

routes = web.RouteTableDef()

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _ok(
    description: str, schema: dict[str, Any] | None = None, status: str = "200"
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    return {status: response}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Invalid input; nothing was changed",
        401: "Missing, invalid or revoked token, or wrong credentials",
        403: "Not allowed",
        404: "Not found",
        409: "Conflicts with existing data (e.g. username taken)",
        413: "Request body too large",
        503: "The database is unavailable; retry after Retry-After seconds",
    }
    return {
        str(status): {"description": texts[status], "content": {JSON: {"schema": _ref("Error")}}}
        for status in statuses
    }


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    auth: bool = True,
    tag: str = "accounts",
) -> dict[str, Any]:
    """One operation. The errors every operation of its kind can answer are added here: 400 and
    413 for a JSON body, 401 when a token is needed, 503 when the database does not answer."""
    implied = [400, 413] if body is not None else []
    implied += [401] if auth else []
    responses = _errors(*implied, 503) | responses
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        operation["requestBody"] = _body(body)
    operation["security"] = [{"bearer": []}] if auth else []
    return operation


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


STRING = {"type": "string"}
DATE_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {"error": STRING, "detail": {"description": "Extra facts, e.g. the field at fault"}},
        ["error"],
    ),
    "Account": _object(
        {
            "id": STRING,
            "username": {"type": "string", "pattern": "^[a-z0-9_]{1,30}$"},
            "display_name": STRING,
            "role": {"type": "string", "enum": ["admin", "moderator", "member"]},
            "email": {"type": "string", "description": "Only on your own account"},
            "created_at": DATE_TIME,
        },
        ["id", "username", "display_name", "role", "created_at"],
    ),
    "Token": _object(
        {
            "id": STRING,
            "label": STRING,
            "created_at": DATE_TIME,
            "token": {"type": "string", "description": "The secret; returned only on creation"},
        },
        ["id", "label", "created_at"],
    ),
    "Invite": _object(
        {
            "code": STRING,
            "max_uses": {"type": "integer"},
            "uses_left": {"type": "integer"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "created_at": DATE_TIME,
        },
        ["code", "max_uses", "uses_left", "expires_at", "created_at"],
    ),
    "Instance": _object(
        {
            "domain": STRING,
            "url": STRING,
            "registration_mode": {"type": "string", "enum": ["invite", "open", "closed"]},
        },
        ["domain", "url", "registration_mode"],
    ),
}

PATHS: dict[str, Any] = {
    "/api/v1/instance": {
        "get": _op(
            "About this server", _ok("Instance facts", _ref("Instance")), auth=False, tag="instance"
        ),
    },
    "/api/v1/accounts": {
        "post": _op(
            "Sign up (needs an invite code in invite mode); returns the account and a token",
            _ok(
                "Created",
                _object({"account": _ref("Account"), "token": _ref("Token")}),
                status="201",
            )
            | _errors(400, 403, 409, 413),
            body=_object(
                {
                    "username": STRING,
                    "email": STRING,
                    "password": {"type": "string", "minLength": 10},
                    "invite_code": STRING,
                    "token_label": STRING,
                },
                ["username", "email", "password"],
            ),
            auth=False,
        ),
    },
    "/api/v1/auth/token": {
        "post": _op(
            "Sign in: exchange username and password for a new API token",
            _ok("Created", _ref("Token"), status="201") | _errors(400, 401, 403),
            body=_object(
                {"username": STRING, "password": STRING, "label": STRING}, ["username", "password"]
            ),
            auth=False,
        ),
        "delete": _op(
            "Sign out: revoke the token used for this request",
            _ok("Revoked", status="204") | _errors(401),
        ),
    },
    "/api/v1/accounts/me": {
        "get": _op("Your account", _ok("Your account", _ref("Account")) | _errors(401)),
    },
    "/api/v1/accounts/me/password": {
        "put": _op(
            "Change your password",
            _ok("Changed", status="204") | _errors(400, 401),
            body=_object(
                {"current_password": STRING, "new_password": STRING},
                ["current_password", "new_password"],
            ),
        ),
    },
    "/api/v1/tokens": {
        "get": _op(
            "Your API tokens (without secrets)",
            _ok("Tokens", {"type": "array", "items": _ref("Token")}) | _errors(401),
        ),
        "post": _op(
            "Create an API token; the secret is shown once",
            _ok("Created", _ref("Token"), status="201") | _errors(400, 401),
            body=_object({"label": STRING}, ["label"]),
        ),
    },
    "/api/v1/tokens/{token_id}": {
        "delete": _op(
            "Revoke one of your tokens", _ok("Revoked", status="204") | _errors(401, 404)
        ),
    },
    "/api/v1/invites": {
        "get": _op(
            "Your invite codes",
            _ok("Invites", {"type": "array", "items": _ref("Invite")}) | _errors(401),
        ),
        "post": _op(
            "Create a personal invite code (limited per member)",
            _ok("Created", _ref("Invite"), status="201") | _errors(400, 401, 403),
            body=_object({"uses": {"type": "integer", "minimum": 1}}),
        ),
    },
    "/api/v1/invites/{code}": {
        "delete": _op(
            "Delete one of your invite codes", _ok("Deleted", status="204") | _errors(401, 404)
        ),
    },
}


def _with_path_parameters(paths: dict[str, Any]) -> dict[str, Any]:
    """Declare every `{name}` of a path template as a required string path parameter."""
    declared: dict[str, Any] = {}
    for path, item in paths.items():
        names = re.findall(r"{(\w+)}", path)
        if names:
            parameters = [
                {"name": name, "in": "path", "required": True, "schema": STRING} for name in names
            ]
            item = {"parameters": parameters} | item
        declared[path] = item
    return declared


def build_document(base_url: str) -> dict[str, Any]:
    # Imported here: openapi_social builds its paths with this module's helpers.
    from fedipoly.web.openapi_badge_federation import (
        BADGE_FEDERATION_PATHS,
        BADGE_FEDERATION_SCHEMAS,
    )
    from fedipoly.web.openapi_badges import BADGE_PATHS, BADGE_SCHEMAS
    from fedipoly.web.openapi_collab import COLLAB_PATHS, COLLAB_SCHEMAS
    from fedipoly.web.openapi_moderation import MODERATION_PATHS, MODERATION_SCHEMAS
    from fedipoly.web.openapi_social import SOCIAL_PATHS, SOCIAL_SCHEMAS

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fedipoly API",
            "version": "1",
            "description": "Everything the web interface does. Errors are JSON "
            '{"error": "...", "detail": ...} with a 4xx or 503 status.',
        },
        "servers": [{"url": base_url}],
        "paths": _with_path_parameters(
            PATHS
            | SOCIAL_PATHS
            | BADGE_PATHS
            | BADGE_FEDERATION_PATHS
            | MODERATION_PATHS
            | COLLAB_PATHS
        ),
        "components": {
            "schemas": SCHEMAS
            | SOCIAL_SCHEMAS
            | BADGE_SCHEMAS
            | BADGE_FEDERATION_SCHEMAS
            | MODERATION_SCHEMAS
            | COLLAB_SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@routes.get("/api/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    config = request.app[appkeys.CONFIG]
    return web.json_response(build_document(config.server.base_url))
