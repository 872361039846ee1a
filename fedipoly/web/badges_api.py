"""The badges JSON API under /api/v1/: the catalogue and its search, badge pages' data, creating
badges, the member's own badge list (bulk add/remove, order, featured) and the moderators'
review queue. Described by openapi_badges.py.

Visibility is the badge service's business: a pending or rejected badge answers 404 to everyone
but its creator and moderators, and moderation answers 403 to members (the service checks the
role). No holder counts or other popularity figures appear anywhere (product rule 1).

Responses go through `safe_json`, which writes `<`, `>`, `&` and `'` in strings as \\u escapes:
the decoded JSON is the same, but no byte sequence in a response can ever read as markup, even
to a client that sniffs or embeds it.

The view helpers here (badge JSON, swatch colours) are shared with the HTML pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import ValidationFailed
from fedipoly.models import Account, Badge, BadgeHolder, MemberBadge
from fedipoly.services.badges import BadgePage, clean_slugs
from fedipoly.urls import Urls
from fedipoly.web.api import read_json, require_account, text_field
from fedipoly.web.middlewares import current_account

routes = web.RouteTableDef()

SAFE_COLOR = re.compile(r"#[0-9a-f]{6}")
FALLBACK_COLOR = "#767676"


# --- responses -----------------------------------------------------------------------------


def safe_dumps(data: Any) -> str:
    """JSON with <, >, & and ' escaped (outside strings, JSON never has these characters)."""
    text = json.dumps(data)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return text


def safe_json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=safe_dumps)


# --- views shared with the pages -------------------------------------------------------------


def swatch_color(color: str) -> str:
    """The badge colour for an SVG fill attribute, re-checked as #rrggbb (grey otherwise)."""
    value = color.strip().lower() if isinstance(color, str) else ""
    return value if SAFE_COLOR.fullmatch(value) else FALLBACK_COLOR


@dataclass(frozen=True)
class BadgeView:
    """What a page shows of a badge; `color` is safe for an SVG fill attribute."""

    slug: str
    display_name: str
    icon: str
    color: str
    status: str
    featured: bool
    path: str

    @property
    def pending(self) -> bool:
        return self.status == "pending"


def badge_view(badge: Badge, featured: bool = False) -> BadgeView:
    return BadgeView(
        slug=badge.slug,
        display_name=badge.display_name,
        icon=badge.icon,
        color=swatch_color(badge.color),
        status=badge.status.value,
        featured=featured,
        path=f"/badges/{badge.slug}",
    )


def badge_json(badge: Badge, urls: Urls) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": badge.slug,
        "display_name": badge.display_name,
        "color": swatch_color(badge.color),
        "icon": badge.icon,
        "hashtag": badge.hashtag,
        "status": badge.status.value,
        "url": urls.badge_page(badge.slug),
        "created_at": badge.created_at.isoformat(),
    }
    if badge.reject_reason:
        # Only the creator and moderators can see a rejected badge at all.
        data["reject_reason"] = badge.reject_reason
    return data


def member_badge_json(held: MemberBadge, urls: Urls) -> dict[str, Any]:
    return badge_json(held.badge, urls) | {"featured": held.featured}


def member_badges_json(held: Sequence[MemberBadge], urls: Urls) -> dict[str, Any]:
    return {"items": [member_badge_json(item, urls) for item in held]}


def holder_json(holder: BadgeHolder, urls: Urls) -> dict[str, Any]:
    account = holder.account
    return {
        "username": account.username,
        "handle": f"{account.username}@{urls.domain}",
        "display_name": account.display_name,
        "url": urls.profile(account.username),
    }


def badge_page_json(page: BadgePage, urls: Urls) -> dict[str, Any]:
    return {"items": [badge_json(badge, urls) for badge in page.badges], "next": page.next_cursor}


def query_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer", {"field": name}) from None


def slug_list(body: dict[str, Any], name: str, *, required: bool = True) -> list[str]:
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationFailed(f"{name} must be a list of badge slugs", {"field": name})
    return value


