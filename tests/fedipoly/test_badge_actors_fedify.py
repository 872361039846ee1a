"""A badge is a followable fediverse actor: an independent Fedify server follows `badge.chess`
by handle and receives the badge's Announces of public posts tagged with it, signed by the
badge actor's own key, and their Undo when the post is edited or deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fedipoly import appkeys
from fedipoly.models import PostActivityTag, Visibility
from tests.instances import running_instances
from tests.peers.fedify_peer import FedifyPeer

WAIT = 30.0
CHESS_TAG = PostActivityTag("Played a tournament", "")  # a catalogue phrase of the chess badge


def _hostport(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def _by(actor: str, kind: str, object_id: str | None = None) -> Any:
    return lambda a: (
        a["type"] == kind
        and a["actor"] == actor
        and (object_id is None or a["object_id"] == object_id)
    )


async def test_fedify_follows_a_badge_by_handle_and_gets_only_public_tagged_posts(
    tmp_path: Path,
) -> None:
    async with (
        FedifyPeer(name="fedi") as peer,
        running_instances(
            tmp_path, ["alpha"], extra_allowed=[_hostport(peer.base_url)]
        ) as instances,
    ):
        alpha = instances["alpha"]
        posts, badges = alpha.app[appkeys.POSTS], alpha.app[appkeys.BADGES]
        badge_actors = alpha.app[appkeys.BADGE_ACTORS]
        alice, bob = await alpha.member("alice"), await alpha.member("bob")
        await badges.add_badges(alice, ["chess"])
        await badges.add_badges(bob, ["chess"])
        await badge_actors.set_announces_enabled(alice, True)  # alice opts in; bob never did
        chess = await badges.get_badge("chess", None)
        chess_actor = badge_actors.actor_uri(chess)

        # --- Fedify follows @badge.chess@alpha: WebFinger, a Group actor, Accept ----------
        followed = await peer.follow(handle=f"badge.chess@{alpha.domain}", scheme="http")
        assert followed["webfinger"]["subject"] == f"acct:badge.chess@{alpha.domain}"
        assert followed["actor_id"] == chess_actor
        assert followed["actor"]["type"] == "Group"
        assert followed["actor"]["preferredUsername"] == "badge.chess"
        accept = await peer.wait_for(_by(chess_actor, "Accept"), timeout=WAIT)
        assert accept["object_id"] == followed["id"]
        assert await badge_actors.follower_total(chess) == 1

        # --- followers-only first, then public: only the public one is announced ----------
        private = await posts.create(
            alice, "A quiet game", Visibility.FOLLOWERS, activity_tags=[CHESS_TAG]
        )
        untagged = await posts.create(alice, "No badge on this one", Visibility.PUBLIC)
        opted_out = await posts.create(
            bob, "Bob's game", Visibility.PUBLIC, activity_tags=[CHESS_TAG]
        )
        public = await posts.create(
            alice, "Won my first tournament", Visibility.PUBLIC, activity_tags=[CHESS_TAG]
        )
        announce = await peer.wait_for(_by(chess_actor, "Announce", public.uri), timeout=WAIT)
        signature = announce["signature"]
        assert signature["verified"] is True
        assert signature["key_owner"] == chess_actor  # the badge's own key, not the instance's
        assert announce["raw"]["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
        assert alpha.actor("alice") in announce["raw"]["cc"]

        # --- an edit that drops the badge withdraws the announce --------------------------
        second = await posts.create(
            alice, "Blitz evening", Visibility.PUBLIC, activity_tags=[CHESS_TAG]
        )
        second_announce = await peer.wait_for(
            _by(chess_actor, "Announce", second.uri), timeout=WAIT
        )
        await posts.update(
            alice, second.id, "Blitz evening (not chess after all)", activity_tags=[]
        )
        undo_edit = await peer.wait_for(
            lambda a: (
                _by(chess_actor, "Undo")(a) and a["raw"]["object"]["id"] == second_announce["id"]
            ),
            timeout=WAIT,
        )
        assert undo_edit["raw"]["object"]["object"] == second.uri

        # --- deleting the post withdraws its announce -------------------------------------
        await posts.delete(alice, public.id)
        undo = await peer.wait_for(
            lambda a: _by(chess_actor, "Undo")(a) and a["raw"]["object"]["id"] == announce["id"],
            timeout=WAIT,
        )
        assert undo["raw"]["object"]["type"] == "Announce"
        assert undo["signature"]["key_owner"] == chess_actor

        announced = {a["object_id"] for a in await peer.received() if a["type"] == "Announce"}
        assert announced == {public.uri, second.uri}
        for never in (private, untagged, opted_out):
            assert never.uri not in announced
        assert await peer.rejected() == []


async def test_removing_the_badge_withdraws_its_announces(tmp_path: Path) -> None:
    async with (
        FedifyPeer(name="fedi") as peer,
        running_instances(
            tmp_path, ["alpha"], extra_allowed=[_hostport(peer.base_url)]
        ) as instances,
    ):
        alpha = instances["alpha"]
        posts, badges = alpha.app[appkeys.POSTS], alpha.app[appkeys.BADGES]
        badge_actors = alpha.app[appkeys.BADGE_ACTORS]
        alice = await alpha.member("alice")
        await badges.add_badges(alice, ["chess"])
        await badge_actors.set_announces_enabled(alice, True)
        chess_actor = badge_actors.actor_uri(await badges.get_badge("chess", None))
        await peer.follow(handle=f"badge.chess@{alpha.domain}", scheme="http")
        await peer.wait_for(_by(chess_actor, "Accept"), timeout=WAIT)

        post = await posts.create(
            alice, "Endgame study", Visibility.PUBLIC, activity_tags=[CHESS_TAG]
        )
        announce = await peer.wait_for(_by(chess_actor, "Announce", post.uri), timeout=WAIT)
        await badges.remove_badges(alice, ["chess"])
        await peer.wait_for(
            lambda a: _by(chess_actor, "Undo")(a) and a["raw"]["object"]["id"] == announce["id"],
            timeout=WAIT,
        )
