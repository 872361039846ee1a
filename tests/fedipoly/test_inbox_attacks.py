"""Adversarial end-to-end tests: attacks on a running instance's inboxes, over real HTTP.

An *attacker* server on loopback (allow-listed like any test peer) serves actor documents with
real RSA keys and signs its requests the way a peer does; a *victim* server on a second origin
plays an innocent third party; a *canary* server, NOT allow-listed, counts every connection
and must see none. After each attack the workers are let run (inbox and delivery queues
drained) and the whole database is compared with a snapshot taken before: a refused request
stores nothing at all, and an activity answered 202 "accept and ignore" leaves only its own
inbox row (a Like not even that). Each test runs on both storage backends.

The attack classes are those of security-anchors.md §0-§1 (issue 3, "Adversarial").
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from federation.httpsig import body_digest, cavage_signing_string, http_date, sign_request
from federation.keys import KeyPair, generate_rsa_keypair, rsa_sha256_sign
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, PUBLIC
from fedipoly import appkeys
from fedipoly.errors import NotFound
from fedipoly.models import Account, DeliveryState, FollowState, InboxState
from fedipoly.store.base import Store
from fedipoly.store.sqlite import SqliteStore
from tests.instances import Instance, eventually, running_instances
from tests.support import SecantusServer, free_port

INBOXES = ("/users/alice/inbox", "/inbox")  # the member's inbox and the shared one
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

# RSA-2048 generation costs tens of milliseconds; every test reuses the same keys.
_KEYS: dict[str, KeyPair] = {}


def keys_for(name: str) -> KeyPair:
    if name not in _KEYS:
        _KEYS[name] = generate_rsa_keypair()
    return _KEYS[name]


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def now() -> datetime:
    return datetime.now(UTC)


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in keys}


# --- the attacker's (and the victim's) server ------------------------------------------------


@dataclass
class FakeActor:
    server: FakeServer
    name: str
    inbox: str | None = None
    shared_inbox: str | None = None

    @property
    def keys(self) -> KeyPair:
        return keys_for(f"{self.server.name}/{self.name}")

    @property
    def uri(self) -> str:
        return f"{self.server.origin}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return f"{self.uri}#main-key"

    @property
    def handle(self) -> str:
        return f"{self.name}@{self.server.hostport}"

    def new_id(self, kind: str = "activities") -> str:
        return f"{self.uri}/{kind}/{uuid.uuid4().hex}"

    def document(self) -> dict[str, Any]:
        return {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "inbox": self.inbox or f"{self.uri}/inbox",
            "outbox": f"{self.uri}/outbox",
            "followers": f"{self.uri}/followers",
            "endpoints": {"sharedInbox": self.shared_inbox or f"{self.server.origin}/inbox"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.uri,
                "publicKeyPem": self.keys.public_pem,
            },
        }


@dataclass
class Received:
    method: str
    path: str
    body: bytes


class FakeServer:
    """A peer on loopback: actors, WebFinger, documents, redirects; records every request."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.hostport = f"127.0.0.1:{self.port}"
        self.origin = f"http://{self.hostport}"
        self.actors: dict[str, FakeActor] = {}
        self.documents: dict[str, dict[str, Any]] = {}  # path -> AS2 document
        self.redirects: dict[str, str] = {}  # path -> Location (302)
        self.jrd_href: dict[str, str] = {}  # username -> self link to announce instead
        self.received: list[Received] = []
        self._runner: web.AppRunner | None = None

    def add(self, name: str, **fields: Any) -> FakeActor:
        actor = FakeActor(self, name, **fields)
        self.actors[name] = actor
        return actor

    def posted(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received if r.method == "POST" and r.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.method, request.path, body))
        path = request.path
        if request.method == "GET" and path == "/.well-known/webfinger":
            path = f"{path}?{request.query_string}"
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        if request.method == "POST":
            return web.Response(status=202)
        if request.path == "/.well-known/webfinger":
            resource = request.query.get("resource", "")
            name = resource.removeprefix("acct:").partition("@")[0]
            if name not in self.actors and name not in self.jrd_href:
                return web.json_response({"error": "no such account"}, status=404)
            href = self.jrd_href.get(name) or self.actors[name].uri
            jrd = {
                "subject": resource,
                "links": [{"rel": "self", "type": ACTIVITY_JSON, "href": href}],
            }
            return web.json_response(jrd, content_type="application/jrd+json")
        document = self.documents.get(path)
        name = path.removeprefix("/users/")
        if document is None and path.startswith("/users/") and name in self.actors:
            document = self.actors[name].document()
        if document is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.Response(body=encode(document), content_type=ACTIVITY_JSON)


