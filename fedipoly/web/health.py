"""GET /healthz: 200 when the store answers, 503 otherwise (for load balancers and orchestrators)."""

from __future__ import annotations

from aiohttp import web

from fedipoly import appkeys

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    if not await request.app[appkeys.HEALTH].store_answers():
        return web.json_response(
            {"status": "unavailable"}, status=503, headers={"Retry-After": "10"}
        )
    return web.json_response({"status": "ok"})
