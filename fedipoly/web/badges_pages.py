"""Server-rendered badge pages: the catalogue with search, creating a badge, a badge's page,
the member's own badges (add, remove, reorder, feature) and the moderators' review queue.

Usable without JavaScript: reordering is up/down buttons, each action its own small form;
every successful POST answers 303, every failed one re-renders the page with the message.
A pending badge is invisible (404) to everyone but its creator and moderators, and the review
queue answers 403 to members: both rules live in the badge service. No counts anywhere.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import FedipolyError, NotFound, ValidationFailed
from fedipoly.models import Account, Badge, BadgeStatus
from fedipoly.services.badges import MAX_DISPLAY_NAME, MAX_FEATURED, MAX_ICON, SLUG_PATTERN
from fedipoly.web.badge_federation import also_on_context
from fedipoly.web.badges_api import BadgeView, badge_view
from fedipoly.web.middlewares import current_account
from fedipoly.web.pages import NOTICES as ACCOUNT_NOTICES
from fedipoly.web.pages import render
from fedipoly.web.profile_pages import form_text, member_or_login, safe_path, see_other
from fedipoly.web.social_api import post_views
from fedipoly.web.social_pages import VISIBILITY_LABELS

routes = web.RouteTableDef()

NOTICES = ACCOUNT_NOTICES | {
    "badge_created": "Your badge is created and on your profile list. It appears in the "
    "catalogue once a moderator has approved it.",
    "badges_added": "Your badges have been updated.",
    "badge_removed": "The badge has been removed from your badges.",
    "badges_moved": "Your badges have been reordered.",
    "featured_saved": "Your featured badges have been saved.",
    "badge_approved": "The badge is approved and now public.",
    "badge_rejected": "The badge has been rejected.",
}
DEFAULT_COLOR = "#2f4bc6"
SLUG_SEPARATORS = re.compile(r"[\s,]+")


def notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("notice", ""))


def error_context(error: FedipolyError) -> dict[str, Any]:
    field = error.detail.get("field") if isinstance(error.detail, dict) else None
    return {"error": error.message, "error_field": field if isinstance(field, str) else None}


async def held_slugs(request: web.Request, account: Account | None) -> set[str]:
    if account is None:
        return set()
    held = await request.app[appkeys.BADGES].member_badges(account, account)
    return {item.badge.slug for item in held}


# --- the catalogue -------------------------------------------------------------------------


@routes.get("/badges", name="badges")
async def catalogue(request: web.Request) -> web.Response:
    viewer = current_account(request)
    query = request.query.get("q", "").strip()
    cursor = request.query.get("cursor") or None
    context: dict[str, Any] = {
        "query": query,
        "cursor": cursor,
        "views": [],
        "next_cursor": None,
        "error": None,
        "notice": notice(request),
    }
    status = 200
    try:
        page = await request.app[appkeys.BADGES].catalogue(
            viewer, query=query or None, cursor=cursor
        )
    except FedipolyError as error:
        context["error"], status = error.message, error.status
    else:
        context["views"] = [badge_view(badge) for badge in page.badges]
        context["next_cursor"] = page.next_cursor
    return render(request, "badges.html", context, status=status)


# --- creating a badge ----------------------------------------------------------------------


def _new_badge_page(
    request: web.Request,
    values: dict[str, str] | None = None,
    error: FedipolyError | None = None,
) -> web.Response:
    context = {
        "values": values or {"slug": "", "display_name": "", "color": DEFAULT_COLOR, "icon": ""},
        "max_name": MAX_DISPLAY_NAME,
        "max_icon": MAX_ICON,
        "error": None,
        "error_field": None,
    } | (error_context(error) if error else {})
    return render(request, "badge_new.html", context, status=error.status if error else 200)


@routes.get("/badges/new", name="new_badge")
async def new_badge_form(request: web.Request) -> web.Response:
    member_or_login(request, "/badges/new")
    return _new_badge_page(request)


@routes.post("/badges/new")
async def create_badge(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/badges/new")
    form = await request.post()
    values = {name: form_text(form, name) for name in ("slug", "display_name", "color", "icon")}
    try:
        badge = await request.app[appkeys.BADGES].create_badge(
            account,
            slug=values["slug"].strip(),
            display_name=values["display_name"],
            color=values["color"],
            icon=values["icon"],
        )
    except FedipolyError as error:
        return _new_badge_page(request, values, error)
    raise see_other(f"/badges/{badge.slug}", "badge_created")


# --- a badge's page ------------------------------------------------------------------------


async def badge_posts_context(
    request: web.Request, badge: Badge, viewer: Account | None
) -> dict[str, Any]:
    """Public posts filed under this badge by their activity tags, newest first, for the
    "Posts" section of badge.html (`?before=` pages them; the holders list pages by `cursor`)."""
    before = request.query.get("before") or None
    page = await request.app[appkeys.POSTS].badge_timeline(badge.slug, viewer, before=before)
    return {
        "badge_posts": {
            "views": await post_views(request, viewer, page.posts),
            "next_cursor": page.next_cursor,
            "paged": before is not None,
        },
        "visibility_labels": VISIBILITY_LABELS,
    }


@routes.get("/badges/{slug}", name="badge")
async def badge_page(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    if not SLUG_PATTERN.fullmatch(slug):
        raise NotFound("no such badge")
    viewer = current_account(request)
    badges = request.app[appkeys.BADGES]
    badge = await badges.get_badge(slug, viewer)
    cursor = request.query.get("cursor") or None
    page = await badges.holders(slug, viewer, cursor=cursor)
    held = slug in await held_slugs(request, viewer)
    view_pending = badge.status is BadgeStatus.PENDING
    context = {
        "badge": badge,
        "view": badge_view(badge),
        "holders": [holder.account for holder in page.holders],
        "next_cursor": page.next_cursor,
        "paged": cursor is not None,
        "held": held,
        # Approved badges, or your own one still waiting for review (the service's can_use).
        "can_add": viewer is not None
        and not held
        and (badge.is_public or (view_pending and badge.created_by == viewer.id)),
        "can_moderate": viewer is not None and viewer.role.can_moderate,
        "notice": notice(request),
    }
    context |= await badge_posts_context(request, badge, viewer)
    context |= await also_on_context(request, badge)
    return render(request, "badge.html", context)


# --- the member's own badges ---------------------------------------------------------------


async def _my_badges_page(
    request: web.Request,
    account: Account,
    error: FedipolyError | None = None,
    typed: str = "",
) -> web.Response:
    badges = request.app[appkeys.BADGES]
    held = await badges.member_badges(account, account)
    views: list[BadgeView] = [badge_view(item.badge, item.featured) for item in held]
    query = request.query.get("q", "").strip() if request.method == "GET" else ""
    cursor = (request.query.get("cursor") or None) if request.method == "GET" else None
    search_error = None
    candidates: list[BadgeView] = []
    next_cursor = None
    try:
        page = await badges.catalogue(account, query=query or None, cursor=cursor)
    except FedipolyError as problem:
        search_error = problem.message
    else:
        candidates = [badge_view(badge) for badge in page.badges]
        next_cursor = page.next_cursor
    held_set = {view.slug for view in views}
    context = {
        "views": views,
        "candidates": candidates,
        "held_slugs": held_set,
        "query": query,
        "cursor": cursor,
        "next_cursor": next_cursor,
        "search_error": search_error,
        "typed": typed,
        "max_featured": MAX_FEATURED,
        "featured_full": sum(1 for view in views if view.featured) >= MAX_FEATURED,
        "notice": notice(request),
        "error": error.message if error else None,
    }
    return render(request, "my_badges.html", context, status=error.status if error else 200)


@routes.get("/settings/badges", name="my_badges")
async def my_badges(request: web.Request) -> web.Response:
    return await _my_badges_page(request, member_or_login(request, "/settings/badges"))


@routes.post("/settings/badges/add")
async def add_badges(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/badges")
    form = await request.post()
    chosen = [value for value in form.getall("slug", []) if isinstance(value, str)]
    typed = form_text(form, "slugs")
    typed_slugs = [part.lstrip("#").lower() for part in SLUG_SEPARATORS.split(typed) if part]
    next_path = safe_path(form_text(form, "next"), "/settings/badges")
    try:
        slugs = chosen + typed_slugs
        if not slugs:
            raise ValidationFailed("choose or type at least one badge", {"field": "slugs"})
        await request.app[appkeys.BADGES].add_badges(account, slugs)
    except FedipolyError as error:
        return await _my_badges_page(request, account, error, typed)
    raise see_other(next_path, "badges_added")


@routes.post("/settings/badges/remove")
async def remove_badge(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/badges")
    form = await request.post()
    next_path = safe_path(form_text(form, "next"), "/settings/badges")
    try:
        await request.app[appkeys.BADGES].remove_badges(account, [form_text(form, "slug")])
    except FedipolyError as error:
        return await _my_badges_page(request, account, error)
    raise see_other(next_path, "badge_removed")


@routes.post("/settings/badges/move")
async def move_badge(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/badges")
    form = await request.post()
    slug, direction = form_text(form, "slug"), form_text(form, "direction")
    badges = request.app[appkeys.BADGES]
    try:
        order = [item.badge.slug for item in await badges.member_badges(account, account)]
        if slug not in order:
            raise ValidationFailed("you don't hold that badge", {"field": "slug"})
        if direction not in ("up", "down"):
            raise ValidationFailed("move a badge up or down", {"field": "direction"})
        index = order.index(slug)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
            await badges.reorder(account, order)
    except FedipolyError as error:
        return await _my_badges_page(request, account, error)
    raise see_other(f"/settings/badges#badge-{slug}", "badges_moved")


@routes.post("/settings/badges/feature")
async def feature_badge(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/badges")
    form = await request.post()
    slug, wanted = form_text(form, "slug"), form_text(form, "featured") == "yes"
    badges = request.app[appkeys.BADGES]
    try:
        held = await badges.member_badges(account, account)
        featured = [item.badge.slug for item in held if item.featured and item.badge.slug != slug]
        if wanted:
            featured.append(slug)
        await badges.set_featured(account, featured)
    except FedipolyError as error:
        return await _my_badges_page(request, account, error)
    raise see_other(f"/settings/badges#badge-{slug}", "featured_saved")


# --- moderation ----------------------------------------------------------------------------


async def _queue_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    cursor = (request.query.get("cursor") or None) if request.method == "GET" else None
    page = await request.app[appkeys.BADGES].pending_badges(account, cursor=cursor)
    context = {
        "pending": [(badge, badge_view(badge)) for badge in page.badges],
        "next_cursor": page.next_cursor,
        "paged": cursor is not None,
        "notice": notice(request),
        "error": error.message if error else None,
    }
    return render(request, "moderation_badges.html", context, status=error.status if error else 200)


@routes.get("/moderation/badges", name="moderation_badges")
async def moderation_queue(request: web.Request) -> web.Response:
    return await _queue_page(request, member_or_login(request, "/moderation/badges"))


async def _review(request: web.Request, approve: bool) -> web.StreamResponse:
    account = member_or_login(request, "/moderation/badges")
    slug = request.match_info["slug"]
    form = await request.post()
    badges = request.app[appkeys.BADGE_MODERATION]  # audited; the creator learns why
    try:
        if approve:
            await badges.approve(account, slug)
        else:
            await badges.reject(account, slug, form_text(form, "reason"))
    except FedipolyError as error:
        if error.status == 403:
            raise
        return await _queue_page(request, account, error)
    raise see_other("/moderation/badges", "badge_approved" if approve else "badge_rejected")


@routes.post("/moderation/badges/{slug}/approve")
async def approve_badge(request: web.Request) -> web.StreamResponse:
    return await _review(request, approve=True)


@routes.post("/moderation/badges/{slug}/reject")
async def reject_badge(request: web.Request) -> web.StreamResponse:
    return await _review(request, approve=False)