class Canary:
    """A loopback server that is NOT allow-listed: it counts every connection it gets."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self.seen: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            async with asyncio.timeout(2):
                self.seen.append(await reader.read(65536))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
                b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
            )
            await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()


# --- signing ---------------------------------------------------------------------------------


def signed(
    url: str,
    body: bytes,
    key_id: str,
    keys: KeyPair,
    *,
    at: datetime | None = None,
    content_type: str = ACTIVITY_JSON,
) -> dict[str, str]:
    """Headers of a POST signed as Mastodon signs: (request-target) host date digest content-type."""
    headers = {"Content-Type": content_type}
    headers.update(
        sign_request(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            key_id=key_id,
            private_key_pem=keys.private_pem,
            now=at or now(),
        )
    )
    return headers


def signed_covering(
    url: str, body: bytes, key_id: str, keys: KeyPair, covered: list[str]
) -> dict[str, str]:
    """A cavage signature over exactly ``covered`` (to leave out what must be covered)."""
    host, _, path = url.removeprefix("http://").partition("/")
    headers = {
        "Host": host,
        "Date": http_date(now()),
        "Digest": body_digest(body),
        "Content-Type": ACTIVITY_JSON,
    }
    base = cavage_signing_string(method="POST", target=f"/{path}", headers=headers, covered=covered)
    signature = base64.b64encode(rsa_sha256_sign(keys.private_pem, base)).decode()
    headers["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
        f'signature="{signature}"'
    )
    return headers


# --- the world: one instance, an attacker, a victim and a canary -----------------------------


VOLATILE = frozenset({"fetched_at"})  # refreshed when a key is legitimately refetched


@dataclass
class World:
    inst: Instance
    attacker: FakeServer
    victim: FakeServer
    canary: Canary
    alice: Account
    mallory: FakeActor  # the attacker
    victor: FakeActor  # an innocent neighbour of mallory (same origin)
    vera: FakeActor  # an innocent actor on another origin
    hopper: FakeActor  # mallory's host answers its actor URL with a redirect to the canary
    sid: FakeActor  # its inbox and shared inbox are on the canary
    rogue: KeyPair = field(default_factory=lambda: keys_for("rogue"))

    @property
    def store(self) -> Store:
        return self.inst.app[appkeys.STORE]

    @property
    def alice_uri(self) -> str:
        return self.inst.actor("alice")

    def url(self, path: str) -> str:
        return f"{self.inst.base_url}{path}"

    @staticmethod
    def act(actor: FakeActor, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": actor.new_id(),
            "type": kind,
            "actor": actor.uri,
            "object": obj,
            **extra,
        }

    def note(self, author: FakeActor, content: str = "hello", **extra: Any) -> dict[str, Any]:
        return {
            "id": author.new_id("statuses"),
            "type": "Note",
            "attributedTo": author.uri,
            "content": f"<p>{content}</p>",
            "to": [PUBLIC, self.alice_uri],
            "cc": [],
            "published": now().isoformat(),
            **extra,
        }

    async def post(
        self, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        response = await self.inst.client.post(path, data=body, headers=headers)
        text = await response.text()
        return response.status, text, dict(response.headers)

    async def expect(
        self, label: str, status: int, path: str, body: Any, headers: dict[str, str]
    ) -> dict[str, str]:
        got, text, response_headers = await self.post(path, body, headers)
        assert got == status, f"{label} -> {path}: expected {status}, got {got}: {text[:300]}"
        return response_headers

    async def send(
        self, actor: FakeActor, activity: dict[str, Any], path: str = "/inbox", status: int = 202
    ) -> None:
        body = encode(activity)
        headers = signed(self.url(path), body, actor.key_id, actor.keys)
        await self.expect(f"{activity['type']} by {actor.name}", status, path, body, headers)

    async def settle(self) -> None:
        """Wait until the workers have processed every stored activity and delivery."""

        async def idle() -> bool:
            return (
                await self.store.count_inbox(InboxState.PENDING) == 0
                and await self.store.count_deliveries(DeliveryState.PENDING) == 0
            )

        await eventually(idle, timeout=20)

    async def dump(self) -> dict[str, list[str]]:
        """Every row of every table (collection), volatile fields left out, in a stable order."""
        store = self.store
        raw: dict[str, list[dict[str, Any]]] = {}
        if isinstance(store, SqliteStore):
            tables = await store.db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
            for (table,) in tables:
                cursor = await store.db.execute(f"SELECT * FROM {table}")
                names = [column[0] for column in cursor.description]
                raw[table] = [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
                await cursor.close()
        else:
            database = store.mdb  # type: ignore[attr-defined]
            for collection in await database.list_collection_names():
                raw[collection] = await database[collection].find({}).to_list(None)
        return {
            table: sorted(
                json.dumps(
                    {k: v for k, v in row.items() if k not in VOLATILE}, sort_keys=True, default=str
                )
                for row in rows
            )
            for table, rows in raw.items()
            if rows
        }

    async def inbox_rows(self) -> dict[str, dict[str, Any]]:
        rows = (await self.dump()).get("inbox_items", [])
        decoded = [json.loads(row) for row in rows]
        return {row.get("activity_id", row.get("_id")): row for row in decoded}

    async def assert_unchanged(self, before: dict[str, list[str]], *, new_inbox: int = 0) -> None:
        """Nothing changed but `new_inbox` processed (done or failed) inbox rows."""
        await self.settle()
        after = await self.dump()
        for table in sorted(set(before) | set(after)):
            if table == "inbox_items":
                continue
            assert after.get(table, []) == before.get(table, []), f"{table} changed"
        old = set(before.get("inbox_items", []))
        added = [json.loads(row) for row in after.get("inbox_items", []) if row not in old]
        assert len(after.get("inbox_items", [])) - len(old) == new_inbox, added
        assert all(row["state"] in ("done", "failed") for row in added), added

    async def warm_up(self, *actors: FakeActor) -> None:
        """A Like from each actor: verified (its key fetched and cached), answered 202, dropped."""
        for actor in actors:
            await self.send(actor, self.act(actor, "Like", self.alice_uri))
            assert await self.store.get_remote_actor(actor.uri) is not None

    async def alice_follows(self, target: FakeActor) -> str:
        """alice follows `target`, whose server accepts; returns the Follow's id."""
        await self.inst.app[appkeys.FOLLOWS].follow(self.alice, target.handle)
        follow = await self.store.get_follow(self.alice_uri, target.uri)
        assert follow is not None and follow.state is FollowState.PENDING
        accept = self.act(
            target,
            "Accept",
            {
                "id": follow.activity_id,
                "type": "Follow",
                "actor": self.alice_uri,
                "object": target.uri,
            },
        )
        await self.send(target, accept, "/users/alice/inbox")
        await self.settle()
        follow = await self.store.get_follow(self.alice_uri, target.uri)
        assert follow is not None and follow.state is FollowState.ACCEPTED
        return follow.activity_id


