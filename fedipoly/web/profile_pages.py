"""Server-rendered profile pages: the edit-profile form (/settings/profile), and what the public
profile page shows about what a member does (headline, positions, bio, links, badges).

Works without JavaScript: a successful save answers 303, a failed one re-renders the form with
the message and the visitor's input, and nothing is changed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from yarl import URL

from fedipoly import appkeys
from fedipoly.errors import FedipolyError
from fedipoly.models import Account, MemberBadge, ProfileLink
from fedipoly.services.profiles import (
    MAX_BIO,
    MAX_DISPLAY_NAME,
    MAX_HEADLINE,
    MAX_LINK_LABEL,
    MAX_LINK_URL,
    MAX_LINKS,
    MAX_POSITION,
    MAX_POSITIONS,
)
from fedipoly.web.badges_api import BadgeView, badge_view
from fedipoly.web.middlewares import current_account
from fedipoly.web.pages import NOTICES as ACCOUNT_NOTICES
from fedipoly.web.pages import render
from fedipoly.web.profile_api import ProfileChanges, apply_profile_changes

routes = web.RouteTableDef()

NOTICES = ACCOUNT_NOTICES | {"profile_saved": "Your profile has been saved."}
LIMITS = {
    "display_name": MAX_DISPLAY_NAME,
    "headline": MAX_HEADLINE,
    "bio": MAX_BIO,
    "position": MAX_POSITION,
    "link_label": MAX_LINK_LABEL,
    "link_url": MAX_LINK_URL,
}


# --- small form helpers (also used by badges_pages) -----------------------------------------


def form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def safe_path(path: str, default: str) -> str:
    """Only same-site paths, so a form's `next` field can't make an open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def member_or_login(request: web.Request, back_to: str) -> Account:
    account = current_account(request)
    if account is None:
        raise web.HTTPSeeOther(str(URL("/login").with_query(next=back_to)))
    return account


def see_other(path: str, notice: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(str(URL(path).update_query(notice=notice)))


# --- the public profile page -----------------------------------------------------------------


def ordered_for_display(held: list[MemberBadge]) -> list[BadgeView]:
    """Approved badges, featured ones first; each group keeps the member's order."""
    public = [item for item in held if item.badge.is_public]
    ordered = [item for item in public if item.featured] + [
        item for item in public if not item.featured
    ]
    return [badge_view(item.badge, item.featured) for item in ordered]


async def profile_extras(request: web.Request, member: Account) -> dict[str, Any]:
    """What profile.html needs about the member beyond their name and posts.

    Everyone, the member included, sees the public view: approved badges only.
    """
    profile = await request.app[appkeys.PROFILES].get(member)
    held = await request.app[appkeys.BADGES].member_badges(member, None)
    return {
        "profile": profile,
        "profile_badges": ordered_for_display(held),
        "open_to_lines": await request.app[appkeys.OPEN_TO].lines(member),
    }


# --- the edit form ---------------------------------------------------------------------------


def _form_values(
    account: Account,
    headline: str,
    bio: str,
    positions: list[str],
    links: list[tuple[str, str]],
    discoverable: bool,
) -> dict[str, Any]:
    rows = list(links)[:MAX_LINKS]
    rows += [("", "")] * (MAX_LINKS - len(rows))
    slots = list(positions)[:MAX_POSITIONS]
    slots += [""] * (MAX_POSITIONS - len(slots))
    return {
        "display_name": account.display_name,
        "manually_approves_followers": account.manually_approves_followers,
        "headline": headline,
        "bio": bio,
        "positions": slots,
        "links": rows,
        "discoverable": discoverable,
    }


async def _edit_page(
    request: web.Request,
    account: Account,
    values: dict[str, Any] | None = None,
    error: FedipolyError | None = None,
) -> web.Response:
    if values is None:
        profile = await request.app[appkeys.PROFILES].get(account)
        values = _form_values(
            account,
            profile.headline,
            profile.bio,
            list(profile.positions),
            [(link.label, link.url) for link in profile.links],
            profile.discoverable,
        )
    field = error.detail.get("field") if error and isinstance(error.detail, dict) else None
    context = {
        "values": values,
        "error": error.message if error else None,
        "error_field": field if isinstance(field, str) else None,
        "limits": LIMITS,
        "notice": NOTICES.get(request.query.get("notice", "")),
    }
    return render(request, "profile_edit.html", context, status=error.status if error else 200)


@routes.get("/settings/profile", name="edit_profile")
async def edit_profile_form(request: web.Request) -> web.Response:
    return await _edit_page(request, member_or_login(request, "/settings/profile"))


@routes.post("/settings/profile")
async def edit_profile(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/profile")
    form = await request.post()
    positions = [form_text(form, f"position_{index}") for index in range(MAX_POSITIONS)]
    rows = [
        (form_text(form, f"link_label_{index}"), form_text(form, f"link_url_{index}"))
        for index in range(MAX_LINKS)
    ]
    filled = [(label, url) for label, url in rows if label.strip() or url.strip()]
    changes = ProfileChanges(
        display_name=form_text(form, "display_name"),
        manually_approves_followers=form.get("manually_approves_followers") == "yes",
        headline=form_text(form, "headline"),
        bio=form_text(form, "bio"),
        positions=positions,
        links=[ProfileLink(label=label, url=url) for label, url in filled],
        discoverable=form.get("discoverable") == "yes",
    )
    try:
        await apply_profile_changes(request, account, changes)
    except FedipolyError as error:
        values = _form_values(
            account,
            changes.headline or "",
            changes.bio or "",
            positions,
            filled,
            bool(changes.discoverable),
        ) | {
            "display_name": changes.display_name,
            "manually_approves_followers": changes.manually_approves_followers,
        }
        return await _edit_page(request, account, values, error)
    raise see_other("/settings/profile", "profile_saved")
