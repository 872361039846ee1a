"""The public timelines as pages: /local (this server's members) and /federated (every public
post this server knows). Anyone may read them, signed in or not; only public posts appear,
newest first by publication time, never ranked, with "Older posts" links (cursor pages).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.models import TimelinePage
from fedipoly.web.middlewares import current_account
from fedipoly.web.pages import render
from fedipoly.web.social_api import post_views
from fedipoly.web.social_pages import common

routes = web.RouteTableDef()


async def _timeline(
    request: web.Request, page: TimelinePage, before: str | None, about: dict[str, Any]
) -> web.Response:
    reader = current_account(request)
    context = common(request) | about
    context |= {
        "views": await post_views(request, reader, page.posts),
        "next_cursor": page.next_cursor,
        "paged": before is not None,
        "path": request.path,
    }
    return render(request, "public_timeline.html", context)


@routes.get("/local", name="local_timeline")
async def local_timeline(request: web.Request) -> web.Response:
    before = request.query.get("before") or None
    page = await request.app[appkeys.POSTS].local_timeline(before=before)
    about = {
        "title": "Local",
        "description": f"Public posts by the members of {request.app[appkeys.URLS].domain}, "
        "newest first.",
        "empty": "No public posts on this server yet.",
    }
    return await _timeline(request, page, before, about)


@routes.get("/federated", name="federated_timeline")
async def federated_timeline(request: web.Request) -> web.Response:
    before = request.query.get("before") or None
    page = await request.app[appkeys.POSTS].federated_timeline(before=before)
    about = {
        "title": "Federated",
        "description": "Every public post this server knows, from here and from the servers "
        "its members follow, newest first.",
        "empty": "No public posts known here yet.",
    }
    return await _timeline(request, page, before, about)
