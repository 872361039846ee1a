"""Badge federation over HTTP: badge actors (Group) with inbox, outbox and follower collections;
the public badge directory; the API and pages for members' announce choice and admins' badge
peers; the "also on" facts of a badge page. Thin: the work is in services/badge_actors.py and
services/badge_directory.py. The API part is described by openapi_badge_federation.py.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fedipoly import appkeys, render
from fedipoly.badge_federation_models import BadgePeer
from fedipoly.errors import FedipolyError, ValidationFailed
from fedipoly.models import Account, Badge
from fedipoly.services.badge_directory import DIRECTORY_CONTEXT, AlsoOn, PeerView
from fedipoly.services.badge_icons import ICON_MEDIA_TYPE, badge_icon_png
from fedipoly.web.activitypub import (
    ACTIVITY_JSON_HEADERS,
    COLLECTION_PAGE_SIZE,
    _receive,
    activity_json,
    paged_collection,
    wants_activitypub,
)
from fedipoly.web.api import read_json, require_account
from fedipoly.web.badges_api import safe_json
from fedipoly.web.middlewares import current_account
from fedipoly.web.pages import render as render_page
from fedipoly.web.profile_pages import form_text, member_or_login, see_other

routes = web.RouteTableDef()

NOTICES = {
    "peer_saved": "The peer is saved; its badge directory is being read.",
    "peer_removed": "The peer is removed.",
    "announces_saved": "Your choice is saved.",
}


async def _badge_actor(request: web.Request) -> Badge:
    """The approved badge behind the actor in the path; 404 for pending or rejected ones."""
    return await request.app[appkeys.BADGE_ACTORS].by_id(request.match_info["badge_id"])


# --- badge actors ------------------------------------------------------------------------


@routes.get("/badge-actors/{badge_id}")
async def badge_actor(request: web.Request) -> web.StreamResponse:
    if wants_activitypub(request):  # served from memory (services/discovery.py)
        body = await request.app[appkeys.DISCOVERY].badge_actor(request.match_info["badge_id"])
        return web.Response(body=body, headers=ACTIVITY_JSON_HEADERS)
    badge = await _badge_actor(request)
    raise web.HTTPSeeOther(
        request.app[appkeys.URLS].badge_page(badge.slug), headers={"Vary": "Accept"}
    )


@routes.get("/badge-actors/{badge_id}/icon.png")
async def badge_actor_icon(request: web.Request) -> web.Response:
    badge = await _badge_actor(request)
    return web.Response(
        body=badge_icon_png(badge),
        content_type=ICON_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=86400"},
    )


@routes.post("/badge-actors/{badge_id}/inbox")
async def badge_actor_inbox(request: web.Request) -> web.Response:
    await _badge_actor(request)
    return await _receive(request)


@routes.get("/badge-actors/{badge_id}/outbox")
async def badge_actor_outbox(request: web.Request) -> web.Response:
    badge = await _badge_actor(request)
    service = request.app[appkeys.BADGE_ACTORS]
    return await paged_collection(
        request,
        f"{service.actor_uri(badge)}/outbox",
        lambda: service.outbox_total(badge),
        lambda before: service.outbox_page(badge, before=before, limit=COLLECTION_PAGE_SIZE),
    )


@routes.get("/badge-actors/{badge_id}/followers")
async def badge_actor_followers(request: web.Request) -> web.Response:
    badge = await _badge_actor(request)
    service = request.app[appkeys.BADGE_ACTORS]
    return await paged_collection(
        request,
        f"{service.actor_uri(badge)}/followers",
        lambda: service.follower_total(badge),
        lambda before: service.followers_page(badge, before=before, limit=COLLECTION_PAGE_SIZE),
    )


@routes.get("/badge-actors/{badge_id}/following")
async def badge_actor_following(request: web.Request) -> web.Response:
    badge = await _badge_actor(request)
    service = request.app[appkeys.BADGE_ACTORS]
    collection = f"{service.actor_uri(badge)}/following"
    document = render.ordered_collection(collection, await service.following_total(badge), None)
    return activity_json(document)


# --- the badge directory -----------------------------------------------------------------


@routes.get("/federation/badges")
async def badge_directory(request: web.Request) -> web.Response:
    """Public, paged by slug: approved badges only."""
    directory = request.app[appkeys.BADGE_DIRECTORY]
    if request.query.get("page") != "true":
        document = render.ordered_collection(
            directory.directory_url,
            await directory.directory_total(),
            directory.directory_page_url(None),
        )
        return activity_json(document | {"@context": DIRECTORY_CONTEXT})
    after = request.query.get("after") or None
    entries, next_after = await directory.directory_page(after)
    page = render.ordered_page(
        directory.directory_page_url(after),
        directory.directory_url,
        [directory.directory_item(entry) for entry in entries],
        directory.directory_page_url(next_after) if next_after else None,
    )
    return activity_json(page | {"@context": DIRECTORY_CONTEXT})


# --- members: the announce choice ----------------------------------------------------------


@routes.get("/api/v1/profile/badge-announces")
async def get_badge_announces(request: web.Request) -> web.Response:
    account = require_account(request)
    enabled = await request.app[appkeys.BADGE_ACTORS].announces_enabled(account)
    return safe_json({"enabled": enabled})


@routes.put("/api/v1/profile/badge-announces")
async def put_badge_announces(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise ValidationFailed("enabled must be true or false", {"field": "enabled"})
    saved = await request.app[appkeys.BADGE_ACTORS].set_announces_enabled(account, enabled)
    return safe_json({"enabled": saved})


@routes.get("/settings/badge-announces")
async def badge_announces_page(request: web.Request) -> web.Response:
    account = member_or_login(request, "/settings/badge-announces")
    enabled = await request.app[appkeys.BADGE_ACTORS].announces_enabled(account)
    return render_page(
        request,
        "badge_announces.html",
        {
            "enabled": enabled,
            "notice": NOTICES.get(request.query.get("notice", "")),
            "domain": request.app[appkeys.URLS].domain,
        },
    )


@routes.post("/settings/badge-announces")
async def save_badge_announces(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/settings/badge-announces")
    form = await request.post()
    enabled = form_text(form, "enabled") == "yes"
    await request.app[appkeys.BADGE_ACTORS].set_announces_enabled(account, enabled)
    raise see_other("/settings/badge-announces", "announces_saved")


# --- admins: badge peers -------------------------------------------------------------------


def peer_json(view: PeerView) -> dict[str, Any]:
    peer: BadgePeer = view.peer
    return {
        "host": peer.host,
        "approved": peer.approved or view.from_config,
        "from_config": view.from_config,
        "added_at": peer.added_at.isoformat(),
        "fetched_at": peer.fetched_at.isoformat() if peer.fetched_at else None,
        "last_error": peer.last_error,
        "badges_read": peer.badge_count,
    }


@routes.get("/api/v1/admin/badge-peers")
async def list_badge_peers(request: web.Request) -> web.Response:
    account = require_account(request)
    directory = request.app[appkeys.BADGE_DIRECTORY]
    peers = await directory.peers(account)
    met = await directory.met_instances(account)
    return safe_json({"peers": [peer_json(view) for view in peers], "met": met})


@routes.post("/api/v1/admin/badge-peers")
async def save_badge_peer(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    approved = body.get("approved", False)
    if not isinstance(approved, bool):
        raise ValidationFailed("approved must be true or false", {"field": "approved"})
    directory = request.app[appkeys.BADGE_DIRECTORY]
    peer = await directory.save_peer(account, body.get("host"), approved=approved)
    config_peers = request.app[appkeys.CONFIG].federation.badge_peers
    return safe_json(peer_json(PeerView(peer, peer.host in config_peers)))


@routes.delete("/api/v1/admin/badge-peers/{host}")
async def delete_badge_peer(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.BADGE_DIRECTORY].remove_peer(account, request.match_info["host"])
    return web.Response(status=204)


async def _peers_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    directory = request.app[appkeys.BADGE_DIRECTORY]
    return render_page(
        request,
        "badge_peers.html",
        {
            "peers": await directory.peers(account),
            "met": await directory.met_instances(account),
            "notice": NOTICES.get(request.query.get("notice", "")),
            "error": error.message if error else None,
        },
        status=error.status if error else 200,
    )


@routes.get("/admin/badge-peers")
async def badge_peers_page(request: web.Request) -> web.Response:
    account = member_or_login(request, "/admin/badge-peers")
    return await _peers_page(request, account)


@routes.post("/admin/badge-peers")
async def save_badge_peer_form(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/admin/badge-peers")
    form = await request.post()
    try:
        await request.app[appkeys.BADGE_DIRECTORY].save_peer(
            account, form_text(form, "host"), approved=form_text(form, "approved") == "yes"
        )
    except FedipolyError as error:
        if error.status == 403:
            raise
        return await _peers_page(request, account, error)
    raise see_other("/admin/badge-peers", "peer_saved")


@routes.post("/admin/badge-peers/remove")
async def remove_badge_peer_form(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/admin/badge-peers")
    form = await request.post()
    try:
        await request.app[appkeys.BADGE_DIRECTORY].remove_peer(account, form_text(form, "host"))
    except FedipolyError as error:
        if error.status == 403:
            raise
        return await _peers_page(request, account, error)
    raise see_other("/admin/badge-peers", "peer_removed")


# --- a badge's page: the same badge elsewhere ---------------------------------------------


def also_on_json(item: AlsoOn) -> dict[str, Any]:
    return {
        "host": item.host,
        "name": item.name,
        "holders": item.holder_count,
        "url": item.url,
        "approved": item.approved,
    }


@routes.get("/api/v1/badges/{slug}/also-on")
async def badge_also_on(request: web.Request) -> web.Response:
    """The badge's namesakes on peer instances; 404 for a badge the caller may not see."""
    badge = await request.app[appkeys.BADGES].get_badge(
        request.match_info["slug"], current_account(request)
    )
    found = await request.app[appkeys.BADGE_DIRECTORY].also_on(badge)
    return safe_json({"items": [also_on_json(item) for item in found]})


async def also_on_context(request: web.Request, badge: Badge) -> dict[str, Any]:
    """For badge.html: the peers that have this badge, and this badge's fediverse handle."""
    if not badge.is_public:
        return {"also_on": [], "badge_handle": None}
    return {
        "also_on": await request.app[appkeys.BADGE_DIRECTORY].also_on(badge),
        "badge_handle": request.app[appkeys.BADGE_ACTORS].handle(badge),
    }
