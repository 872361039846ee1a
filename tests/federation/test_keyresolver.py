"""KeyResolver against real aiohttp servers on 127.0.0.1 acting as remote instances.

The remote instances here (``Remote``) are also used by ``test_inbox.py``: they serve actor
and key documents, demand that our instance actor's GETs carry a valid signature (as a
Mastodon in authorized-fetch mode would), and record every request they receive.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from federation.client import FederationClient
from federation.errors import KeyFetchError, SignatureError
from federation.httpsig import parse_signature, sign_request, verify_signature
from federation.keyresolver import KeyResolver
from federation.keys import KeyPair, generate_rsa_keypair
from federation.ports import ActorKey, KeyCache
from federation.ssrf import HostPolicy
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, SECURITY_CONTEXT

LOCAL = "https://fedipoly.test"
INSTANCE_KEY_ID = f"{LOCAL}/actor#main-key"


@functools.cache
def keypair(name: str) -> KeyPair:
    """One RSA key pair per name for the whole run: generating them is the slow part."""
    return generate_rsa_keypair()


def instance_signer(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> Mapping[str, str]:
    return sign_request(
        method=method,
        url=url,
        headers=headers,
        body=body,
        key_id=INSTANCE_KEY_ID,
        private_key_pem=keypair("instance").private_pem,
        now=datetime.now(UTC),
    )


class MemoryKeyCache:
    """The application's side of the KeyCache port, in memory."""

    def __init__(self) -> None:
        self.keys: dict[str, ActorKey] = {}
        self.puts: list[ActorKey] = []

    async def get_key(self, key_id: str) -> ActorKey | None:
        return self.keys.get(key_id)

    async def put_key(self, key: ActorKey) -> None:
        self.keys[key.key_id] = key
        self.puts.append(key)


