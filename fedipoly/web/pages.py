"""Server-rendered pages: home, sign-up, sign-in, settings. They work without JavaScript."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import FedipolyError
from fedipoly.models import Account
from fedipoly.web.middlewares import (
    SESSION_COOKIE,
    base_template_context,
    current_account,
)

routes = web.RouteTableDef()

NOTICES = {
    "password": "Your password has been changed.",
    "invite": "A new invite code is ready.",
    "invite_deleted": "The invite code has been deleted.",
    "token_deleted": "The token has been revoked.",
    "welcome": "Welcome to Fedipoly!",
}


def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, base_template_context(request) | context, status=status
    )


def signed_in(request: web.Request) -> Account:
    account = current_account(request)
    if account is None:
        raise web.HTTPSeeOther(f"/login?next={request.path}")
    return account


def _form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    config = request.app[appkeys.CONFIG]
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        samesite="Lax",
        secure=config.server.is_https,
        path="/",
        max_age=config.security.session_days * 86400,
    )


@routes.get("/signup", name="signup")
async def signup_form(request: web.Request) -> web.Response:
    return render(request, "signup.html", {"form": {"invite": request.query.get("invite", "")}})


@routes.post("/signup")
async def signup(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {name: _form_text(form, name) for name in ("username", "email", "invite")}
    accounts = request.app[appkeys.ACCOUNTS]
    try:
        account = await accounts.register(
            username=values["username"],
            email=values["email"],
            password=_form_text(form, "password"),
            invite_code=values["invite"],
        )
    except FedipolyError as error:
        return render(
            request, "signup.html", {"form": values, "error": error.message}, status=error.status
        )
    started = await accounts.start_session(account)
    response = web.HTTPSeeOther("/?notice=welcome")
    _set_session_cookie(request, response, started.cookie_value)
    raise response


@routes.get("/login", name="login")
async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": _safe_next(request.query.get("next", "/"))})


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    next_path = _safe_next(_form_text(form, "next") or "/")
    accounts = request.app[appkeys.ACCOUNTS]
    try:
        account = await accounts.authenticate(
            _form_text(form, "username"), _form_text(form, "password")
        )
    except FedipolyError as error:
        return render(
            request,
            "login.html",
            {"error": error.message, "username": _form_text(form, "username"), "next": next_path},
            status=error.status,
        )
    started = await accounts.start_session(account)
    response = web.HTTPSeeOther(next_path)
    _set_session_cookie(request, response, started.cookie_value)
    raise response


def _safe_next(path: str) -> str:
    """Only same-site paths, so the sign-in form can't be used as an open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await request.app[appkeys.ACCOUNTS].end_session(cookie)
    response = web.HTTPSeeOther("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def _settings_page(
    request: web.Request, account: Account, extra: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    accounts = request.app[appkeys.ACCOUNTS]
    context = {
        "tokens": await accounts.list_tokens(account),
        "invites": await accounts.list_invites(account),
        "invites_per_member": request.app[appkeys.CONFIG].registration.invites_per_member,
        "notice": NOTICES.get(request.query.get("notice", "")),
        "now": accounts.now(),
    }
    return render(request, "settings.html", context | (extra or {}), status=status)


@routes.get("/settings", name="settings")
async def settings(request: web.Request) -> web.Response:
    return await _settings_page(request, signed_in(request))


@routes.post("/settings/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    account = signed_in(request)
    form = await request.post()
    try:
        await request.app[appkeys.ACCOUNTS].change_password(
            account, _form_text(form, "current_password"), _form_text(form, "new_password")
        )
    except FedipolyError as error:
        return await _settings_page(
            request, account, {"password_error": error.message}, status=error.status
        )
    raise web.HTTPSeeOther("/settings?notice=password")


@routes.post("/settings/tokens")
async def create_token(request: web.Request) -> web.StreamResponse:
    account = signed_in(request)
    form = await request.post()
    try:
        issued = await request.app[appkeys.ACCOUNTS].issue_token(account, _form_text(form, "label"))
    except FedipolyError as error:
        return await _settings_page(
            request, account, {"token_error": error.message}, status=error.status
        )
    # The secret is shown on this one response and never again.
    return await _settings_page(request, account, {"new_token": issued})


@routes.post("/settings/tokens/{token_id}/delete")
async def delete_token(request: web.Request) -> web.StreamResponse:
    account = signed_in(request)
    await request.app[appkeys.ACCOUNTS].revoke_token(account, request.match_info["token_id"])
    raise web.HTTPSeeOther("/settings?notice=token_deleted")


@routes.post("/settings/invites")
async def create_invite(request: web.Request) -> web.StreamResponse:
    account = signed_in(request)
    try:
        await request.app[appkeys.ACCOUNTS].create_member_invite(account)
    except FedipolyError as error:
        return await _settings_page(
            request, account, {"invite_error": error.message}, status=error.status
        )
    raise web.HTTPSeeOther("/settings?notice=invite")


@routes.post("/settings/invites/{code}/delete")
async def delete_invite(request: web.Request) -> web.StreamResponse:
    account = signed_in(request)
    await request.app[appkeys.ACCOUNTS].delete_invite(account, request.match_info["code"])
    raise web.HTTPSeeOther("/settings?notice=invite_deleted")
