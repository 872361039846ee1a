"""HTTP signatures as the fediverse uses them: pure functions, no I/O.

Two schemes are supported:

* **draft-cavage-http-signatures-12** (``Signature: keyId=…,algorithm=…,headers=…,signature=…``)
  with ``rsa-sha256`` or ``hs2019`` (verified as RSASSA-PKCS1-v1_5 over SHA-256). Every Mastodon
  version signs and verifies this; we sign with it.
* **RFC 9421 HTTP Message Signatures** (``Signature-Input`` + ``Signature``) with
  ``rsa-v1_5-sha256``, which Mastodon verifies from v4.5 and Fedify sends first by default.

Verification is split so that the caller can fetch the signer's key (async I/O that lives
elsewhere) between the steps::

    parsed = parse_signature(request.method, request.raw_path, request.headers)
    key_pem = await fetch_key(key_id_document_url(parsed.key_id))   # not in this module
    verify_signature(parsed, method=request.method, target=request.raw_path,
                     headers=request.headers, body=raw_body, public_key_pem=key_pem, now=now)

``target`` is always the *raw* request target as received: path plus ``?query``, undecoded
(aiohttp's ``request.raw_path``, not ``request.path``). Header values must be the exact values
received; do not let middleware rewrite ``Host`` or ``Content-Type`` (semapps#1238).

RFC 9421's ``@target-uri``, ``@authority`` and ``@scheme`` need the scheme, which the request
line does not carry (and which a TLS-terminating proxy hides). ``parse_signature`` therefore
takes ``scheme=`` (default ``"https"``; pass the scheme of the public base URL) and rebuilds the
target URI as ``<scheme>://<Host header, lowercased, default port removed><target>`` -- the
same normalised form Fedify (``Request.url``) and Mastodon (Rack ``request.url``) produce.

The acceptance rules follow Mastodon's ``app/lib/signed_request.rb`` (2551cc8), made stricter
where the security anchors ask for it: cavage signatures must always cover
``(request-target)``, ``host`` and ``date`` (and ``digest`` on POST); only *signed* ``expires``
values are honoured; a covered header that is absent is an error rather than an empty value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item

from federation.errors import InvalidKeyError, SignatureError
from federation.keys import rsa_sha256_sign, rsa_sha256_verify

__all__ = [
    "CLOCK_SKEW_MARGIN",
    "DEFAULT_EXPIRY",
    "EXPIRATION_WINDOW_LIMIT",
    "ParsedSignature",
    "SignatureScheme",
    "body_digest",
    "cavage_signing_string",
    "check_rsa_signature",
    "check_time_and_digest",
    "content_digest",
    "http_date",
    "key_id_document_url",
    "parse_signature",
    "rfc9421_signature_base",
    "sign_request",
    "sign_request_rfc9421",
    "verify_signature",
]

# Mastodon's SignedRequest constants (app/lib/signed_request.rb): a signature is valid from
# `created - 1h` until `min(expires, created + 12h) + 1h`, with `expires` defaulting to
# `created + 5 min`. For a Date-only signature that is about -65 min .. +60 min.
CLOCK_SKEW_MARGIN = timedelta(hours=1)
EXPIRATION_WINDOW_LIMIT = timedelta(hours=12)
DEFAULT_EXPIRY = timedelta(minutes=5)

SignatureScheme = Literal["cavage", "rfc9421"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")
_RFC9421_ALGORITHM = "rsa-v1_5-sha256"
# One `name=value` or `name="quoted value"` parameter of a cavage Signature header, followed
# by a comma or the end. Whitespace around the separators is tolerated: the draft's own
# examples wrap the header over several lines.
_CAVAGE_PARAM = re.compile(
    r'\s*([A-Za-z][A-Za-z0-9_.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]*))\s*(?:,|\Z)'
)
# A parameter name; in the shape every peer sends, `name="value"` pairs joined by bare commas
# with nothing escaped, values hold neither quotes nor backslashes.
_CAVAGE_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
# The parameters draft-cavage defines, spelt as it does: valid names without a regex match.
# (Checked before lowercasing: "\u212aeyId".lower() is "keyid", and the regex refuses it.)
_CAVAGE_PARAMS = frozenset({"keyId", "algorithm", "headers", "signature", "created", "expires"})
# IMF-fixdate, e.g. `Thu, 26 Nov 2026 13:55:48 GMT` (RFC 9110 §5.6.7).
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_DIGITS = re.compile(r"[0-9]+\Z")
_BACKSLASH_ESCAPE = re.compile(r"\\(.)")
_RFC9421_DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
)


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """A syntactically valid, strong-enough signature, ready for :func:`verify_signature`.

    ``covered`` lists what is signed: cavage header names (lowercase, including pseudo-headers
    such as ``(request-target)``) or RFC 9421 component identifiers, in signing order.
    ``signing_base`` is the exact byte string the signature is over. ``created`` is the
    signature's creation time (cavage: the signed ``(created)`` if any, else the ``Date``
    header; RFC 9421: the ``created`` parameter); ``expires`` is set only when the signer
    signed an expiry. ``algorithm`` is the declared algorithm (``rsa-sha256`` / ``hs2019``;
    for RFC 9421 the ``alg`` parameter, or ``None`` when the key decides). ``label`` is the
    RFC 9421 signature label. ``method`` and ``target`` record the request it was parsed from,
    and ``digest`` its body digest header as received (cavage ``Digest``, RFC 9421
    ``Content-Digest``; None when absent), so the digest check reads no headers again.
    """

    scheme: SignatureScheme
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    signing_base: bytes
    signature: bytes
    created: datetime
    expires: datetime | None
    method: str
    target: str
    digest: str | None = None
    label: str | None = None


# --------------------------------------------------------------------------------------------
# Small helpers shared by signing and verification


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def http_date(now: datetime) -> str:
    """Format ``now`` as an IMF-fixdate, e.g. ``Thu, 26 Nov 2026 13:55:48 GMT``.

    ``now`` must be timezone-aware; sub-second precision is dropped.
    """
    return format_datetime(_utc(now, "now").replace(microsecond=0), usegmt=True)


def body_digest(body: bytes) -> str:
    """The draft-cavage ``Digest`` value of ``body``: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` value of ``body``: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def _normalise_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lowercase names, strip values, and join repeated fields with ", ".

    Both drafts say repeated header fields are combined in order with ", " (cavage §2.3,
    RFC 9421 §2.1); a multidict such as aiohttp's ``CIMultiDictProxy`` yields each line.
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        stripped = value.strip()
        out[key] = f"{out[key]}, {stripped}" if key in out else stripped
    return out


def _to_bytes(text: str) -> bytes:
    # aiohttp decodes header bytes as UTF-8 with surrogateescape; this restores the exact
    # received octets, so obs-text in a signed header still verifies.
    return text.encode("utf-8", "surrogateescape")


def _split_url(url: str) -> tuple[str, str, str]:
    """Return (scheme, Host header value, request target) for an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # IPv6 literal; urlsplit removed the brackets
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    if not target.isascii():
        # The HTTP client would percent-encode it and the signed target would not match.
        raise ValueError(f"URL path and query must be percent-encoded ASCII: {url!r}")
    return scheme, host, target


def _check_header_value(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise SignatureError(f"Header {name} contains a line break and cannot be signed")
    return value


# --------------------------------------------------------------------------------------------
# draft-cavage-http-signatures-12


def cavage_signing_string(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    covered: Sequence[str],
    created: str | None = None,
    expires: str | None = None,
) -> bytes:
    """Build the draft-cavage signing string for the ``covered`` header names, in order.

    ``(request-target)`` is ``<lowercase method> <target>`` with the query string;
    ``(created)``/``(expires)`` take the given raw parameter text. Other names take the
    received header value (case-insensitive lookup). A covered header that is absent raises
    :class:`SignatureError`.
    """
    return _cavage_signing_string(
        method, target, _normalise_headers(headers), covered, created, expires
    )


def _cavage_signing_string(
    method: str,
    target: str,
    hdrs: Mapping[str, str],
    covered: Sequence[str],
    created: str | None,
    expires: str | None,
) -> bytes:
    lines: list[str] = []
    for raw_name in covered:
        name = raw_name.lower()
        if name == "(request-target)":
            value = f"{method.lower()} {target}"
        elif name in ("(created)", "(expires)"):
            param = created if name == "(created)" else expires
            if param is None:
                raise SignatureError(
                    f"Pseudo-header {name} used but corresponding parameter missing"
                )
            value = param
        else:
            found = hdrs.get(name)
            if found is None:
                raise SignatureError(f"Signed header {name} is missing from the request")
            value = found
        if "\n" in value or "\r" in value:
            raise SignatureError(f"Header {name} contains a line break and cannot be signed")
        lines.append(f"{name}: {value}")
    return _to_bytes("\n".join(lines))


def _signature_header_params(value: str) -> dict[str, str]:
    """Parse a cavage ``Signature`` header into lowercase-named parameters."""
    text = value.strip()
    return _plain_signature_header_params(text) or _general_signature_header_params(text)


def _plain_signature_header_params(text: str) -> dict[str, str] | None:
    """The usual shape, ``name="value"`` pairs joined by bare commas with nothing escaped,
    split with string methods (a third of a regular-expression scan over the long base64
    signature); None for anything else, which the general parser then reads."""
    if not text.endswith('"'):
        return None
    params: dict[str, str] = {}
    # No value holds a quote, so every `",` ends a parameter.
    for pair in text[:-1].split('",'):
        name, quote, param = pair.partition('="')
        if not quote or '"' in param or "\\" in param:
            return None
        if name not in _CAVAGE_PARAMS and not _CAVAGE_PARAM_NAME.match(name):
            return None
        name = name.lower()
        if name in params:
            return None  # the general parser reports the duplicate
        params[name] = param
    return params