@asynccontextmanager
async def open_world(
    tmp_path: Path, backend: str, mongo_url: str | None, **sections: dict[str, Any]
) -> AsyncIterator[World]:
    attacker, victim, canary = FakeServer("attacker"), FakeServer("victim"), Canary()
    mallory, victor = attacker.add("mallory"), attacker.add("victor")
    hopper = attacker.add("hopper")
    attacker.redirects["/users/hopper"] = f"{canary.origin}/users/hopper"
    sid = attacker.add("sid", inbox=f"{canary.origin}/inbox", shared_inbox=f"{canary.origin}/x")
    vera = victim.add("vera")
    for server in (attacker, victim, canary):
        await server.start()
    try:
        async with running_instances(
            tmp_path,
            ["home"],
            backend=backend,
            mongo_url=mongo_url,
            extra_allowed=[attacker.hostport, victim.hostport],
            **sections,
        ) as instances:
            inst = instances["home"]
            world = World(
                inst=inst,
                attacker=attacker,
                victim=victim,
                canary=canary,
                alice=await inst.member("alice"),
                mallory=mallory,
                victor=victor,
                vera=vera,
                hopper=hopper,
                sid=sid,
            )
            await world.warm_up(mallory, victor, vera)
            yield world
            assert canary.connections == 0, canary.seen
    finally:
        for server in (attacker, victim, canary):
            await server.stop()


@pytest.fixture
async def world(tmp_path: Path, backend: str, mongo_url: str | None) -> AsyncIterator[World]:
    async with open_world(tmp_path, backend, mongo_url) as opened:
        yield opened


# --- signatures ------------------------------------------------------------------------------


