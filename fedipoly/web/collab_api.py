"""The JSON API for "open to", collaboration requests, direct conversations and the Space
Station. Described by openapi_collab.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.collab_models import Conversation, OpenToEntry, OpenToReason, RequestState
from fedipoly.errors import Gone, ValidationFailed
from fedipoly.services.collab import BlockView, RequestView
from fedipoly.services.conversations import ConversationView
from fedipoly.services.open_to import OpenToLine
from fedipoly.services.space_station import Match
from fedipoly.web.api import read_json, require_account, text_field
from fedipoly.web.badges_api import refuse_unknown, safe_json
from fedipoly.web.social_api import actor_json, post_json, post_views, query_limit

routes = web.RouteTableDef()


# --- JSON shapes ---------------------------------------------------------------------------


def reason_json(reason: OpenToReason) -> dict[str, Any]:
    return {"slug": reason.slug, "label": reason.label}


def line_json(line: OpenToLine) -> dict[str, Any]:
    entry = line.entry
    return {
        "reason": line.reason.slug,
        "label": line.reason.label,
        "open": None if entry is None else entry.open,
        "until": entry.until.isoformat() if entry and entry.until else None,
    }


def request_json(view: RequestView) -> dict[str, Any]:
    request = view.request
    return {
        "id": request.id,
        "sender": actor_json(view.sender),
        "recipient": actor_json(view.recipient),
        "reason": request.reason_slug,
        "reason_label": request.reason_label,
        "message": request.message,
        "state": request.state.value,
        "created_at": request.created_at.isoformat(),
    }


def block_json(view: BlockView) -> dict[str, Any]:
    return {"actor": actor_json(view.actor), "created_at": view.block.created_at.isoformat()}


def conversation_json(view: ConversationView) -> dict[str, Any]:
    return {
        "id": view.conversation.id,
        "peer": actor_json(view.peer),
        "created_at": view.conversation.created_at.isoformat(),
        "last_message_at": view.conversation.last_message_at.isoformat(),
    }


def match_json(match: Match) -> dict[str, Any]:
    return {
        "uri": match.actor_uri,
        "handle": match.handle,
        "display_name": match.display_name,
        "headline": match.headline,
        "url": match.url,
        "local": match.local,
        "badges": list(match.badges),
        "reason": reason_json(match.reason),
    }


# --- parsing -------------------------------------------------------------------------------


def parse_until(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed("until is a date-time string or null", {"field": field})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("until is not a valid date-time", {"field": field}) from None
    if moment.tzinfo is None:
        raise ValidationFailed("until needs a time zone (e.g. Z)", {"field": field})
    return moment


def parse_answers(body: dict[str, Any]) -> list[OpenToEntry]:
    refuse_unknown(body, {"open_to"})
    items = body.get("open_to")
    if not isinstance(items, list):
        raise ValidationFailed("open_to is a list of answers", {"field": "open_to"})
    answers = []
    for index, item in enumerate(items):
        field = f"open_to[{index}]"
        if not isinstance(item, dict) or not set(item) <= {"reason", "open", "until"}:
            raise ValidationFailed("an answer is {reason, open, until}", {"field": field})
        if not isinstance(item.get("reason"), str) or not isinstance(item.get("open"), bool):
            raise ValidationFailed(
                "an answer names a reason and says open: true or false", {"field": field}
            )
        answers.append(
            OpenToEntry(item["reason"], item["open"], parse_until(item.get("until"), field))
        )
    return answers


def parse_state(raw: str | None) -> RequestState:
    try:
        return RequestState(raw or RequestState.PENDING.value)
    except ValueError:
        raise ValidationFailed(
            "state is pending, accepted or declined", {"field": "state"}
        ) from None


# --- open to -------------------------------------------------------------------------------


@routes.get("/api/v1/open_to/reasons")
async def list_reasons(request: web.Request) -> web.Response:
    reasons = await request.app[appkeys.OPEN_TO].catalogue()
    return safe_json([reason_json(reason) for reason in reasons])


@routes.post("/api/v1/open_to/reasons")
async def add_reason(request: web.Request) -> web.Response:
    admin = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"slug", "label"})
    reason = await request.app[appkeys.OPEN_TO].add_reason(
        admin, text_field(body, "slug"), text_field(body, "label")
    )
    return safe_json(reason_json(reason), status=201)


@routes.patch("/api/v1/open_to/reasons/{slug}")
async def rename_reason(request: web.Request) -> web.Response:
    admin = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"label"})
    reason = await request.app[appkeys.OPEN_TO].rename_reason(
        admin, request.match_info["slug"], text_field(body, "label")
    )
    return safe_json(reason_json(reason))


@routes.delete("/api/v1/open_to/reasons/{slug}")
async def remove_reason(request: web.Request) -> web.Response:
    admin = require_account(request)
    await request.app[appkeys.OPEN_TO].remove_reason(admin, request.match_info["slug"])
    return web.Response(status=204)


@routes.get("/api/v1/open_to")
async def own_answers(request: web.Request) -> web.Response:
    member = require_account(request)
    lines = await request.app[appkeys.OPEN_TO].lines(member)
    return safe_json([line_json(line) for line in lines])


@routes.put("/api/v1/open_to")
async def set_answers(request: web.Request) -> web.Response:
    member = require_account(request)
    answers = parse_answers(await read_json(request))
    lines = await request.app[appkeys.OPEN_TO].set_answers(member, answers)
    return safe_json([line_json(line) for line in lines])


@routes.get("/api/v1/accounts/{username}/open_to")
async def member_answers(request: web.Request) -> web.Response:
    member = await request.app[appkeys.ACCOUNTS].get_by_username(request.match_info["username"])
    if member.suspended:
        raise Gone("this account is suspended")
    lines = await request.app[appkeys.OPEN_TO].lines(member)
    return safe_json([line_json(line) for line in lines if line.entry is not None])


# --- requests ------------------------------------------------------------------------------


@routes.post("/api/v1/collab_requests")
async def send_request(request: web.Request) -> web.Response:
    sender = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"to", "reason", "message"})
    collab = request.app[appkeys.COLLAB]
    made = await collab.send(
        sender, text_field(body, "to"), text_field(body, "reason"), text_field(body, "message")
    )
    return safe_json(request_json(await collab.describe(made)), status=201)


@routes.get("/api/v1/collab_requests")
async def received_requests(request: web.Request) -> web.Response:
    member = require_account(request)
    page = await request.app[appkeys.COLLAB].received(
        member,
        parse_state(request.query.get("state")),
        before=request.query.get("before") or None,
        limit=query_limit(request),
    )
    return safe_json(
        {"items": [request_json(view) for view in page.items], "next": page.next_cursor}
    )


@routes.get("/api/v1/collab_requests/sent")
async def sent_requests(request: web.Request) -> web.Response:
    member = require_account(request)
    page = await request.app[appkeys.COLLAB].sent(
        member, before=request.query.get("before") or None, limit=query_limit(request)
    )
    return safe_json(
        {"items": [request_json(view) for view in page.items], "next": page.next_cursor}
    )


@routes.post("/api/v1/collab_requests/{request_id}/interested")
async def interested(request: web.Request) -> web.Response:
    member = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"message"})
    message = text_field(body, "message", required=False) or None
    conversation = await request.app[appkeys.COLLAB].interested(
        member, request.match_info["request_id"], message
    )
    return await _conversation_response(request, conversation, status=201)


@routes.post("/api/v1/collab_requests/{request_id}/decline")
async def decline(request: web.Request) -> web.Response:
    member = require_account(request)
    await request.app[appkeys.COLLAB].not_right_now(member, request.match_info["request_id"])
    return web.Response(status=204)


@routes.post("/api/v1/collab_requests/{request_id}/block")
async def block_sender(request: web.Request) -> web.Response:
    member = require_account(request)
    await request.app[appkeys.COLLAB].block_sender(member, request.match_info["request_id"])
    return web.Response(status=204)


@routes.post("/api/v1/collab_requests/{request_id}/report")
async def report_sender(request: web.Request) -> web.Response:
    member = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"comment"})
    await request.app[appkeys.COLLAB].report_sender(
        member, request.match_info["request_id"], text_field(body, "comment", required=False)
    )
    return web.Response(status=204)


# --- blocked accounts ----------------------------------------------------------------------


@routes.get("/api/v1/blocks")
async def list_blocks(request: web.Request) -> web.Response:
    member = require_account(request)
    page = await request.app[appkeys.COLLAB].blocks(
        member, before=request.query.get("before") or None, limit=query_limit(request)
    )
    return safe_json({"items": [block_json(view) for view in page.items], "next": page.next_cursor})


@routes.delete("/api/v1/blocks")
async def unblock(request: web.Request) -> web.Response:
    # The actor is a URI (slashes and all), so it travels as a query parameter, not a path part.
    member = require_account(request)
    await request.app[appkeys.COLLAB].unblock(member, request.query.get("actor", ""))
    return web.Response(status=204)


# --- conversations -------------------------------------------------------------------------


async def _conversation_response(
    request: web.Request, conversation: Conversation, *, status: int = 200
) -> web.Response:
    member = require_account(request)
    conversations = request.app[appkeys.CONVERSATIONS]
    view = await conversations.get(member, conversation.id)
    page = await conversations.messages(
        member,
        conversation.id,
        before=request.query.get("before") or None,
        limit=query_limit(request),
    )
    messages = [post_json(item) for item in await post_views(request, member, page.messages)]
    data = conversation_json(view) | {"messages": messages, "next": page.next_cursor}
    return safe_json(data, status=status)


@routes.get("/api/v1/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    member = require_account(request)
    page = await request.app[appkeys.CONVERSATIONS].page(
        member, before=request.query.get("before") or None, limit=query_limit(request)
    )
    return safe_json(
        {"items": [conversation_json(view) for view in page.items], "next": page.next_cursor}
    )


@routes.get("/api/v1/conversations/{conversation_id}")
async def get_conversation(request: web.Request) -> web.Response:
    member = require_account(request)
    view = await request.app[appkeys.CONVERSATIONS].get(
        member, request.match_info["conversation_id"]
    )
    return await _conversation_response(request, view.conversation)


@routes.post("/api/v1/conversations/{conversation_id}/messages")
async def send_message(request: web.Request) -> web.Response:
    member = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"text"})
    post = await request.app[appkeys.CONVERSATIONS].send(
        member, request.match_info["conversation_id"], text_field(body, "text")
    )
    views = await post_views(request, member, [post])
    return safe_json(post_json(views[0]), status=201)


# --- the Space Station ---------------------------------------------------------------------


@routes.get("/api/v1/space_station")
async def space_station(request: web.Request) -> web.Response:
    viewer = require_account(request)
    reason = request.query.get("reason")
    if not reason:
        raise ValidationFailed("choose a reason", {"field": "reason"})
    page = await request.app[appkeys.SPACE_STATION].search(
        viewer,
        reason,
        badge=request.query.get("badge") or None,
        text=request.query.get("q") or None,
        cursor=request.query.get("cursor") or None,
        limit=query_limit(request),
    )
    return safe_json(
        {"items": [match_json(match) for match in page.matches], "next": page.next_cursor}
    )
