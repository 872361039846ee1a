"""The one outbound HTTP client of the federation layer.

Every request to another server -- actor and object fetches, WebFinger, NodeInfo, inbox
deliveries -- goes through :class:`FederationClient`, so the protections below hold for all of
them:

* **SSRF protection at connect time.** Checking a URL's host before the request is not
  enough: DNS can answer differently a moment later (rebinding), redirects pick new hosts, and
  aiohttp does not consult the resolver at all for IP-literal URLs. So the policy is applied in
  two places inside aiohttp's connector: a resolver wrapper drops forbidden addresses from DNS
  answers (clean early error, and a name with both public and private records still works
  through its public ones), and a ``socket_factory`` checks the final ``sockaddr`` right before
  the socket is created -- the same idea as GoToSocial's dialer ``Control`` hook or Mastodon's
  check at socket open. The socket factory is the guarantee; the resolver is an optimisation.
* **Bounded cost.** Connect, read and total timeouts (the total is a deadline across the whole
  redirect chain, like Mastodon's cumulative read deadline); bodies are streamed and cut off
  at ``max_body_bytes`` (counted after decompression, so a gzip bomb stops early).
* **Redirects** are followed by hand, at most ``max_redirects``, and only within one origin.
* **Signing** is injected as a :data:`RequestSigner` and re-run for each hop, so ``Date`` and
  ``(request-target)`` always describe the request really sent.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from multidict import CIMultiDict
from yarl import URL

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
from federation.ssrf import HostPolicy, normalize_host

__all__ = [
    "ACTIVITY_ACCEPT",
    "JRD_ACCEPT",
    "FederationClient",
    "FetchResult",
    "PostResult",
    "RequestSigner",
    "parse_retry_after",
]

RequestSigner = Callable[[str, str, Mapping[str, str], bytes | None], Mapping[str, str]]
"""``(method, url, headers, body) -> headers to add`` (Host, Date, Digest, Signature...).

