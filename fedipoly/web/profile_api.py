"""The profile JSON API under /api/v1/: your own profile (read and change) and anyone's public
profile. Described by openapi_badges.py.

A public profile shows approved badges only, in the member's order with the featured ones
marked, and no counts of any kind (product rule 1). The bio goes out as `bio_html`, rendered
and sanitised by the profile service; its source text only to its author.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import Gone, ValidationFailed
from fedipoly.models import Account, MemberBadge, Profile, ProfileLink
from fedipoly.services.profiles import (
    MAX_DISPLAY_NAME,
    MAX_HEADLINE,
    clean_bio,
    clean_line,
    clean_links,
    clean_positions,
)
from fedipoly.urls import Urls
from fedipoly.web.api import read_json, require_account
from fedipoly.web.badges_api import member_badge_json, refuse_unknown, safe_json

routes = web.RouteTableDef()

PROFILE_FIELDS = {
    "display_name",
    "manually_approves_followers",
    "headline",
    "bio",
    "positions",
    "links",
    "discoverable",
}


@dataclass(frozen=True)
class ProfileChanges:
    """What a member asked to change; None keeps a field as it is."""

    display_name: str | None = None
    manually_approves_followers: bool | None = None
    headline: str | None = None
    bio: str | None = None
    positions: Sequence[str] | None = None
    links: Sequence[ProfileLink] | None = None
    discoverable: bool | None = None


async def apply_profile_changes(
    request: web.Request, account: Account, changes: ProfileChanges
) -> tuple[Account, Profile]:
    """Validate every field with the profile service's own rules, then write.

    Basics (display name, follower approval) and the profile are two service calls; checking
    everything first keeps the promise that bad input changes nothing.
    """
    if changes.display_name is not None:
        name = clean_line(changes.display_name, "display_name", MAX_DISPLAY_NAME)
        if not name:
            raise ValidationFailed(
                f"a display name has 1 to {MAX_DISPLAY_NAME} characters",
                {"field": "display_name"},
            )
    if changes.headline is not None:
        clean_line(changes.headline, "headline", MAX_HEADLINE)
    if changes.bio is not None:
        clean_bio(changes.bio)
    if changes.positions is not None:
        clean_positions(changes.positions)
    if changes.links is not None:
        clean_links(changes.links)
    profiles = request.app[appkeys.PROFILES]
    new_name = account.display_name if changes.display_name is None else changes.display_name
    new_manual = (
        account.manually_approves_followers
        if changes.manually_approves_followers is None
        else changes.manually_approves_followers
    )
    if " ".join(new_name.split()) != account.display_name or (
        new_manual != account.manually_approves_followers
    ):
        account = await profiles.update_basics(
            account, display_name=new_name, manually_approves_followers=new_manual
        )
    profile_fields = (
        changes.headline,
        changes.bio,
        changes.positions,
        changes.links,
        changes.discoverable,
    )
    if any(value is not None for value in profile_fields):
        profile = await profiles.update_profile(
            account,
            headline=changes.headline,
            bio=changes.bio,
            positions=changes.positions,
            links=changes.links,
            discoverable=changes.discoverable,
        )
    else:
        profile = await profiles.get(account)
    return account, profile


# --- JSON shapes ---------------------------------------------------------------------------


def links_json(profile: Profile) -> list[dict[str, str]]:
    return [{"label": link.label, "url": link.url} for link in profile.links]


def own_profile_json(account: Account, profile: Profile) -> dict[str, Any]:
    return {
        "username": account.username,
        "display_name": account.display_name,
        "manually_approves_followers": account.manually_approves_followers,
        "headline": profile.headline,
        "bio": profile.bio,
        "bio_html": profile.bio_html,
        "positions": list(profile.positions),
        "links": links_json(profile),
        "discoverable": profile.discoverable,
        "updated_at": profile.updated_at.isoformat() if profile.updated_at else None,
    }


def public_profile_json(
    member: Account, profile: Profile, badges: Sequence[MemberBadge], urls: Urls
) -> dict[str, Any]:
    return {
        "username": member.username,
        "handle": f"{member.username}@{urls.domain}",
        "url": urls.profile(member.username),
        "display_name": member.display_name,
        "headline": profile.headline,
        "bio_html": profile.bio_html,
        "positions": list(profile.positions),
        "links": links_json(profile),
        "badges": [member_badge_json(held, urls) for held in badges if held.badge.is_public],
    }


# --- parsing -------------------------------------------------------------------------------


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", {"field": name})
    return value


def _optional_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name} must be true or false", {"field": name})
    return value


def _optional_positions(body: dict[str, Any]) -> list[str] | None:
    value = body.get("positions")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationFailed("positions must be a list of strings", {"field": "positions"})
    return value


def _optional_links(body: dict[str, Any]) -> list[ProfileLink] | None:
    value = body.get("links")
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationFailed("links must be a list of {label, url}", {"field": "links"})
    links = []
    for index, item in enumerate(value):
        if (
            not isinstance(item, dict)
            or set(item) != {"label", "url"}
            or not all(isinstance(item[key], str) for key in ("label", "url"))
        ):
            raise ValidationFailed(
                "every link is an object with a label and a url, both strings",
                {"field": f"links[{index}]"},
            )
        links.append(ProfileLink(label=item["label"], url=item["url"]))
    return links


def parse_changes(body: dict[str, Any]) -> ProfileChanges:
    refuse_unknown(body, PROFILE_FIELDS)
    return ProfileChanges(
        display_name=_optional_text(body, "display_name"),
        manually_approves_followers=_optional_bool(body, "manually_approves_followers"),
        headline=_optional_text(body, "headline"),
        bio=_optional_text(body, "bio"),
        positions=_optional_positions(body),
        links=_optional_links(body),
        discoverable=_optional_bool(body, "discoverable"),
    )


# --- routes --------------------------------------------------------------------------------


@routes.get("/api/v1/profile")
async def own_profile(request: web.Request) -> web.Response:
    account = require_account(request)
    profile = await request.app[appkeys.PROFILES].get(account)
    return safe_json(own_profile_json(account, profile))


@routes.patch("/api/v1/profile")
async def update_profile(request: web.Request) -> web.Response:
    account = require_account(request)
    changes = parse_changes(await read_json(request))
    account, profile = await apply_profile_changes(request, account, changes)
    return safe_json(own_profile_json(account, profile))


@routes.get("/api/v1/accounts/{username}/profile")
async def public_profile(request: web.Request) -> web.Response:
    member = await request.app[appkeys.ACCOUNTS].get_by_username(request.match_info["username"])
    if member.suspended:
        raise Gone("this account is suspended")
    profile = await request.app[appkeys.PROFILES].get(member)
    # viewer=None: what everyone sees, approved badges only, whoever asks.
    badges = await request.app[appkeys.BADGES].member_badges(member, None)
    return safe_json(public_profile_json(member, profile, badges, request.app[appkeys.URLS]))
