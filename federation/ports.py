"""Protocols the application implements for the federation layer.

The federation package never touches storage; where it needs persistence (a cache of remote
actors' public keys) or a secret (the instance actor's private key), the application passes
an object satisfying one of these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from federation.client import RequestSigner

__all__ = ["ActorKey", "InstanceSigner", "KeyCache"]


@dataclass(frozen=True, slots=True)
class ActorKey:
    """A remote actor's public key, as vouched for by the actor's own document.

    ``key_id`` is the signature keyId exactly as the actor publishes it (``publicKey.id``);
    ``owner`` is the actor id that lists it; ``public_key_pem`` is an SPKI (or PKCS#1) PEM.
    Only :class:`federation.keyresolver.KeyResolver` creates these from fetched documents; the
    cache stores and returns them unchanged.
    """

    key_id: str
    owner: str
    public_key_pem: str


class KeyCache(Protocol):
    """Storage for remote public keys, keyed by keyId.

    ``put_key`` replaces any key stored under the same ``key_id`` (key rotation). The cache may
    also be filled when an actor document arrives by other means (an ``Update`` of the actor),
    but only with keys taken from a document authenticated for that actor.
    """

    async def get_key(self, key_id: str) -> ActorKey | None: ...

    async def put_key(self, key: ActorKey) -> None: ...


InstanceSigner = RequestSigner
"""Signs the instance actor's GETs (key and object fetches), see :data:`RequestSigner`.

Servers running Mastodon's authorized fetch answer only signed GETs; signing them with a
server-wide actor avoids the deadlock of two users' servers each waiting to fetch the other's
key first (SWICG "ActivityPub and HTTP Signatures", "Instance actor").
"""
