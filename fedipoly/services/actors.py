"""Remote actors: fetch, validate and cache their documents; resolve handles; serve their keys."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from federation.client import FederationClient, RequestSigner
from federation.errors import FederationError
from federation.ports import ActorKey
from federation.vocab import id_of, same_origin
from federation.webfinger import lookup, parse_acct
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.models import Clock, RemoteActor
from fedipoly.services.key_memory import KeyMemory
from fedipoly.services.moderation_policy import blocked_domain, refused_actor
from fedipoly.services.text import sanitize_html
from fedipoly.store.base import Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
# Mastodon re-resolves accounts older than a day (app/models/account.rb `possibly_stale?`).
STALE_AFTER = timedelta(days=1)
MAX_NAME = 2048
MAX_SUMMARY = 20_000
# Bidirectional overrides and isolates in a name reorder what readers see next to it (a spoofed
# handle); local names refuse them (profiles._refuse_controls), remote ones lose them.
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


class ActorDocumentError(ValidationFailed):
    code = "bad_actor"


def _http_url(value: Any, field: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise ActorDocumentError(f"the actor's {field} is not an http(s) URL")
    return value


def _public_key(document: dict[str, Any], actor_id: str) -> tuple[str, str]:
    keys = document.get("publicKey")
    candidates = keys if isinstance(keys, list) else [keys]
    for key in candidates:
        if (
            isinstance(key, dict)
            and isinstance(key.get("publicKeyPem"), str)
            and isinstance(key.get("id"), str)
            and key.get("owner", actor_id) == actor_id
        ):
            return key["id"], key["publicKeyPem"]
    raise ActorDocumentError("the actor has no usable publicKey")


def parse_actor(document: dict[str, Any], fetched_url: str, now_fetched: Any) -> RemoteActor:
    """Validate an actor document the way Mastodon does (fetch_remote_actor_service.rb)."""
    actor_id = _http_url(document.get("id"), "id")
    if not same_origin(actor_id, fetched_url):
        raise ActorDocumentError("the actor's id is on another origin than its URL")
    actor_type = document.get("type")
    if actor_type not in ACTOR_TYPES:
        raise ActorDocumentError(f"unsupported actor type {actor_type!r}")
    username = document.get("preferredUsername")
    if not isinstance(username, str) or not username or len(username) > MAX_NAME:
        raise ActorDocumentError("the actor has no preferredUsername")
    inbox = _http_url(document.get("inbox"), "inbox")
    endpoints = document.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    shared = shared or document.get("sharedInbox")
    key_id, public_key_pem = _public_key(document, actor_id)
    name = document.get("name")
    summary = document.get("summary")
    profile_url = document.get("url") if isinstance(document.get("url"), str) else None
    if profile_url and not same_origin(profile_url, actor_id):
        profile_url = None  # Mastodon ignores a profile URL on another host (mismatching_origin?)
    icon = document.get("icon")
    icon_url = icon.get("url") if isinstance(icon, dict) else None
    followers = document.get("followers")
    return RemoteActor(
        uri=actor_id,
        actor_type=str(actor_type),
        username=username,
        domain=urlsplit(actor_id).netloc.lower(),
        inbox=inbox,
        shared_inbox=_http_url(shared, "sharedInbox") if shared else None,
        followers_url=followers if isinstance(followers, str) else None,
        display_name=(name if isinstance(name, str) else username)[:MAX_NAME].translate(
            BIDI_CONTROLS
        ),
        summary_html=sanitize_html(summary[:MAX_SUMMARY]) if isinstance(summary, str) else "",
        profile_url=profile_url,
        icon_url=icon_url if isinstance(icon_url, str) and icon_url.startswith("http") else None,
        key_id=key_id,
        public_key_pem=public_key_pem,
        manually_approves_followers=bool(document.get("manuallyApprovesFollowers", False)),
        fetched_at=now_fetched,
    )


ActorObserver = Callable[[RemoteActor, dict[str, Any]], Awaitable[None]]


class RemoteActors:
    """Also the key cache of the inbox verifier (federation.ports.KeyCache)."""

    def __init__(
        self,
        store: Store,
        client: FederationClient,
        urls: Urls,
        instance_signer: RequestSigner,
        clock: Clock,
    ) -> None:
        self._store = store
        self._client = client
        self._urls = urls
        self._signer = instance_signer
        self._clock = clock
        self._observers: list[ActorObserver] = []
        self._keys = KeyMemory(clock)

    def observe(self, observer: ActorObserver) -> None:
        """Also call `observer` with every actor fetched and its whole document (the Space
        Station keeps the profile part)."""
        self._observers.append(observer)

    async def fetch(self, uri: str) -> RemoteActor:
        """Fetch (signed, as the instance actor), validate and cache an actor document."""
        if self._urls.is_local(uri):
            raise ActorDocumentError("that is an actor of this server")
        refusal = await refused_actor(self._store, uri)
        if refusal is not None:
            raise ActorDocumentError(refusal)  # a blocked server or suspended account: not cached
        result = await self._client.get_json(uri, signer=self._signer)
        if result.data is None:
            raise ActorDocumentError("the actor document is empty")
        actor = parse_actor(result.data, result.url, self._clock())
        if actor.uri != uri and id_of(result.data) != uri:
            # Mastodon requires json['id'] == the requested URI (jsonld_helper.rb fetch_resource).
            raise ActorDocumentError("the actor's id differs from the URL it was fetched from")
        await self._store.upsert_remote_actor(actor)
        # A refetched actor may have rotated its key: its old one is not remembered.
        self._keys.forget_owner(actor.uri)
        self._keys.put(ActorKey(actor.key_id, actor.uri, actor.public_key_pem))
        for observer in self._observers:
            await observer(actor, result.data)
        return actor

    async def get(self, uri: str, *, refresh: bool = False) -> RemoteActor:
        cached = await self._store.get_remote_actor(uri)
        if cached is not None and not refresh and self._clock() - cached.fetched_at < STALE_AFTER:
            return cached
        try:
            return await self.fetch(uri)
        except FederationError:
            if cached is not None and not refresh:
                return cached  # keep working with a stale copy while the peer is unreachable
            raise

    async def cached(self, uri: str) -> RemoteActor | None:
        return await self._store.get_remote_actor(uri)

    def webfinger_scheme(self, host: str) -> str:
        """https, except for hosts an operator allow-listed as private peers (tests, dev)."""
        return "http" if host.lower() in self._client.policy.allowed_private_hosts else "https"

    async def resolve_handle(self, handle: str) -> RemoteActor:
        try:
            username, host = parse_acct(handle.strip())
        except FederationError as error:
            raise ValidationFailed(
                f"{handle!r} is not a handle like name@server.example", {"field": "handle"}
            ) from error
        if host.lower() == self._urls.domain:
            raise ValidationFailed("that is a member of this server", {"field": "handle"})
        if await blocked_domain(self._store, host):
            raise NotFound(f"{host} is blocked by this server")
        cached = await self._store.get_remote_actor_by_handle(username, host)
        if cached is not None and self._clock() - cached.fetched_at < STALE_AFTER:
            return cached
        try:
            actor_uri = await lookup(
                self._client, f"{username}@{host}", scheme=self.webfinger_scheme(host)
            )
            return await self.fetch(actor_uri)
        except FederationError as error:
            log.info("cannot resolve %s: %s", handle, error)
            raise NotFound(f"could not find {handle} on its server") from error

    # federation.ports.KeyCache --------------------------------------------------------------

    async def get_key(self, key_id: str) -> ActorKey | None:
        remembered = self._keys.get(key_id)
        if remembered is not None:
            return remembered
        actor = await self._store.get_remote_actor_by_key(key_id)
        if actor is None:
            return None
        key = ActorKey(key_id=actor.key_id, owner=actor.uri, public_key_pem=actor.public_key_pem)
        self._keys.put(key)
        return key

    async def put_key(self, key: ActorKey) -> None:
        actor = await self._store.get_remote_actor(key.owner)
        if actor is None:
            await self.fetch(key.owner)
            return
        await self._store.upsert_remote_actor(
            replace(
                actor,
                key_id=key.key_id,
                public_key_pem=key.public_key_pem,
                fetched_at=self._clock(),
            )
        )
        self._keys.forget_owner(key.owner)
        self._keys.put(key)
