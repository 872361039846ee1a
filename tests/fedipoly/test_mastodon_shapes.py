"""The MUST items of shared/reference/mastodon-interop.md, asserted against a running instance.

A fake Mastodon-like server (``Remote``) on loopback plays bob: it serves his actor and key,
sends real signed requests (draft-cavage rsa-sha256, as Mastodon does) and records what our
instance POSTs to his inboxes. Tests that store or deliver run on both backends; the pure
document shapes (WebFinger, actor, NodeInfo, host-meta) on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestServer

from federation.httpsig import ParsedSignature, parse_signature, sign_request, verify_signature
from federation.keys import KeyPair, generate_rsa_keypair, load_public_key
from federation.vocab import AS_CONTEXT, PUBLIC, origin_of
from fedipoly import appkeys
from fedipoly.models import Account, InboxState, Visibility, utc_now
from tests.instances import Instance, eventually, running_instances
from tests.support import free_port

# Generous: a loaded CI machine is slow; passing runs never wait this long.
WAIT = 30.0

AS_ACCEPT = "application/activity+json, application/ld+json"  # what Mastodon sends
LD_PROFILE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
IMF_FIXDATE = re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\Z")
NODEINFO_REL = "http://nodeinfo.diaspora.software/ns/schema/"


# --- a fake remote server ---------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Remote:
    """bob@127.0.0.1:<port>: one actor with a key, a personal and a shared inbox."""

    port: int
    keys: KeyPair
    requests: list[Received] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.base}/users/bob"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    @property
    def inbox_path(self) -> str:
        return "/users/bob/inbox"

    def document(self) -> dict[str, Any]:
        return {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": "bob",
            "inbox": f"{self.base}{self.inbox_path}",
            "outbox": f"{self.actor}/outbox",
            "followers": f"{self.actor}/followers",
            "following": f"{self.actor}/following",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.actor,
                "publicKeyPem": self.keys.public_pem,
            },
        }

    def posted(self) -> list[Received]:
        return [r for r in self.requests if r.method == "POST"]

    def app(self) -> web.Application:
        async def record(request: web.Request) -> web.Response:
            self.requests.append(
                Received(
                    request.method,
                    request.raw_path,
                    dict(request.headers),
                    await request.read(),
                )
            )
            if request.method == "POST":
                return web.Response(status=202)
            return web.Response(
                body=json.dumps(self.document()).encode(),
                content_type="application/activity+json",
            )

        app = web.Application()
        app.router.add_get("/users/bob", record)
        app.router.add_post("/users/bob/inbox", record)
        app.router.add_post("/inbox", record)
        return app


@dataclass
class World:
    instance: Instance
    alice: Account
    remote: Remote

    @property
    def alice_uri(self) -> str:
        return self.instance.actor("alice")

    async def signed_post(
        self,
        path: str,
        activity: dict[str, Any] | bytes,
        *,
        now: datetime | None = None,
        private_pem: str | None = None,
        tamper: bool = False,
        content_type: str = "application/activity+json",
    ) -> ClientResponse:
        """POST like Mastodon's DeliveryWorker: cavage rsa-sha256 over the five headers."""
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = {"Content-Type": content_type}
        headers |= sign_request(
            method="POST",
            url=f"{self.instance.base_url}{path}",
            headers=headers,
            body=body,
            key_id=self.remote.key_id,
            private_key_pem=private_pem or self.remote.keys.private_pem,
            now=now or utc_now(),
        )
        if tamper:  # what a man in the middle would do: same headers, another body
            body = body[:-1] + b', "summary": "tampered"}'
        return await self.instance.client.post(path, data=body, headers=headers)

    def follow_activity(self) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": f"{self.remote.base}/{uuid.uuid4()}",  # Mastodon: not dereferenceable
            "type": "Follow",
            "actor": self.remote.actor,
            "object": self.alice_uri,
        }

    async def bob_follows_alice(self) -> tuple[dict[str, Any], Received]:
        """bob follows alice; returns the Follow and the Accept our instance sent back."""
        follow = self.follow_activity()
        response = await self.signed_post("/users/alice/inbox", follow)
        assert response.status == 202, await response.text()
        return follow, await self.delivered("Accept", follow["id"])

    async def delivered(self, kind: str, object_id: str) -> Received:
        async def find() -> Received | None:
            for request in self.remote.posted():
                body = request.json()
                if body.get("type") == kind and _object_id(body) == object_id:
                    return request
            return None

        found = await eventually(find, timeout=WAIT)
        assert found is not None
        return found

    async def actor_document(self) -> dict[str, Any]:
        response = await self.instance.client.get("/users/alice", headers={"Accept": AS_ACCEPT})
        assert response.status == 200
        document: dict[str, Any] = await response.json(content_type=None)
        return document


