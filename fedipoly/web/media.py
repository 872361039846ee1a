"""GET /media/{media_id}: uploaded images, re-encoded at upload, served with strict headers."""

from __future__ import annotations

from aiohttp import web

from fedipoly import appkeys
from fedipoly.services.media import headers_for

routes = web.RouteTableDef()


@routes.get("/media/{media_id}")
async def media_file(request: web.Request) -> web.Response:
    media_id = request.match_info["media_id"]
    data, _content_type = await request.app[appkeys.MEDIA].read(media_id)
    return web.Response(body=data, headers=headers_for(media_id))
