"""Middlewares: error mapping, who is asking (session cookie or bearer token), CSRF, headers."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from fedipoly import appkeys
from fedipoly.errors import FedipolyError, RateLimited, StoreUnavailable
from fedipoly.models import Account, ApiToken

log = logging.getLogger(__name__)

SESSION_COOKIE = "fedipoly_session"
CSRF_COOKIE = "fedipoly_csrf"
CSRF_FIELD = "csrf_token"
# Per-request state set by the middlewares below (typed keys, as aiohttp recommends).
ACCOUNT_KEY: web.RequestKey[Account | None] = web.RequestKey("account")
API_TOKEN_KEY = web.RequestKey("api_token", ApiToken)
CSRF_KEY = web.RequestKey("csrf_token", str)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_api_request(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, message: str, detail: Any = None, **headers: str) -> web.Response:
    return web.json_response(
        {"error": message, "detail": detail}, status=status, headers=headers or None
    )


def _error_response(
    request: web.Request, status: int, message: str, detail: Any, headers: dict[str, str]
) -> web.StreamResponse:
    if is_api_request(request) or "text/html" not in request.headers.get("Accept", ""):
        return json_error(status, message, detail, **headers)
    response = aiohttp_jinja2.render_template(
        "error.html",
        request,
        base_template_context(request) | {"status": status, "message": message},
        status=status,
    )
    response.headers.update(headers)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place where application errors become HTTP responses."""
    try:
        return await handler(request)
    except StoreUnavailable as error:
        log.warning("store unavailable: %s", error.message)
        return _error_response(
            request,
            503,
            "the server's database is unavailable; try again shortly",
            None,
            {"Retry-After": str(error.retry_after_seconds)},
        )
    except RateLimited as error:
        retry = error.retry_after_seconds
        headers = {"Retry-After": str(retry)} if retry is not None else {}
        return _error_response(request, error.status, error.message, error.detail, headers)
    except FedipolyError as error:
        return _error_response(request, error.status, error.message, error.detail, {})
    except web.HTTPException as error:
        if error.status < 400:
            raise
        kept = {name: error.headers[name] for name in ("Allow",) if name in error.headers}
        return _error_response(request, error.status, error.reason, None, kept)


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers authenticate with the session cookie, API clients with a bearer token only.

    The API never accepts the cookie, so a third-party page cannot drive it with a visitor's
    session: CSRF protection is only needed (and enforced) for the HTML forms.
    """
    accounts = request.app[appkeys.ACCOUNTS]
    account: Account | None = None
    if is_api_request(request):
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            found = await accounts.account_for_token(authorization[7:].strip())
            if found is None:
                return json_error(401, "the bearer token is invalid or revoked")
            account, token = found
            request[API_TOKEN_KEY] = token
    else:
        cookie = request_cookie(request, SESSION_COOKIE)
        if cookie:
            account = await accounts.account_for_session(cookie)
    request[ACCOUNT_KEY] = account
    return await handler(request)


def request_cookie(request: web.Request, name: str) -> str | None:
    """A cookie's value; federation requests carry none, so they skip the cookie parse."""
    if "Cookie" not in request.headers:
        return None
    return request.cookies.get(name)


def csrf_exempt(request: web.Request) -> bool:
    """The API (bearer tokens) and ActivityPub inboxes (HTTP signatures) don't use cookies."""
    return is_api_request(request) or request.path == "/inbox" or request.path.endswith("/inbox")


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Double-submit token: a random HttpOnly cookie echoed in every form as a hidden field.

    Without the cookie, a token is drawn only when a page needs one (`csrf_token`): most
    requests without it are federation GETs answering JSON."""
    cookie_token = request_cookie(request, CSRF_COOKIE)
    if cookie_token:
        request[CSRF_KEY] = cookie_token
    if request.method in UNSAFE_METHODS and not csrf_exempt(request):
        form = await request.post()
        submitted = form.get(CSRF_FIELD)
        if (
            not cookie_token
            or not isinstance(submitted, str)
            or not hmac.compare_digest(submitted, cookie_token)
        ):
            return _error_response(
                request,
                403,
                "the form expired or came from another site; reload and retry",
                None,
                {},
            )
    response = await handler(request)
    # Only pages carry forms; JSON, ActivityPub and media answers don't need the cookie, and
    # setting it there costs every federation GET a random draw and a Set-Cookie header.
    if not cookie_token and not response.prepared and response.content_type == "text/html":
        config = request.app[appkeys.CONFIG]
        response.set_cookie(
            CSRF_COOKIE,
            csrf_token(request),
            httponly=True,
            samesite="Lax",
            secure=config.server.is_https,
            path="/",
        )
    return response


# In JSON these characters only occur inside strings, where \uXXXX means the same: escaped, no
# byte of an API answer can read as markup to a client that sniffs or embeds it (as Rails does).
JSON_MARKUP_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    (b"'", b"\\u0027"),
)


def escape_json_markup(response: web.StreamResponse) -> None:
    if (
        isinstance(response, web.Response)
        and response.content_type == "application/json"
        and isinstance(response.body, bytes)
    ):
        body = response.body
        for raw, escaped in JSON_MARKUP_ESCAPES:
            body = body.replace(raw, escaped)
        response.body = body


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost, so error pages and error JSON get the headers too."""
    response = await handler(request)
    if not response.prepared:
        if is_api_request(request):
            escape_json_markup(response)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.content_type == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            )
            response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def csrf_token(request: web.Request) -> str:
    """The request's CSRF token: the cookie's, or one drawn now (and set as the cookie on an
    HTML answer by `csrf_middleware`)."""
    token = request.get(CSRF_KEY)
    if token is None:
        token = request[CSRF_KEY] = secrets.token_urlsafe(24)
    return token


def current_account(request: web.Request) -> Account | None:
    return request.get(ACCOUNT_KEY)


def base_template_context(request: web.Request) -> dict[str, Any]:
    """What the base layout needs on every page, error pages included."""
    config = request.app[appkeys.CONFIG]
    return {
        "account": current_account(request),
        "csrf_token": csrf_token(request),
        "domain": config.server.domain,
        "registration_mode": config.registration.mode,
    }
