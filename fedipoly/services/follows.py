"""Follows in both directions: our members following anyone, and anyone following our members."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fedipoly import render
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.models import Account, Clock, Follow, FollowState, RemoteActor, new_id
from fedipoly.services.actors import RemoteActors
from fedipoly.services.delivery import Deliverer
from fedipoly.store.base import Cursor, Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowView:
    """A follow with the other side's display facts, for lists in the UI and API."""

    follow: Follow
    actor_uri: str
    handle: str
    display_name: str
    profile_url: str | None


class FollowService:
    def __init__(
        self,
        store: Store,
        actors: RemoteActors,
        deliverer: Deliverer,
        urls: Urls,
        clock: Clock,
    ) -> None:
        self._store = store
        self._actors = actors
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock

    # --- our members following others ----------------------------------------------------

    async def follow(self, member: Account, handle: str) -> Follow:
        """Follow a handle (`name@server`); local members are followed without any HTTP."""
        local = await self._local_account_for_handle(handle)
        me = self._urls.actor(member.username)
        now = self._clock()
        if local is not None:
            if local.id == member.id:
                raise ValidationFailed("you cannot follow yourself", {"field": "handle"})
            state = (
                FollowState.PENDING if local.manually_approves_followers else FollowState.ACCEPTED
            )
            activity_id = self._urls.activity(member.username, "follows", new_id(now))
            return await self._store.upsert_follow(
                Follow(
                    id=new_id(now),
                    follower=me,
                    followed=self._urls.actor(local.username),
                    activity_id=activity_id,
                    state=state,
                    created_at=now,
                ),
                member.id,
            )
        target = await self._actors.resolve_handle(handle)
        existing = await self._store.get_follow(me, target.uri)
        if existing is not None and existing.state is FollowState.ACCEPTED:
            return existing
        activity_id = self._urls.activity(member.username, "follows", new_id(now))
        follow = await self._store.upsert_follow(
            Follow(
                id=new_id(now),
                follower=me,
                followed=target.uri,
                activity_id=activity_id,
                state=FollowState.PENDING,
                created_at=now,
            ),
            member.id,
        )
        # Targeted activities go to the personal inbox (Mastodon: follow_service.rb).
        await self._deliverer.publish(
            render.follow(activity_id, me, target.uri),
            signer_account_id=member.id,
            inboxes=[target.inbox],
        )
        return follow

    async def unfollow(self, member: Account, handle: str) -> None:
        target_uri = await self._actor_uri_for_handle(handle)
        me = self._urls.actor(member.username)
        follow = await self._store.get_follow(me, target_uri)
        if follow is None or not await self._store.delete_follow(me, target_uri):
            raise NotFound(f"you don't follow {handle}")
        remote = await self._store.get_remote_actor(target_uri)
        if remote is not None:
            undo_id = self._urls.activity(member.username, "undos", new_id(self._clock()))
            await self._deliverer.publish(
                render.undo(undo_id, me, render.follow(follow.activity_id, me, target_uri)),
                signer_account_id=member.id,
                inboxes=[remote.inbox],
            )

    async def _local_account_for_handle(self, handle: str) -> Account | None:
        cleaned = handle.strip().removeprefix("@")
        username, _, domain = cleaned.partition("@")
        if domain and domain.lower() != self._urls.domain:
            return None
        account = await self._store.get_account_by_username(username.lower())
        if account is None and not domain:
            raise NotFound(
                f"no member called {username!r} here; remote handles look like name@server.example"
            )
        return account

    async def _actor_uri_for_handle(self, handle: str) -> str:
        local = await self._local_account_for_handle(handle)
        if local is not None:
            return self._urls.actor(local.username)
        cleaned = handle.strip().removeprefix("@")
        username, _, domain = cleaned.partition("@")
        cached = await self._store.get_remote_actor_by_handle(username, domain)
        if cached is None:
            raise NotFound(f"you don't follow {handle}")
        return cached.uri

    # --- people following our members ----------------------------------------------------

    async def approve(self, member: Account, follower_uri: str) -> None:
        me = self._urls.actor(member.username)
        follow = await self._store.get_follow(follower_uri, me)
        if follow is None or follow.state is not FollowState.PENDING:
            raise NotFound("no such follow request")
        await self._store.set_follow_state(follower_uri, me, FollowState.ACCEPTED)
        await self._answer(member, follow, "Accept")

    async def reject(self, member: Account, follower_uri: str) -> None:
        me = self._urls.actor(member.username)
        follow = await self._store.get_follow(follower_uri, me)
        if follow is None:
            raise NotFound("no such follower or follow request")
        await self._store.delete_follow(follower_uri, me)
        await self._answer(member, follow, "Reject")

    async def _answer(self, member: Account, follow: Follow, kind: str) -> None:
        remote = await self._store.get_remote_actor(follow.follower)
        if remote is None:
            return  # a local follower: nothing to send
        me = self._urls.actor(member.username)
        answer_id = self._urls.activity(member.username, f"{kind.lower()}s", new_id(self._clock()))
        await self._deliverer.publish(
            render.answer_follow(kind, answer_id, me, follow.activity_id, follow.follower),
            signer_account_id=member.id,
            # The answer goes to the follower's own inbox (Mastodon: follow_service.rb).
            inboxes=[remote.inbox],
        )

    # --- incoming activities -------------------------------------------------------------

    async def on_follow(self, activity: dict[str, Any], actor: RemoteActor) -> None:
        target = activity.get("object")
        target_uri = target.get("id") if isinstance(target, dict) else target
        if not isinstance(target_uri, str):
            return
        username = self._urls.local_username(target_uri)
        member = await self._store.get_account_by_username(username) if username else None
        if member is None or member.suspended:
            return
        now = self._clock()
        state = FollowState.PENDING if member.manually_approves_followers else FollowState.ACCEPTED
        existing = await self._store.get_follow(actor.uri, target_uri)
        if existing is not None and existing.state is FollowState.ACCEPTED:
            state = FollowState.ACCEPTED  # a repeated Follow: keep it, answer again
        follow = await self._store.upsert_follow(
            Follow(
                id=new_id(now),
                follower=actor.uri,
                followed=target_uri,
                activity_id=str(activity["id"]),
                state=state,
                created_at=now,
            ),
            None,
        )
        if state is FollowState.ACCEPTED:
            await self._answer(member, follow, "Accept")

    async def on_undo_follow(self, inner: dict[str, Any], actor: RemoteActor) -> None:
        target = inner.get("object")
        target_uri = target.get("id") if isinstance(target, dict) else target
        follow = await self._store.get_follow_by_activity(str(inner.get("id", "")))
        if follow is not None and follow.follower == actor.uri:
            await self._store.delete_follow(follow.follower, follow.followed)
            return
        # Fall back to the (actor, object) pair: old follow ids may differ (interop §4.3).
        if isinstance(target_uri, str):
            await self._store.delete_follow(actor.uri, target_uri)

    async def on_accept_or_reject(self, activity: dict[str, Any], actor: RemoteActor) -> None:
        inner = activity.get("object")
        follow_id = inner.get("id") if isinstance(inner, dict) else inner
        follow = await self._store.get_follow_by_activity(str(follow_id)) if follow_id else None
        if follow is None and isinstance(inner, dict):
            follower = inner.get("actor")
            if isinstance(follower, str):
                follow = await self._store.get_follow(follower, actor.uri)
        # Only the followed actor may answer our follow (a forged Accept changes nothing).
        if follow is None or follow.followed != actor.uri:
            return
        if activity.get("type") == "Accept":
            await self._store.set_follow_state(
                follow.follower, follow.followed, FollowState.ACCEPTED
            )
        else:
            await self._store.delete_follow(follow.follower, follow.followed)

    # --- lists ---------------------------------------------------------------------------

    async def followers(
        self, member: Account, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[FollowView]:
        follows = await self._store.list_followers(
            self._urls.actor(member.username), state, before=before, limit=limit
        )
        return [await self._view(follow, follow.follower) for follow in follows]

    async def following(
        self,
        member: Account,
        *,
        before: Cursor | None,
        limit: int,
        state: FollowState = FollowState.ACCEPTED,
    ) -> list[FollowView]:
        follows = await self._store.list_following(
            self._urls.actor(member.username), state, before=before, limit=limit
        )
        return [await self._view(follow, follow.followed) for follow in follows]

    async def _view(self, follow: Follow, other: str) -> FollowView:
        username = self._urls.local_username(other)
        if username is not None:
            account = await self._store.get_account_by_username(username)
            return FollowView(
                follow=follow,
                actor_uri=other,
                handle=f"{username}@{self._urls.domain}",
                display_name=account.display_name if account else username,
                profile_url=self._urls.profile(username),
            )
        remote = await self._store.get_remote_actor(other)
        return FollowView(
            follow=follow,
            actor_uri=other,
            handle=remote.handle if remote else other,
            display_name=remote.display_name if remote else other,
            profile_url=(remote.profile_url or remote.uri) if remote else other,
        )

    async def relationship(self, member: Account, target_uri: str) -> FollowState | None:
        """Whether `member` follows `target_uri` (accepted or pending), or None."""
        follow = await self._store.get_follow(self._urls.actor(member.username), target_uri)
        return follow.state if follow else None

    async def collection_page(
        self, member: Account, *, followers: bool, before: Cursor | None, limit: int
    ) -> list[Follow]:
        """Accepted follows for the ActivityPub followers/following collections."""
        me = self._urls.actor(member.username)
        if followers:
            return await self._store.list_followers(
                me, FollowState.ACCEPTED, before=before, limit=limit
            )
        return await self._store.list_following(
            me, FollowState.ACCEPTED, before=before, limit=limit
        )

    async def counts(self, member: Account) -> tuple[int, int]:
        me = self._urls.actor(member.username)
        return await self._store.count_followers(me), await self._store.count_following(me)
