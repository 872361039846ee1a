"""The moderation JSON API: members report posts, badges and accounts and read their
notifications; moderators (and a badge's stewards, for that badge) handle reports, block
domains, suspend and silence accounts, rename and merge badges, appoint stewards and read
the audit log. Described by openapi_moderation.py.

Every route under /api/v1/moderation/ answers 403 to members: the services check the role
before looking anything up, and the handlers pass request values through unparsed so that
check always comes first (tests/fedipoly/web/test_moderation_roles.py walks the route table).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.moderation_models import (
    AuditEntry,
    BadgeMerge,
    DomainBlock,
    Notification,
    RemoteRestriction,
    Report,
)
from fedipoly.services.moderation import ReportedPost
from fedipoly.web.api import read_json, require_account
from fedipoly.web.badges_api import badge_json, query_int, safe_json
from fedipoly.web.middlewares import current_account

routes = web.RouteTableDef()

MODERATION_API_PREFIX = "/api/v1/moderation/"


# --- views ---------------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "kind": report.target_kind.value,
        "target": report.target,
        "target_actor": report.target_actor,
        "comment": report.comment,
        "state": report.state.value,
        "created_at": report.created_at.isoformat(),
        "from_member": report.reporter_account_id is not None,
        "from_server": report.reporter_actor,
        "resolution": report.resolution,
        "resolved_at": report.resolved_at.isoformat() if report.resolved_at else None,
        "forwarded": report.forwarded,
    }


def block_json(block: DomainBlock) -> dict[str, Any]:
    return {
        "domain": block.domain,
        "reason": block.reason,
        "created_at": block.created_at.isoformat(),
    }


def restriction_json(restriction: RemoteRestriction) -> dict[str, Any]:
    return {
        "actor": restriction.actor_uri,
        "level": restriction.level.value,
        "reason": restriction.reason,
        "created_at": restriction.created_at.isoformat(),
    }


def audit_json(entry: AuditEntry, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": entry.id,
        "moderator_id": entry.moderator_id,
        "moderator": names.get(entry.moderator_id) if entry.moderator_id else None,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "created_at": entry.created_at.isoformat(),
    }


def merge_json(merge: BadgeMerge) -> dict[str, Any]:
    return {
        "id": merge.id,
        "source": merge.source_slug,
        "target": merge.target_slug,
        "created_at": merge.created_at.isoformat(),
        "reverted_at": merge.reverted_at.isoformat() if merge.reverted_at else None,
    }


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "message": notification.message,
        "link": notification.link,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def _flag(body: dict[str, Any], name: str) -> bool:
    return body.get(name) is True


def _raw(body: dict[str, Any], name: str) -> Any:
    """A body value passed on as sent: the service checks its type after the role check."""
    return body.get(name)


# --- members -------------------------------------------------------------------------------


@routes.post("/api/v1/reports")
async def create_report(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    report = await request.app[appkeys.MODERATION].report(
        account, _raw(body, "kind"), _raw(body, "target"), _raw(body, "comment")
    )
    return safe_json(
        {"id": report.id, "kind": report.target_kind.value, "state": report.state.value},
        status=201,
    )


@routes.get("/api/v1/notifications")
async def notifications(request: web.Request) -> web.Response:
    account = require_account(request)
    page = await request.app[appkeys.NOTIFICATIONS].page(
        account, cursor=request.query.get("cursor") or None, limit=query_int(request, "limit")
    )
    return safe_json(
        {
            "notifications": [notification_json(item) for item in page.notifications],
            "next_cursor": page.next_cursor,
            "unread": page.unread,
        }
    )


@routes.post("/api/v1/notifications/read")
async def mark_notifications_read(request: web.Request) -> web.Response:
    account = require_account(request)
    marked = await request.app[appkeys.NOTIFICATIONS].mark_read(account)
    return safe_json({"marked": marked})


@routes.get("/api/v1/badges/{slug}/stewards")
async def badge_stewards(request: web.Request) -> web.Response:
    stewards = await request.app[appkeys.BADGE_MODERATION].stewards(
        current_account(request),
        request.match_info["slug"],
    )
    return safe_json(
        {
            "stewards": [
                {"username": view.account.username, "since": view.appointed_at.isoformat()}
                for view in stewards
            ]
        }
    )


# --- reports -------------------------------------------------------------------------------


@routes.get("/api/v1/moderation/reports")
async def list_reports(request: web.Request) -> web.Response:
    account = require_account(request)
    page = await request.app[appkeys.MODERATION].reports(
        account,
        state=request.query.get("state", "open"),
        cursor=request.query.get("cursor") or None,
        limit=query_int(request, "limit"),
    )
    return safe_json(
        {"reports": [report_json(item) for item in page.reports], "next_cursor": page.next_cursor}
    )


@routes.get("/api/v1/moderation/badges/{slug}/reports")
async def list_badge_reports(request: web.Request) -> web.Response:
    account = require_account(request)
    page = await request.app[appkeys.MODERATION].badge_reports(
        account,
        request.match_info["slug"],
        state=request.query.get("state", "open"),
        cursor=request.query.get("cursor") or None,
        limit=query_int(request, "limit"),
    )
    return safe_json(
        {"reports": [report_json(item) for item in page.reports], "next_cursor": page.next_cursor}
    )


@routes.get("/api/v1/moderation/reports/{report_id}")
async def get_report(request: web.Request) -> web.Response:
    account = require_account(request)
    moderation = request.app[appkeys.MODERATION]
    report = await moderation.get_report(account, request.match_info["report_id"])
    reported = await moderation.reported_post(account, report)
    return safe_json(report_json(report) | {"post": reported_post_json(reported)})


def reported_post_json(reported: ReportedPost | None) -> dict[str, Any] | None:
    """What was reported, as moderators see it (also when nobody else can any more)."""
    if reported is None:
        return None
    post = reported.post
    return {
        "uri": post.uri,
        "author": post.author,
        "content_html": post.content_html,
        "visibility": post.visibility.value,
        "published": post.published.isoformat(),
        "deleted_at": post.deleted_at.isoformat() if post.deleted_at else None,
        "author_suspended": reported.author_suspended,
    }


@routes.post("/api/v1/moderation/reports/{report_id}/resolve")
async def resolve_report(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    report = await request.app[appkeys.MODERATION].resolve_report(
        account,
        request.match_info["report_id"],
        action=_raw(body, "action"),
        note=_raw(body, "note"),
        forward=_flag(body, "forward"),
        remove=_flag(body, "remove"),
    )
    return safe_json(report_json(report))


# --- accounts and domains ------------------------------------------------------------------


async def _set_suspension(request: web.Request, *, suspend: bool) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    moderation = request.app[appkeys.MODERATION]
    change = moderation.suspend_account if suspend else moderation.unsuspend_account
    changed = await change(account, request.match_info["username"], _raw(body, "reason"))
    return safe_json({"username": changed.username, "suspended": changed.suspended})


@routes.post("/api/v1/moderation/accounts/{username}/suspend")
async def suspend_account(request: web.Request) -> web.Response:
    return await _set_suspension(request, suspend=True)


@routes.post("/api/v1/moderation/accounts/{username}/unsuspend")
async def unsuspend_account(request: web.Request) -> web.Response:
    return await _set_suspension(request, suspend=False)


@routes.get("/api/v1/moderation/remote_accounts")
async def remote_accounts(request: web.Request) -> web.Response:
    account = require_account(request)
    items = await request.app[appkeys.MODERATION].remote_restrictions(account)
    return safe_json({"remote_accounts": [restriction_json(item) for item in items]})


@routes.post("/api/v1/moderation/remote_accounts")
async def restrict_remote_account(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    restriction = await request.app[appkeys.MODERATION].restrict_remote(
        account, _raw(body, "actor"), _raw(body, "level"), _raw(body, "reason")
    )
    return safe_json(restriction_json(restriction), status=201)


@routes.post("/api/v1/moderation/remote_accounts/lift")
async def lift_remote_account(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    await request.app[appkeys.MODERATION].lift_remote(
        account, _raw(body, "actor"), _raw(body, "reason")
    )
    return web.Response(status=204)


@routes.get("/api/v1/moderation/domain_blocks")
async def domain_blocks(request: web.Request) -> web.Response:
    account = require_account(request)
    blocks = await request.app[appkeys.MODERATION].domain_blocks(account)
    return safe_json({"domain_blocks": [block_json(block) for block in blocks]})


@routes.post("/api/v1/moderation/domain_blocks")
async def block_domain(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    block = await request.app[appkeys.MODERATION].block_domain(
        account, _raw(body, "domain"), _raw(body, "reason")
    )
    return safe_json(block_json(block), status=201)


@routes.delete("/api/v1/moderation/domain_blocks/{domain}")
async def unblock_domain(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.MODERATION].unblock_domain(account, request.match_info["domain"])
    return web.Response(status=204)


@routes.get("/api/v1/moderation/audit")
async def audit_log(request: web.Request) -> web.Response:
    account = require_account(request)
    page = await request.app[appkeys.MODERATION].audit_log(
        account, cursor=request.query.get("cursor") or None, limit=query_int(request, "limit")
    )
    return safe_json(
        {
            "entries": [audit_json(entry, page.moderators) for entry in page.entries],
            "next_cursor": page.next_cursor,
        }
    )


# --- badges --------------------------------------------------------------------------------


@routes.post("/api/v1/moderation/badges/{slug}/rename")
async def rename_badge(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    badge = await request.app[appkeys.BADGE_MODERATION].rename(
        account, request.match_info["slug"], _raw(body, "display_name"), _raw(body, "reason")
    )
    return safe_json(badge_json(badge, request.app[appkeys.URLS]))


@routes.post("/api/v1/moderation/badges/{slug}/merge")
async def merge_badge(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    merge = await request.app[appkeys.BADGE_MODERATION].merge(
        account, request.match_info["slug"], _raw(body, "into"), _raw(body, "reason")
    )
    return safe_json(merge_json(merge), status=201)


@routes.get("/api/v1/moderation/badge_merges")
async def badge_merges(request: web.Request) -> web.Response:
    account = require_account(request)
    merges = await request.app[appkeys.BADGE_MODERATION].merges(account)
    return safe_json({"merges": [merge_json(merge) for merge in merges]})


@routes.post("/api/v1/moderation/badge_merges/{merge_id}/revert")
async def revert_badge_merge(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    merge = await request.app[appkeys.BADGE_MODERATION].revert_merge(
        account, request.match_info["merge_id"], _raw(body, "reason")
    )
    return safe_json(merge_json(merge))


@routes.post("/api/v1/moderation/badges/{slug}/stewards")
async def appoint_steward(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    steward = await request.app[appkeys.BADGE_MODERATION].appoint_steward(
        account, request.match_info["slug"], _raw(body, "username"), _raw(body, "reason")
    )
    return safe_json(
        {"username": steward.account.username, "since": steward.appointed_at.isoformat()}, 201
    )


@routes.delete("/api/v1/moderation/badges/{slug}/stewards/{username}")
async def dismiss_steward(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.BADGE_MODERATION].dismiss_steward(
        account, request.match_info["slug"], request.match_info["username"]
    )
    return web.Response(status=204)