async def test_signature_attacks_are_refused_and_store_nothing(world: World) -> None:
    w = world
    before = await w.dump()
    for path in INBOXES:
        url = w.url(path)
        follow = w.act(w.mallory, "Follow", w.alice_uri)
        body = encode(follow)
        good = signed(url, body, w.mallory.key_id, w.mallory.keys)
        tampered = encode({**follow, "object": w.inst.actor("bob")})

        await w.expect("unsigned", 401, path, body, {"Content-Type": ACTIVITY_JSON})
        await w.expect("tampered body, signed digest", 401, path, tampered, good)
        await w.expect(
            "tampered body, fresh digest",
            401,
            path,
            tampered,
            {**good, "Digest": body_digest(tampered)},
        )
        # Signed headers that differ from the ones sent.
        stale_date = http_date(now() - timedelta(seconds=30))
        await w.expect("Date changed", 401, path, body, {**good, "Date": stale_date})
        await w.expect("Content-Type changed", 401, path, body, {**good, "Content-Type": LD_JSON})
        other_inbox = "/inbox" if path != "/inbox" else "/users/alice/inbox"
        await w.expect(
            "signed for another inbox",
            401,
            path,
            body,
            signed(w.url(other_inbox), body, w.mallory.key_id, w.mallory.keys),
        )
        # A request signed for another server, replayed here with its own Host header
        # (Misskey CVE-2023-49079: Host not checked).
        await w.expect(
            "signed for another host",
            401,
            path,
            body,
            signed(f"http://other.example{path}", body, w.mallory.key_id, w.mallory.keys),
        )
        for covered in (
            ["(request-target)", "host", "date"],  # no digest
            ["host", "date", "digest"],  # no request target
            ["(request-target)", "date", "digest"],  # no host
        ):
            await w.expect(
                f"signature covering {covered}",
                401,
                path,
                body,
                signed_covering(url, body, w.mallory.key_id, w.mallory.keys, covered),
            )
        for label, moment in (
            ("stale", now() - timedelta(hours=2)),
            ("future", now() + timedelta(hours=2)),
        ):
            headers = signed(url, body, w.mallory.key_id, w.mallory.keys, at=moment)
            await w.expect(f"{label} Date", 401, path, body, headers)

        # Keys.
        await w.expect("wrong key", 401, path, body, signed(url, body, w.mallory.key_id, w.rogue))
        embedded = encode(
            {
                **follow,
                "actor": {
                    **w.mallory.document(),
                    "publicKey": {
                        "id": w.mallory.key_id,
                        "owner": w.mallory.uri,
                        "publicKeyPem": w.rogue.public_pem,
                    },
                },
            }
        )
        await w.expect(
            "embedded actor with its own key (Misskey #2529)",
            401,
            path,
            embedded,
            signed(url, embedded, w.mallory.key_id, w.rogue),
        )
        await w.expect(
            "signer is a neighbour of the actor",
            401,
            path,
            body,
            signed(url, body, w.victor.key_id, w.victor.keys),
        )
        await w.expect(
            "signer on another origin",
            401,
            path,
            body,
            signed(url, body, w.vera.key_id, w.vera.keys),
        )
        forwarded = encode(w.act(w.vera, "Follow", w.alice_uri))
        await w.expect(
            "someone else's activity, forwarded",
            401,
            path,
            forwarded,
            signed(url, forwarded, w.mallory.key_id, w.mallory.keys),
        )

        # SSRF through keyId: on the canary, for mallory's activity and for a canary actor.
        canary_key = f"{w.canary.origin}/users/x#main-key"
        await w.expect(
            "keyId on the canary", 401, path, body, signed(url, body, canary_key, w.rogue)
        )
        canary_follow = encode({**follow, "actor": f"{w.canary.origin}/users/x"})
        await w.expect(
            "actor and keyId on the canary",
            401,
            path,
            canary_follow,
            signed(url, canary_follow, canary_key, w.rogue),
        )
        # SSRF through a redirect: hopper's actor URL answers 302 to the canary.
        hop = encode(w.act(w.hopper, "Follow", w.alice_uri))
        await w.expect(
            "actor URL redirecting to the canary",
            401,
            path,
            hop,
            signed(url, hop, w.hopper.key_id, w.hopper.keys),
        )

    path = "/users/nobody/inbox"
    body = encode(w.act(w.mallory, "Follow", w.inst.actor("nobody")))
    await w.expect(
        "no such member",
        404,
        path,
        body,
        signed(w.url(path), body, w.mallory.key_id, w.mallory.keys),
    )
    await w.assert_unchanged(before)
    assert await w.store.get_remote_actor(w.hopper.uri) is None
    assert w.canary.connections == 0


# --- ids the actor does not own --------------------------------------------------------------