def _general_signature_header_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    text = value.strip()
    while pos < len(text):
        match = _CAVAGE_PARAM.match(text, pos)
        if match is None or match.end() == pos:
            raise SignatureError("Error parsing signature parameters")
        name = match.group(1).lower()
        quoted = match.group(2)
        if quoted is None:
            param = match.group(3)
        elif "\\" in quoted:
            param = _BACKSLASH_ESCAPE.sub(r"\1", quoted)
        else:  # the usual case: nothing to unescape (a signature is base64, a keyId a URL)
            param = quoted
        if name in params:
            raise SignatureError(f"Signature parameter {name} appears twice")
        params[name] = param
        pos = match.end()
    return params


def _parse_timestamp(value: str, what: str) -> datetime:
    if not _DIGITS.match(value):
        raise SignatureError(f"Invalid {what} parameter: {value!r} is not a Unix timestamp")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise SignatureError(f"Invalid {what} parameter: {value!r} is out of range") from exc


# Pure, and every request signed in the same second carries the same Date.
@lru_cache(maxsize=256)
def _parse_http_date(value: str) -> datetime:
    fixdate = _IMF_FIXDATE.fullmatch(value)
    if fixdate is not None:
        # What every peer sends (RFC 9110's preferred form), parsed without the general
        # RFC 5322 parser: a tenth of its cost, the same answer.
        day, month, year, hour, minute, second = fixdate.groups()
        try:
            return datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        except ValueError as exc:
            raise SignatureError(f"Invalid Date header: {value!r}") from exc
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise SignatureError(f"Invalid Date header: {value!r}") from exc
    if parsed.tzinfo is None:  # "-0000" or no zone: RFC 5322 says the time is UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_cavage(method: str, target: str, hdrs: dict[str, str]) -> ParsedSignature:
    params = _signature_header_params(hdrs["signature"])
    key_id = params.get("keyid", "")
    signature_b64 = params.get("signature", "")
    if not key_id or not signature_b64:
        raise SignatureError("Incompatible request signature. keyId and signature are required")

    # A missing algorithm means hs2019, as in Mastodon's `signature_algorithm`.
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in _CAVAGE_ALGORITHMS:
        raise SignatureError(
            "Unsupported signature algorithm (only rsa-sha256 and hs2019 are supported)"
        )

    headers_param = params.get("headers")
    default_covered = "(created)" if algorithm == "hs2019" else "date"
    covered = tuple((default_covered if headers_param is None else headers_param).lower().split())

    # Mastodon's `verify_signature_strength!` accepts `date` OR `(created)` and
    # `(request-target)` OR `digest`. We require all of (request-target), host and date,
    # plus digest on POST: a signature without them can be replayed against another path or
    # host, or, without digest, with another body (Misskey CVE-2023-49079).
    required = ["(request-target)", "host", "date"]
    if method.upper() == "POST":
        required.append("digest")
    missing = [name for name in required if name not in covered]
    if missing:
        hint = "" if headers_param is not None else " (no headers= parameter was sent)"
        raise SignatureError(
            f"Signature must cover {', '.join(required)}; missing: {', '.join(missing)}{hint}"
        )

    created_param = params.get("created")
    expires_param = params.get("expires")
    for pseudo, param in (("(created)", created_param), ("(expires)", expires_param)):
        if pseudo in covered:
            if algorithm != "hs2019":
                raise SignatureError(f"Invalid pseudo-header {pseudo} for rsa-sha256")
            if not param:
                raise SignatureError(
                    f"Pseudo-header {pseudo} used but corresponding parameter missing"
                )

    signing_base = _cavage_signing_string(
        method, target, hdrs, covered, created_param, expires_param
    )

    if "(created)" in covered and created_param is not None:
        created = _parse_timestamp(created_param, "created")
    else:
        created = _parse_http_date(hdrs["date"])
    # Mastodon reads `expires` even when it is not signed; an unsigned value could be raised
    # by anyone replaying the request, stretching the window to 12 h, so it is ignored here.
    expires = None
    if "(expires)" in covered and expires_param is not None:
        expires = _parse_timestamp(expires_param, "expires")

    try:
        # Strict: only the base64 alphabet with correct padding. ValueError covers a
        # parameter that is not ASCII at all (binascii.Error is one).
        signature = binascii.a2b_base64(signature_b64, strict_mode=True)
    except ValueError as exc:
        raise SignatureError("The signature parameter is not valid base64") from exc

    return ParsedSignature(
        scheme="cavage",
        key_id=key_id,
        algorithm=algorithm,
        covered=covered,
        signing_base=signing_base,
        signature=signature,
        created=created,
        expires=expires,
        method=method,
        target=target,
        digest=hdrs.get("digest"),
    )