def _object_id(activity: Mapping[str, Any]) -> str | None:
    obj = activity.get("object")
    return obj.get("id") if isinstance(obj, dict) else obj


@asynccontextmanager
async def started_world(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> AsyncIterator[World]:
    remote = Remote(port=free_port(), keys=await asyncio.to_thread(generate_rsa_keypair))
    server = TestServer(remote.app(), host="127.0.0.1", port=remote.port)
    await server.start_server()
    try:
        async with running_instances(
            tmp_path,
            ["alpha"],
            backend=backend,
            mongo_url=mongo_url,
            extra_allowed=[f"127.0.0.1:{remote.port}"],
        ) as instances:
            alpha = instances["alpha"]
            alice = await alpha.member("alice")
            yield World(instance=alpha, alice=alice, remote=remote)
    finally:
        await server.close()


@pytest.fixture
async def world(tmp_path: Path, backend: str, mongo_url: str | None) -> AsyncIterator[World]:
    """On both storage backends."""
    async with started_world(tmp_path, backend, mongo_url) as started:
        yield started


@pytest.fixture
async def sqlite_world(tmp_path: Path) -> AsyncIterator[World]:
    async with started_world(tmp_path, "sqlite", None) as started:
        yield started


def _verify_our_signature(request: Received, public_key_pem: str) -> ParsedSignature:
    """Verify a request we sent the way Mastodon does; returns the parsed signature."""
    parsed = parse_signature(request.method, request.path, request.headers, scheme="http")
    verify_signature(
        parsed,
        method=request.method,
        target=request.path,
        body=request.body,
        public_key_pem=public_key_pem,
        now=utc_now(),
    )
    return parsed


# --- §1 WebFinger -----------------------------------------------------------------------


async def test_webfinger_answers_like_mastodon_expects(sqlite_world: World) -> None:
    alpha = sqlite_world.instance
    client, domain = alpha.client, alpha.domain
    actor = await sqlite_world.actor_document()

    # Mastodon sends the resource unencoded; other clients percent-encode it.
    for query in (
        f"resource=acct:alice@{domain}",
        f"resource={quote(f'acct:alice@{domain}', safe='')}",
        f"resource=acct:ALICE@{domain}",  # Mastodon compares case-insensitively
        f"resource={quote(alpha.actor('alice'), safe='')}",  # the actor URL
    ):
        response = await client.get(
            f"/.well-known/webfinger?{query}",
            headers={"Accept": "application/jrd+json, application/json"},
        )
        assert response.status == 200, query
        assert response.content_type == "application/jrd+json"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        jrd = await response.json(content_type=None)
        assert jrd["subject"] == f"acct:alice@{domain}"
        assert jrd["subject"] == f"acct:{actor['preferredUsername']}@{urlsplit(actor['id']).netloc}"
        selves = [link for link in jrd["links"] if link["rel"] == "self"]
        assert len(selves) == 1
        assert selves[0]["type"] == "application/activity+json"
        assert selves[0]["href"] == actor["id"]  # byte-identical: "does not loop back"

    for query, status in (
        ("", 400),
        ("resource=", 400),
        ("resource=acct:alice", 400),
        ("resource=alice@", 400),
        (f"resource=acct:alice@{domain}/path", 400),
        ("resource=acct:a%20b@" + domain, 400),
        (f"resource=acct:nobody@{domain}", 404),
        ("resource=acct:alice@elsewhere.example", 404),
        (f"resource={quote(alpha.base_url + '/users/nobody', safe='')}", 404),
    ):
        response = await client.get(f"/.well-known/webfinger?{query}")
        assert response.status == status, (query, await response.text())
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "subject" not in await response.json(content_type=None)  # no JRD with a 4xx


# --- §2 Actor document --------------------------------------------------------------------


async def test_actor_document_has_the_fields_mastodon_reads(sqlite_world: World) -> None:
    alpha = sqlite_world.instance
    actor_url = alpha.actor("alice")
    for accept in (AS_ACCEPT, "application/activity+json", LD_PROFILE):
        response = await alpha.client.get("/users/alice", headers={"Accept": accept})
        assert response.status == 200, accept
        # Since 4.2.5 Mastodon discards any other media type (a charset parameter is fine).
        assert response.content_type == "application/activity+json"
        assert "Accept" in response.headers.getall("Vary")
        actor = await response.json(content_type=None)

        context = actor["@context"]
        assert context == AS_CONTEXT or AS_CONTEXT in context
        assert actor["id"] == actor_url
        assert actor["type"] == "Person"
        assert actor["preferredUsername"] == "alice"
        for name in ("inbox", "outbox", "followers", "following"):
            assert isinstance(actor[name], str) and origin_of(actor[name]) == alpha.base_url
        assert actor["inbox"] == f"{actor_url}/inbox"
        assert actor["endpoints"]["sharedInbox"] == f"{alpha.base_url}/inbox"
        key = actor["publicKey"]
        assert key["id"] == f"{actor_url}#main-key"
        assert key["owner"] == actor_url
        assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
        assert load_public_key(key["publicKeyPem"]).key_size >= 2048
        assert origin_of(actor["url"]) == origin_of(actor_url)  # else Mastodon drops it
        # Mastodon reads plain compacted keys; no "as:"/"toot:"-prefixed forms of them.
        # (Keys in our own extension namespace, e.g. "fedipoly:badges", are ignored by it.)
        assert not [k for k in actor if k.split(":", 1)[0] in ("as", "toot", "schema", "sec")]

    # A browser is sent to the HTML profile, and caches keep the two apart.
    response = await alpha.client.get(
        "/users/alice",
        headers={"Accept": "text/html,application/xhtml+xml"},
        allow_redirects=False,
    )
    assert response.status in (301, 302, 303, 307, 308)
    assert response.headers["Location"] == actor["url"]
    assert "Accept" in response.headers.getall("Vary")

    response = await alpha.client.get("/users/nobody", headers={"Accept": AS_ACCEPT})
    assert response.status == 404


async def test_browser_lands_on_an_html_profile(sqlite_world: World) -> None:
    response = await sqlite_world.instance.client.get(
        "/users/alice", headers={"Accept": "text/html"}
    )  # follows the redirect to /@alice
    assert response.status == 200
    assert response.content_type == "text/html"


# --- §4.2 Follow -> Accept ----------------------------------------------------------------


async def test_follow_is_answered_with_a_signed_accept_embedding_it(world: World) -> None:
    follow, accept_request = await world.bob_follows_alice()
    alice_uri = world.alice_uri

    # To bob's personal inbox, not his shared inbox (Mastodon: follow_service.rb).
    assert accept_request.path == world.remote.inbox_path
    assert accept_request.headers["Content-Type"] == "application/activity+json"
    accept = accept_request.json()
    context = accept["@context"]
    assert context == AS_CONTEXT or AS_CONTEXT in context
    assert accept["type"] == "Accept"
    assert accept["actor"] == alice_uri
    assert origin_of(accept["id"]) == origin_of(alice_uri)
    assert accept["object"] == {
        "id": follow["id"],
        "type": "Follow",
        "actor": world.remote.actor,
        "object": alice_uri,
    }

    # Signed by alice's own key, in the shape every Mastodon version verifies.
    actor = await world.actor_document()
    parsed = _verify_our_signature(accept_request, actor["publicKey"]["publicKeyPem"])
    assert parsed.scheme == "cavage"
    assert parsed.algorithm == "rsa-sha256"
    assert parsed.key_id == actor["publicKey"]["id"]
    assert parsed.covered == ("(request-target)", "host", "date", "digest", "content-type")
    assert 'algorithm="rsa-sha256"' in accept_request.headers["Signature"]
    assert accept_request.headers["Digest"].startswith("SHA-256=")
    assert IMF_FIXDATE.match(accept_request.headers["Date"])

    # bob's key was fetched with a signed GET (as the instance actor), as authorized
    # fetch requires.
    gets = [r for r in world.remote.requests if r.method == "GET"]
    assert gets and all("Signature" in r.headers for r in gets)
    instance_actor = f"{world.instance.base_url}/actor"
    assert all(f'keyId="{instance_actor}#main-key"' in r.headers["Signature"] for r in gets)

    # A repeated Follow (Mastodon re-sends them after a key change) is answered again.
    again = world.follow_activity()
    assert (await world.signed_post("/users/alice/inbox", again)).status == 202
    await world.delivered("Accept", again["id"])
    store = world.instance.app[appkeys.STORE]
    assert await store.count_followers(alice_uri) == 1


# --- §5.1 Create{Note} addressing ---------------------------------------------------------


async def test_create_note_addressing_for_public_and_followers_only_posts(world: World) -> None:
    await world.bob_follows_alice()
    alpha, alice_uri = world.instance, world.alice_uri
    actor = await world.actor_document()
    followers = actor["followers"]

    public = await alpha.post(world.alice, "Hello, public")
    private = await alpha.post(world.alice, "Hello, followers", Visibility.FOLLOWERS)
    for post, to, cc in ((public, [PUBLIC], [followers]), (private, [followers], [])):
        request = await world.delivered("Create", post.uri)
        # Posts fan out to the follower's shared inbox (Mastodon: preferred_inbox_url).
        assert request.path == "/inbox"
        _verify_our_signature(request, actor["publicKey"]["publicKeyPem"])
        create = request.json()
        note = create["object"]
        context = create["@context"]
        assert context == AS_CONTEXT or AS_CONTEXT in context
        assert create["actor"] == alice_uri
        assert create["to"] == to and create["cc"] == cc
        assert note["to"] == to and note["cc"] == cc
        assert note["type"] == "Note"
        assert note["id"] == post.uri
        assert origin_of(note["id"]) == origin_of(alice_uri)
        assert origin_of(create["id"]) == origin_of(alice_uri)
        assert origin_of(note["url"]) == origin_of(alice_uri)
        assert note["attributedTo"] == alice_uri
        assert ISO_Z.match(note["published"]) and ISO_Z.match(create["published"])
        published = datetime.fromisoformat(note["published"].replace("Z", "+00:00"))
        assert abs(utc_now() - published) < timedelta(minutes=5)

    # The public Note is dereferenceable as a bare Note; the followers-only one is not
    # served to an anonymous fetch.
    response = await alpha.client.get(urlsplit(public.uri).path, headers={"Accept": AS_ACCEPT})
    assert response.status == 200
    assert response.content_type == "application/activity+json"
    fetched = await response.json(content_type=None)
    assert fetched["id"] == public.uri and fetched["type"] == "Note"
    assert AS_CONTEXT in fetched["@context"]
    response = await alpha.client.get(urlsplit(private.uri).path, headers={"Accept": AS_ACCEPT})
    assert response.status == 404


# --- §3 Date window and §4.1 response codes -----------------------------------------------


async def test_date_window(world: World) -> None:
    now = utc_now()
    for offset, status in (
        (timedelta(hours=-2), 401),
        (timedelta(hours=2), 401),
        (timedelta(minutes=-30), 202),
        (timedelta(minutes=30), 202),
    ):
        response = await world.signed_post(
            "/users/alice/inbox", world.follow_activity(), now=now + offset
        )
        assert response.status == status, (offset, await response.text())
        if status == 401:
            assert "time window" in (await response.json())["error"]


async def test_inbox_response_codes(world: World) -> None:
    alpha = world.instance
    store = alpha.app[appkeys.STORE]
    post = await alpha.post(world.alice, "like me")

    async def stored() -> int:
        """Activities kept. Counted once the worker is idle: an item moving from pending to
        done between two count queries would otherwise be counted twice."""

        async def idle() -> bool:
            return await store.count_inbox(InboxState.PENDING) == 0

        await eventually(idle, timeout=WAIT)
        return await store.count_inbox(InboxState.DONE) + await store.count_inbox(InboxState.FAILED)

    # A Like is accepted and then dropped: never stored, never counted.
    like = {
        "@context": AS_CONTEXT,
        "id": f"{world.remote.actor}#likes/1",
        "type": "Like",
        "actor": world.remote.actor,
        "object": post.uri,
    }
    for path in ("/users/alice/inbox", "/inbox"):
        response = await world.signed_post(path, like)
        assert response.status == 202, await response.text()
    # A valid but unsupported type: 202 and ignored.
    add = {
        "@context": AS_CONTEXT,
        "id": f"{world.remote.actor}#adds/1",
        "type": "Add",
        "actor": world.remote.actor,
        "object": post.uri,
        "target": f"{world.remote.actor}/collections/featured",
    }
    assert (await world.signed_post("/inbox", add)).status == 202
    assert await stored() == 0

    # A supported, well-signed activity: 202 and stored for the worker; a redelivery of the
    # same id (Mastodon retries) is answered 202 again and stored once.
    follow = world.follow_activity()
    for _ in range(2):
        assert (await world.signed_post("/users/alice/inbox", follow)).status == 202
    assert await stored() == 1
    # Both AS2 media types are accepted, and plain JSON is tolerated.
    for content_type in (LD_PROFILE, "application/json"):
        response = await world.signed_post(
            "/inbox", world.follow_activity(), content_type=content_type
        )
        assert response.status == 202, (content_type, await response.text())
    assert await stored() == 3

    # Signature problems: 401, so the sender retries.
    body = json.dumps(world.follow_activity()).encode()
    for path in ("/users/alice/inbox", "/inbox"):
        response = await alpha.client.post(
            path, data=body, headers={"Content-Type": "application/activity+json"}
        )
        assert response.status == 401
    response = await world.signed_post("/users/alice/inbox", world.follow_activity(), tamper=True)
    assert response.status == 401
    assert "Digest" in (await response.json())["error"]
    other_key = await asyncio.to_thread(generate_rsa_keypair)
    response = await world.signed_post(
        "/users/alice/inbox", world.follow_activity(), private_pem=other_key.private_pem
    )
    assert response.status == 401

    # Oversized: 413; not JSON: 400.
    oversized = b'{"type": "Create", "pad": "' + b"x" * (300 * 1024) + b'"}'
    response = await alpha.client.post(
        "/users/alice/inbox", data=oversized, headers={"Content-Type": "application/activity+json"}
    )
    assert response.status == 413
    response = await world.signed_post("/users/alice/inbox", b'{"type": "Follow", ')
    assert response.status == 400
    assert await stored() == 3


# --- §5.2 Collections ---------------------------------------------------------------------


async def test_outbox_followers_and_following_are_ordered_collections(world: World) -> None:
    await world.bob_follows_alice()
    alpha = world.instance
    public = await alpha.post(world.alice, "in the outbox")
    await alpha.post(world.alice, "not in the outbox", Visibility.FOLLOWERS)
    actor = await world.actor_document()

    expected = {"outbox": 1, "followers": 1, "following": 0}
    pages: dict[str, dict[str, Any]] = {}
    for name, total in expected.items():
        response = await alpha.client.get(urlsplit(actor[name]).path, headers={"Accept": AS_ACCEPT})
        assert response.status == 200
        assert response.content_type == "application/activity+json"
        collection = await response.json(content_type=None)
        assert collection["id"] == actor[name]
        assert collection["type"] == "OrderedCollection"
        assert type(collection["totalItems"]) is int and collection["totalItems"] == total
        first = collection["first"]
        assert isinstance(first, str) and origin_of(first) == alpha.base_url
        parts = urlsplit(first)
        response = await alpha.client.get(
            f"{parts.path}?{parts.query}", headers={"Accept": AS_ACCEPT}
        )
        assert response.status == 200
        assert response.content_type == "application/activity+json"
        page = await response.json(content_type=None)
        assert page["type"] == "OrderedCollectionPage"
        assert page["partOf"] == actor[name]
        assert isinstance(page["orderedItems"], list)
        pages[name] = page

    # The outbox holds full Creates with the Note embedded (what backfill reads).
    [item] = pages["outbox"]["orderedItems"]
    assert item["type"] == "Create" and item["object"]["id"] == public.uri
    assert item["object"]["type"] == "Note"
    assert pages["followers"]["orderedItems"] == [world.remote.actor]
    assert pages["following"]["orderedItems"] == []


# --- §6 NodeInfo and §1.1 host-meta -------------------------------------------------------


async def test_nodeinfo_discovery_and_documents(sqlite_world: World) -> None:
    alpha = sqlite_world.instance
    response = await alpha.client.get("/.well-known/nodeinfo")
    assert response.status == 200
    links = (await response.json(content_type=None))["links"]
    hrefs = {link["rel"]: link["href"] for link in links}
    # FEP-2677: the instance actor is linked beside the schema versions.
    assert hrefs.pop("https://www.w3.org/ns/activitystreams#Application") == (
        f"{alpha.base_url}/actor"
    )
    assert set(hrefs) == {f"{NODEINFO_REL}2.0", f"{NODEINFO_REL}2.1"}
    for rel, href in hrefs.items():
        version = rel.removeprefix(NODEINFO_REL)
        assert href == f"{alpha.base_url}/nodeinfo/{version}"
        response = await alpha.client.get(urlsplit(href).path)
        assert response.status == 200
        assert response.headers["Content-Type"] == (
            f'application/json; profile="{NODEINFO_REL}{version}#"'
        )
        document = await response.json(content_type=None)
        assert document["version"] == version
        assert document["software"]["name"] == "fedipoly"
        assert re.fullmatch(r"[a-z0-9-]+", document["software"]["name"])
        assert document["software"]["version"]
        if version == "2.0":
            assert set(document["software"]) == {"name", "version"}
        assert "activitypub" in document["protocols"]
        assert document["services"] == {"inbound": [], "outbound": []}
        assert isinstance(document["openRegistrations"], bool)
        users = document["usage"]["users"]
        assert users["total"] == 1
        assert all(type(users[k]) is int for k in ("total", "activeMonth", "activeHalfyear"))
        assert type(document["usage"]["localPosts"]) is int
        assert isinstance(document["metadata"], dict)


async def test_host_meta(sqlite_world: World) -> None:
    alpha = sqlite_world.instance
    template = f"{alpha.base_url}/.well-known/webfinger?resource={{uri}}"
    response = await alpha.client.get(
        "/.well-known/host-meta",
        headers={"Accept": "application/xrd+xml, application/xml, text/xml"},
    )
    assert response.status == 200
    assert response.content_type == "application/xrd+xml"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    root = ET.fromstring(await response.text())
    [link] = root.findall("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link.get("rel") == "lrdd" and link.get("template") == template

    response = await alpha.client.get("/.well-known/host-meta.json")
    assert response.status == 200
    assert (await response.json())["links"] == [{"rel": "lrdd", "template": template}]

    # The lrdd template leads to the same JRD.
    uri = quote(f"acct:alice@{alpha.domain}", safe="")
    response = await alpha.client.get(
        urlsplit(template.replace("{uri}", uri)).path + f"?resource={uri}"
    )
    assert response.status == 200


async def test_a_remote_actors_own_delete_removes_it_and_its_follows(world: World) -> None:
    """Mastodon's Delete{actor} (delete_actor_serializer.rb): signed by the deleted account,
    verified with the cached key; the account, its follows and its posts go."""
    await world.bob_follows_alice()
    store = world.instance.app[appkeys.STORE]

    async def followed() -> bool:
        return await store.count_followers(world.alice_uri) == 1

    await eventually(followed, timeout=WAIT)
    note_id = f"{world.remote.base}/notes/{uuid.uuid4()}"
    create = {
        "@context": AS_CONTEXT,
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": world.remote.actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": world.remote.actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [world.alice_uri],
            "content": "<p>hello alice</p>",
        },
    }
    assert (await world.signed_post("/inbox", create)).status == 202

    async def stored_note() -> bool:
        return await store.get_post_by_uri(note_id) is not None

    await eventually(stored_note, timeout=WAIT)
    delete = {
        "@context": AS_CONTEXT,
        "id": f"{world.remote.actor}#delete",
        "type": "Delete",
        "actor": world.remote.actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": world.remote.actor,
    }
    assert (await world.signed_post("/inbox", delete)).status == 202

    async def forgotten() -> bool:
        return (
            await store.get_remote_actor(world.remote.actor) is None
            and await store.count_followers(world.alice_uri) == 0
            and await store.get_post_by_uri(note_id) is None
        )

    await eventually(forgotten, timeout=WAIT)