async def test_ids_the_actor_does_not_own_are_refused(world: World) -> None:
    w = world
    post = await w.inst.post(w.alice, "my own words")
    local_note = w.inst.base_url + "/users/alice/statuses/0000forged"
    attacks: list[tuple[str, dict[str, Any]]] = [
        (
            "Create, activity id on another origin",
            {**w.act(w.mallory, "Create", w.note(w.mallory)), "id": w.vera.new_id()},
        ),
        (
            "Create, object id on another origin",
            w.act(w.mallory, "Create", {**w.note(w.mallory), "id": w.vera.new_id("statuses")}),
        ),
        (
            "Create, attributed to an actor on another origin",
            w.act(w.mallory, "Create", {**w.note(w.mallory), "attributedTo": w.vera.uri}),
        ),
        (
            "Create, attributed to a neighbour",
            w.act(w.mallory, "Create", {**w.note(w.mallory), "attributedTo": w.victor.uri}),
        ),
        (
            "Create, object id on our origin",
            w.act(w.mallory, "Create", {**w.note(w.mallory), "id": local_note}),
        ),
        (
            "Create, overwriting a local post",
            w.act(w.mallory, "Create", {**w.note(w.mallory), "id": post.uri}),
        ),
        (
            "Create, activity id on our origin",
            {**w.act(w.mallory, "Create", w.note(w.mallory)), "id": f"{w.alice_uri}#creates/1"},
        ),
        (
            "Update of a local member",
            w.act(
                w.mallory,
                "Update",
                {"id": w.alice_uri, "type": "Person", "name": "pwned", "inbox": w.canary.origin},
            ),
        ),
        (
            "Update of a local post",
            w.act(w.mallory, "Update", {**w.note(w.mallory, "pwned"), "id": post.uri}),
        ),
        ("Delete of a local post", w.act(w.mallory, "Delete", post.uri)),
        (
            "Delete of a local member",
            w.act(w.mallory, "Delete", {"id": w.alice_uri, "type": "Person"}),
        ),
        (
            "Announce with a forged inline copy of a local post",
            w.act(w.mallory, "Announce", {**w.note(w.mallory, "forged"), "id": post.uri}),
        ),
        (
            "Follow with an id on another origin",
            {**w.act(w.mallory, "Follow", w.alice_uri), "id": w.vera.new_id()},
        ),
    ]
    before = await w.dump()
    for path in INBOXES:
        for label, activity in attacks:
            body = encode(activity)
            headers = signed(w.url(path), body, w.mallory.key_id, w.mallory.keys)
            await w.expect(label, 403, path, body, headers)
        # Our own actors, impersonated (refused before any key lookup or self-fetch).
        for actor in (w.alice_uri, w.inst.base_url + "/actor"):
            body = encode({**w.act(w.mallory, "Follow", w.alice_uri), "actor": actor})
            headers = signed(w.url(path), body, f"{actor}#main-key", w.rogue)
            await w.expect(f"actor {actor} of this server", 403, path, body, headers)
    await w.assert_unchanged(before)
    stored = await w.store.get_post_by_uri(post.uri)
    assert stored is not None and stored.content_html == post.content_html
    assert stored.deleted_at is None


# --- bodies ----------------------------------------------------------------------------------


async def test_oversized_and_deeply_nested_bodies_are_refused(world: World) -> None:
    w = world
    before = await w.dump()
    limit = w.inst.config.federation.max_inbox_bytes
    for path in INBOXES:
        url = w.url(path)

        def sign(body: bytes, url: str = url) -> dict[str, str]:
            return signed(url, body, w.mallory.key_id, w.mallory.keys)

        huge = encode(w.act(w.mallory, "Create", w.note(w.mallory, "x" * (limit + 10))))
        await w.expect("oversized body", 413, path, huge, sign(huge))

        async def chunks(data: bytes = huge) -> AsyncIterator[bytes]:
            for start in range(0, len(data), 64 * 1024):
                yield data[start : start + 64 * 1024]

        await w.expect("oversized chunked body", 413, path, chunks(), sign(huge))

        for depth in (40, 100_000):  # beyond the cap; beyond what json.loads survives
            nested = (
                encode(w.act(w.mallory, "Create", None))[:-1]
                + b', "extra": '
                + b"[" * depth
                + b"]" * depth
                + b"}"
            )
            assert len(nested) <= limit
            await w.expect(f"JSON nested {depth} deep", 400, path, nested, sign(nested))
        for label, bad in (
            ("JSON array", b"[]"),
            ("not JSON", b"{nope"),
            ("not UTF-8", b'{"type": "Follow", "x": "\xff"}'),
            ("no actor", encode({"type": "Follow", "object": w.alice_uri})),
        ):
            await w.expect(label, 400, path, bad, sign(bad))
    response = await w.inst.client.get("/healthz")
    assert response.status == 200  # the instance survived all of it
    await w.assert_unchanged(before)

    # Control: a valid delivery that arrives slowly, in pieces, is read whole and accepted.
    note = w.note(w.mallory, "y" * 60_000)
    body = encode(w.act(w.mallory, "Create", note))
    headers = signed(w.url("/inbox"), body, w.mallory.key_id, w.mallory.keys)

    async def slowly() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8 * 1024):
            yield body[start : start + 8 * 1024]
            await asyncio.sleep(0.01)

    await w.expect("valid Create, chunked", 202, "/inbox", slowly(), headers)
    await w.settle()
    stored = await w.store.get_post_by_uri(note["id"])
    assert stored is not None and "yyyy" in stored.content_html


# --- replay ----------------------------------------------------------------------------------