# --------------------------------------------------------------------------------------------
# RFC 9421 HTTP Message Signatures


def _sf_dictionary(value: str, field: str) -> Dictionary:
    parsed = Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except ValueError as exc:  # includes UnicodeEncodeError
        raise SignatureError(
            f"{field} could not be parsed. It does not contain a valid RFC 8941 dictionary."
        ) from exc
    return parsed


def _components(inner: InnerList) -> list[str]:
    names: list[str] = []
    for item in inner:
        value = item.value
        # Component identifiers are sf-strings; http_sfv's Token subclasses str, so check type.
        if type(value) is not str:
            raise SignatureError("Signature-Input components must be quoted strings")
        if item.params:
            raise SignatureError(
                f"Component parameters are not supported ({value!s}{item.params!s})"
            )
        if value != value.lower():
            raise SignatureError(f"Component identifier {value!r} must be lowercase")
        if value == "@signature-params":
            raise SignatureError("@signature-params cannot be a covered component")
        if value.startswith("@") and value not in _RFC9421_DERIVED:
            raise SignatureError(f"Unsupported derived component {value}")
        if value in names:
            raise SignatureError(f"Component {value} is covered twice")
        names.append(value)
    return names


def _authority(hdrs: Mapping[str, str], scheme: str) -> str:
    host = hdrs.get("host")
    if not host:
        raise SignatureError("Host header missing")
    # RFC 9421 §2.2.3: lowercase, default port omitted (HTTP §4.2.3 normalisation).
    authority = host.lower()
    default_port = f":{_DEFAULT_PORTS[scheme]}"
    if authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    return authority


