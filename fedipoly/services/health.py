"""Is this process able to serve? (The store answers.)"""

from __future__ import annotations

import asyncio

from fedipoly.errors import StoreUnavailable
from fedipoly.store.base import Store


class HealthService:
    def __init__(self, store: Store, timeout_seconds: float = 2.0) -> None:
        self._store = store
        self._timeout = timeout_seconds

    async def store_answers(self) -> bool:
        try:
            await asyncio.wait_for(self._store.ping(), self._timeout)
        except (StoreUnavailable, TimeoutError):
            return False
        return True
