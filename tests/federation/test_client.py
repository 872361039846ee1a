"""FederationClient against real aiohttp servers on 127.0.0.1.

"peer" servers are allow-listed by host:port and answer like remote instances; "canary"
servers are not allow-listed and count every TCP connection and HTTP request they receive:
each SSRF test asserts the canary saw nothing at all, i.e. the refusal happened before a
socket was connected.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from federation.client import (
    ACTIVITY_ACCEPT,
    JRD_ACCEPT,
    FederationClient,
    parse_retry_after,
)
from federation.errors import (
    FederationError,
    FetchError,
    ForbiddenAddress,
    ForbiddenRedirect,
    PeerTimeout,
    PeerUnreachable,
    ResponseTooLarge,
    TooManyRedirects,
)
from federation.ssrf import HostPolicy

USER_AGENT = "Fedipoly/0.1 (+https://fedipoly.test/)"
ACTOR = {"id": "https://peer.test/users/bob", "type": "Person", "preferredUsername": "bob"}
TWO_MIB = 2 * 1024 * 1024


@dataclass
class Server:
    """A loopback aiohttp server that counts connections and requests."""

    port: int = 0
    connections: int = 0
    requests: list[web.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def origin_host_port(self) -> str:
        return f"127.0.0.1:{self.port}"


ServerFactory = Callable[[Callable[[Server], web.Application]], Awaitable[Server]]


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    running: list[tuple[Server, web.AppRunner, asyncio.Server]] = []

    async def start(build: Callable[[Server], web.Application]) -> Server:
        server = Server()
        app = build(server)

        @web.middleware
        async def record(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            server.requests.append(request)
            server.bodies.append(await request.read())
            return await handler(request)

        app.middlewares.append(record)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()

        def protocol_factory() -> asyncio.BaseProtocol:
            # Counts TCP connections, not just requests: a refused connection must never
            # reach the listening socket at all.
            server.connections += 1
            assert runner.server is not None
            return runner.server()

        loop = asyncio.get_running_loop()
        listener = await loop.create_server(protocol_factory, "127.0.0.1", 0)
        server.port = int(listener.sockets[0].getsockname()[1])
        running.append((server, runner, listener))
        return server

    yield start

    for server, runner, listener in running:
        server.release.set()
        listener.close()
        await listener.wait_closed()
        await runner.cleanup()


def _peer_app(server: Server) -> web.Application:
    """Routes of a well-behaved-or-not remote instance."""
    app = web.Application()

    async def actor(request: web.Request) -> web.Response:
        return web.json_response(ACTOR, content_type="application/activity+json")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"headers": dict(request.headers), "path": request.path_qs})

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        location = "/actor" if n == 0 else f"/redirect/{n - 1}"
        raise web.HTTPFound(location)

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def echo_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo?after=redirect")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>", content_type="text/html")

    async def json_list(request: web.Request) -> web.Response:
        return web.json_response([1, 2, 3])

    async def no_content(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def deep(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")

    async def big_stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "application/activity+json"
        await resp.prepare(request)  # chunked: no Content-Length
        chunk = b" " * 65536
        for _ in range(TWO_MIB // len(chunk)):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def big_declared(request: web.Request) -> web.StreamResponse:
        # Declares 2 MiB, then sends nothing: a client that waits for the body times out, a
        # client that checks Content-Length refuses at once.
        resp = web.StreamResponse()
        resp.content_length = TWO_MIB
        resp.content_type = "application/activity+json"
        await resp.prepare(request)
        await server.release.wait()
        return resp

    async def gzip_bomb(request: web.Request) -> web.Response:
        resp = web.Response(
            body=gzip.compress(b"{" + b" " * TWO_MIB + b"}"),
            content_type="application/activity+json",
        )
        resp.headers["Content-Encoding"] = "gzip"
        return resp

    async def slow(request: web.Request) -> web.Response:
        await server.release.wait()
        return web.json_response(ACTOR)

    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b'{"a": "')
        while not server.release.is_set():
            await resp.write(b"x")
            await asyncio.sleep(0.05)
        return resp

    async def inbox(request: web.Request) -> web.Response:
        mode = request.query.get("mode", "accept")
        if mode == "429":
            return web.Response(status=429, headers={"Retry-After": "120"}, text="slow down")
        if mode == "503":
            when = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
            return web.Response(
                status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
            )
        if mode == "401":
            return web.json_response({"error": "Verification failed " + "x" * 10_000}, status=401)
        if mode == "307":
            raise web.HTTPTemporaryRedirect("/inbox?mode=accept&moved=1")
        if mode == "302":
            raise web.HTTPFound("/inbox?mode=accept")
        if mode == "away":
            raise web.HTTPTemporaryRedirect(request.query["to"])
        return web.Response(status=202, text="accepted")

    app.router.add_get("/actor", actor)
    app.router.add_get("/echo", echo)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/redirect-to", redirect_to)
    app.router.add_get("/echo-redirect", echo_redirect)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/text", text)
    app.router.add_get("/list", json_list)
    app.router.add_get("/no-content", no_content)
    app.router.add_get("/deep", deep)
    app.router.add_get("/big-stream", big_stream)
    app.router.add_get("/big-declared", big_declared)
    app.router.add_get("/gzip-bomb", gzip_bomb)
    app.router.add_get("/slow", slow)
    app.router.add_post("/slow", slow)
    app.router.add_get("/trickle", trickle)
    app.router.add_post("/inbox", inbox)
    return app


def _canary_app(server: Server) -> web.Application:
    app = web.Application()

    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"canary": True})

    app.router.add_route("*", "/{tail:.*}", anything)
    return app


@pytest.fixture
async def peer(make_server: ServerFactory) -> Server:
    return await make_server(_peer_app)


@pytest.fixture
async def other_peer(make_server: ServerFactory) -> Server:
    return await make_server(_peer_app)


@pytest.fixture
async def canary(make_server: ServerFactory) -> AsyncIterator[Server]:
    server = await make_server(_canary_app)
    yield server
    # Whatever the test did, a canary that is never allow-listed must stay untouched.
    assert server.connections == 0
    assert server.requests == []


def _client(*allowed: Server, **kwargs: Any) -> FederationClient:
    policy = HostPolicy(frozenset(s.origin_host_port for s in allowed))
    return FederationClient(policy, USER_AGENT, **kwargs)


@pytest.fixture
async def client(peer: Server, other_peer: Server) -> AsyncIterator[FederationClient]:
    async with _client(peer, other_peer) as c:
        yield c


# -- allowed peers ---------------------------------------------------------------------------


async def test_get_json_from_allow_listed_loopback_peer(
    client: FederationClient, peer: Server
) -> None:
    result = await client.get_json(peer.url("/actor"))
    assert result.data == ACTOR
    assert result.status == 200
    assert result.url == peer.url("/actor")
    assert result.headers["content-type"].startswith("application/activity+json")
    request = peer.requests[0]
    assert request.headers["Accept"] == ACTIVITY_ACCEPT
    assert request.headers["User-Agent"] == USER_AGENT


async def test_allow_list_by_name_and_port(peer: Server) -> None:
    policy = HostPolicy(frozenset({f"localhost:{peer.port}"}))
    async with FederationClient(policy, USER_AGENT) as client:
        result = await client.get_json(peer.url("/actor", host="localhost"))
    assert result.data == ACTOR
    # The name is allowed, not the address: the IP literal is still refused.
    async with FederationClient(policy, USER_AGENT) as client:
        with pytest.raises(ForbiddenAddress):
            await client.get_json(peer.url("/actor"))
    assert len(peer.requests) == 1


async def test_allow_listed_literal_address_admits_names_resolving_to_it(peer: Server) -> None:
    async with _client(peer) as client:
        result = await client.get_json(peer.url("/actor", host="localhost"))
    assert result.data == ACTOR


async def test_canary_is_reachable_when_allow_listed(make_server: ServerFactory) -> None:
    # Control for the SSRF tests below: the canary counts what reaches it.
    server = await make_server(_canary_app)
    async with _client(server) as client:
        result = await client.get_json(server.url("/x"))
    assert result.data == {"canary": True}
    assert server.connections == 1
    assert len(server.requests) == 1


# -- SSRF: the canary receives nothing -------------------------------------------------------


async def test_canary_by_ip_literal_is_refused(client: FederationClient, canary: Server) -> None:
    with pytest.raises(ForbiddenAddress) as info:
        await client.get_json(canary.url("/secret"))
    assert info.value.port == canary.port
    assert f"127.0.0.1:{canary.port}" in str(info.value)


async def test_canary_by_name_is_refused(client: FederationClient, canary: Server) -> None:
    with pytest.raises(ForbiddenAddress):
        await client.get_json(canary.url("/secret", host="localhost"))


async def test_allowed_name_on_other_port_is_refused(peer: Server, canary: Server) -> None:
    policy = HostPolicy(frozenset({f"localhost:{peer.port}", f"127.0.0.1:{peer.port}"}))
    async with FederationClient(policy, USER_AGENT) as client:
        with pytest.raises(ForbiddenAddress):
            await client.get_json(canary.url("/", host="localhost"))
        with pytest.raises(ForbiddenAddress):
            await client.get_json(canary.url("/"))


@pytest.mark.parametrize(
    "host",
    ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "[::1]", "[::]", "127.0.0.2"],
)
async def test_canary_by_other_loopback_spellings_is_refused(
    client: FederationClient, canary: Server, host: str
) -> None:
    with pytest.raises(ForbiddenAddress):
        await client.get_json(canary.url("/", host=host))


@pytest.mark.parametrize("host", ["2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1", "0x7f000001"])
async def test_canary_by_legacy_numeric_ipv4_is_refused(
    client: FederationClient, canary: Server, host: str
) -> None:
    # yarl accepts these hosts and getaddrinfo() would map them to 127.0.0.1.
    with pytest.raises(FetchError, match="non-canonical IPv4"):
        await client.get_json(canary.url("/", host=host))


async def test_same_origin_redirect_chain_ending_at_canary_is_refused(
    client: FederationClient, peer: Server, canary: Server
) -> None:
    # Two same-origin hops, then a Location pointing at the canary.
    first = peer.url(f"/redirect-to?to=/redirect-to%3Fto%3D{canary.url('/x')}")
    with pytest.raises(ForbiddenRedirect):
        await client.get_json(first)
    assert [r.path for r in peer.requests] == ["/redirect-to", "/redirect-to"]


@pytest.mark.parametrize("via", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_cross_origin_redirect_to_canary_is_refused(
    client: FederationClient, peer: Server, canary: Server, via: str
) -> None:
    with pytest.raises(ForbiddenRedirect, match="another origin"):
        await client.get_json(peer.url(f"/redirect-to?to={canary.url('/x', host=via)}"))


async def test_cross_origin_redirect_between_allowed_peers_is_refused(
    client: FederationClient, peer: Server, other_peer: Server
) -> None:
    with pytest.raises(ForbiddenRedirect):
        await client.get_json(peer.url(f"/redirect-to?to={other_peer.url('/actor')}"))
    assert other_peer.requests == []


@dataclass
class ScriptedResolver(AbstractResolver):
    """A DNS stand-in: name -> addresses, as an attacker controlling a zone would answer."""

    zone: dict[str, list[str]]
    calls: list[tuple[str, int]] = field(default_factory=list)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append((host, port))
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.zone[host]
        ]

    async def close(self) -> None:
        pass


async def test_public_name_resolving_to_loopback_is_refused(peer: Server, canary: Server) -> None:
    # DNS rebinding: a name outside our control answers with a loopback address.
    resolver = ScriptedResolver({"evil.example": ["127.0.0.1", "::1"]})
    async with _client(peer, resolver=resolver) as client:
        with pytest.raises(ForbiddenAddress, match=r"evil\.example"):
            await client.get_json(canary.url("/", host="evil.example"))
    assert resolver.calls == [("evil.example", canary.port)]


async def test_ip_literal_skips_the_resolver_and_is_still_refused(
    peer: Server, canary: Server
) -> None:
    # aiohttp never asks the resolver about IP literals: only the socket factory sees them.
    resolver = ScriptedResolver({})
    async with _client(peer, resolver=resolver) as client:
        with pytest.raises(ForbiddenAddress):
            await client.get_json(canary.url("/"))
        with pytest.raises(ForbiddenAddress):
            await client.get_json(canary.url("/", host="[::ffff:127.0.0.1]"))
        assert (await client.get_json(peer.url("/actor"))).data == ACTOR
    assert resolver.calls == []


async def test_mixed_dns_answer_uses_the_permitted_address(peer: Server) -> None:
    # 10.0.0.1 is not allow-listed; 127.0.0.1 is (as a literal address:port).
    resolver = ScriptedResolver({"peer.test": ["10.0.0.1", "127.0.0.1"]})
    policy = HostPolicy(frozenset({f"127.0.0.1:{peer.port}"}))
    async with FederationClient(policy, USER_AGENT, resolver=resolver) as client:
        result = await client.get_json(peer.url("/actor", host="peer.test"))
    assert result.data == ACTOR


async def test_policy_resolver_filters_answers() -> None:
    from federation.client import _PolicyResolver

    zone = ScriptedResolver(
        {
            "mixed.test": ["10.0.0.1", "93.184.216.34", "::1", "2606:4700::1"],
            "private.test": ["10.0.0.1", "fd00::1"],
            "lab.test": ["10.0.0.7"],
        }
    )
    policy = HostPolicy(frozenset({"lab.test:8443"}))
    resolver = _PolicyResolver(zone, policy, owns_inner=False)
    mixed = await resolver.resolve("mixed.test", 443)
    assert [r["host"] for r in mixed] == ["93.184.216.34", "2606:4700::1"]
    with pytest.raises(ForbiddenAddress) as info:
        await resolver.resolve("private.test", 443)
    assert info.value.addresses == ("10.0.0.1", "fd00::1")
    assert [r["host"] for r in await resolver.resolve("lab.test", 8443)] == ["10.0.0.7"]
    with pytest.raises(ForbiddenAddress):
        await resolver.resolve("lab.test", 443)


async def test_concurrent_requests_keep_their_own_targets(peer: Server, canary: Server) -> None:
    # The allow-list decision in the socket factory depends on which request is connecting;
    # interleaved requests must not borrow each other's host name.
    policy = HostPolicy(frozenset({f"localhost:{peer.port}"}))
    async with FederationClient(policy, USER_AGENT) as client:
        results = await asyncio.gather(
            *(
                client.get_json(server.url("/actor", host="localhost"))
                for server in [peer, canary] * 5
            ),
            return_exceptions=True,
        )
    for i, result in enumerate(results):
        if i % 2 == 0:
            assert not isinstance(result, BaseException)
            assert result.data == ACTOR
        else:
            assert isinstance(result, ForbiddenAddress)


# -- URL validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "/relative/path",
        "http:///no-host",
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "not a url",
    ],
)
async def test_unsupported_urls_fail_before_io(client: FederationClient, url: str) -> None:
    with pytest.raises(FetchError):
        await client.get_json(url)
    with pytest.raises(FetchError):
        await client.post(url, b"{}")


async def test_redirect_to_other_scheme_is_refused(client: FederationClient, peer: Server) -> None:
    with pytest.raises(FetchError):
        await client.get_json(peer.url("/redirect-to?to=file:///etc/passwd"))


async def test_not_started_client_refuses() -> None:
    client = FederationClient(HostPolicy(), USER_AGENT)
    with pytest.raises(RuntimeError, match="not started"):
        await client.get_json("https://example.com/")


# -- redirects ---------------------------------------------------------------------------------


async def test_three_same_origin_redirects_are_followed(
    client: FederationClient, peer: Server
) -> None:
    result = await client.get_json(peer.url("/redirect/2"))  # 3 redirects, 4 requests
    assert result.data == ACTOR
    assert result.url == peer.url("/actor")
    assert len(peer.requests) == 4


async def test_more_than_three_redirects_are_refused(
    client: FederationClient, peer: Server
) -> None:
    with pytest.raises(TooManyRedirects):
        await client.get_json(peer.url("/redirect/3"))
    assert len(peer.requests) == 4


async def test_zero_redirects_allowed(peer: Server) -> None:
    async with _client(peer, max_redirects=0) as client:
        with pytest.raises(TooManyRedirects):
            await client.get_json(peer.url("/redirect/0"))


# -- size and time limits ----------------------------------------------------------------------


async def test_streamed_body_over_cap_is_refused(client: FederationClient, peer: Server) -> None:
    with pytest.raises(ResponseTooLarge, match="body exceeds"):
        await client.get_json(peer.url("/big-stream"))


async def test_declared_content_length_over_cap_is_refused_early(peer: Server) -> None:
    async with _client(peer, total_timeout=10.0) as client:
        started = time.monotonic()
        with pytest.raises(ResponseTooLarge, match="Content-Length"):
            await client.get_json(peer.url("/big-declared"))
    assert time.monotonic() - started < 5.0


async def test_decompressed_size_is_capped(client: FederationClient, peer: Server) -> None:
    with pytest.raises(ResponseTooLarge):
        await client.get_json(peer.url("/gzip-bomb"))


async def test_small_cap_applies(peer: Server) -> None:
    async with _client(peer, max_body_bytes=10) as client:
        with pytest.raises(ResponseTooLarge):
            await client.get_json(peer.url("/actor"))


async def test_slow_server_times_out_within_total(peer: Server) -> None:
    async with _client(peer, total_timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(PeerTimeout):
            await client.get_json(peer.url("/slow"))
    assert time.monotonic() - started < 2.0


async def test_trickling_body_hits_the_total_deadline(peer: Server) -> None:
    async with _client(peer, total_timeout=0.5, read_timeout=5.0) as client:
        started = time.monotonic()
        with pytest.raises(PeerTimeout):
            await client.get_json(peer.url("/trickle"))
    assert time.monotonic() - started < 2.5


async def test_timeout_on_post(peer: Server) -> None:
    async with _client(peer, total_timeout=0.3) as client:
        with pytest.raises(PeerTimeout):
            await client.post(peer.url("/slow"), b"{}")


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_peer_unreachable() -> None:
    port = _closed_port()
    policy = HostPolicy(frozenset({f"127.0.0.1:{port}"}))
    async with FederationClient(policy, USER_AGENT) as client:
        with pytest.raises(PeerUnreachable) as info:
            await client.get_json(f"http://127.0.0.1:{port}/")
        assert not isinstance(info.value, PeerTimeout)
        with pytest.raises(PeerUnreachable):
            await client.post(f"http://127.0.0.1:{port}/inbox", b"{}")


async def test_unresolvable_name_is_peer_unreachable(peer: Server) -> None:
    async with _client(peer) as client:
        with pytest.raises(PeerUnreachable):
            await client.get_json("http://does-not-exist.invalid/")


# -- JSON handling -----------------------------------------------------------------------------


async def test_non_json_is_fetch_error(client: FederationClient, peer: Server) -> None:
    with pytest.raises(FetchError, match="invalid JSON") as info:
        await client.get_json(peer.url("/text"))
    assert info.value.status == 200


async def test_json_that_is_not_an_object_is_fetch_error(
    client: FederationClient, peer: Server
) -> None:
    with pytest.raises(FetchError, match="not an object"):
        await client.get_json(peer.url("/list"))


async def test_absurdly_nested_json_is_fetch_error(client: FederationClient, peer: Server) -> None:
    with pytest.raises(FetchError, match="invalid JSON"):
        await client.get_json(peer.url("/deep"))


@pytest.mark.parametrize("code", [404, 410, 500])
async def test_error_status_is_fetch_error_with_status(
    client: FederationClient, peer: Server, code: int
) -> None:
    with pytest.raises(FetchError) as info:
        await client.get_json(peer.url(f"/status/{code}"))
    assert info.value.status == code
    assert isinstance(info.value, FederationError)


async def test_no_content_gives_none(client: FederationClient, peer: Server) -> None:
    result = await client.get_json(peer.url("/no-content"))
    assert result.status == 204
    assert result.data is None


async def test_webfinger_accept(client: FederationClient, peer: Server) -> None:
    result = await client.get_json(peer.url("/echo"), accept=JRD_ACCEPT)
    assert result.data is not None
    assert result.data["headers"]["Accept"] == JRD_ACCEPT


# -- signing -----------------------------------------------------------------------------------


@dataclass
class RecordingSigner:
    calls: list[tuple[str, str, dict[str, str], bytes | None]] = field(default_factory=list)
    host: str | None = None

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Mapping[str, str]:
        self.calls.append((method, url, dict(headers), body))
        added = {
            "Date": "Thu, 26 Nov 2026 13:55:48 GMT",
            "Signature": f'keyId="https://fedipoly.test/actor#main-key",n="{len(self.calls)}"',
        }
        if self.host is not None:
            added["Host"] = self.host
        if body is not None:
            added["Digest"] = "SHA-256=fake"
        return added


async def test_signer_sees_what_is_sent_and_its_headers_arrive(
    client: FederationClient, peer: Server
) -> None:
    signer = RecordingSigner(host=f"127.0.0.1:{peer.port}")
    url = peer.url("/echo?q=1")
    await client.get_json(url, signer=signer)
    assert signer.calls == [("GET", url, {"Accept": ACTIVITY_ACCEPT}, None)]
    received = peer.requests[0].headers
    assert received["Host"] == f"127.0.0.1:{peer.port}"
    assert received["Date"] == "Thu, 26 Nov 2026 13:55:48 GMT"
    assert received["Signature"].endswith('n="1"')
    assert received["Accept"] == ACTIVITY_ACCEPT


async def test_signer_host_header_is_sent_verbatim(client: FederationClient, peer: Server) -> None:
    signer = RecordingSigner(host="peer.example")
    await client.get_json(peer.url("/echo"), signer=signer)
    assert peer.requests[0].headers["Host"] == "peer.example"


async def test_each_redirect_hop_is_signed_afresh(client: FederationClient, peer: Server) -> None:
    signer = RecordingSigner()
    result = await client.get_json(peer.url("/echo-redirect"), signer=signer)
    assert [(m, u) for m, u, _, _ in signer.calls] == [
        ("GET", peer.url("/echo-redirect")),
        ("GET", peer.url("/echo?after=redirect")),
    ]
    assert result.data is not None
    assert result.data["headers"]["Signature"].endswith('n="2"')


async def test_post_signer_gets_body_and_content_type(
    client: FederationClient, peer: Server
) -> None:
    signer = RecordingSigner()
    body = json.dumps({"type": "Follow"}).encode()
    result = await client.post(peer.url("/inbox"), body, signer=signer)
    assert result.status == 202
    assert signer.calls == [
        ("POST", peer.url("/inbox"), {"Content-Type": "application/activity+json"}, body)
    ]
    request = peer.requests[0]
    assert peer.bodies[0] == body
    assert request.headers["Content-Type"] == "application/activity+json"
    assert request.headers["Digest"] == "SHA-256=fake"
    assert request.headers["User-Agent"] == USER_AGENT


# -- POST results ------------------------------------------------------------------------------


async def test_post_reports_accepted(client: FederationClient, peer: Server) -> None:
    result = await client.post(peer.url("/inbox"), b"{}")
    assert result.status == 202
    assert result.retry_after is None
    assert result.body_excerpt == "accepted"


async def test_post_does_not_raise_on_error_status_and_truncates_body(
    client: FederationClient, peer: Server
) -> None:
    result = await client.post(peer.url("/inbox?mode=401"), b"{}")
    assert result.status == 401
    assert len(result.body_excerpt) == 2048
    assert result.body_excerpt.startswith('{"error": "Verification failed')


async def test_post_retry_after_seconds(client: FederationClient, peer: Server) -> None:
    result = await client.post(peer.url("/inbox?mode=429"), b"{}")
    assert result.status == 429
    assert result.retry_after == 120.0


async def test_post_retry_after_http_date(peer: Server) -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    async with _client(peer, clock=lambda: now) as client:
        result = await client.post(peer.url("/inbox?mode=503"), b"{}")
    assert result.status == 503
    assert result.retry_after == 30.0


async def test_post_follows_same_origin_307_with_body(
    client: FederationClient, peer: Server
) -> None:
    signer = RecordingSigner()
    result = await client.post(peer.url("/inbox?mode=307"), b'{"a":1}', signer=signer)
    assert result.status == 202
    assert result.url == peer.url("/inbox?mode=accept&moved=1")
    assert peer.bodies == [b'{"a":1}', b'{"a":1}']
    assert [u for _, u, _, _ in signer.calls] == [
        peer.url("/inbox?mode=307"),
        peer.url("/inbox?mode=accept&moved=1"),
    ]


async def test_post_does_not_follow_302(client: FederationClient, peer: Server) -> None:
    result = await client.post(peer.url("/inbox?mode=302"), b"{}")
    assert result.status == 302
    assert len(peer.requests) == 1


async def test_post_cross_origin_redirect_to_canary_is_refused(
    client: FederationClient, peer: Server, canary: Server
) -> None:
    with pytest.raises(ForbiddenRedirect):
        await client.post(peer.url(f"/inbox?mode=away&to={canary.url('/inbox')}"), b"{}")


async def test_post_to_canary_is_refused(client: FederationClient, canary: Server) -> None:
    with pytest.raises(ForbiddenAddress):
        await client.post(canary.url("/inbox"), b"{}")


# -- Retry-After parsing -----------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 13, 55, 48, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0", 0.0),
        ("120", 120.0),
        (" 3600 ", 3600.0),
        ("Thu, 26 Nov 2026 13:56:48 GMT", 60.0),
        ("Thursday, 26-Nov-26 13:57:48 GMT", 120.0),  # obsolete RFC 850 form
        ("Thu Nov 26 13:55:58 2026", 10.0),  # asctime form
        ("Wed, 25 Nov 2026 13:55:48 GMT", 0.0),  # in the past
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Thu, 99 Nov 2026 13:56:48 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# -- lifecycle ---------------------------------------------------------------------------------


async def test_close_is_idempotent_and_start_twice_fails(peer: Server) -> None:
    client = _client(peer)
    await client.start()
    with pytest.raises(RuntimeError, match="already started"):
        await client.start()
    await client.close()
    await client.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total_timeout": 0},
        {"connect_timeout": -1},
        {"max_body_bytes": 0},
        {"max_redirects": -1},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FederationClient(HostPolicy(), USER_AGENT, **kwargs)


def test_user_agent_is_required() -> None:
    with pytest.raises(ValueError):
        FederationClient(HostPolicy(), " ")
