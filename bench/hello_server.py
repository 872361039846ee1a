"""The framework ceiling: aiohttp's hello-world JSON handler, as fedipoly serves it.

    python bench/hello_server.py PORT

Same event loop, same `web.run_app` and no access log, as `fedipoly serve` runs. GET answers
``{"hello": "world"}``; any other method reads the whole body first (as an inbox must) and
answers the same JSON with 202, so POST replays measure the same HTTP work an inbox does.
"""

from __future__ import annotations

import sys

from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    if request.method == "GET":
        return web.json_response({"hello": "world"})
    await request.read()
    return web.json_response({"hello": "world"}, status=202)


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