async def test_a_replayed_follow_is_processed_once(world: World) -> None:
    w = world
    follow = w.act(w.mallory, "Follow", w.alice_uri)
    body = encode(follow)
    captured = {
        path: signed(w.url(path), body, w.mallory.key_id, w.mallory.keys) for path in INBOXES
    }
    for path in (*INBOXES, *INBOXES):  # each captured request sent twice
        await w.expect("Follow (replayed)", 202, path, body, captured[path])
    await w.settle()
    for path in INBOXES:  # and again once it was processed
        await w.expect("Follow (replayed later)", 202, path, body, captured[path])
    await w.settle()

    assert await w.store.count_followers(w.alice_uri) == 1
    follow_row = await w.store.get_follow(w.mallory.uri, w.alice_uri)
    assert follow_row is not None and follow_row.activity_id == follow["id"]
    assert list(await w.inbox_rows()) == [follow["id"]]
    accepts = w.attacker.posted("/users/mallory/inbox")
    assert [(a["type"], a["object"]["id"]) for a in accepts] == [("Accept", follow["id"])]


# --- forged Accept ---------------------------------------------------------------------------


async def test_a_forged_accept_leaves_the_follow_pending(world: World) -> None:
    w = world
    follows = w.inst.app[appkeys.FOLLOWS]
    await follows.follow(w.alice, w.vera.handle)
    await w.settle()  # the Follow is delivered to vera
    pending = await w.store.get_follow(w.alice_uri, w.vera.uri)
    assert pending is not None and pending.state is FollowState.PENDING
    assert [f["id"] for f in w.victim.posted("/users/vera/inbox")] == [pending.activity_id]
    follow_id = pending.activity_id
    inline = {"id": follow_id, "type": "Follow", "actor": w.alice_uri, "object": w.vera.uri}

    # A member who approves followers by hand; victor asks, then tries to approve himself.
    mia = await w.inst.member("mia")
    await w.inst.app[appkeys.PROFILES].update_basics(
        mia, display_name="Mia", manually_approves_followers=True
    )
    victor_follow = w.act(w.victor, "Follow", w.inst.actor("mia"))
    await w.send(w.victor, victor_follow, "/users/mia/inbox")
    await w.settle()
    before = await w.dump()

    await w.send(w.mallory, w.act(w.mallory, "Accept", inline), status=403)
    await w.send(
        w.victor, w.act(w.victor, "Accept", without(victor_follow, "@context")), status=403
    )
    ignored = [
        (w.mallory, w.act(w.mallory, "Accept", follow_id)),
        (w.mallory, w.act(w.mallory, "Accept", {**inline, "object": w.mallory.uri})),
        (w.mallory, w.act(w.mallory, "Accept", {**without(inline, "id"), "object": w.mallory.uri})),
        (w.mallory, w.act(w.mallory, "Reject", follow_id)),
        (w.victor, w.act(w.victor, "Accept", follow_id)),
        (w.victor, w.act(w.victor, "Accept", victor_follow["id"])),  # approving himself
        (w.mallory, w.act(w.mallory, "Accept", victor_follow["id"])),
    ]
    for actor, activity in ignored:
        await w.send(actor, activity, "/users/alice/inbox")
    await w.assert_unchanged(before, new_inbox=len(ignored))
    pending = await w.store.get_follow(w.alice_uri, w.vera.uri)
    assert pending is not None and pending.state is FollowState.PENDING
    mias = await w.store.get_follow(w.victor.uri, w.inst.actor("mia"))
    assert mias is not None and mias.state is FollowState.PENDING

    # Control: the followed actor's own Accept does accept it.
    await w.send(w.vera, w.act(w.vera, "Accept", inline))
    await w.settle()
    accepted = await w.store.get_follow(w.alice_uri, w.vera.uri)
    assert accepted is not None and accepted.state is FollowState.ACCEPTED


# --- Delete and Update by someone else -------------------------------------------------------


