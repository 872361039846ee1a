"""Domain blocks and remote-account restrictions held in memory, in front of either adapter.

Every inbox POST asks whether the sender's server is blocked and the sender suspended, and
every delivery whether its target's server is blocked (bench/README.md: these lookups were
~11% of an inbox POST). Both sets are small (a moderator adds each row by hand) and change
rarely, so the store keeps a copy of each and answers from it:

* a change made through this store object (this process) drops the copy at once, so a block
  takes effect here on the very next request;
* another process (a second `serve`, a `worker`) sharing the database sees the change once
  its copy is older than `moderation_cache_seconds` (`[storage]` in the configuration).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from fedipoly.moderation_models import DomainBlock, RemoteRestriction

T = TypeVar("T")


class _Snapshot(Generic[T]):
    """One cached set, reloaded when older than the TTL or dropped by a local change."""

    def __init__(self) -> None:
        self.items: dict[str, T] | None = None
        self.loaded_at = 0.0
        # Bumped by every local change, so a reload that raced with one is not kept.
        self.generation = 0
        self.lock = asyncio.Lock()

    def fresh(self, ttl: float) -> dict[str, T] | None:
        if self.items is not None and time.monotonic() - self.loaded_at < ttl:
            return self.items
        return None

    def drop(self) -> None:
        self.items = None
        self.generation += 1

    async def get(self, ttl: float, load: Callable[[], Awaitable[dict[str, T]]]) -> dict[str, T]:
        if (items := self.fresh(ttl)) is not None:
            return items
        async with self.lock:  # one reload at a time, however many requests are waiting
            if (items := self.fresh(ttl)) is not None:
                return items
            generation = self.generation
            loaded = await load()
            if generation == self.generation:
                self.items, self.loaded_at = loaded, time.monotonic()
            return loaded


class ModerationCache:
    """Mixin placed before the adapter's moderation mixin: same methods, answered from memory."""

    moderation_cache_seconds: float = 5.0
    _cached_blocks: _Snapshot[DomainBlock]
    _cached_restrictions: _Snapshot[RemoteRestriction]

    def _block_snapshot(self) -> _Snapshot[DomainBlock]:
        snapshot: _Snapshot[DomainBlock] | None = getattr(self, "_cached_blocks", None)
        if snapshot is None:
            snapshot = self._cached_blocks = _Snapshot()
        return snapshot

    def _restriction_snapshot(self) -> _Snapshot[RemoteRestriction]:
        snapshot: _Snapshot[RemoteRestriction] | None = getattr(self, "_cached_restrictions", None)
        if snapshot is None:
            snapshot = self._cached_restrictions = _Snapshot()
        return snapshot

    async def _load_blocks(self) -> dict[str, DomainBlock]:
        blocks = await super().list_domain_blocks()  # type: ignore[misc]
        return {block.domain: block for block in blocks}

    async def _load_restrictions(self) -> dict[str, RemoteRestriction]:
        restrictions = await super().list_remote_restrictions()  # type: ignore[misc]
        return {restriction.actor_uri: restriction for restriction in restrictions}

    async def find_domain_blocks(self, domains: list[str]) -> list[DomainBlock]:
        blocks = await self._block_snapshot().get(self.moderation_cache_seconds, self._load_blocks)
        if not blocks:  # most servers block nobody: every inbox POST asks
            return []
        return sorted(
            (blocks[domain] for domain in set(domains) if domain in blocks),
            key=lambda block: block.domain,
        )

    async def put_domain_block(self, block: DomainBlock) -> bool:
        try:
            return bool(await super().put_domain_block(block))  # type: ignore[misc]
        finally:
            self._block_snapshot().drop()

    async def delete_domain_block(self, domain: str) -> bool:
        try:
            return bool(await super().delete_domain_block(domain))  # type: ignore[misc]
        finally:
            self._block_snapshot().drop()

    async def get_remote_restriction(self, actor_uri: str) -> RemoteRestriction | None:
        restrictions = await self._restriction_snapshot().get(
            self.moderation_cache_seconds, self._load_restrictions
        )
        return restrictions.get(actor_uri)

    async def put_remote_restriction(self, restriction: RemoteRestriction) -> None:
        try:
            await super().put_remote_restriction(restriction)  # type: ignore[misc]
        finally:
            self._restriction_snapshot().drop()

    async def delete_remote_restriction(self, actor_uri: str) -> bool:
        try:
            return bool(await super().delete_remote_restriction(actor_uri))  # type: ignore[misc]
        finally:
            self._restriction_snapshot().drop()
