"""Member notifications: what moderators decided about a member's things (a rejected badge
and the reason, a merged badge, a handled report), readable on /notifications and the API.

Deliberately small: no counts of other people's reactions exist (product rule 1), only
messages addressed to one member by the instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedipoly.models import Account, Clock, new_id
from fedipoly.moderation_models import Notification
from fedipoly.services.badges import clean_limit
from fedipoly.services.posts import decode_cursor, encode_cursor
from fedipoly.store.base import Store

MAX_MESSAGE = 1000


@dataclass(frozen=True)
class NotificationPage:
    notifications: list[Notification]
    next_cursor: str | None
    unread: int


class NotificationService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def notify(
        self, account_id: str, kind: str, message: str, link: str | None = None
    ) -> Notification:
        now = self._clock()
        notification = Notification(
            id=new_id(now),
            account_id=account_id,
            kind=kind,
            message=message[:MAX_MESSAGE],
            link=link,
            created_at=now,
        )
        await self._store.add_notification(notification)
        return notification

    async def page(
        self, reader: Account, *, cursor: str | None = None, limit: int | None = None
    ) -> NotificationPage:
        """The reader's notifications, newest first, and how many are unread."""
        size = clean_limit(limit)
        items = await self._store.list_notifications(
            reader.id, before=decode_cursor(cursor), limit=size
        )
        next_cursor = (
            encode_cursor(items[-1].created_at, items[-1].id) if len(items) == size else None
        )
        unread = await self._store.count_unread_notifications(reader.id)
        return NotificationPage(items, next_cursor, unread)

    async def mark_read(self, reader: Account) -> int:
        return await self._store.mark_notifications_read(reader.id, self._clock())