async def test_delete_and_update_by_a_non_owner_change_nothing(world: World) -> None:
    w = world
    vera_note, victor_note = w.note(w.vera, "vera's words"), w.note(w.victor, "victor's words")
    await w.send(w.vera, w.act(w.vera, "Create", vera_note))
    await w.send(w.victor, w.act(w.victor, "Create", victor_note))
    victor_follow = w.act(w.victor, "Follow", w.alice_uri)
    await w.send(w.victor, victor_follow)
    await w.settle()
    home = [p.uri for p in await w.inst.home(w.alice)]
    assert sorted(home) == sorted([vera_note["id"], victor_note["id"]])
    assert await w.store.count_followers(w.alice_uri) == 1
    before = await w.dump()

    refused = [
        ("Delete of another origin's note", w.act(w.mallory, "Delete", vera_note["id"])),
        (
            "Update of another origin's note",
            w.act(w.mallory, "Update", {**vera_note, "content": "pwned"}),
        ),
        (
            "Update of another origin's actor",
            w.act(w.mallory, "Update", {**w.vera.document(), "name": "pwned"}),
        ),
        (
            "Update of a neighbour's note, attributed to him",
            w.act(w.mallory, "Update", {**victor_note, "content": "pwned"}),
        ),
        (
            "Update of a neighbour's profile",
            w.act(w.mallory, "Update", {**w.victor.document(), "name": "pwned"}),
        ),
        (
            "Delete of a neighbour's actor",
            w.act(w.mallory, "Delete", {"id": w.victor.uri, "type": "Person"}),
        ),
        (
            "Undo of a neighbour's Follow",
            w.act(w.mallory, "Undo", without(victor_follow, "@context")),
        ),
    ]
    for label, activity in refused:
        body = encode(activity)
        for path in INBOXES:
            headers = signed(w.url(path), body, w.mallory.key_id, w.mallory.keys)
            await w.expect(label, 403, path, body, headers)

    # Same origin and plausible: verified, stored, processed -- and ignored.
    mine = {"attributedTo": w.mallory.uri, "content": "pwned"}
    ignored = [
        w.act(w.mallory, "Update", {**victor_note, **mine}),
        w.act(w.mallory, "Update", without(victor_note, "attributedTo")),
        w.act(w.mallory, "Create", {**victor_note, **mine}),
        w.act(w.mallory, "Delete", victor_note["id"]),
        w.act(w.mallory, "Delete", {"id": victor_note["id"], "type": "Tombstone"}),
        w.act(w.mallory, "Delete", w.victor.uri),
        w.act(w.mallory, "Undo", victor_follow["id"]),
        w.act(w.mallory, "Undo", {**without(victor_follow, "@context"), "actor": w.mallory.uri}),
    ]
    for activity in ignored:
        await w.send(w.mallory, activity)
    await w.assert_unchanged(before, new_inbox=len(ignored))

    # Control: the owner's own Delete does delete.
    await w.send(w.victor, w.act(w.victor, "Delete", victor_note["id"]))
    await w.settle()
    deleted = await w.store.get_post_by_uri(victor_note["id"])
    assert deleted is not None and deleted.deleted_at is not None


# --- Like and other unsupported types --------------------------------------------------------


async def test_like_and_unsupported_types_are_answered_202_and_never_stored(world: World) -> None:
    w = world
    post = await w.inst.post(w.alice, "like me")
    before = await w.dump()
    for path in INBOXES:
        for activity in (
            w.act(w.mallory, "Like", post.uri),
            w.act(w.mallory, "EmojiReact", post.uri, content="🔥"),
            w.act(w.mallory, "Dislike", post.uri),
            w.act(w.mallory, "Block", w.alice_uri),
            # (A Flag is a report now: tests/fedipoly/test_domain_blocks.py.)
            w.act(w.mallory, "Move", w.mallory.uri, target=w.victor.uri),
        ):
            body = encode(activity)
            headers = signed(w.url(path), body, w.mallory.key_id, w.mallory.keys)
            await w.expect(activity["type"], 202, path, body, headers)
    await w.assert_unchanged(before)


# --- SSRF ------------------------------------------------------------------------------------


async def test_ssrf_through_actor_inboxes_and_announced_objects(world: World) -> None:
    w = world
    # sid's inbox and shared inbox are on the canary: our answers must never go there.
    await w.warm_up(w.sid)
    await w.send(w.sid, w.act(w.sid, "Follow", w.alice_uri))
    await w.settle()
    post = await w.inst.post(w.alice, "to my followers, wherever they are")
    await w.settle()
    rows = [json.loads(row) for row in (await w.dump())["deliveries"]]
    to_canary = [row for row in rows if row["inbox_url"].startswith(w.canary.origin)]
    assert sorted(row["inbox_url"] for row in to_canary) == [
        f"{w.canary.origin}/inbox",  # the Accept
        f"{w.canary.origin}/x",  # the post, to the shared inbox
    ]
    assert all(row["state"] == "gave_up" for row in to_canary), to_canary
    assert all(row["last_error"] == "forbidden_address" for row in to_canary), to_canary
    assert post.uri

    # Announces by someone alice follows are fetched from the object's origin.
    await w.alice_follows(w.mallory)
    w.attacker.redirects["/notes/hop"] = f"{w.canary.origin}/notes/hop"
    w.attacker.documents["/notes/liar"] = {
        **w.note(w.mallory),
        "id": f"{w.canary.origin}/notes/liar",
    }
    before = await w.dump()
    announces = [
        w.act(w.mallory, "Announce", f"{w.canary.origin}/notes/1"),
        w.act(w.mallory, "Announce", {**w.note(w.vera), "id": f"{w.canary.origin}/notes/2"}),
        w.act(w.mallory, "Announce", f"{w.attacker.origin}/notes/hop"),
        w.act(w.mallory, "Announce", f"{w.attacker.origin}/notes/liar"),
    ]
    for activity in announces:
        await w.send(w.mallory, activity)
    await w.assert_unchanged(before, new_inbox=len(announces))
    assert [p.uri for p in await w.inst.home(w.alice)] == [post.uri]
    processed = await w.inbox_rows()
    for activity in announces[:3]:  # fetched through our client, which refused the canary
        row = processed[activity["id"]]
        assert str(w.canary.port) in row["error"], row
    assert w.canary.connections == 0


