"""Find and authenticate the public key behind a signature's keyId.

A keyId is only a URL; what makes its key *belong* to an actor is the actor's own document,
fetched from the actor's own origin, listing that key. The two shapes met in the wild:

* **fragment keys** (Mastodon, Fedify, Pleroma, Misskey): ``…/users/bob#main-key``. Fetching
  the URL without the fragment returns the actor, whose ``publicKey`` (an object, or a list of
  them) contains an entry with ``id == keyId``.
* **key documents** (GoToSocial, ``docs/federation/http_signatures.md``): ``…/users/bob/
  main-key`` without a fragment. The URL answers either a stub actor carrying the key (whose
  ``id`` is the actor's, not the URL fetched) or a bare key ``{id, owner, publicKeyPem}``. In
  both cases the owner actor is then fetched from its own id and must list the key.

Every document must come from the origin of the keyId, answer with an ActivityStreams media
type, and (for actors) carry the id it was fetched from -- the checks whose absence made
Misskey #2546 (a key on an unrelated host), Mastodon GHSA-3fjr-858r-92rw (queried versus
returned identity) and GHSA-jhrq-qvrm-qr36 (uploaded JSON served from the actor's host)
exploitable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation.client import FederationClient, RequestSigner
from federation.errors import (
    FederationError,
    FetchError,
    ForbiddenAddress,
    InvalidKeyError,
    KeyFetchError,
    PeerUnreachable,
    SignatureError,
)
from federation.httpsig import key_id_document_url
from federation.keys import load_public_key
from federation.ports import ActorKey, KeyCache
from federation.vocab import as_list, id_of, is_activitypub_media_type, origin_of

__all__ = ["KeyResolver"]

# Statuses after which asking again later may work: Mastodon's DeliveryWorker retries the
# same set, which is a fair statement of what "temporary" means between fediverse servers.
_TRANSIENT_STATUSES = frozenset({401, 408, 425, 429})


def _is_transient(status: int | None) -> bool:
    if status is None:  # bad JSON, bad URL, oversized: the same bytes would come back
        return False
    return status in _TRANSIENT_STATUSES or (status >= 500 and status != 501)


class KeyResolver:
    """Resolve keyIds to :class:`ActorKey`, through the application's cache.

    ``instance_signer`` signs every fetch, because servers in Mastodon's authorized-fetch mode
    answer unsigned GETs with 401.
    """

    def __init__(
        self, client: FederationClient, cache: KeyCache, instance_signer: RequestSigner
    ) -> None:
        self._client = client
        self._cache = cache
        self._signer = instance_signer

    async def cached(self, key_id: str) -> ActorKey | None:
        """The key stored under ``key_id``, without any network access."""
        return await self._cache.get_key(key_id)

    async def fetch(self, key_id: str) -> ActorKey:
        """Fetch ``key_id`` from its origin, authenticate it, store it and return it.

        Raises :class:`KeyFetchError` (with the HTTP ``status`` when there was one, and
        ``transient`` set when a later attempt may succeed).
        """
        try:
            doc_url = key_id_document_url(key_id)
            key_origin = origin_of(key_id)
        except (SignatureError, ValueError) as exc:
            raise KeyFetchError(f"keyId is not an http(s) URL: {key_id!r}", key_id=key_id) from exc

        final_url, doc = await self._get(key_id, doc_url)
        doc_id = id_of(doc)
        if doc_id is None:
            raise self._refuse(key_id, doc_url, "the key document has no id")

        if "publicKey" in doc:
            # An actor document. It is authoritative only when fetched from its own id; a
            # GoToSocial-style stub served at the key URL names the actor elsewhere, so the
            # actor is fetched from there.
            actor_id = doc_id
            self._require_origin(key_id, actor_id, key_origin, "actor id")
            actor = doc
            if doc_id not in (doc_url, final_url):
                actor = await self._get_actor(key_id, actor_id)
            entry = _find_key(actor, key_id)
            if entry is None:
                raise self._refuse(key_id, actor_id, f"actor {actor_id} does not list key {key_id}")
            # Embedding in the actor document is itself the owner's statement; a stated owner
            # must still agree, or the key claims to belong to someone else.
            owner = entry.get("owner")
            if owner is not None and id_of(owner) != actor_id:
                raise self._refuse(
                    key_id, actor_id, f"publicKey.owner {id_of(owner)!r} is not {actor_id}"
                )
            pem = entry.get("publicKeyPem")
        else:
            # A bare key document: it names its owner, and the owner must list it back.
            if doc_id != key_id:
                raise self._refuse(key_id, doc_url, f"key document id {doc_id!r} is not the keyId")
            actor_id_or_none = id_of(doc.get("owner"))
            if actor_id_or_none is None:
                raise self._refuse(key_id, doc_url, "document is neither an actor nor a key")
            actor_id = actor_id_or_none
            self._require_origin(key_id, actor_id, key_origin, "key owner")
            actor = await self._get_actor(key_id, actor_id)
            listed = {id_of(item) for item in as_list(actor.get("publicKey"))}
            if key_id not in listed:
                raise self._refuse(key_id, actor_id, f"owner {actor_id} does not list key {key_id}")
            pem = doc.get("publicKeyPem")

        if not isinstance(pem, str) or not pem.strip():
            raise self._refuse(key_id, doc_url, "the key has no publicKeyPem")
        try:
            load_public_key(pem)
        except InvalidKeyError as exc:
            raise self._refuse(key_id, doc_url, f"unusable public key: {exc}") from exc

        key = ActorKey(key_id=key_id, owner=actor_id, public_key_pem=pem)
        await self._cache.put_key(key)
        return key

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _refuse(key_id: str, url: str, reason: str) -> KeyFetchError:
        return KeyFetchError(f"cannot trust key {key_id}: {reason}", key_id=key_id, url=url)

    def _require_origin(self, key_id: str, url: str, key_origin: str, what: str) -> None:
        try:
            origin = origin_of(url)
        except ValueError as exc:
            raise self._refuse(key_id, url, f"{what} {url!r} is not an http(s) URL") from exc
        if origin != key_origin:
            # Misskey #2546: a valid key from an unrelated host vouched for any actor.
            raise self._refuse(key_id, url, f"{what} {url} is not on the keyId's origin")

    async def _get_actor(self, key_id: str, actor_id: str) -> dict[str, Any]:
        final_url, actor = await self._get(key_id, actor_id)
        # Mastodon's fetch_resource: the document must carry the id it was fetched from.
        if id_of(actor) not in (actor_id, final_url):
            raise self._refuse(
                key_id, actor_id, f"document fetched from {actor_id} has id {id_of(actor)!r}"
            )
        return actor

    async def _get(self, key_id: str, url: str) -> tuple[str, dict[str, Any]]:
        """Signed GET of an ActivityStreams document from the keyId's origin."""
        try:
            result = await self._client.get_json(url, signer=self._signer)
        except FetchError as exc:
            raise KeyFetchError(
                f"fetching key {key_id} from {url} failed: {exc}",
                key_id=key_id,
                url=url,
                status=exc.status,
                transient=_is_transient(exc.status),
            ) from exc
        except ForbiddenAddress as exc:
            raise KeyFetchError(
                f"fetching key {key_id}: {exc}", key_id=key_id, url=url, transient=False
            ) from exc
        except PeerUnreachable as exc:  # includes PeerTimeout
            raise KeyFetchError(
                f"fetching key {key_id} from {url} failed: {exc}",
                key_id=key_id,
                url=url,
                transient=True,
            ) from exc
        except FederationError as exc:
            raise KeyFetchError(
                f"fetching key {key_id} from {url} failed: {exc}", key_id=key_id, url=url
            ) from exc
        # The client already refuses cross-origin redirects; checked again here because the
        # whole trust argument rests on it.
        if origin_of(result.url) != origin_of(url):
            raise self._refuse(key_id, result.url, f"{url} was answered from another origin")
        content_type = result.headers.get("content-type", "")
        if not is_activitypub_media_type(content_type, strict=True):
            raise self._refuse(
                key_id, result.url, f"{result.url} answered with Content-Type {content_type!r}"
            )
        if result.data is None:
            raise self._refuse(key_id, result.url, f"{result.url} answered with no document")
        return result.url, result.data


def _find_key(actor: Mapping[str, Any], key_id: str) -> Mapping[str, Any] | None:
    """The embedded ``publicKey`` entry whose id is ``key_id`` (one object or a list)."""
    for entry in as_list(actor.get("publicKey")):
        if isinstance(entry, Mapping) and entry.get("id") == key_id:
            return entry
    return None