``headers`` are exactly the request headers the client itself sets (Accept or Content-Type);
the returned headers are sent verbatim, so what is signed is what goes on the wire.
"""

ACTIVITY_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JRD_ACCEPT = "application/jrd+json, application/json"

_GET_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Only the redirects that keep method and body. A 301/302/303 would turn a delivery into a GET,
# which is never what an inbox means; the caller gets the status instead.
_POST_REDIRECTS = frozenset({307, 308})
_EXCERPT_BYTES = 2048
_CHUNK_BYTES = 64 * 1024

_T = TypeVar("_T")


@dataclass(frozen=True)
class FetchResult:
    """A successful GET: the final URL after redirects, its status, headers and JSON object.

    ``headers`` has lower-case names; repeated headers are joined with ", ". ``data`` is the
    decoded JSON object, or None for a 204 No Content.
    """

    url: str
    status: int
    headers: dict[str, str]
    data: dict[str, Any] | None


@dataclass(frozen=True)
class PostResult:
    """The outcome of a POST, whatever its status: the delivery logic decides what it means.

    ``retry_after`` is the ``Retry-After`` header in seconds from now (None when absent or
    unparseable); ``body_excerpt`` is the start of the body (at most 2 KiB, decoded leniently)
    for logs -- Mastodon explains 401s there.
    """

    url: str
    status: int
    retry_after: float | None
    body_excerpt: str


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value (delta-seconds or HTTP-date).

    ``now`` is the current POSIX time (injectable for tests). Dates in the past give 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 5322 "-0000" (and HTTP dates always) mean UTC.
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass
class _ConnectTarget:
    """What the request being connected asked for, as seen from inside the connector.

    aiohttp's ``socket_factory`` receives only an ``addrinfo`` (family, type, proto, canonname,
    sockaddr): not the URL's host name, which the allow-list is keyed on. The client puts this
    object in a context variable around each request. That is reliable because aiohttp creates
    the connection in the requesting task, and the tasks it and aiohappyeyeballs spawn for DNS
    and for happy-eyeballs racing copy the context at creation, i.e. after it was set. The
    factory also records what it refused here, since aiohttp reports a refused socket only as
    a generic connection error (or, for a non-OSError, inconsistently: see ``_RefusedAddress``).
    """

    host: str
    port: int
    refused: list[str] = field(default_factory=list)


class _RefusedAddress(OSError):
    """Raised by the socket factory to refuse an address.

    It must be an OSError: aiohappyeyeballs only treats OSError/RuntimeError as "this address
    failed, try the next". Any other exception escapes unwrapped on the sequential path but is
    swallowed on the happy-eyeballs path (several addresses), where aiohappyeyeballs then finds
    no OSError to report and fails with an IndexError. As an OSError it consistently surfaces as
    ``aiohttp.ClientConnectorError``, which the client turns into ``ForbiddenAddress`` using
    the refusals recorded in ``_ConnectTarget``.
    """

    def __init__(self, address: str) -> None:
        super().__init__(errno.EACCES, f"address {address} refused by the outbound address policy")


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _PolicyResolver(AbstractResolver):
    """Wraps aiohttp's resolver and drops the addresses the policy refuses.

    The resolver sees the host name and port the URL named, so it can apply the allow-list
    directly. It is never consulted for IP-literal URLs, which is why the socket factory exists.
    """

    def __init__(self, inner: AbstractResolver, policy: HostPolicy, *, owns_inner: bool) -> None:
        self._inner = inner
        self._policy = policy
        self._owns_inner = owns_inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        permitted: list[ResolveResult] = []
        refused: list[str] = []
        for result in results:
            ip = _parse_ip(result["host"])
            if ip is not None and result["port"] == port and self._policy.permits(host, port, ip):
                permitted.append(result)
            else:
                refused.append(result["host"])
        if refused and not permitted:
            raise ForbiddenAddress(host, port, tuple(refused))
        return permitted

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


def _validate_url(url: URL, original: str) -> URL:
    """Refuse, before any I/O, URLs the client never fetches."""
    if url.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {original!r}", url=original)
    host = url.raw_host
    if not url.absolute or not host:
        raise FetchError(f"not an absolute URL with a host: {original!r}", url=original)
    if url.raw_user is not None or url.raw_password is not None:
        # Credentials in URLs leak into logs and Authorization headers; peers never need them.
        raise FetchError(f"URLs with user information are refused: {original!r}", url=original)
    if ":" not in host:
        # Legacy numeric IPv4 spellings (2130706433, 0x7f.0.0.1, 0177.0.0.1, 127.1) are
        # accepted by inet_aton()/getaddrinfo() and would reach an address the URL does not
        # visibly name. No federation peer uses them; refuse them outright rather than rely on
        # the aiohttp version in use to reject them (3.14 does for some forms, not for hex).
        try:
            socket.inet_aton(host)
        except OSError:
            pass
        else:
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise FetchError(
                    f"non-canonical IPv4 address in URL: {original!r}", url=original
                ) from None
    port = url.port
    if port is None or not 0 < port < 65536:
        raise FetchError(f"invalid port in URL: {original!r}", url=original)
    return url.with_fragment(None)


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}", url=url) from exc
    return _validate_url(parsed, url)


def _origin(url: URL) -> tuple[str, str, int | None]:
    return url.scheme, normalize_host(url.raw_host or ""), url.port


def _redirect_target(current: URL, location: str, status: int) -> URL:
    try:
        target = current.join(URL(location))
    except (TypeError, ValueError) as exc:
        raise FetchError(
            f"{current} redirected to an invalid URL {location!r}", url=str(current), status=status
        ) from exc
    target = _validate_url(target, str(target))
    if _origin(target) != _origin(current):
        # Cross-origin redirects would let any peer point our (possibly signed) request at a
        # third host, and let an object claim an id on a host that did not serve it.
        raise ForbiddenRedirect(
            f"{current} redirected to another origin: {target}", url=str(current), status=status
        )
    return target


def _headers_dict(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class FederationClient:
    """Outbound HTTP for the federation layer, around one ``aiohttp.ClientSession``.

    Use as ``async with FederationClient(...) as client:`` or call :meth:`start` and
    :meth:`close` (e.g. from an aiohttp ``cleanup_ctx``).
    """

    def __init__(
        self,
        policy: HostPolicy,
        user_agent: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        total_timeout: float = 30.0,
        max_body_bytes: int = 1024 * 1024,
        max_redirects: int = 3,
        max_connections: int = 100,
        max_connections_per_host: int = 0,
        clock: Callable[[], float] = time.time,
        resolver: AbstractResolver | None = None,
    ) -> None:
        if not user_agent.strip():
            raise ValueError("user_agent must identify this server")
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
            ("total_timeout", total_timeout),
            ("max_body_bytes", max_body_bytes),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        if max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        self._policy = policy
        self._user_agent = user_agent
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._max_body_bytes = max_body_bytes
        self._max_redirects = max_redirects
        self._max_connections = max_connections
        self._max_connections_per_host = max_connections_per_host
        self._clock = clock
        # The DNS resolver to wrap with the policy: aiohttp's default unless given (an aiodns
        # resolver, or a scripted one in tests). A given resolver stays the caller's to close.
        self._inner_resolver = resolver
        # One variable per client, so two clients with different policies never see each
        # other's targets even inside one task.
        self._target: contextvars.ContextVar[_ConnectTarget | None] = contextvars.ContextVar(
            f"federation_connect_target_{id(self):x}", default=None
        )
        self._session: aiohttp.ClientSession | None = None
        self._resolver: _PolicyResolver | None = None

    @property
    def policy(self) -> HostPolicy:
        return self._policy

    async def start(self) -> None:
        """Create the session (needs a running event loop)."""
        if self._session is not None:
            raise RuntimeError("FederationClient already started")
        inner = self._inner_resolver if self._inner_resolver is not None else DefaultResolver()
        self._resolver = _PolicyResolver(
            inner, self._policy, owns_inner=self._inner_resolver is None
        )
        connector = aiohttp.TCPConnector(
            resolver=self._resolver,
            socket_factory=self._open_socket,
            limit=self._max_connections,
            limit_per_host=self._max_connections_per_host,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self._total_timeout,
                connect=self._connect_timeout,
                sock_connect=self._connect_timeout,
                sock_read=self._read_timeout,
            ),
            headers={"User-Agent": self._user_agent},
            # Peers' cookies must not travel to other peers or back; we have no use for them.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Environment proxies would bypass the connect-time address check.
            trust_env=False,
        )

    async def close(self) -> None:
        """Close the session and resolver; safe to call twice."""
        session, self._session = self._session, None
        resolver, self._resolver = self._resolver, None
        if session is not None:
            await session.close()
        if resolver is not None:
            await resolver.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def get_json(
        self,
        url: str,
        *,
        signer: RequestSigner | None = None,
        accept: str = ACTIVITY_ACCEPT,
    ) -> FetchResult:
        """GET a JSON object (an ActivityStreams document by default).

        Use ``accept=JRD_ACCEPT`` for WebFinger. Raises ``FetchError`` (with ``status``) for a
        non-2xx answer, invalid JSON or JSON that is not an object; ``ResponseTooLarge``,
        ``ForbiddenRedirect``, ``TooManyRedirects`` (all FetchErrors); ``ForbiddenAddress``;
        ``PeerTimeout`` / ``PeerUnreachable``.
        """
        target = _parse_url(url)
        return await self._run(url, lambda: self._get_json(target, signer, accept))

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str = "application/activity+json",
        signer: RequestSigner | None = None,
    ) -> PostResult:
        """POST ``body`` and report the answer whatever its HTTP status.

        Raises only when there is no answer to report: ``FetchError`` for a refused URL,
        ``ForbiddenAddress``, ``ForbiddenRedirect`` / ``TooManyRedirects`` (307/308 chains),
        ``PeerTimeout`` / ``PeerUnreachable``.
        """
        target = _parse_url(url)
        return await self._run(url, lambda: self._post(target, body, content_type, signer))

    # -- internals -------------------------------------------------------------------------

    def _open_socket(self, addr_info: AddrInfoType) -> socket.socket:
        """aiohttp ``socket_factory``: the last check before a socket exists.

        Receives the final address for every connection: resolved names, IP literals (for
        which aiohttp skips the resolver), redirects and re-resolutions after a DNS change.
        """
        family, type_, proto, _canonname, sockaddr = addr_info
        address = str(sockaddr[0])
        port = int(sockaddr[1])
        ip = _parse_ip(address)
        target = self._target.get()
        # Without a matching target (the port differs, or no request of ours is in progress)
        # only the literal address can be matched against the allow-list: fail closed.
        host = target.host if target is not None and target.port == port else address
        if ip is None or not self._policy.permits(host, port, ip):
            if target is not None:
                target.refused.append(f"{address}:{port}")
            raise _RefusedAddress(f"{address}:{port}")
        return socket.socket(family, type_, proto)

    async def _run(self, url: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Apply the overall deadline and map transport errors to the federation hierarchy."""
        try:
            async with asyncio.timeout(self._total_timeout):
                return await operation()
        except FederationError:
            raise
        except TimeoutError as exc:  # before ClientError: ServerTimeoutError is both
            raise PeerTimeout(f"{url}: timed out", url=url) from exc
        except aiohttp.InvalidURL as exc:
            raise FetchError(f"invalid URL {url!r}: {exc}", url=url) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise PeerUnreachable(f"{url}: {exc.__class__.__name__}: {exc}", url=url) from exc

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FederationClient is not started")
        return self._session

    @asynccontextmanager
    async def _request_once(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        base_headers: Mapping[str, str],
        signer: RequestSigner | None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        session = self._require_session()
        headers: CIMultiDict[str] = CIMultiDict(base_headers)
        if signer is not None:
            # The signer sees the URL as it will be sent (yarl-normalised) and the headers the
            # client sets; whatever it returns replaces ours, Host included.
            for name, value in signer(method, str(url), dict(base_headers), body).items():
                headers[name] = value
        target = _ConnectTarget(host=url.raw_host or "", port=url.port or 0)
        token = self._target.set(target)
        try:
            try:
                response = await session.request(
                    method, url, data=body, headers=headers, allow_redirects=False
                )
            except aiohttp.ClientConnectorError as exc:
                if target.refused:
                    raise ForbiddenAddress(target.host, target.port, tuple(target.refused)) from exc
                raise
        finally:
            self._target.reset(token)
        async with response:
            yield response

    @asynccontextmanager
    async def _follow(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        base_headers: Mapping[str, str],
        signer: RequestSigner | None,
        redirect_statuses: frozenset[int],
    ) -> AsyncIterator[tuple[URL, aiohttp.ClientResponse]]:
        """Send, following same-origin redirects by hand; yields the final URL and response."""
        current = url
        for hop in range(self._max_redirects + 1):
            async with self._request_once(method, current, body, base_headers, signer) as resp:
                location = resp.headers.get("Location")
                if resp.status in redirect_statuses and location:
                    if hop == self._max_redirects:
                        raise TooManyRedirects(
                            f"more than {self._max_redirects} redirects from {url}",
                            url=str(current),
                            status=resp.status,
                        )
                    current = _redirect_target(current, location, resp.status)
                    continue
                yield current, resp
                return
        raise AssertionError("unreachable: the loop either yields or raises")  # pragma: no cover

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: URL) -> bytes:
        limit = self._max_body_bytes
        declared = resp.content_length
        if declared is not None and declared > limit:
            raise ResponseTooLarge(
                f"{url}: Content-Length {declared} exceeds {limit} bytes",
                url=str(url),
                status=resp.status,
            )
        buffer = bytearray()
        # Counted on the decoded stream, so compressed bodies are bounded by what they inflate to.
        async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
            buffer += chunk
            if len(buffer) > limit:
                raise ResponseTooLarge(
                    f"{url}: body exceeds {limit} bytes", url=str(url), status=resp.status
                )
        return bytes(buffer)

    async def _get_json(self, url: URL, signer: RequestSigner | None, accept: str) -> FetchResult:
        async with self._follow("GET", url, None, {"Accept": accept}, signer, _GET_REDIRECTS) as (
            final,
            resp,
        ):
            status = resp.status
            if not 200 <= status < 300:
                raise FetchError(
                    f"GET {final} returned HTTP {status}", url=str(final), status=status
                )
            raw = await self._read_capped(resp, final)
            headers = _headers_dict(resp.headers)
        data: dict[str, Any] | None = None
        if status != 204:
            try:
                decoded = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                # ValueError covers bad JSON and bad encodings; absurd nesting raises
                # RecursionError instead.
                raise FetchError(
                    f"GET {final} returned invalid JSON", url=str(final), status=status
                ) from exc
            if not isinstance(decoded, dict):
                raise FetchError(
                    f"GET {final} returned JSON that is not an object",
                    url=str(final),
                    status=status,
                )
            data = decoded
        return FetchResult(url=str(final), status=status, headers=headers, data=data)

    async def _post(
        self, url: URL, body: bytes, content_type: str, signer: RequestSigner | None
    ) -> PostResult:
        base_headers = {"Content-Type": content_type}
        async with self._follow("POST", url, body, base_headers, signer, _POST_REDIRECTS) as (
            final,
            resp,
        ):
            excerpt = await self._read_excerpt(resp)
            return PostResult(
                url=str(final),
                status=resp.status,
                retry_after=parse_retry_after(resp.headers.get("Retry-After"), now=self._clock()),
                body_excerpt=excerpt,
            )

    @staticmethod
    async def _read_excerpt(resp: aiohttp.ClientResponse) -> str:
        buffer = bytearray()
        try:
            while len(buffer) < _EXCERPT_BYTES:
                chunk = await resp.content.read(_EXCERPT_BYTES - len(buffer))
                if not chunk:
                    break
                buffer += chunk
        except aiohttp.ClientError:
            # The status already says what happened; a broken body only shortens the excerpt.
            pass
        return bytes(buffer).decode("utf-8", errors="replace")
