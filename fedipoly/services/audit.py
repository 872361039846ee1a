"""The audit log: every moderator and admin action, append-only.

Its own module so that every service with a moderator or admin action (badges, badge peers,
the open-to catalogue, moderation itself) can write to it without importing the moderation
service.
"""

from __future__ import annotations

from fedipoly.models import Account, Clock, new_id
from fedipoly.moderation_models import AuditEntry
from fedipoly.store.base import Store


class AuditLog:
    """Every moderator action, append-only: who, what, on which target, why, when."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self, moderator: Account | None, action: str, target: str, reason: str = ""
    ) -> AuditEntry:
        """`moderator` None is the operator at the command line."""
        now = self._clock()
        entry = AuditEntry(
            id=new_id(now),
            moderator_id=moderator.id if moderator else None,
            action=action,
            target=target,
            reason=reason,
            created_at=now,
        )
        await self._store.add_audit_entry(entry)
        return entry
