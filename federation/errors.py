"""The federation layer's exception hierarchy."""

from __future__ import annotations


class FederationError(Exception):
    """Base class of every error raised by the federation layer."""


class ForbiddenAddress(FederationError):
    """An outbound connection was refused by the address policy (SSRF protection).

    Raised before any byte is sent: the address is private, loopback, link-local, reserved,
    or otherwise not public, and the host:port is not allow-listed.
    """

    def __init__(self, host: str, port: int, addresses: tuple[str, ...] = ()) -> None:
        self.host = host
        self.port = port
        self.addresses = addresses
        where = f" ({', '.join(addresses)})" if addresses else ""
        super().__init__(f"refusing to connect to {host}:{port}{where}: not a public address")


class FetchError(FederationError):
    """A request could not produce a usable result: bad URL, HTTP error status, bad body."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class ResponseTooLarge(FetchError):
    """The response body exceeded the client's size cap."""


class ForbiddenRedirect(FetchError):
    """A redirect pointed to another origin (scheme, host or port)."""


class TooManyRedirects(FetchError):
    """A redirect chain was longer than the client allows."""


class PeerUnreachable(FederationError):
    """The peer could not be reached or broke the exchange: DNS, refused, reset, TLS, protocol."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class PeerTimeout(PeerUnreachable):
    """The peer did not answer within the client's time limits."""


class SignatureError(FederationError):
    """An HTTP signature is missing, malformed, too weak, stale, or does not verify.

    The message is written for the remote administrator: the inbox answers 401 with it, the
    way Mastodon's ``signature_verification.rb`` answers ``{"error": "<reason>"}``.
    """


class InvalidKeyError(FederationError):
    """A PEM-encoded key could not be loaded, or is not a usable RSA key."""


class MalformedActivity(FederationError):
    """A request body is not a usable ActivityStreams JSON object.

    Invalid JSON or encoding, a non-object top level, nesting deeper than allowed, or a
    document missing what the protocol requires (an ``actor``, a ``type``...). An inbox
    answers 400: resending the same bytes can never succeed.
    """


class PayloadTooLarge(MalformedActivity):
    """A request body is larger than accepted; an inbox answers 413."""


class KeyFetchError(FederationError):
    """The public key named by a signature's keyId could not be obtained or trusted.

    ``status`` is the HTTP status of the failing fetch when there was one (410 Gone means the
    actor was deleted: SWICG "ActivityPub and HTTP Signatures", "Handling Deletes of actors").
    ``transient`` is True when trying again later may succeed (network errors, timeouts,
    5xx, 408, 429); False for answers that will not change (404, 410, a document that does
    not vouch for the key, an origin mismatch, a refused address).
    """

    def __init__(
        self,
        message: str,
        *,
        key_id: str,
        url: str | None = None,
        status: int | None = None,
        transient: bool = False,
    ) -> None:
        self.key_id = key_id
        self.url = url
        self.status = status
        self.transient = transient
        super().__init__(message)


class WebFingerError(FederationError):
    """A WebFinger resource is malformed, or a lookup failed or returned an unusable JRD.

    ``status`` is 400 for a malformed resource (what our own WebFinger endpoint answers);
    for a failed lookup it is the remote HTTP status when there was one, else None.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)
