"""Server-rendered pages for "open to", collaboration requests, direct conversations and the
Space Station. They work without JavaScript; every successful POST answers 303 and every failed
one re-renders its page with the message and the visitor's input.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from aiohttp import web
from yarl import URL

from fedipoly import appkeys
from fedipoly.collab_models import OpenToEntry
from fedipoly.errors import FedipolyError, RateLimited, ValidationFailed
from fedipoly.models import Account
from fedipoly.web.pages import render
from fedipoly.web.social_api import post_views
from fedipoly.web.social_pages import VISIBILITY_LABELS, form_text, member_or_login, see_other

routes = web.RouteTableDef()

NOTICES = {
    "open_to_saved": "Your answers are saved.",
    "request_sent": "Your request is sent. You will hear from them if they are interested.",
    "interested": "You are now in a conversation with them.",
    "declined": "Declined. They are not told.",
    "blocked": "Blocked. They can no longer send you requests or messages.",
    "unblocked": "Unblocked. Their requests and messages reach you again.",
    "reported": "Reported to the moderators.",
    "sent": "Message sent.",
    "reason_added": "Reason added.",
    "reason_renamed": "Reason renamed.",
    "reason_removed": "Reason removed.",
}


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("notice", ""))


def _until(raw: str, field: str) -> datetime | None:
    """A date from a form: the answer lasts to the end of that day (UTC)."""
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed("an end date looks like 2025-12-31", {"field": field}) from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


# --- your answers --------------------------------------------------------------------------


async def _open_to_page(
    request: web.Request,
    account: Account,
    error: FedipolyError | None = None,
    submitted: dict[str, tuple[str, str]] | None = None,
) -> web.Response:
    lines = await request.app[appkeys.OPEN_TO].lines(account)
    rows = []
    for line in lines:
        state, until = (submitted or {}).get(line.reason.slug, ("", ""))
        if submitted is None:
            state = line.state
            until = line.entry.until.date().isoformat() if line.entry and line.entry.until else ""
        rows.append({"reason": line.reason, "state": state, "until": until})
    context = {"rows": rows, "error": error.message if error else None, "notice": _notice(request)}
    return render(request, "open_to_settings.html", context, status=error.status if error else 200)


@routes.get("/settings/open-to")
async def open_to_form(request: web.Request) -> web.Response:
    account = member_or_login(request, "/settings/open-to")
    return await _open_to_page(request, account)


@routes.post("/settings/open-to")
async def save_open_to(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/open-to")
    form = await request.post()
    open_to = request.app[appkeys.OPEN_TO]
    submitted: dict[str, tuple[str, str]] = {}
    try:
        answers = []
        for reason in await open_to.catalogue():
            state = form_text(form, f"state_{reason.slug}")
            until = form_text(form, f"until_{reason.slug}").strip()
            submitted[reason.slug] = (state, until)
            if state not in ("", "yes", "no"):
                raise ValidationFailed("choose yes, no or nothing", {"field": reason.slug})
            if state:
                answers.append(OpenToEntry(reason.slug, state == "yes", _until(until, reason.slug)))
        await open_to.set_answers(account, answers)
    except FedipolyError as error:
        return await _open_to_page(request, account, error, submitted)
    raise see_other("/settings/open-to", "open_to_saved")


# --- the catalogue (admins) ----------------------------------------------------------------


async def _catalogue_page(
    request: web.Request, error: FedipolyError | None = None, values: dict[str, str] | None = None
) -> web.Response:
    context = {
        "reasons": await request.app[appkeys.OPEN_TO].catalogue(),
        "error": error.message if error else None,
        "values": values or {"slug": "", "label": ""},
        "notice": _notice(request),
    }
    return render(request, "open_to_catalogue.html", context, status=error.status if error else 200)


@routes.get("/settings/open-to/catalogue")
async def catalogue(request: web.Request) -> web.Response:
    member_or_login(request, "/settings/open-to/catalogue")
    return await _catalogue_page(request)


@routes.post("/settings/open-to/catalogue")
async def change_catalogue(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/open-to/catalogue")
    form = await request.post()
    action, slug, label = (form_text(form, name) for name in ("action", "slug", "label"))
    open_to = request.app[appkeys.OPEN_TO]
    try:
        if action == "add":
            await open_to.add_reason(account, slug, label)
        elif action == "rename":
            await open_to.rename_reason(account, slug, label)
        elif action == "remove":
            await open_to.remove_reason(account, slug)
        else:
            raise ValidationFailed("unknown action", {"field": "action"})
    except FedipolyError as error:
        return await _catalogue_page(request, error, {"slug": slug, "label": label})
    notice = {"add": "reason_added", "rename": "reason_renamed", "remove": "reason_removed"}
    raise see_other("/settings/open-to/catalogue", notice[action])


# --- sending a request ---------------------------------------------------------------------


async def _collaborate_page(
    request: web.Request,
    to: str,
    error: FedipolyError | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    collab = request.app[appkeys.COLLAB]
    reasons = await collab.open_reasons_of(to)
    context = {
        "to": to,
        "reasons": reasons,
        "error": error.message if error else None,
        "values": values or {"reason": request.query.get("reason", ""), "message": ""},
    }
    response = render(request, "collaborate.html", context, status=error.status if error else 200)
    if isinstance(error, RateLimited) and error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


@routes.get("/collaborate")
async def collaborate_form(request: web.Request) -> web.Response:
    to = request.query.get("to", "")
    member_or_login(request, str(URL("/collaborate").with_query(to=to)))
    if not to:
        raise ValidationFailed("say whom you want to ask", {"field": "to"})
    return await _collaborate_page(request, to)


@routes.post("/collaborate")
async def collaborate(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/space-station")
    form = await request.post()
    to, reason, message = (form_text(form, name) for name in ("to", "reason", "message"))
    try:
        await request.app[appkeys.COLLAB].send(account, to, reason, message)
    except FedipolyError as error:
        return await _collaborate_page(request, to, error, {"reason": reason, "message": message})
    raise see_other("/requests", "request_sent")


# --- the Requests inbox --------------------------------------------------------------------


async def _requests_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    collab = request.app[appkeys.COLLAB]
    before = request.query.get("before") or None
    context = {
        "received": await collab.received(account, before=before),
        "sent": await collab.sent(account),
        "paged": before is not None,
        "error": error.message if error else None,
        "notice": _notice(request),
    }
    return render(request, "requests.html", context, status=error.status if error else 200)


@routes.get("/requests")
async def requests_inbox(request: web.Request) -> web.Response:
    account = member_or_login(request, "/requests")
    return await _requests_page(request, account)


@routes.post("/requests/{request_id}/{action}")
async def answer_request(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/requests")
    request_id, action = request.match_info["request_id"], request.match_info["action"]
    collab = request.app[appkeys.COLLAB]
    form = await request.post()
    try:
        if action == "interested":
            conversation = await collab.interested(
                account, request_id, form_text(form, "message").strip() or None
            )
            raise see_other(f"/conversations/{conversation.id}", "interested")
        if action == "decline":
            await collab.not_right_now(account, request_id)
        elif action == "block":
            await collab.block_sender(account, request_id)
        elif action == "report":
            await collab.report_sender(account, request_id, form_text(form, "comment"))
        else:
            raise web.HTTPNotFound()
    except FedipolyError as error:
        return await _requests_page(request, account, error)
    notice = {"decline": "declined", "block": "blocked", "report": "reported"}[action]
    raise see_other("/requests", notice)


# --- blocked accounts ----------------------------------------------------------------------


async def _blocks_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    # A failed unblock shows the newest blocks again: the form carries no page cursor.
    before = (request.query.get("before") or None) if request.method == "GET" else None
    context = {
        "page": await request.app[appkeys.COLLAB].blocks(account, before=before),
        "paged": before is not None,
        "error": error.message if error else None,
        "notice": _notice(request),
    }
    return render(request, "blocks.html", context, status=error.status if error else 200)


@routes.get("/settings/blocks")
async def blocked_accounts(request: web.Request) -> web.Response:
    account = member_or_login(request, "/settings/blocks")
    return await _blocks_page(request, account)


@routes.post("/settings/blocks/unblock")
async def unblock(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/blocks")
    actor = form_text(await request.post(), "actor")
    try:
        await request.app[appkeys.COLLAB].unblock(account, actor)
    except FedipolyError as error:
        return await _blocks_page(request, account, error)
    raise see_other("/settings/blocks", "unblocked")


# --- conversations -------------------------------------------------------------------------


@routes.get("/conversations")
async def conversations(request: web.Request) -> web.Response:
    account = member_or_login(request, "/conversations")
    before = request.query.get("before") or None
    page = await request.app[appkeys.CONVERSATIONS].page(account, before=before)
    context = {"page": page, "paged": before is not None, "notice": _notice(request)}
    return render(request, "conversations.html", context)


async def _conversation_page(
    request: web.Request,
    account: Account,
    conversation_id: str,
    error: FedipolyError | None = None,
    text: str = "",
) -> web.Response:
    service = request.app[appkeys.CONVERSATIONS]
    view = await service.get(account, conversation_id)
    before = (request.query.get("before") or None) if request.method == "GET" else None
    page = await service.messages(account, conversation_id, before=before)
    origin = None
    if view.conversation.request_id:
        origin = await request.app[appkeys.COLLAB].request_for(
            account, view.conversation.request_id
        )
    context: dict[str, Any] = {
        "view": view,
        # Oldest first on the page, as a conversation reads; pages go back in time.
        "views": list(reversed(await post_views(request, account, page.messages))),
        "next_cursor": page.next_cursor,
        "paged": before is not None,
        "origin": origin,
        "visibility_labels": VISIBILITY_LABELS,
        "error": error.message if error else None,
        "text": text,
        "notice": _notice(request),
    }
    return render(request, "conversation.html", context, status=error.status if error else 200)


@routes.get("/conversations/{conversation_id}")
async def conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["conversation_id"]
    account = member_or_login(request, f"/conversations/{conversation_id}")
    return await _conversation_page(request, account, conversation_id)


@routes.post("/conversations/{conversation_id}")
async def send_message(request: web.Request) -> web.StreamResponse:
    conversation_id = request.match_info["conversation_id"]
    account = member_or_login(request, f"/conversations/{conversation_id}")
    text = form_text(await request.post(), "text")
    try:
        await request.app[appkeys.CONVERSATIONS].send(account, conversation_id, text)
    except FedipolyError as error:
        return await _conversation_page(request, account, conversation_id, error, text)
    raise see_other(f"/conversations/{conversation_id}", "sent")


# --- the Space Station ---------------------------------------------------------------------


@routes.get("/space-station")
async def space_station(request: web.Request) -> web.Response:
    account = member_or_login(request, "/space-station")
    query = request.query
    reasons = await request.app[appkeys.OPEN_TO].catalogue()
    values = {name: query.get(name, "") for name in ("reason", "badge", "q")}
    context: dict[str, Any] = {
        "reasons": reasons,
        "values": values,
        "page": None,
        "error": None,
        "paged": bool(query.get("cursor")),
    }
    status = 200
    if values["reason"]:
        try:
            context["page"] = await request.app[appkeys.SPACE_STATION].search(
                account,
                values["reason"],
                badge=values["badge"] or None,
                text=values["q"] or None,
                cursor=query.get("cursor") or None,
            )
        except FedipolyError as error:
            context["error"], status = error.message, error.status
    return render(request, "space_station.html", context, status=status)