def _check_scheme(scheme: str) -> str:
    lowered = scheme.lower()
    if lowered not in _DEFAULT_PORTS:
        raise ValueError(f"scheme must be 'http' or 'https', not {scheme!r}")
    return lowered


def _rfc9421_base(
    *, method: str, target: str, hdrs: Mapping[str, str], inner: InnerList, scheme: str
) -> bytes:
    if not target.startswith("/"):
        raise SignatureError("The request target must be an absolute path (origin-form)")
    path, _, query = target.partition("?")
    lines: list[str] = []
    for name in _components(inner):
        if name == "@method":
            value = method
        elif name == "@target-uri":
            value = f"{scheme}://{_authority(hdrs, scheme)}{target}"
        elif name == "@authority":
            value = _authority(hdrs, scheme)
        elif name == "@scheme":
            value = scheme
        elif name == "@request-target":
            value = target
        elif name == "@path":
            value = path or "/"
        elif name == "@query":
            value = f"?{query}"  # an absent query is "?" alone (RFC 9421 §2.2.7)
        else:
            found = hdrs.get(name)
            if found is None:
                raise SignatureError(f"Signed header {name} is missing from the request")
            value = found
        lines.append(f'"{name}": {_check_header_value(name, value)}')
    # The parameters line is the re-serialised inner list (RFC 9421 §2.3, §2.5).
    lines.append(f'"@signature-params": {inner}')
    return _to_bytes("\n".join(lines))


