"""Loopback "sink" inboxes for delivery tests: real aiohttp servers that verify every signature.

A :class:`Sink` is one remote host (one port on 127.0.0.1) that accepts POSTs on any path, so
one sink can stand for many inboxes; fan-out is distinct per inbox URL. It verifies each
request's HTTP signature with ``federation.httpsig`` against public keys handed to it (it
fetches nothing), checks that the signer is the activity's actor, records what arrived and
answers what its responder says (202 by default), optionally after a delay so that a test
can catch requests in flight.

Also here: a TOML writer for worker config files, and a look-up of the local TCP ports a
process holds (Linux ``/proc``), so a test can tell which worker process sent a request.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from federation.errors import SignatureError
from federation.httpsig import parse_signature, verify_signature
from fedipoly.models import utc_now
from tests.support import free_port


@dataclass(frozen=True)
class Reply:
    status: int = 202
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """One signed POST that verified: where, what, when (monotonic), what we answered."""

    path: str
    activity_id: str
    at: float
    status: int
    peer_port: int


#: Decides the answer from the inbox path and how many requests that path has had (1-based).
Responder = Callable[[str, int], Reply]


def accept_all(_path: str, _attempt: int) -> Reply:
    return Reply(202)


def fail_first(count: int, status: int, headers: Mapping[str, str] | None = None) -> Responder:
    """Answer `status` to the first `count` requests on each path, then 202."""

    def respond(_path: str, attempt: int) -> Reply:
        return Reply(status, headers or {}) if attempt <= count else Reply(202)

    return respond


def fail_for(seconds: float, status: int) -> Responder:
    """Answer `status` until `seconds` after the first request reaches the sink, then 202."""
    started: list[float] = []

    def respond(_path: str, _attempt: int) -> Reply:
        if not started:
            started.append(time.monotonic())
        return Reply(status) if time.monotonic() - started[0] < seconds else Reply(202)

    return respond


def fail_requests(count: int, status: int) -> Responder:
    """Answer `status` to the first `count` requests the sink gets, whatever the path, then 202."""
    seen: list[int] = [0]

    def respond(_path: str, _attempt: int) -> Reply:
        seen[0] += 1
        return Reply(status) if seen[0] <= count else Reply(202)

    return respond


def always(status: int) -> Responder:
    return lambda _path, _attempt: Reply(status)


class Sink:
    """One loopback host accepting signed POSTs on every path.

    ``keys`` maps keyId to public key PEM; a request signed with any other key, with a bad
    signature, or by a signer that is not the activity's ``actor`` is answered 401 and listed
    in ``rejected`` instead of ``received``.
    """

    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        respond: Responder = accept_all,
        delay: float = 0.0,
    ) -> None:
        self.keys = dict(keys)
        self.respond = respond
        self.delay = delay
        self.port = free_port()
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self._attempts: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    @property
    def host(self) -> str:
        """host:port, as `federation.allowed_private_hosts` wants it."""
        return f"127.0.0.1:{self.port}"

    def inbox(self, path: str) -> str:
        return f"http://{self.host}{path}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        # handler_cancellation: a sender killed mid-request must not leave handlers sleeping.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parsed = parse_signature(
                request.method, request.raw_path, request.headers, scheme="http"
            )
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
            self.rejected.append(f"{request.path}: {failure}")
            return web.Response(status=401, text=str(failure))
        self._attempts[request.path] += 1
        reply = self.respond(request.path, self._attempts[request.path])
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.received.append(
            Received(
                path=request.path,
                activity_id=str(activity.get("id")),
                at=time.monotonic(),
                status=reply.status,
                peer_port=int(peer[1]) if peer else 0,
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=reply.status, headers=dict(reply.headers))

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@asynccontextmanager
async def running_sinks(
    count: int,
    keys: Mapping[str, str],
    *,
    respond: Responder = accept_all,
    delay: float = 0.0,
) -> AsyncIterator[list[Sink]]:
    """`count` sinks on distinct loopback ports (distinct hosts for the breaker and dedup)."""
    async with AsyncExitStack() as stack:
        sinks = []
        for _ in range(count):
            sink = Sink(keys, respond=respond, delay=delay)
            await sink.start()
            stack.push_async_callback(sink.close)
            sinks.append(sink)
        yield sinks


def accepted_pairs(sinks: list[Sink]) -> Counter[tuple[str, str, str]]:
    """How many 2xx answers each (host, inbox path, activity id) got, over all sinks."""
    return Counter((s.host, r.path, r.activity_id) for s in sinks for r in s.accepted())


def received_pairs(sinks: list[Sink]) -> Counter[tuple[str, str, str]]:
    """How many verified requests each (host, inbox path, activity id) got, over all sinks."""
    return Counter((s.host, r.path, r.activity_id) for s in sinks for r in s.received)


def toml_text(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """A config file from plain values (str, int, float, bool, lists of those)."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item)  # a TOML basic string for anything a test writes
        if isinstance(item, list | tuple):
            return "[" + ", ".join(value(v) for v in item) + "]"
        raise TypeError(f"cannot write {item!r} as TOML")

    lines: list[str] = []
    for name, options in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {value(item)}" for key, item in options.items()]
    return "\n".join(lines) + "\n"


def write_config(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    path.write_text(toml_text(sections), encoding="utf-8")
    return path


def local_tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets process `pid` has open (Linux /proc)."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        links = list(fd_dir.iterdir())
    except OSError:
        return set()
    for link in links:
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports
