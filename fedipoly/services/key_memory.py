"""The inbox's most recently used remote keys, held in memory in front of the store.

Every signed POST looks its keyId up; with a few thousand peers that is one database read per
request for a row that almost never changes (bench/README.md). A key held here is at most
`KEY_MEMORY_TTL` old: a peer that rotates its key signs with the new one, which fails against
the remembered key and makes the verifier fetch the key again (which replaces the entry here),
so the TTL only bounds how long another process's change (a deleted actor) goes unseen.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from federation.ports import ActorKey
from fedipoly.models import Clock

KEY_MEMORY_SIZE = 4096
KEY_MEMORY_TTL = timedelta(seconds=60)


class KeyMemory:
    """A bounded least-recently-used map of keyId → key, each entry valid for the TTL."""

    def __init__(
        self, clock: Clock, *, size: int = KEY_MEMORY_SIZE, ttl: timedelta = KEY_MEMORY_TTL
    ) -> None:
        self._clock = clock
        self._size = size
        self._ttl = ttl
        self._entries: OrderedDict[str, tuple[ActorKey, datetime]] = OrderedDict()

    def get(self, key_id: str) -> ActorKey | None:
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        key, remembered_at = entry
        if self._clock() - remembered_at >= self._ttl:
            del self._entries[key_id]
            return None
        self._entries.move_to_end(key_id)
        return key

    def put(self, key: ActorKey) -> None:
        self._entries[key.key_id] = (key, self._clock())
        self._entries.move_to_end(key.key_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget_owner(self, owner: str) -> None:
        """Drop every key of that actor (it was fetched again, maybe with a new key)."""
        for key_id in [key_id for key_id, (key, _) in self._entries.items() if key.owner == owner]:
            del self._entries[key_id]

    def __len__(self) -> int:
        return len(self._entries)