def rfc9421_signature_base(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    signature_input: str,
    scheme: str = "https",
) -> bytes:
    """Build the RFC 9421 §2.5 signature base for a ``Signature-Input`` with one member.

    No policy is applied (which components are required, timestamps, algorithm); this is the
    building block that :func:`parse_signature` and the signers share, exposed for tests and
    debugging. Raises :class:`SignatureError` for a malformed input or a missing component.
    """
    inputs = _sf_dictionary(signature_input, "Signature-Input")
    if len(inputs) != 1:
        raise SignatureError(f"Expected exactly one signature, found {len(inputs)}")
    inner = next(iter(inputs.values()))
    if not isinstance(inner, InnerList):
        raise SignatureError("A Signature-Input member must be an inner list")
    return _rfc9421_base(
        method=method,
        target=target,
        hdrs=_normalise_headers(headers),
        inner=inner,
        scheme=_check_scheme(scheme),
    )


def _int_param(params: Mapping[str, object], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if type(value) is not int:  # bool is an int subclass: `;created` alone parses as True
        raise SignatureError(f"The {name} parameter must be an integer")
    return value


def _timestamp(value: int, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise SignatureError(f"Invalid {what} parameter: {value} is out of range") from exc


def _parse_rfc9421(method: str, target: str, hdrs: dict[str, str], scheme: str) -> ParsedSignature:
    inputs = _sf_dictionary(hdrs["signature-input"], "Signature-Input")
    signature_field = hdrs.get("signature")
    if not signature_field:
        raise SignatureError("Signature-Input header present but Signature header missing")
    signatures = _sf_dictionary(signature_field, "Signature")
    # Mastodon (Linzer::Signature.build) refuses requests carrying several signatures.
    if len(inputs) != 1 or len(signatures) != 1:
        raise SignatureError(
            "Only one signature per request is supported; found "
            f"{len(inputs)} in Signature-Input and {len(signatures)} in Signature"
        )
    label = next(iter(inputs.keys()))
    inner = inputs[label]
    sig_item = signatures.get(label)
    if sig_item is None:
        raise SignatureError(f"Signature header has no signature labelled {label!r}")
    if not isinstance(inner, InnerList):
        raise SignatureError("A Signature-Input member must be an inner list")
    if not isinstance(sig_item, Item) or not isinstance(sig_item.value, bytes):
        raise SignatureError("A Signature member must be a byte sequence")
    signature: bytes = sig_item.value

    params: Mapping[str, object] = inner.params
    key_id = params.get("keyid")
    created_ts = _int_param(params, "created")
    if not isinstance(key_id, str) or not key_id or created_ts is None:
        raise SignatureError("Incompatible request signature. keyid and created are required")
    expires_ts = _int_param(params, "expires")
    alg = params.get("alg")
    if alg is not None and alg != _RFC9421_ALGORITHM:
        raise SignatureError(f"Unsupported signature algorithm {alg!s} (only rsa-v1_5-sha256)")

    components = _components(inner)
    # Mastodon's HttpMessageSignature#verify_signature_strength!.
    if "@method" not in components or "@target-uri" not in components:
        raise SignatureError("The @method and @target-uri derived components must be signed")
    if method.upper() == "POST" and "content-digest" not in components:
        raise SignatureError("The Content-Digest header must be signed on a POST request")

    signing_base = _rfc9421_base(
        method=method, target=target, hdrs=hdrs, inner=inner, scheme=scheme
    )
    return ParsedSignature(
        scheme="rfc9421",
        key_id=str(key_id),
        algorithm=None if alg is None else str(alg),
        covered=tuple(components),
        signing_base=signing_base,
        signature=signature,
        created=_timestamp(created_ts, "created"),
        expires=None if expires_ts is None else _timestamp(expires_ts, "expires"),
        method=method,
        target=target,
        digest=hdrs.get("content-digest"),
        label=label,
    )


# --------------------------------------------------------------------------------------------
# Verification entry points


def parse_signature(
    method: str, target: str, headers: Mapping[str, str], *, scheme: str = "https"
) -> ParsedSignature:
    """Parse and policy-check the request's signature, without any key.

    ``target`` is the raw request target (path and query, as received). ``headers`` may be
    any mapping or multidict; names are matched case-insensitively. ``scheme`` is only used
    by RFC 9421 (``@target-uri``, ``@authority``, ``@scheme``).

    RFC 9421 is chosen when a ``Signature-Input`` header is present (as Mastodon's
    ``SignedRequest#initialize`` does), draft-cavage otherwise. Raises :class:`SignatureError`
    when the request is unsigned, the header is malformed, or the coverage is too weak.
    """
    scheme = _check_scheme(scheme)
    hdrs = _normalise_headers(headers)
    if hdrs.get("signature-input"):
        return _parse_rfc9421(method, target, hdrs, scheme)
    if hdrs.get("signature"):
        return _parse_cavage(method, target, hdrs)
    raise SignatureError("Request is not signed (no Signature header)")


def key_id_document_url(key_id: str) -> str:
    """The URL to fetch for ``key_id``: the keyId without its fragment.

    ``https://a.example/users/x#main-key`` gives ``https://a.example/users/x``; a keyId
    without a fragment (GoToSocial's ``…/users/x/main-key``) is returned unchanged. Raises
    :class:`SignatureError` unless the keyId is an absolute http(s) URL.
    """
    url = key_id.partition("#")[0]
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise SignatureError(f"keyId is not an http(s) URL: {key_id!r}")
    return url


def _check_time_window(parsed: ParsedSignature, now: datetime) -> None:
    # Mastodon's SignedRequest#matches_time_window?.
    created = parsed.created
    if created > now + CLOCK_SKEW_MARGIN:
        raise SignatureError(
            "Signed request date outside acceptable time window: "
            f"created {created.isoformat()} is more than 1 hour ahead of {now.isoformat()}"
        )
    expires = parsed.expires if parsed.expires is not None else created + DEFAULT_EXPIRY
    expires = min(expires, created + EXPIRATION_WINDOW_LIMIT)
    if now > expires + CLOCK_SKEW_MARGIN:
        raise SignatureError(
            "Signed request date outside acceptable time window: "
            f"signature expired at {expires.isoformat()} (1 hour grace), now {now.isoformat()}"
        )


def _check_cavage_digest(parsed: ParsedSignature, body: bytes) -> None:
    if "digest" not in parsed.covered:
        if body:
            raise SignatureError("The request has a body but its Digest header is not signed")
        return
    header = parsed.digest
    if header is None:
        raise SignatureError("Digest header missing")
    computed = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    if header == "SHA-256=" + computed:  # what nearly every peer sends
        return
    # Mastodon's verify_body_digest!: labels are case-insensitive (bovine sends `sha-256=`)
    # and several comma-separated digests are allowed as long as SHA-256 is one of them.
    offered: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.partition("=")
        offered.setdefault(name.strip().lower(), value.strip())
    given = offered.get("sha-256")
    if given is None:
        raise SignatureError(
            "Only SHA-256 is supported in the Digest header. "
            f"Offered algorithms: {', '.join(offered)}"
        )
    if hmac.compare_digest(_to_bytes(given), computed.encode("ascii")):
        return
    try:
        size = len(base64.b64decode(given, validate=True))
    except binascii.Error as exc:
        raise SignatureError(
            f"Invalid Digest value. The provided Digest value is not valid base64: {given}"
        ) from exc
    if size != 32:
        raise SignatureError(
            f"Invalid Digest value. The provided Digest value is not a SHA-256 digest: {given}"
        )
    raise SignatureError(
        f"Invalid Digest value. Computed SHA-256 digest: {computed}; given: {given}"
    )


def _check_content_digest(parsed: ParsedSignature, body: bytes) -> None:
    if "content-digest" not in parsed.covered:
        if body:
            raise SignatureError(
                "The request has a body but its Content-Digest header is not signed"
            )
        return
    header = parsed.digest
    if header is None:
        raise SignatureError("Content-Digest header missing")
    digests = _sf_dictionary(header, "Content-Digest")
    member = digests.get("sha-256")
    if member is None:
        raise SignatureError(
            "Only sha-256 is supported in the Content-Digest header. "
            f"Offered algorithms: {', '.join(digests.keys())}"
        )
    if not isinstance(member, Item) or not isinstance(member.value, bytes):
        raise SignatureError("The Content-Digest sha-256 member must be a byte sequence")
    given: bytes = member.value
    computed = hashlib.sha256(body).digest()
    if not hmac.compare_digest(given, computed):
        raise SignatureError(
            "Invalid Content-Digest value. Computed SHA-256 digest: "
            f"{base64.b64encode(computed).decode('ascii')}; "
            f"given: {base64.b64encode(given).decode('ascii')}"
        )


def verify_signature(
    parsed: ParsedSignature,
    *,
    method: str,
    target: str,
    body: bytes,
    public_key_pem: str,
    now: datetime,
) -> None:
    """Check the time window, the body digest and the RSA signature; raise on failure.

    ``method`` and ``target`` must be those given to :func:`parse_signature` (a mismatch is
    a programming error and raises ``ValueError``); the headers were read there;
    ``body`` is the raw request body (``b""`` when there is none). ``now`` must be
    timezone-aware. Raises :class:`SignatureError` with a reason suitable for a 401 body.
    """
    if method != parsed.method or target != parsed.target:
        raise ValueError("verify_signature called with a different request than was parsed")
    check_time_and_digest(parsed, body=body, now=now)
    check_rsa_signature(parsed, public_key_pem)


def check_time_and_digest(parsed: ParsedSignature, *, body: bytes, now: datetime) -> None:
    """The key-independent half of :func:`verify_signature`: time window and body digest.

    Run before a key is looked up or fetched, a stale or tampered request costs no fetch.
    Raises :class:`SignatureError`.
    """
    _check_time_window(parsed, _utc(now, "now"))
    if parsed.scheme == "cavage":
        _check_cavage_digest(parsed, body)
    else:
        _check_content_digest(parsed, body)


def check_rsa_signature(parsed: ParsedSignature, public_key_pem: str) -> None:
    """The key half of :func:`verify_signature`: the RSA signature over the signing base.

    Raises :class:`SignatureError` when the key is unusable or the signature does not match.
    """
    try:
        valid = rsa_sha256_verify(public_key_pem, parsed.signing_base, parsed.signature)
    except InvalidKeyError as exc:
        raise SignatureError(f"The signer's public key cannot be used: {exc}") from exc
    if not valid:
        raise SignatureError(
            "Signature does not verify: wrong key, or a signed header, path or body was changed"
        )


# --------------------------------------------------------------------------------------------
# Signing


def _check_key_id(key_id: str) -> None:
    if not key_id or not key_id.isascii() or any(c in key_id for c in '"\\\r\n'):
        raise ValueError(f"keyId must be printable ASCII without quotes: {key_id!r}")


def sign_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    now: datetime,
) -> dict[str, str]:
    """Sign a request with draft-cavage ``rsa-sha256``; return the headers to add.

    The result holds ``Host``, ``Date``, ``Digest`` (when there is a body; a POST always
    gets one, ``body=None`` counting as empty) and ``Signature``; they replace any same-named
    headers. Covered, in this order: ``(request-target) host date``, then ``digest`` when
    there is a body, then ``content-type`` and ``accept`` when present in ``headers`` -- for a
    Mastodon-style POST that is ``(request-target) host date digest content-type`` and for a
    GET ``(request-target) host date accept``. The caller must send exactly the values
    signed. ``algorithm`` and ``headers`` are always explicit: without them Mastodon assumes
    hs2019 and covers only ``(created)``.
    """
    _check_key_id(key_id)
    _, host, target = _split_url(url)
    verb = method.upper()
    if body is None and verb == "POST":
        body = b""
    given = _normalise_headers(headers)
    added = {"Host": host, "Date": http_date(now)}
    signed = {"host": host, "date": added["Date"]}
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        added["Digest"] = signed["digest"] = body_digest(body)
        covered.append("digest")
    for name in ("content-type", "accept"):
        if name in given:
            signed[name] = given[name]
            covered.append(name)
    base = cavage_signing_string(method=verb, target=target, headers=signed, covered=covered)
    signature = base64.b64encode(rsa_sha256_sign(private_key_pem, base)).decode("ascii")
    added["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",'
        f'headers="{" ".join(covered)}",signature="{signature}"'
    )
    return added


def sign_request_rfc9421(
    *,
    method: str,
    url: str,
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    now: datetime,
    label: str = "sig1",
) -> dict[str, str]:
    """Sign a request with RFC 9421 ``rsa-v1_5-sha256``; return the headers to add.

    The result holds ``Host``, ``Date`` (unsigned, for logs), ``Content-Digest`` (when there
    is a body; always on POST), ``Signature-Input`` and ``Signature``. Covered:
    ``@method @target-uri @authority`` plus ``content-digest`` with a body; parameters
    ``created`` and ``keyid``. Only Mastodon >= 4.5 accepts this, so send it as the second
    knock after a 401 to a cavage-signed request, never first.
    """
    _check_key_id(key_id)
    scheme, host, target = _split_url(url)
    verb = method.upper()
    if body is None and verb == "POST":
        body = b""
    added = {"Host": host, "Date": http_date(now)}
    hdrs = {"host": host}
    inner = InnerList()
    for component in ("@method", "@target-uri", "@authority"):
        inner.append(component)
    if body is not None:
        added["Content-Digest"] = hdrs["content-digest"] = content_digest(body)
        inner.append("content-digest")
    inner.params["created"] = int(_utc(now, "now").timestamp())
    inner.params["keyid"] = key_id
    base = _rfc9421_base(method=verb, target=target, hdrs=hdrs, inner=inner, scheme=scheme)
    signature_input = Dictionary()
    signature_input[label] = inner
    signature = Dictionary()
    signature[label] = rsa_sha256_sign(private_key_pem, base)
    added["Signature-Input"] = str(signature_input)
    added["Signature"] = str(signature)
    return added
