"""The MongoDB server stops while activities arrive, then comes back on the same port.

Issue 7's fault test: while the database is down the inbox answers 503 with Retry-After (a
sender retries a 5xx later; Mastodon's own inbox answers 503 when it cannot store); nothing
that was answered 202 is lost; and once the server is back the instance recovers by itself --
the driver reconnects, /healthz turns 200, new activities are accepted, and every accepted
activity is processed -- without restarting Fedipoly.

The database keeps its files in a temporary directory (``--storage-path``), as a real
deployment does, so what was accepted before the stop survives the restart.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pymongo import MongoClient

from federation.httpsig import sign_request
from federation.keys import KeyPair, generate_rsa_keypair
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, PUBLIC
from fedipoly import appkeys
from fedipoly.models import InboxState
from tests.instances import Instance, eventually, running_instances
from tests.support import BIN_DIR, free_port


class DurableSecantus:
    """SecantusDB keeping its data in `directory`, restartable on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [
                str(BIN_DIR / "secantusd-py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("secantusd-py exited during start")
            try:
                client: MongoClient[dict[str, Any]]
                with MongoClient(self.url, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError("secantusd-py did not answer in time")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), as an operator's restart would do."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Peer:
    """A remote server with one actor, `rita`, whose key the instance fetches once."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.keys: KeyPair = generate_rsa_keypair()
        self.uri = f"{self.origin}/users/rita"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/users/rita", self._actor)
        app.router.add_post("/{tail:.*}", self._accept)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _actor(self, _request: web.Request) -> web.Response:
        document = {
            "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": "rita",
            "inbox": f"{self.uri}/inbox",
            "followers": f"{self.uri}/followers",
            "endpoints": {"sharedInbox": f"{self.origin}/inbox"},
            "publicKey": {
                "id": f"{self.uri}#main-key",
                "owner": self.uri,
                "publicKeyPem": self.keys.public_pem,
            },
        }
        return web.Response(body=json.dumps(document), content_type=ACTIVITY_JSON)

    async def _accept(self, _request: web.Request) -> web.Response:
        return web.Response(status=202)

    def note_to(self, recipient: str) -> dict[str, Any]:
        """A Create{Note} addressed to `recipient`, so the instance keeps it."""
        note_id = f"{self.uri}/statuses/{uuid.uuid4().hex}"
        return {
            "@context": AS_CONTEXT,
            "id": f"{note_id}/activity",
            "type": "Create",
            "actor": self.uri,
            "to": [PUBLIC, recipient],
            "object": {
                "id": note_id,
                "type": "Note",
                "attributedTo": self.uri,
                "content": "<p>still here?</p>",
                "to": [PUBLIC, recipient],
                "published": datetime.now(UTC).isoformat(),
            },
        }

    def signed(self, url: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": ACTIVITY_JSON}
        return headers | sign_request(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            key_id=f"{self.uri}#main-key",
            private_key_pem=self.keys.private_pem,
            now=datetime.now(UTC),
        )


@asynccontextmanager
async def started(peer: Peer, database: DurableSecantus) -> AsyncIterator[None]:
    await peer.start()
    await asyncio.to_thread(database.start)
    try:
        yield
    finally:
        await asyncio.to_thread(database.stop)
        await peer.stop()


async def post(inst: Instance, peer: Peer, activity: dict[str, Any]) -> web.Response:
    body = json.dumps(activity).encode()
    headers = peer.signed(f"{inst.base_url}/inbox", body)
    response = await inst.client.post("/inbox", data=body, headers=headers)
    await response.read()
    return response  # type: ignore[return-value]


async def test_inbox_survives_a_database_restart(tmp_path: Path) -> None:
    peer, database = Peer(), DurableSecantus(tmp_path / "mongo-data")
    async with (
        started(peer, database),
        running_instances(
            tmp_path,
            ["home"],
            backend="mongodb",
            mongo_url=database.url,
            extra_allowed=[f"127.0.0.1:{peer.port}"],
            storage={"connect_timeout_seconds": 1.0},
            # A worker that dies mid-item with the database leaves it leased: short leases
            # let the item be claimed again soon after the database is back.
            workers={"poll_interval_seconds": 0.2, "inbox_lease_seconds": 3.0},
        ) as instances,
    ):
        inst = instances["home"]
        store = inst.app[appkeys.STORE]
        await inst.member("alice")
        alice = inst.actor("alice")

        # The workers are held back so that the accepted activities are still waiting,
        # unprocessed, when the database stops (as with a busy or restarting worker pool).
        workers = inst.app[appkeys.WORKERS]
        await workers.stop()
        accepted = [peer.note_to(alice) for _ in range(10)]
        for activity in accepted:
            assert (await post(inst, peer, activity)).status == 202
        assert await store.count_inbox(InboxState.PENDING) == len(accepted)

        await asyncio.to_thread(database.stop)
        workers.start()  # they fail to claim, pause and try again until the database is back
        refused = peer.note_to(alice)
        answer = await post(inst, peer, refused)
        assert answer.status == 503
        assert int(answer.headers["Retry-After"]) > 0
        assert (await inst.client.get("/healthz")).status == 503

        await asyncio.to_thread(database.start)  # the same port and the same files

        async def healthy() -> bool:
            return (await inst.client.get("/healthz")).status == 200

        await eventually(healthy, timeout=30)

        async def retried() -> bool:
            # The sender retries the activity that was refused, as Mastodon does after a 5xx.
            return (await post(inst, peer, refused)).status == 202

        await eventually(retried, timeout=30)
        accepted.append(refused)
        later = peer.note_to(alice)
        assert (await post(inst, peer, later)).status == 202
        accepted.append(later)

        async def all_processed() -> bool:
            posts = [await store.get_post_by_uri(a["object"]["id"]) for a in accepted]
            return all(posts) and await store.count_inbox(InboxState.PENDING) == 0

        await eventually(all_processed, timeout=60)
        assert await store.count_inbox(InboxState.DONE) == len(accepted)
        assert await store.count_inbox(InboxState.FAILED) == 0
