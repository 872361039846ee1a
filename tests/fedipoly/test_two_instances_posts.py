"""Activity posts between two Fedipoly instances over real signed HTTP: activity tags and badge
Hashtags in Create{Note}, the extension read back by the receiver, edits, and a reply from the
other instance threading under the post."""

from __future__ import annotations

import json
from pathlib import Path

from fedipoly import appkeys
from fedipoly.models import DeliveryState, FollowState, Post, PostActivityTag, Visibility
from tests.instances import eventually, running_instances


async def test_a_tagged_post_federates_and_a_reply_from_the_other_instance_threads_under_it(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["alpha", "beta"], backend=backend, mongo_url=mongo_url
    ) as instances:
        alpha, beta = instances["alpha"], instances["beta"]
        alice, bob = await alpha.member("alice"), await beta.member("bob")
        alpha_store, beta_store = alpha.app[appkeys.STORE], beta.app[appkeys.STORE]
        alpha_posts, beta_posts = alpha.app[appkeys.POSTS], beta.app[appkeys.POSTS]
        urls = alpha.app[appkeys.URLS]

        await beta.app[appkeys.FOLLOWS].follow(bob, alpha.handle("alice"))

        async def accepted() -> bool:
            found = await beta_store.get_follow(beta.actor("bob"), alpha.actor("alice"))
            return found is not None and found.state is FollowState.ACCEPTED

        await eventually(accepted)

        post = await alpha_posts.create(
            alice,
            "Big day #release",
            Visibility.PUBLIC,
            activity_tags=[
                PostActivityTag("Wrote some code", ""),
                PostActivityTag("Fixed a flaky test", "python"),
            ],
        )
        # What went out: a Hashtag per badge (linking the badge page) and per activity tag.
        outbound = await alpha_store.get_outbound(urls.note_activity("alice", post.id))
        assert outbound is not None
        note = json.loads(outbound.raw)["object"]
        hashtags = {tag["name"]: tag["href"] for tag in note["tag"] if tag["type"] == "Hashtag"}
        assert hashtags == {
            "#Programming": urls.badge_page("programming"),
            "#Python": urls.badge_page("python"),
            "#WroteSomeCode": f"{alpha.base_url}/tags/wrotesomecode",
            "#FixedAFlakyTest": f"{alpha.base_url}/tags/fixedaflakytest",
            "#release": f"{alpha.base_url}/tags/release",
        }
        assert 'class="mention hashtag" rel="tag"' in note["content"]

        # beta stores it with its activity tags, badges and hashtags.
        async def received() -> Post | None:
            return await beta_store.get_post_by_uri(post.uri)

        stored = await eventually(received)
        assert stored.activity_tags == (
            PostActivityTag("Wrote some code", "programming"),
            PostActivityTag("Fixed a flaky test", "python"),
        )
        assert stored.badges == ("programming", "python")
        assert {f"#{name}" for name in stored.hashtags} == set(hashtags)

        async def on_bobs_home() -> bool:  # fanned out just after it is stored
            return stored.id in [p.id for p in await beta.home(bob)]

        await eventually(on_bobs_home)

        # An edit of the tags arrives as Update.
        await alpha_posts.update(
            alice, post.id, "Big day, edited", activity_tags=[PostActivityTag("Gave a talk", "")]
        )

        async def edited() -> bool:
            found = await beta_store.get_post_by_uri(post.uri)
            return found is not None and found.badges == ("public_speaking",)

        await eventually(edited)

        # bob replies from beta: it is delivered to alice and threads under her post.
        reply = await beta_posts.reply(bob, stored.id, "Congratulations!", Visibility.PUBLIC)
        assert reply.in_reply_to == post.uri and alpha.actor("alice") in reply.mentions

        async def threaded() -> list[tuple[str, int, str]]:
            return [
                (item.post.uri, item.depth, item.parent)
                for item in await alpha_posts.thread(post, None)
            ]

        assert await eventually(threaded) == [(reply.uri, 1, post.uri)]
        kept = await alpha_store.get_post_by_uri(reply.uri)
        assert kept is not None and kept.reply_root == post.uri
        assert "Congratulations!" in kept.content_html

        async def on_alices_home() -> bool:  # she was mentioned
            return reply.uri in [p.uri for p in await alpha.home(alice)]

        await eventually(on_alices_home)

        for instance in (alpha, beta):
            store = instance.app[appkeys.STORE]
            assert await store.count_deliveries(DeliveryState.GAVE_UP) == 0
