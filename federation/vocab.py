"""ActivityStreams vocabulary and the small, pure helpers every other module leans on.

Media types, the public collection, origins, id extraction and a hardened JSON parser. No
I/O. Values here come straight from remote peers, so every helper accepts arbitrary input
and either answers or raises a federation error; none of them trusts a shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import orjson

from federation.errors import MalformedActivity, PayloadTooLarge
from federation.ssrf import normalize_host

__all__ = [
    "ACTIVITY_JSON",
    "ACTOR_TYPES",
    "AS_CONTEXT",
    "LD_JSON_PROFILE",
    "PUBLIC",
    "SECURITY_CONTEXT",
    "as_list",
    "audience",
    "id_of",
    "is_activitypub_media_type",
    "is_json_object",
    "is_on_origin",
    "is_public_address",
    "origin_of",
    "parse_json_object",
    "same_origin",
]

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"
LD_JSON_PROFILE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

#: The actor types Mastodon accepts (``FetchRemoteActorService::SUPPORTED_TYPES``).
ACTOR_TYPES = frozenset({"Application", "Group", "Organization", "Person", "Service"})

# The compact forms of the public collection. Fedify compacts with the AS context and sends
# `as:Public` in fetched objects; some JSON-LD compactions yield the bare term `Public`.
_PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})
_AUDIENCE_FIELDS = ("to", "cc", "bto", "bcc", "audience")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The common identifier, ``https://host.example/...`` with a lower-case DNS name and no port
# or user information: its origin is that prefix, exactly what the general parse below it in
# ``_origin`` returns. Most ids in an activity are new (each note its own), so the cache
# misses on them; this saves their urlsplit and IP-literal checks. Names ending in a dot and
# all-digit names (IPv4 literals) still take the general path.
_PLAIN_ORIGIN = re.compile(r"(https?://([a-z0-9.-]+))(?:[/?#]|\Z)")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]+")
# A JSON string (with escapes) or one structural bracket. Strings are matched whole so that
# brackets inside them are not counted; the unrolled-loop form is linear, never backtracks.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_MEDIA_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def is_public_address(value: str) -> bool:
    """Whether ``value`` names the public collection (full IRI, ``as:Public`` or ``Public``)."""
    return value in _PUBLIC_FORMS


def _split_outside_quotes(text: str, separator: str) -> Iterator[str]:
    start = 0
    quoted = False
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            yield text[start:index]
            start = index + 1
    yield text[start:]


def _media_range(text: str) -> tuple[str, dict[str, str]] | None:
    """Parse ``type/subtype; name=value; name="quoted"`` into (lowercase type, params)."""
    parts = list(_split_outside_quotes(text, ";"))
    media = parts[0].strip().lower()
    kind, slash, sub = media.partition("/")
    if not slash or not _MEDIA_TOKEN.fullmatch(kind) or not _MEDIA_TOKEN.fullmatch(sub):
        return None
    params: dict[str, str] = {}
    for raw in parts[1:]:
        name, eq, value = raw.strip().partition("=")
        if not eq:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(name.strip().lower(), value)
    return media, params


def is_activitypub_media_type(accept_or_content_type: str, *, strict: bool = False) -> bool:
    """Whether a Content-Type, or any range of an Accept header, is an ActivityPub type.

    ``application/activity+json`` always qualifies, and so does ``application/ld+json``
    whose ``profile`` lists the ActivityStreams IRI. Plain ``application/ld+json`` (no
    profile) qualifies unless ``strict``: some peers send it in Accept and Content-Type, but
    Mastodon refuses it on fetched documents since GHSA-jhrq-qvrm-qr36 (CVE-2024-25623:
    user-uploaded ``.jsonld`` files served from an actor's host impersonated that actor), so
    fetches of security-relevant documents should pass ``strict=True``. A profile naming
    something else, and a range with ``q=0`` ("not acceptable"), never qualify.
    """
    for candidate in _split_outside_quotes(accept_or_content_type, ","):
        parsed = _media_range(candidate)
        if parsed is None:
            continue
        media, params = parsed
        if params.get("q", "").strip() in {"0", "0.", "0.0", "0.00", "0.000"}:
            continue
        if media == ACTIVITY_JSON:
            return True
        if media == "application/ld+json":
            profile = params.get("profile")
            if profile is None:
                if not strict:
                    return True
            elif AS_CONTEXT in profile.split():
                return True
    return False


def origin_of(url: str) -> str:
    """The origin ``scheme://host[:port]`` of an http(s) URL, normalised for comparison.

    Scheme and host are lowercased, a trailing dot and the default port are dropped, IP
    literals are written canonically (IPv6 in brackets) and IDNs as punycode. Raises
    ``ValueError`` for anything that is not an absolute http(s) URL with a host, and for
    URLs with user information or backslashes: parsers disagree on where such hosts end
    (``https://victim.example\\@evil.example/``), the kind of ambiguity that turned into
    Mastodon CVE-2023-42451 when a domain was normalised differently than it was fetched.
    """
    if not isinstance(url, str):
        raise ValueError(f"not a usable URL: {url!r}")
    return _origin(url)


# Pure, and called about ten times per inbound activity, mostly on the same few URLs (Host
# check, id rules, moderation): parsing and telling IP literals from names cost ~20 us a call,
# a tenth of an inbox POST's time in bench/inbox_bench.py's profile. Results are cached;
# errors are not (lru_cache).
@lru_cache(maxsize=4096)
def _origin(url: str) -> str:
    if not _usable(url):
        raise ValueError(f"not a usable URL: {url!r}")
    plain = _PLAIN_ORIGIN.match(url)
    if plain is not None:
        host = plain.group(2)
        if not host.endswith(".") and not _DIGITS_AND_DOTS.fullmatch(host):
            return plain.group(1)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if "@" in parts.netloc:
        raise ValueError(f"URLs with user information are not identifiers: {url!r}")
    raw_host = parts.hostname
    if not raw_host:
        raise ValueError(f"URL has no host: {url!r}")
    port = parts.port  # raises ValueError when out of range or not a number
    host = normalize_host(raw_host)
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid international host name in {url!r}") from exc
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def _usable(url: str) -> bool:
    # Printable, no backslash, no space: parsers disagree on where such URLs' hosts end.
    return url.isprintable() and "\\" not in url and " " not in url


def is_on_origin(url: str, origin: str) -> bool:
    """Whether ``origin_of(url) == origin``, for an ``origin`` that :func:`origin_of` returned.

    Raises ``ValueError`` as :func:`origin_of` does. An id that starts with the normalised
    origin and a ``/`` has that origin, so the usual case (an activity's own ids, new on every
    request and never in :func:`origin_of`'s cache) needs no parse.
    """
    if (
        isinstance(url, str)
        and url.startswith(origin)
        and url[len(origin) : len(origin) + 1] == "/"
        and _usable(url)
    ):
        return True
    return origin_of(url) == origin


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share an origin; False when either is not an http(s) URL."""
    try:
        return origin_of(a) == origin_of(b)
    except ValueError:
        return False


def is_json_object(value: object) -> TypeGuard[Mapping[str, Any]]:
    """Whether ``value`` is an object (a mapping) rather than a string, list or number.

    Parsed JSON objects are dicts: checked first, without the slower ``Mapping`` ABC check
    (every inbound activity asks several times)."""
    return type(value) is dict or isinstance(value, Mapping)


def id_of(value: object) -> str | None:
    """The identifier of a reference: the string itself, or the ``id`` of an embedded object.

    Empty strings and non-string ids count as no id.
    """
    if isinstance(value, str):
        return value or None
    if is_json_object(value):
        ident = value.get("id")
        if isinstance(ident, str) and ident:
            return ident
    return None


def as_list(value: object) -> list[Any]:
    """A JSON-LD property as a list: absent/null is empty, a single value becomes one item."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def audience(obj: Mapping[str, Any]) -> set[str]:
    """Every addressee id in ``to``, ``cc``, ``bto``, ``bcc`` and ``audience``."""
    found: set[str] = set()
    for name in _AUDIENCE_FIELDS:
        for item in as_list(obj.get(name)):
            ident = id_of(item)
            if ident is not None:
                found.add(ident)
    return found


def _nesting_depth(text: str, limit: int) -> int:
    """The deepest container nesting in ``text``, stopping as soon as it exceeds ``limit``.

    A flat scan with a regular expression: no recursion, so a body of 100,000 ``[`` costs
    one pass and never reaches the parser (security-anchors §1.5: ``json.loads`` raised
    RecursionError at about 1,000 levels on CPython 3.11; orjson refuses past 1,024).
    """
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token == "]" or token == "}":
            depth -= 1
    return deepest


def _utf8_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedActivity("body is not valid UTF-8") from exc


def parse_json_object(body: bytes, *, max_depth: int = 32, max_bytes: int) -> dict[str, Any]:
    """Decode a request body that must be a JSON object, within size and nesting limits.

    Raises :class:`PayloadTooLarge` (a :class:`MalformedActivity`) when ``body`` exceeds
    ``max_bytes``, and :class:`MalformedActivity` for anything but UTF-8 JSON whose top
    level is an object nested at most ``max_depth`` containers deep (the object itself is
    depth 1). UTF-8 only: RFC 8259 §8.1 requires it between systems, and the depth scan
    reads characters, which other encodings would hide.
    """
    if max_depth < 1 or max_bytes < 1:
        raise ValueError("max_depth and max_bytes must be positive")
    if len(body) > max_bytes:
        raise PayloadTooLarge(f"body is {len(body)} bytes; at most {max_bytes} are accepted")
    # Nesting can be no deeper than the number of brackets (counted in C, strings included):
    # an ordinary activity has fewer than the limit, so only the rare one is scanned.
    openers = body.count(b"{") + body.count(b"[")
    if openers > max_depth and _nesting_depth(_utf8_text(body), max_depth) > max_depth:
        raise MalformedActivity(f"JSON is nested more than {max_depth} levels deep")
    try:
        # orjson reads an activity in a third of the standard parser's time and refuses what
        # is not JSON (NaN, Infinity, lone surrogates) or not UTF-8; its own nesting limit
        # (1,024) is never reached after the check above.
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        _utf8_text(body)  # a body that is not UTF-8 is reported as such
        raise MalformedActivity(f"body is not valid JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise MalformedActivity(f"JSON body must be an object, not {type(decoded).__name__}")
    return decoded