def refuse_unknown(body: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise ValidationFailed(
            f"unknown field(s): {', '.join(unknown)}", {"fields": unknown, "known": sorted(known)}
        )


# --- the catalogue -------------------------------------------------------------------------


@routes.get("/api/v1/badges")
async def list_badges(request: web.Request) -> web.Response:
    viewer = current_account(request)
    page = await request.app[appkeys.BADGES].catalogue(
        viewer,
        query=request.query.get("q"),
        cursor=request.query.get("cursor") or None,
        limit=query_int(request, "limit"),
    )
    return safe_json(badge_page_json(page, request.app[appkeys.URLS]))


@routes.post("/api/v1/badges")
async def create_badge(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"slug", "display_name", "color", "icon"})
    badge = await request.app[appkeys.BADGES].create_badge(
        account,
        slug=text_field(body, "slug"),
        display_name=text_field(body, "display_name"),
        color=text_field(body, "color"),
        icon=text_field(body, "icon"),
    )
    return safe_json(badge_json(badge, request.app[appkeys.URLS]), status=201)


@routes.get("/api/v1/badges/{slug}")
async def get_badge(request: web.Request) -> web.Response:
    badge = await request.app[appkeys.BADGES].get_badge(
        request.match_info["slug"], current_account(request)
    )
    return safe_json(badge_json(badge, request.app[appkeys.URLS]))


@routes.get("/api/v1/badges/{slug}/holders")
async def badge_holders(request: web.Request) -> web.Response:
    page = await request.app[appkeys.BADGES].holders(
        request.match_info["slug"],
        current_account(request),
        cursor=request.query.get("cursor") or None,
        limit=query_int(request, "limit"),
    )
    urls = request.app[appkeys.URLS]
    return safe_json(
        {"items": [holder_json(holder, urls) for holder in page.holders], "next": page.next_cursor}
    )


# --- the member's own badges ---------------------------------------------------------------


@routes.get("/api/v1/profile/badges")
async def my_badges(request: web.Request) -> web.Response:
    account = require_account(request)
    held = await request.app[appkeys.BADGES].member_badges(account, account)
    return safe_json(member_badges_json(held, request.app[appkeys.URLS]))


async def change_badges(
    request: web.Request, account: Account, add: Sequence[str], remove: Sequence[str]
) -> list[MemberBadge]:
    """Add, then remove, in bulk. Everything is checked before the first write."""
    adding, removing = clean_slugs(add, "add"), clean_slugs(remove, "remove")
    both = sorted(set(adding) & set(removing))
    if both:
        raise ValidationFailed(
            "a badge cannot be added and removed at once", {"field": "remove", "slugs": both}
        )
    badges = request.app[appkeys.BADGES]
    held = await badges.member_badges(account, account)
    if adding:
        held = await badges.add_badges(account, adding)
    if removing:
        held = await badges.remove_badges(account, removing)
    return held


@routes.post("/api/v1/profile/badges")
async def add_remove_badges(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"add", "remove"})
    add = slug_list(body, "add", required=False)
    remove = slug_list(body, "remove", required=False)
    held = await change_badges(request, account, add, remove)
    return safe_json(member_badges_json(held, request.app[appkeys.URLS]))


@routes.put("/api/v1/profile/badges/order")
async def reorder_badges(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"slugs"})
    held = await request.app[appkeys.BADGES].reorder(account, slug_list(body, "slugs"))
    return safe_json(member_badges_json(held, request.app[appkeys.URLS]))


@routes.put("/api/v1/profile/badges/featured")
async def feature_badges(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"slugs"})
    held = await request.app[appkeys.BADGES].set_featured(account, slug_list(body, "slugs"))
    return safe_json(member_badges_json(held, request.app[appkeys.URLS]))


# --- moderation ----------------------------------------------------------------------------


@routes.get("/api/v1/moderation/badges")
async def pending_badges(request: web.Request) -> web.Response:
    account = require_account(request)
    page = await request.app[appkeys.BADGES].pending_badges(
        account,
        cursor=request.query.get("cursor") or None,
        limit=query_int(request, "limit"),
    )
    return safe_json(badge_page_json(page, request.app[appkeys.URLS]))


@routes.post("/api/v1/moderation/badges/{slug}/approve")
async def approve_badge(request: web.Request) -> web.Response:
    account = require_account(request)
    badge = await request.app[appkeys.BADGE_MODERATION].approve(account, request.match_info["slug"])
    return safe_json(badge_json(badge, request.app[appkeys.URLS]))


@routes.post("/api/v1/moderation/badges/{slug}/reject")
async def reject_badge(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    refuse_unknown(body, {"reason"})
    badge = await request.app[appkeys.BADGE_MODERATION].reject(
        account, request.match_info["slug"], text_field(body, "reason", required=False)
    )
    return safe_json(badge_json(badge, request.app[appkeys.URLS]))
