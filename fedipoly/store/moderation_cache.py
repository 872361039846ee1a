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
from typing import Any, Generic, TypeVar

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


class ModerationCache:
    """Mixin placed before the adapter's moderation mixin: same methods, answered from memory."""

    moderation_cache_seconds: float = 5.0

    @property
    def _domain_block_snapshot(self) -> _Snapshot[DomainBlock]:
        return self._snapshot("_domain_blocks_cached")

    @property
    def _restriction_snapshot(self) -> _Snapshot[RemoteRestriction]:
        return self._snapshot("_restrictions_cached")

    def _snapshot(self, attribute: str) -> Any:
        snapshot = self.__dict__.get(attribute)
        if snapshot is None:
            snapshot = _Snapshot()
            self.__dict__[attribute] = snapshot
        return snapshot

    async def _blocks(self) -> dict[str, DomainBlock]:
        snapshot = self._domain_block_snapshot
        if (items := snapshot.fresh(self.moderation_cache_seconds)) is not None:
            return items
        async with snapshot.lock:
            if (items := snapshot.fresh(self.moderation_cache_seconds)) is not None:
                return items
            generation = snapshot.generation
            loaded = {block.domain: block for block in await super().list_domain_blocks()}  # type: ignore[misc]
            if generation == snapshot.generation:
                snapshot.items, snapshot.loaded_at = loaded, time.monotonic()
            return loaded

    async def _restrictions(self) -> dict[str, RemoteRestriction]:
        snapshot = self._restriction_snapshot
        if (items := snapshot.fresh(self.moderation_cache_seconds)) is not None:
            return items
        async with snapshot.lock:
            if (items := snapshot.fresh(self.moderation_cache_seconds)) is not None:
                return items
            generation = snapshot.generation
            restrictions = await super().list_remote_restrictions()  # type: ignore[misc]
            loaded = {restriction.actor_uri: restriction for restriction in restrictions}
            if generation == snapshot.generation:
                snapshot.items, snapshot.loaded_at = loaded, time.monotonic()
            return loaded

    async def find_domain_blocks(self, domains: list[str]) -> list[DomainBlock]:
        blocks = await self._blocks()
        return sorted(
            (blocks[domain] for domain in set(domains) if domain in blocks),
            key=lambda block: block.domain,
        )

    async def put_domain_block(self, block: DomainBlock) -> bool:
        try:
            return bool(await super().put_domain_block(block))  # type: ignore[misc]
        finally:
            self._domain_block_snapshot.drop()

    async def delete_domain_block(self, domain: str) -> bool:
        try:
            return bool(await super().delete_domain_block(domain))  # type: ignore[misc]
        finally:
            self._domain_block_snapshot.drop()

    async def get_remote_restriction(self, actor_uri: str) -> RemoteRestriction | None:
        return (await self._restrictions()).get(actor_uri)

    async def put_remote_restriction(self, restriction: RemoteRestriction) -> None:
        try:
            await super().put_remote_restriction(restriction)  # type: ignore[misc]
        finally:
            self._restriction_snapshot.drop()

    async def delete_remote_restriction(self, actor_uri: str) -> bool:
        try:
            return bool(await super().delete_remote_restriction(actor_uri))  # type: ignore[misc]
        finally:
            self._restriction_snapshot.drop()