@dataclass
class Remote:
    """A remote instance on 127.0.0.1: a table of documents, a log of requests."""

    port: int = 0
    docs: dict[str, tuple[int, Any, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    unsigned_requests: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def serve(
        self, path: str, doc: Any, *, status: int = 200, content_type: str = ACTIVITY_JSON
    ) -> None:
        self.docs[path] = (status, doc, content_type)

    def add_actor(
        self,
        name: str,
        *,
        key: str | None = None,
        key_path: str = "#main-key",
        extra_keys: tuple[dict[str, Any], ...] = (),
    ) -> tuple[str, str]:
        """Publish a Mastodon-shaped actor with an embedded key; returns (actor id, key id)."""
        actor_id = self.url(f"/users/{name}")
        key_id = actor_id + key_path
        entry = {
            "id": key_id,
            "owner": actor_id,
            "publicKeyPem": keypair(key or name).public_pem,
        }
        public_key: Any = [*extra_keys, entry] if extra_keys else entry
        self.serve(f"/users/{name}", actor_doc(actor_id, public_key))
        return actor_id, key_id


def actor_doc(actor_id: str, public_key: Any) -> dict[str, Any]:
    return {
        "@context": [AS_CONTEXT, SECURITY_CONTEXT],
        "id": actor_id,
        "type": "Person",
        "preferredUsername": actor_id.rsplit("/", 1)[-1],
        "inbox": f"{actor_id}/inbox",
        "publicKey": public_key,
    }


def _remote_app(remote: Remote) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        remote.requests.append(request.path_qs)
        try:
            parsed = parse_signature(
                request.method, request.raw_path, request.headers, scheme="http"
            )
            if parsed.key_id != INSTANCE_KEY_ID:
                raise SignatureError("unknown key")
            verify_signature(
                parsed,
                method=request.method,
                target=request.raw_path,
                body=b"",
                public_key_pem=keypair("instance").public_pem,
                now=datetime.now(UTC),
            )
        except SignatureError as exc:
            remote.unsigned_requests += 1
            return web.json_response({"error": str(exc)}, status=401)
        if request.path in remote.redirects:
            raise web.HTTPFound(remote.redirects[request.path])
        found = remote.docs.get(request.path_qs) or remote.docs.get(request.path)
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        status, doc, content_type = found
        return web.json_response(doc, status=status, content_type=content_type)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


@pytest.fixture
async def remotes() -> AsyncIterator[tuple[Remote, Remote]]:
    """Two remote instances on distinct origins (different ports)."""
    runners: list[web.AppRunner] = []
    made: list[Remote] = []
    for _ in range(2):
        remote = Remote()
        runner = web.AppRunner(_remote_app(remote), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        remote.port = int(runner.addresses[0][1])
        runners.append(runner)
        made.append(remote)
    yield made[0], made[1]
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def client(remotes: tuple[Remote, Remote]) -> AsyncIterator[FederationClient]:
    policy = HostPolicy(frozenset(r.host_port for r in remotes))
    async with FederationClient(policy, "Fedipoly-test/0.1 (+https://fedipoly.test/)") as c:
        yield c


@pytest.fixture
def cache() -> MemoryKeyCache:
    return MemoryKeyCache()


@pytest.fixture
def resolver(client: FederationClient, cache: MemoryKeyCache) -> KeyResolver:
    return KeyResolver(client, cache, instance_signer)


@pytest.fixture
def remote(remotes: tuple[Remote, Remote]) -> Remote:
    return remotes[0]


@pytest.fixture
def elsewhere(remotes: tuple[Remote, Remote]) -> Remote:
    return remotes[1]


def test_memory_cache_satisfies_the_port() -> None:
    port: KeyCache = MemoryKeyCache()
    assert port is not None


async def test_fragment_key_from_actor(
    resolver: KeyResolver, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor_id, key_id = remote.add_actor("bob")
    assert await resolver.cached(key_id) is None
    key = await resolver.fetch(key_id)
    assert key == ActorKey(key_id=key_id, owner=actor_id, public_key_pem=keypair("bob").public_pem)
    assert cache.puts == [key]
    assert await resolver.cached(key_id) == key
    # One GET, of the actor without the fragment, signed by our instance actor.
    assert remote.requests == ["/users/bob"]
    assert remote.unsigned_requests == 0


async def test_key_in_a_list_of_keys(resolver: KeyResolver, remote: Remote) -> None:
    other = {"id": remote.url("/users/bob#other"), "publicKeyPem": keypair("x").public_pem}
    actor_id, key_id = remote.add_actor("bob", extra_keys=(other,))
    key = await resolver.fetch(key_id)
    assert key.owner == actor_id
    assert key.public_key_pem == keypair("bob").public_pem


async def test_gotosocial_stub_actor_at_key_url(resolver: KeyResolver, remote: Remote) -> None:
    # GoToSocial: keyId .../main-key (no fragment) answers a stub actor whose id is the
    # actor's; the real actor is then fetched from its id.
    actor_id, key_id = remote.add_actor("gts", key_path="/main-key")
    entry = {"id": key_id, "owner": actor_id, "publicKeyPem": keypair("gts").public_pem}
    remote.serve("/users/gts/main-key", {"id": actor_id, "type": "Person", "publicKey": entry})
    key = await resolver.fetch(key_id)
    assert (key.key_id, key.owner) == (key_id, actor_id)
    assert remote.requests == ["/users/gts/main-key", "/users/gts"]


async def test_bare_key_document_with_owner(resolver: KeyResolver, remote: Remote) -> None:
    actor_id, key_id = remote.add_actor("kd", key_path="/main-key")
    remote.serve(
        "/users/kd/main-key",
        {"id": key_id, "owner": actor_id, "publicKeyPem": keypair("kd").public_pem},
    )
    key = await resolver.fetch(key_id)
    assert key.owner == actor_id
    assert remote.requests == ["/users/kd/main-key", "/users/kd"]


async def test_key_document_whose_owner_does_not_list_it(
    resolver: KeyResolver, remote: Remote, cache: MemoryKeyCache
) -> None:
    actor_id, _ = remote.add_actor("kd")  # lists only #main-key
    key_id = remote.url("/keys/1")
    remote.serve(
        "/keys/1", {"id": key_id, "owner": actor_id, "publicKeyPem": keypair("kd").public_pem}
    )
    with pytest.raises(KeyFetchError, match="does not list"):
        await resolver.fetch(key_id)
    assert cache.puts == []


async def test_key_document_owned_by_another_origin(
    resolver: KeyResolver, remote: Remote, elsewhere: Remote
) -> None:
    # The key document on A says it belongs to an actor on B, and B even lists it: a key
    # must never vouch across origins (Misskey #2546).
    key_id = remote.url("/keys/1")
    owner = elsewhere.url("/users/eve")
    elsewhere.serve(
        "/users/eve",
        actor_doc(owner, {"id": key_id, "owner": owner, "publicKeyPem": keypair("eve").public_pem}),
    )
    remote.serve(
        "/keys/1", {"id": key_id, "owner": owner, "publicKeyPem": keypair("eve").public_pem}
    )
    with pytest.raises(KeyFetchError, match="origin"):
        await resolver.fetch(key_id)
    assert elsewhere.requests == []


async def test_actor_document_naming_an_actor_on_another_origin(
    resolver: KeyResolver, remote: Remote, elsewhere: Remote
) -> None:
    key_id = remote.url("/users/bob#main-key")
    owner = elsewhere.url("/users/bob")
    remote.serve(
        "/users/bob",
        actor_doc(owner, {"id": key_id, "owner": owner, "publicKeyPem": keypair("bob").public_pem}),
    )
    with pytest.raises(KeyFetchError, match="origin"):
        await resolver.fetch(key_id)
    assert elsewhere.requests == []


async def test_owner_field_must_be_the_actor(resolver: KeyResolver, remote: Remote) -> None:
    actor_id = remote.url("/users/bob")
    key_id = actor_id + "#main-key"
    entry = {
        "id": key_id,
        "owner": remote.url("/users/carol"),
        "publicKeyPem": keypair("bob").public_pem,
    }
    remote.serve("/users/bob", actor_doc(actor_id, entry))
    with pytest.raises(KeyFetchError, match="owner"):
        await resolver.fetch(key_id)


async def test_actor_without_the_requested_key(resolver: KeyResolver, remote: Remote) -> None:
    actor_id, _ = remote.add_actor("bob")
    with pytest.raises(KeyFetchError, match="does not list"):
        await resolver.fetch(actor_id + "#other-key")


async def test_stub_pointing_at_a_document_with_another_id(
    resolver: KeyResolver, remote: Remote
) -> None:
    key_id = remote.url("/users/gts/main-key")
    actor_id = remote.url("/users/gts")
    entry = {"id": key_id, "owner": actor_id, "publicKeyPem": keypair("gts").public_pem}
    remote.serve("/users/gts/main-key", {"id": actor_id, "type": "Person", "publicKey": entry})
    remote.serve("/users/gts", actor_doc(remote.url("/users/someone-else"), entry))
    with pytest.raises(KeyFetchError, match="has id"):
        await resolver.fetch(key_id)


async def test_same_origin_redirect_is_followed(resolver: KeyResolver, remote: Remote) -> None:
    actor_id, _ = remote.add_actor("bob")
    alias = remote.url("/u/bob#main-key")
    remote.redirects["/u/bob"] = "/users/bob"
    # The keyId is the alias; the actor (fetched from /users/bob after the redirect) lists
    # the alias as its key id.
    entry = {"id": alias, "owner": actor_id, "publicKeyPem": keypair("bob").public_pem}
    remote.serve("/users/bob", actor_doc(actor_id, entry))
    key = await resolver.fetch(alias)
    assert key.owner == actor_id


async def test_cross_origin_redirect_is_refused(
    resolver: KeyResolver, remote: Remote, elsewhere: Remote
) -> None:
    elsewhere.add_actor("bob")
    remote.redirects["/users/bob"] = elsewhere.url("/users/bob")
    with pytest.raises(KeyFetchError):
        await resolver.fetch(remote.url("/users/bob#main-key"))
    assert elsewhere.requests == []


@pytest.mark.parametrize(
    ("status", "transient"), [(404, False), (410, False), (500, True), (429, True)]
)
async def test_http_errors_carry_their_status(
    resolver: KeyResolver, remote: Remote, status: int, transient: bool
) -> None:
    remote.serve("/users/gone", {"error": "x"}, status=status)
    with pytest.raises(KeyFetchError) as info:
        await resolver.fetch(remote.url("/users/gone#main-key"))
    assert info.value.status == status
    assert info.value.transient is transient


@pytest.mark.parametrize("content_type", ["application/json", "text/html", "application/ld+json"])
async def test_non_activitypub_content_type_is_refused(
    resolver: KeyResolver, remote: Remote, content_type: str
) -> None:
    # GHSA-jhrq-qvrm-qr36: JSON uploaded to an actor's host must not pass for the actor.
    _, key_id = remote.add_actor("bob")
    _, doc, _ = remote.docs["/users/bob"]
    remote.serve("/users/bob", doc, content_type=content_type)
    with pytest.raises(KeyFetchError, match="Content-Type"):
        await resolver.fetch(key_id)


async def test_ld_json_with_activitystreams_profile_is_accepted(
    resolver: KeyResolver, remote: Remote
) -> None:
    actor_id, key_id = remote.add_actor("bob")
    _, doc, _ = remote.docs["/users/bob"]
    remote.serve(
        "/users/bob",
        doc,
        content_type='application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    )
    assert (await resolver.fetch(key_id)).owner == actor_id


async def test_unusable_pem_is_refused(resolver: KeyResolver, remote: Remote) -> None:
    actor_id = remote.url("/users/bob")
    key_id = actor_id + "#main-key"
    entry = {"id": key_id, "owner": actor_id, "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nAAAA\n"}
    remote.serve("/users/bob", actor_doc(actor_id, entry))
    with pytest.raises(KeyFetchError, match="unusable public key"):
        await resolver.fetch(key_id)


async def test_unreachable_host_is_transient(cache: MemoryKeyCache) -> None:
    # Nothing listens on port 9 of loopback; the policy allows it so the connect is tried.
    policy = HostPolicy(frozenset({"127.0.0.1:9"}))
    async with FederationClient(policy, "Fedipoly-test/0.1") as c:
        with pytest.raises(KeyFetchError) as info:
            await KeyResolver(c, cache, instance_signer).fetch("http://127.0.0.1:9/users/x#k")
    assert info.value.transient is True
    assert info.value.status is None


async def test_forbidden_address_is_permanent(resolver: KeyResolver) -> None:
    with pytest.raises(KeyFetchError) as info:
        await resolver.fetch("http://127.0.0.1:1/users/x#main-key")
    assert info.value.transient is False


@pytest.mark.parametrize("key_id", ["", "not a url", "ftp://host/key", "/users/bob#main-key"])
async def test_malformed_key_ids(resolver: KeyResolver, key_id: str) -> None:
    with pytest.raises(KeyFetchError):
        await resolver.fetch(key_id)