async def test_ssrf_through_webfinger_and_redirects(world: World) -> None:
    w = world
    w.attacker.jrd_href["pointer"] = f"{w.canary.origin}/users/pointer"
    w.attacker.redirects[f"/.well-known/webfinger?resource=acct:bounce@{w.attacker.hostport}"] = (
        f"{w.canary.origin}/.well-known/webfinger"
    )
    follows = w.inst.app[appkeys.FOLLOWS]
    before = await w.dump()
    for handle in (
        f"someone@127.0.0.1:{w.canary.port}",  # WebFinger on the canary itself
        f"pointer@{w.attacker.hostport}",  # a JRD whose self link is on the canary
        f"bounce@{w.attacker.hostport}",  # a WebFinger answer redirecting to the canary
        w.hopper.handle,  # an actor URL redirecting to the canary
    ):
        with pytest.raises(NotFound, match="could not find"):
            await follows.follow(w.alice, handle)
    await w.assert_unchanged(before)
    assert await w.store.count_following(w.alice_uri) == 0
    assert w.canary.connections == 0


# --- a malformed but verified activity -------------------------------------------------------


async def test_a_malformed_activity_does_not_stall_the_inbox(world: World) -> None:
    """Activities that make the worker raise end as failed instead of being retried forever."""
    w = world
    no_id = without(w.act(w.mallory, "Follow", w.alice_uri), "id")
    poison = [
        no_id,
        w.act(w.mallory, "Create", {**w.note(w.mallory), "type": ["Note"]}),
        w.act(w.mallory, "Create", {**w.note(w.mallory), "tag": 5}),
    ]
    for activity in poison:
        await w.send(w.mallory, activity)
    await w.send(w.victor, w.act(w.victor, "Follow", w.alice_uri))
    await w.settle()
    assert await w.store.count_inbox(InboxState.PENDING) == 0
    follow = await w.store.get_follow(w.victor.uri, w.alice_uri)
    assert follow is not None and follow.state is FollowState.ACCEPTED


# --- the store is down -----------------------------------------------------------------------


async def test_store_unavailable_answers_503_with_retry_after(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    dedicated: SecantusServer | None = None
    sections: dict[str, dict[str, Any]] = {"workers": {"poll_interval_seconds": 60.0}}
    if backend == "mongodb":
        dedicated = SecantusServer()
        await asyncio.to_thread(dedicated.start)
        mongo_url = dedicated.url
        sections["storage"] = {"connect_timeout_seconds": 1.0}
    try:
        async with open_world(tmp_path, backend, mongo_url, **sections) as w:
            follow = w.act(w.mallory, "Follow", w.alice_uri)
            body = encode(follow)
            lock: sqlite3.Connection | None = None
            if dedicated is not None:
                await asyncio.to_thread(dedicated.stop)
            else:
                # Another process holds the write lock (a backup, a stuck worker).
                lock = sqlite3.connect(w.inst.config.storage.sqlite_path, isolation_level=None)
                lock.execute("BEGIN IMMEDIATE")
            try:
                # SQLite fails at the one write, after its 5 s busy timeout: one inbox will do.
                for path in INBOXES if lock is None else INBOXES[:1]:
                    headers = signed(w.url(path), body, w.mallory.key_id, w.mallory.keys)
                    answer = await w.expect("valid Follow, store down", 503, path, body, headers)
                    assert int(answer["Retry-After"]) > 0
            finally:
                if lock is not None:
                    lock.execute("ROLLBACK")
                    lock.close()
                if dedicated is not None:
                    # Back on the same port (empty: it keeps data in memory) before the
                    # instance shuts down: a client closed mid-reconnect leaks a socket.
                    await asyncio.to_thread(dedicated.start)

            async def healthy() -> bool:
                return (await w.inst.client.get("/healthz")).status == 200

            await eventually(healthy)
            if lock is not None:  # SQLite is back: nothing was stored, and a retry is taken
                assert await w.inbox_rows() == {}
                await w.send(w.mallory, follow)
                assert list(await w.inbox_rows()) == [follow["id"]]
    finally:
        if dedicated is not None:
            await asyncio.to_thread(dedicated.stop)
