"""Loopback inboxes for the delivery benchmark: many hosts (ports) in one process.

    python bench/sink_server.py COUNT KEYS_JSON

Listens on COUNT free ports of 127.0.0.1 (one "remote server" each), prints them as one JSON
line on stdout, then serves. Every POST, on any path, must carry a draft-cavage or RFC 9421
signature that verifies with one of the public keys in KEYS_JSON ({keyId: PEM}, read
again when a request names a keyId it does not hold) and whose
signer is the activity's actor: it is then answered 202 and recorded, otherwise 401 and
counted as rejected. ``GET /stats`` on any port returns what arrived: counts, duplicates per
(host, path, activity), and the wall-clock times of the first and last accepted request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

from federation.errors import SignatureError
from federation.httpsig import parse_signature, verify_signature
from fedipoly.models import utc_now


class Sinks:
    def __init__(self, keys_path: str) -> None:
        self.keys_path = keys_path
        self.keys: dict[str, str] = {}
        self.seen: Counter[tuple[str, str, str]] = Counter()
        self.rejected: list[str] = []
        self.first = 0.0
        self.last = 0.0

    def read_keys(self) -> dict[str, str]:
        return dict(json.loads(Path(self.keys_path).read_text(encoding="utf-8")))

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parsed = parse_signature(
                request.method, request.raw_path, request.headers, scheme="http"
            )
            if parsed.key_id not in self.keys:
                # The sender's key may be written after the sinks started (its keys are
                # made when its members are): read the file again.
                self.keys = await asyncio.to_thread(self.read_keys)
            public_pem = self.keys.get(parsed.key_id)
            if public_pem is None:
                raise SignatureError(f"unknown keyId {parsed.key_id}")
            verify_signature(
                parsed,
                method=request.method,
                target=request.raw_path,
                body=body,
                public_key_pem=public_pem,
                now=utc_now(),
            )
            activity = json.loads(body)
            if parsed.key_id.partition("#")[0] != activity.get("actor"):
                raise SignatureError("the signer is not the activity's actor")
        except (SignatureError, ValueError) as failure:
            self.rejected.append(f"{request.host}{request.path}: {failure}")
            return web.Response(status=401, text=str(failure))
        now = time.time()
        self.first = self.first or now
        self.last = now
        self.seen[(request.host, request.path, str(activity.get("id")))] += 1
        return web.Response(status=202)

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "received": sum(self.seen.values()),
                "distinct": len(self.seen),
                "duplicates": sum(n - 1 for n in self.seen.values() if n > 1),
                "rejected": len(self.rejected),
                "rejections": self.rejected[:5],
                "first": self.first,
                "last": self.last,
            }
        )


async def serve(count: int, keys_path: str) -> None:
    sinks = Sinks(keys_path)
    app = web.Application()
    app.router.add_get("/stats", sinks.stats)
    app.router.add_post("/{tail:.*}", sinks.receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for _ in range(count):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        await web.SockSite(runner, listener).start()
        ports.append(listener.getsockname()[1])
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))


if __name__ == "__main__":
    main()
