"""GET /healthz: 200 when the store answers, 503 otherwise (for load balancers and orchestrators)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import StoreUnavailable

routes = web.RouteTableDef()

PING_TIMEOUT_SECONDS = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[appkeys.STORE].ping(), PING_TIMEOUT_SECONDS)
    except (StoreUnavailable, TimeoutError):
        return web.json_response(
            {"status": "unavailable"}, status=503, headers={"Retry-After": "10"}
        )
    return web.json_response({"status": "ok"})
