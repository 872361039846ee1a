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
