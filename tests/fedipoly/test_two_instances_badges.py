"""Cross-instance badge discovery between two real instances: once B approves A as a badge
peer, B reads A's badge directory, B's chess badge follows A's, and B's chess page shows A's
holder count and the chess posts A's badge announces — on the badge page only."""

from __future__ import annotations

from pathlib import Path

from fedipoly import appkeys
from fedipoly.models import FollowState, PostActivityTag, Role, Visibility
from tests.instances import Instance, eventually, running_instances

WAIT = 30.0
CHESS_TAG = PostActivityTag("Played a tournament", "")


async def _admin(instance: Instance, username: str) -> object:
    account = await instance.member(username)
    await instance.app[appkeys.STORE].set_role(account.id, Role.ADMIN)
    return await instance.app[appkeys.ACCOUNTS].get_by_username(username)


async def test_an_approved_peer_shows_its_holders_and_announced_posts_on_the_badge_page(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["a", "b"], backend=backend, mongo_url=mongo_url
    ) as instances:
        a, b = instances["a"], instances["b"]
        a_badges, a_posts = a.app[appkeys.BADGES], a.app[appkeys.POSTS]
        alice, carol = await a.member("alice"), await a.member("carol")
        await a_badges.add_badges(alice, ["chess"])
        await a_badges.add_badges(carol, ["chess"])
        for holder in (alice, carol):  # badge announces are opt-in
            await a.app[appkeys.BADGE_ACTORS].set_announces_enabled(holder, True)
        admin = await _admin(b, "boss")
        bob = await b.member("bob")
        b_store, b_directory = b.app[appkeys.STORE], b.app[appkeys.BADGE_DIRECTORY]
        a_chess = a.app[appkeys.BADGE_ACTORS].actor_uri(await a_badges.get_badge("chess", None))
        b_chess = b.app[appkeys.BADGE_ACTORS].actor_uri(
            await b.app[appkeys.BADGES].get_badge("chess", None)
        )

        # A post from before B follows: B never sees it (nothing announced it to B).
        early = await a_posts.create(
            alice, "Opening prep", Visibility.PUBLIC, activity_tags=[CHESS_TAG]
        )

        await b_directory.save_peer(admin, a.domain, approved=True)  # type: ignore[arg-type]

        async def a_chess_known() -> list[object]:
            return [
                found
                for found in await b_store.peer_badges_named("chess")
                if found.host == a.domain
            ]

        [found] = await eventually(a_chess_known, timeout=WAIT)
        assert found.holder_count == 2 and found.actor_uri == a_chess  # type: ignore[attr-defined]

        async def b_follows_a_chess() -> bool:
            follow = await b_store.get_follow(b_chess, a_chess)
            return follow is not None and follow.state is FollowState.ACCEPTED

        await eventually(b_follows_a_chess, timeout=WAIT)

        public = await a_posts.create(
            alice, "Won the club championship", Visibility.PUBLIC, activity_tags=[CHESS_TAG]
        )
        private = await a_posts.create(
            alice, "Secret preparation", Visibility.FOLLOWERS, activity_tags=[CHESS_TAG]
        )

        async def on_b_chess_page() -> list[str]:
            page = await b.app[appkeys.POSTS].badge_timeline("chess", None)
            return [post.uri for post in page.posts]

        assert await eventually(on_b_chess_page, timeout=WAIT) == [public.uri]

        page = await b.client.get("/badges/chess")
        assert page.status == 200
        html = await page.text()
        assert f'Also on <a href="{a.base_url}/badges/chess"' in html
        assert "(2 holders)" in html
        assert "Won the club championship" in html
        assert "Secret preparation" not in html and "Opening prep" not in html
        also_on = await (await b.client.get("/api/v1/badges/chess/also-on")).json()
        assert also_on["items"] == [
            {
                "host": a.domain,
                "name": "Chess",
                "holders": 2,
                "url": f"{a.base_url}/badges/chess",
                "approved": True,
            }
        ]

        # Only on the badge page: no member's home timeline, never announced on by B.
        assert await b.home(bob) == []
        assert await b.home(admin) == []  # type: ignore[arg-type]
        assert (
            await b_store.count_badge_announces(
                (await b.app[appkeys.BADGES].get_badge("chess", None)).id
            )
            == 0
        )
        assert (
            private.uri not in await on_b_chess_page() and early.uri not in await on_b_chess_page()
        )

        # A deletes the post: it leaves B's badge page.
        await a_posts.delete(alice, public.id)

        async def gone_from_b() -> bool:
            return await on_b_chess_page() == []

        await eventually(gone_from_b, timeout=WAIT)

        # B drops A as a peer: B's badge unfollows A's (A sees its follower go).
        assert await a.app[appkeys.STORE].count_followers(a_chess) == 1
        await b_directory.remove_peer(admin, a.domain)  # type: ignore[arg-type]
        assert await b_store.get_follow(b_chess, a_chess) is None
        assert await b_directory.also_on(await b.app[appkeys.BADGES].get_badge("chess", None)) == []

        async def unfollowed_on_a() -> bool:
            return await a.app[appkeys.STORE].count_followers(a_chess) == 0

        await eventually(unfollowed_on_a, timeout=WAIT)


async def test_a_listed_but_unapproved_peer_shows_holders_but_is_not_followed(
    tmp_path: Path,
) -> None:
    async with running_instances(tmp_path, ["a", "b"]) as instances:
        a, b = instances["a"], instances["b"]
        alice = await a.member("alice")
        await a.app[appkeys.BADGES].add_badges(alice, ["chess"])
        admin = await _admin(b, "boss")
        b_store = b.app[appkeys.STORE]
        await b.app[appkeys.BADGE_DIRECTORY].save_peer(admin, a.domain, approved=False)  # type: ignore[arg-type]

        async def read() -> bool:
            peer = await b_store.get_badge_peer(a.domain)
            return peer is not None and peer.fetched_at is not None

        await eventually(read, timeout=WAIT)
        html = await (await b.client.get("/badges/chess")).text()
        assert "(1 holder)" in html
        b_chess = b.app[appkeys.BADGE_ACTORS].actor_uri(
            await b.app[appkeys.BADGES].get_badge("chess", None)
        )
        assert await b_store.count_following(b_chess) == 0
