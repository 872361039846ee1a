"""Profile basics (display name, follower approval) and telling followers when they change."""

from __future__ import annotations

from fedipoly import render
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.models import Account, Clock, new_id
from fedipoly.services.delivery import Deliverer
from fedipoly.store.base import Store
from fedipoly.urls import Urls

MAX_DISPLAY_NAME = 100


class ProfileService:
    def __init__(self, store: Store, deliverer: Deliverer, urls: Urls, clock: Clock) -> None:
        self._store = store
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock

    async def update_basics(
        self, account: Account, *, display_name: str, manually_approves_followers: bool
    ) -> Account:
        name = " ".join(display_name.split())
        if not 1 <= len(name) <= MAX_DISPLAY_NAME:
            raise ValidationFailed(
                f"a display name has 1 to {MAX_DISPLAY_NAME} characters",
                {"field": "display_name"},
            )
        updated = await self._store.update_account_profile(
            account.id, display_name=name, manually_approves_followers=manually_approves_followers
        )
        if updated is None:
            raise NotFound("no such account")
        await self.announce_update(updated)
        return updated

    async def announce_update(self, account: Account) -> None:
        """Send Update{Person} to followers so peers refresh now, not after a day (interop §4.5)."""
        actor_uri = self._urls.actor(account.username)
        update_id = self._urls.activity(account.username, "updates", new_id(self._clock()))
        await self._deliverer.publish(
            render.update_actor(render.person(account, self._urls), update_id),
            signer_account_id=account.id,
            inboxes=await self._store.follower_inboxes(actor_uri),
        )
