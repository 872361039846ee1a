"""Two Fedipoly instances on loopback federate through real signed HTTP."""

from __future__ import annotations

from pathlib import Path

from fedipoly import appkeys
from fedipoly.models import DeliveryState, FollowState, Visibility
from tests.instances import eventually, running_instances


async def test_follow_accept_post_undo_and_delete_across_two_instances(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["alpha", "beta"], backend=backend, mongo_url=mongo_url
    ) as instances:
        alpha, beta = instances["alpha"], instances["beta"]
        alice = await alpha.member("alice")
        bob = await beta.member("bob")

        # bob@beta follows alice@alpha by handle: WebFinger, actor fetch, Follow, Accept.
        follow = await beta.app[appkeys.FOLLOWS].follow(bob, alpha.handle("alice"))
        assert follow.state is FollowState.PENDING
        beta_store, alpha_store = beta.app[appkeys.STORE], alpha.app[appkeys.STORE]

        async def accepted() -> bool:
            found = await beta_store.get_follow(beta.actor("bob"), alpha.actor("alice"))
            return found is not None and found.state is FollowState.ACCEPTED

        await eventually(accepted)
        assert await alpha_store.count_followers(alpha.actor("alice")) == 1

        # alice posts; it reaches bob's home timeline on beta.
        post = await alpha.post(alice, "Wrote some code today")

        async def delivered_to_bob() -> list[str]:
            return [p.uri for p in await beta.home(bob)]

        assert await eventually(delivered_to_bob) == [post.uri]
        received = (await beta.home(bob))[0]
        assert "Wrote some code today" in received.content_html
        assert received.author == alpha.actor("alice")

        # A followers-only post reaches bob too (he is a follower).
        private = await alpha.post(alice, "for followers", Visibility.FOLLOWERS)
        assert (await eventually(delivered_to_bob))[0] in (private.uri, post.uri)
        await eventually(lambda: _contains(beta, bob, private.uri))

        # alice deletes the post: it leaves bob's timeline and its URL answers 410.
        await alpha.app[appkeys.POSTS].delete(alice, post.id)

        async def removed() -> bool:
            return post.uri not in [p.uri for p in await beta.home(bob)]

        await eventually(removed)
        response = await alpha.client.get(
            post.uri.removeprefix(alpha.base_url), headers={"Accept": "application/activity+json"}
        )
        assert response.status == 410
        assert (await response.json())["type"] == "Tombstone"

        # bob unfollows: alpha forgets the follower.
        await beta.app[appkeys.FOLLOWS].unfollow(bob, alpha.handle("alice"))

        async def follower_gone() -> bool:
            return await alpha_store.count_followers(alpha.actor("alice")) == 0

        await eventually(follower_gone)
        # Every delivery of both instances succeeded.
        for instance in (alpha, beta):
            store = instance.app[appkeys.STORE]
            assert await store.count_deliveries(DeliveryState.GAVE_UP) == 0
            await eventually(lambda store=store: _no_pending(store))


async def _contains(instance, reader, uri: str) -> bool:  # type: ignore[no-untyped-def]
    return uri in [p.uri for p in await instance.home(reader)]


async def _no_pending(store) -> bool:  # type: ignore[no-untyped-def]
    return await store.count_deliveries(DeliveryState.PENDING) == 0


async def test_manual_approval_profile_updates_and_rejection_across_instances(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["alpha", "beta"], backend=backend, mongo_url=mongo_url
    ) as instances:
        alpha, beta = instances["alpha"], instances["beta"]
        alice = await alpha.member("alice")
        bob, carol = await beta.member("bob"), await beta.member("carol")
        alice = await alpha.app[appkeys.PROFILES].update_basics(
            alice, display_name="Alice Approves", manually_approves_followers=True
        )
        alpha_store, beta_store = alpha.app[appkeys.STORE], beta.app[appkeys.STORE]
        follows_b = beta.app[appkeys.FOLLOWS]
        await follows_b.follow(bob, alpha.handle("alice"))
        await follows_b.follow(carol, alpha.handle("alice"))

        async def two_requests() -> bool:
            pending = await alpha_store.list_followers(
                alpha.actor("alice"), FollowState.PENDING, before=None, limit=10
            )
            return len(pending) == 2

        await eventually(two_requests)
        cached = await beta_store.get_remote_actor(alpha.actor("alice"))
        assert cached is not None and cached.manually_approves_followers
        assert cached.display_name == "Alice Approves"

        follows_a = alpha.app[appkeys.FOLLOWS]
        await follows_a.approve(alice, beta.actor("bob"))
        await follows_a.reject(alice, beta.actor("carol"))

        async def answered() -> bool:
            bob_follow = await beta_store.get_follow(beta.actor("bob"), alpha.actor("alice"))
            carol_follow = await beta_store.get_follow(beta.actor("carol"), alpha.actor("alice"))
            return (
                bob_follow is not None
                and bob_follow.state is FollowState.ACCEPTED
                and carol_follow is None
            )

        await eventually(answered)
        assert await alpha_store.count_followers(alpha.actor("alice")) == 1

        # A profile change reaches the follower's server as Update{Person}.
        await alpha.app[appkeys.PROFILES].update_basics(
            alice, display_name="Alice Renamed", manually_approves_followers=False
        )

        async def renamed() -> bool:
            actor = await beta_store.get_remote_actor(alpha.actor("alice"))
            return actor is not None and actor.display_name == "Alice Renamed"

        await eventually(renamed)
