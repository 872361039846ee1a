"""A small in-process cache of rendered documents (bytes), each kept for a few seconds.

The process that changes what a document shows forgets it at once; other processes sharing the
database keep their copy for at most the TTL (`server.document_cache_seconds`), which bounds how
long they may serve a stale one. See services/discovery.py for what is cached.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fedipoly.services.accounts import normalise_username

Monotonic = Callable[[], float]
# Actor documents are 2-4 kB: at most a few MB however many members or spellings are asked for.
DEFAULT_MAX_ENTRIES = 2_000


@dataclass(frozen=True)
class _Entry:
    owner: str
    body: bytes
    expires_at: float


class DocumentCache:
    """Rendered documents by (kind, key), each kept for `ttl_seconds` at most and filed under
    the member (`owner`, a username) whose change makes it stale.

    Bounded: past `max_entries` the least recently stored entry goes, so a crawler asking for
    every member (or one member under many spellings) cannot grow the process without limit.
    A TTL of 0 turns caching off.
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        monotonic: Monotonic = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._ttl = ttl_seconds
        self._now = monotonic
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Changes on every forget/clear. Read it before rendering and hand it to `put`: a
        document rendered from data read before a change is then not kept."""
        return self._generation

    def get(self, kind: str, key: str) -> bytes | None:
        entry = self._entries.get((kind, key))
        if entry is None:
            return None
        if entry.expires_at <= self._now():
            del self._entries[(kind, key)]
            return None
        return entry.body

    def put(self, kind: str, key: str, body: bytes, *, owner: str, generation: int) -> None:
        if self._ttl <= 0 or generation != self._generation:
            return
        self._entries.pop((kind, key), None)
        self._entries[(kind, key)] = _Entry(
            normalise_username(owner), body, self._now() + self._ttl
        )
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, owner: str) -> None:
        """Drop every document filed under the member `owner` (a username, any case)."""
        owner = normalise_username(owner)
        self._generation += 1
        for key in [key for key, entry in self._entries.items() if entry.owner == owner]:
            del self._entries[key]

    def clear(self) -> None:
        """For changes that touch every document (a badge renamed, the catalogue edited)."""
        self._generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
