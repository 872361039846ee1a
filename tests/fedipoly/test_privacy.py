"""Privacy: followers-only and direct posts reach exactly their audience, nowhere else.

Two real instances on loopback. On *home*: alice writes; bob follows her; carol is mentioned in
a direct post; dave follows nobody; mod is a moderator (moderators get no special view of
private posts). On *remote*: rita follows alice; rex follows nobody but is mentioned in a direct
post. alice posts a public post, a followers-only one (under a badge, with a hashtag), a direct
one to carol and a direct one to rex; bob answers the public post followers-only.

Every GET route of both instances (read from their routers: pages, API, ActivityPub actors,
outboxes, follower collections, notes and their activities; each username with each post id)
is fetched by every viewer, as a browser and as a fediverse server asks, home's also with GETs
signed by the remote instance: each answer holds exactly the marker texts its viewer may read,
no trace (id or URI) of another post, and a post one may not see answers as one that does not
exist. The five timelines are checked through the service as well, and the deliveries: the
followers-only post went only to the follower's (shared) inbox, the direct ones only to the
mentioned remote actor's inbox, or nowhere.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fedipoly import appkeys
from fedipoly.models import (
    Account,
    DeliveryState,
    FollowState,
    InboxState,
    Post,
    PostActivityTag,
    Role,
    TimelinePage,
    Visibility,
)
from fedipoly.services.post_parts import NewAttachment
from tests.fedipoly.collab_support import start_conversation
from tests.fedipoly.surfaces import (
    ANONYMOUS,
    Fetched,
    Viewer,
    assert_no_server_errors,
    browser_accepts,
    expand,
    fetch_requests,
    member_viewer,
    requests_for,
    server_accepts,
)
from tests.fedipoly.web.profile_badges_support import make_person
from tests.fedipoly.web.social_support import Member
from tests.instances import Instance, eventually, running_instances

# The text of each post: a word no other post contains, even in part.
PUBLIC, FOLLOWERS, DIRECT, DIRECT_REMOTE, REPLY = (
    "zq1public",
    "zq2followers",
    "zq3direct",
    "zq4remotedirect",
    "zq5reply",
)
ALL = frozenset({PUBLIC, FOLLOWERS, DIRECT, DIRECT_REMOTE, REPLY})
# Who may read what, on each instance ("signed" is home read with GETs signed by remote).
HOME_AUDIENCE = {
    "anonymous": {PUBLIC},
    "alice": set(ALL),
    "bob": {PUBLIC, FOLLOWERS, REPLY},
    "carol": {PUBLIC, DIRECT},
    "dave": {PUBLIC},
    "mod": {PUBLIC},
    "remote-instance": {PUBLIC},
}
REMOTE_AUDIENCE = {
    "anonymous": {PUBLIC},
    "rita": {PUBLIC, FOLLOWERS},
    "rex": {PUBLIC, DIRECT_REMOTE},
}
NO_SUCH_POST = "01a0000000000000000000000000"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


async def settle(*instances: Instance) -> None:
    async def idle() -> bool:
        for inst in instances:
            store = inst.app[appkeys.STORE]
            if await store.count_inbox(InboxState.PENDING) or await store.count_deliveries(
                DeliveryState.PENDING
            ):
                return False
        return True

    await eventually(idle, timeout=30)


@dataclass
class Scene:
    home: Instance
    remote: Instance
    people: dict[str, Member]  # alice bob carol dave mod (home), rita rex (remote)
    posts: dict[str, Post]  # marker -> home's post
    copies: dict[str, Post]  # marker -> remote's stored copy


async def set_scene(home: Instance, remote: Instance) -> Scene:
    people = {
        name: await make_person(home.app, name, Role.MODERATOR if name == "mod" else Role.MEMBER)
        for name in ("alice", "bob", "carol", "dave", "mod")
    }
    people |= {name: await make_person(remote.app, name) for name in ("rita", "rex")}
    alice = people["alice"].account
    await home.app[appkeys.FOLLOWS].follow(people["bob"].account, "alice")
    await remote.app[appkeys.FOLLOWS].follow(people["rita"].account, home.handle("alice"))
    remote_store = remote.app[appkeys.STORE]

    async def accepted() -> bool:
        found = await remote_store.get_follow(remote.actor("rita"), home.actor("alice"))
        return found is not None and found.state is FollowState.ACCEPTED

    await eventually(accepted)
    posts_service, media = home.app[appkeys.POSTS], home.app[appkeys.MEDIA_LIBRARY]
    tag = [PostActivityTag("Wrote some code", "")]
    images = {marker: await media.upload(alice, png()) for marker in (FOLLOWERS, DIRECT)}
    posts = {
        PUBLIC: await posts_service.create(
            alice, f"{PUBLIC} #zqtag", Visibility.PUBLIC, activity_tags=tag
        ),
        FOLLOWERS: await posts_service.create(
            alice,
            f"{FOLLOWERS} #zqtag",
            Visibility.FOLLOWERS,
            activity_tags=tag,
            attachments=[NewAttachment(images[FOLLOWERS].id, "zqalt")],
        ),
        DIRECT: await posts_service.create(
            alice,
            f"@carol {DIRECT}",
            Visibility.DIRECT,
            attachments=[NewAttachment(images[DIRECT].id, "zqalt")],
        ),
        DIRECT_REMOTE: await posts_service.create(
            alice, f"@rex@{remote.domain} {DIRECT_REMOTE}", Visibility.DIRECT
        ),
    }
    posts[REPLY] = await posts_service.reply(
        people["bob"].account, posts[PUBLIC].id, REPLY, Visibility.FOLLOWERS
    )
    await settle(home, remote)

    async def copies() -> dict[str, Post] | None:
        found = {}
        for marker in (PUBLIC, FOLLOWERS, DIRECT_REMOTE):
            copy = await remote_store.get_post_by_uri(posts[marker].uri)
            if copy is None:
                return None
            found[marker] = copy
        return found

    remote_copies = await eventually(copies)
    assert remote_copies is not None
    for marker in (DIRECT, REPLY):  # never sent to remote
        assert await remote_store.get_post_by_uri(posts[marker].uri) is None, marker
    return Scene(home, remote, people, posts, remote_copies)


# --- checking responses ------------------------------------------------------------------------


def leaks(
    fetched: Sequence[Fetched],
    audience: Mapping[str, set[str]],
    traces: Mapping[str, Sequence[str]],
) -> list[str]:
    """Markers (and ids or URIs of their posts) in an answer to someone outside the audience.
    An id in the request's own path may be echoed (e.g. a sign-in link back to the page)."""
    found = []
    for item in fetched:
        allowed = audience[item.viewer]
        for marker in ALL - allowed:
            if marker in item.body:
                found.append(f"{marker} in {item.label}")
            for trace in traces.get(marker, ()):
                if trace not in item.path and (
                    trace in item.body or trace in item.headers.get("Location", "")
                ):
                    found.append(f"{marker}'s {trace} in {item.label}")
    return found


def hidden_like_missing(
    fetched: Sequence[Fetched], audience: Mapping[str, set[str]], ids: Mapping[str, str]
) -> list[str]:
    """A post the viewer may not see answers exactly as a post that does not exist."""
    by_request = {(item.viewer, item.path, item.accept): item for item in fetched}
    problems = []
    for item in fetched:
        for marker, post_id in ids.items():
            if marker in audience[item.viewer] or f"/{post_id}" not in item.path:
                continue
            twin = by_request.get(
                (item.viewer, item.path.replace(post_id, NO_SUCH_POST), item.accept)
            )
            assert twin is not None, f"no request for a missing post like {item.path}"
            if (item.status, item.content_type) != (twin.status, twin.content_type):
                problems.append(f"{item.label}, but {twin.status} for a post that does not exist")
    return problems


def unseen_by_audience(
    fetched: Sequence[Fetched], audience: Mapping[str, set[str]], ids: Mapping[str, str]
) -> list[str]:
    """Those in the audience do get to read the post (the API's single post, at least)."""
    return [
        f"{item.label}: {marker} not shown to its audience"
        for item in fetched
        for marker, post_id in ids.items()
        if item.path == f"/api/v1/posts/{post_id}"
        and marker in audience[item.viewer]
        and (item.status != 200 or marker not in item.body)
    ]


def markers(page: TimelinePage | list[Post]) -> set[str]:
    posts = page.posts if isinstance(page, TimelinePage) else page
    return {marker for post in posts for marker in ALL if marker in post.content_html}


async def check_timelines(scene: Scene) -> None:
    home, remote = scene.home, scene.remote
    posts = home.app[appkeys.POSTS]
    accounts: dict[str, Account | None] = {
        name: member.account for name, member in scene.people.items() if name not in ("rita", "rex")
    }
    accounts["anonymous"] = None
    alice = scene.people["alice"].account
    expected_home = {
        "alice": set(ALL),
        "bob": {PUBLIC, FOLLOWERS, REPLY},
        "carol": {DIRECT},
        "dave": set(),
        "mod": set(),
    }
    for name, reader in accounts.items():
        allowed = HOME_AUDIENCE[name]
        if reader is not None:
            assert markers(await posts.home_timeline(reader, before=None)) == expected_home[name]
        profile = markers(await posts.profile_timeline(alice, reader))
        assert (
            PUBLIC in profile and profile <= allowed and (DIRECT not in profile or name == "alice")
        )
        assert markers(await posts.badge_timeline("programming", reader)) == {PUBLIC}, name
        if reader is not None:
            for marker, post in scene.posts.items():
                visible = await posts.may_see(reader, post)
                assert visible == (marker in allowed), (name, marker)
    assert markers(await posts.local_timeline()) == {PUBLIC}
    assert markers(await posts.federated_timeline()) == {PUBLIC}
    remote_posts = remote.app[appkeys.POSTS]
    assert markers(await remote_posts.federated_timeline()) == {PUBLIC}
    assert markers(await remote_posts.local_timeline()) == set()
    rita, rex = scene.people["rita"].account, scene.people["rex"].account
    assert markers(await remote_posts.home_timeline(rita, before=None)) == {PUBLIC, FOLLOWERS}
    assert markers(await remote_posts.home_timeline(rex, before=None)) == {DIRECT_REMOTE}
    for badge in ("programming", "open_source"):
        assert markers(await remote_posts.badge_timeline(badge, None)) <= {PUBLIC}


async def check_deliveries(scene: Scene) -> None:
    home, remote = scene.home, scene.remote
    store, urls = home.app[appkeys.STORE], home.app[appkeys.URLS]
    shared = f"{remote.base_url}/inbox"
    rex_inbox = f"{remote.actor('rex')}/inbox"

    async def inboxes(marker: str) -> list[str]:
        post = scene.posts[marker]
        username = "bob" if marker == REPLY else "alice"
        deliveries = await store.list_deliveries(urls.note_activity(username, post.id))
        assert all(item.state is DeliveryState.DELIVERED for item in deliveries), deliveries
        return sorted(item.inbox_url for item in deliveries)

    assert await inboxes(PUBLIC) == [shared]
    assert await inboxes(FOLLOWERS) == [shared]  # rita's, and only hers: rex shares it
    assert await inboxes(DIRECT) == []  # carol is local
    assert await inboxes(DIRECT_REMOTE) == [rex_inbox]
    assert await inboxes(REPLY) == []  # bob has no remote followers; alice is local


# --- the test ---------------------------------------------------------------------------------


async def test_private_posts_reach_exactly_their_audience_everywhere(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with running_instances(
        tmp_path, ["home", "remote"], backend=backend, mongo_url=mongo_url
    ) as instances:
        home, remote = instances["home"], instances["remote"]
        scene = await set_scene(home, remote)
        await check_deliveries(scene)
        await check_timelines(scene)

        # home: every route, every viewer.
        keys = remote.app[appkeys.INSTANCE_KEYS]
        signed_viewer = Viewer(
            "remote-instance",
            key_id=remote.app[appkeys.URLS].instance_key_id,
            private_pem=keys.private_pem,
        )
        home_people = ("alice", "bob", "carol", "dave", "mod")
        viewers = [ANONYMOUS, signed_viewer, *(member_viewer(scene.people[n]) for n in home_people)]
        ids = {marker: post.id for marker, post in scene.posts.items()}
        # A direct conversation between bob and alice (bob asked, alice was interested).
        conversation_ids = await start_conversation(
            home.app,
            scene.people["bob"].account,
            scene.people["alice"].account,
            message="zqasked",
            reply="zqconversed",
        )
        media_ids = [
            item.media_id or "" for post in scene.posts.values() for item in post.attachments
        ]
        assert len(media_ids) == 2
        values = {
            "conversation_id": [*conversation_ids, NO_SUCH_POST],
            "report_id": [NO_SUCH_POST],
            "username": list(home_people),
            "post_id": [*ids.values(), NO_SUCH_POST],
            "slug": ["programming"],
            "badge_id": [
                (await home.app[appkeys.BADGES].get_badge("programming", None)).id,
                NO_SUCH_POST,
            ],
            "tag": ["zqtag", "wrotesomecode"],
            "media_id": media_ids,
        }
        paths = expand(home.app, values, cross=True)
        # As browsers and API clients; as fediverse servers: anonymous, signed by the remote
        # instance, and with dave's session (no ActivityPub route may read one).
        requests = requests_for(paths, viewers, browser_accepts)
        requests += requests_for(
            paths, [*viewers[:2], member_viewer(scene.people["dave"])], server_accepts
        )
        fetched = await fetch_requests(home.client, requests)
        assert_no_server_errors(fetched)
        traces = {
            marker: [post.id, post.uri, *(item.url for item in post.attachments)]
            for marker, post in scene.posts.items()
        }
        problems = leaks(fetched, HOME_AUDIENCE, traces)
        problems += [
            f"{item.viewer} sees the conversation at {item.path}"
            for item in fetched
            if ("zqconversed" in item.body or "zqasked" in item.body)
            and item.viewer not in ("alice", "bob")
        ]
        assert {item.viewer for item in fetched if "zqconversed" in item.body} == {"alice", "bob"}
        problems += hidden_like_missing(fetched, HOME_AUDIENCE, ids)
        problems += unseen_by_audience(fetched, HOME_AUDIENCE, ids)

        # remote: its stored copies, every route, its members and the public.
        copies = {marker: post.id for marker, post in scene.copies.items()}
        remote_values = {
            "conversation_id": [NO_SUCH_POST],
            "report_id": [NO_SUCH_POST],
            "username": ["rita", "rex"],
            "post_id": [*copies.values(), NO_SUCH_POST],
            "slug": ["programming"],
            "badge_id": [(await remote.app[appkeys.BADGES].get_badge("programming", None)).id],
            "tag": ["zqtag", "wrotesomecode"],
            "media_id": media_ids,
        }
        remote_viewers = [
            ANONYMOUS,
            member_viewer(scene.people["rita"]),
            member_viewer(scene.people["rex"]),
        ]
        remote_paths = expand(remote.app, remote_values, cross=True)
        requests = requests_for(remote_paths, remote_viewers, browser_accepts)
        requests += requests_for(remote_paths, remote_viewers[:2], server_accepts)
        remote_fetched = await fetch_requests(remote.client, requests)
        assert_no_server_errors(remote_fetched)
        remote_traces = {
            marker: [post.id, *(item.url for item in post.attachments)]
            for marker, post in scene.copies.items()
        }
        remote_traces[DIRECT] = [scene.posts[DIRECT].uri]
        remote_traces[REPLY] = [scene.posts[REPLY].uri]
        problems += leaks(remote_fetched, REMOTE_AUDIENCE, remote_traces)
        problems += hidden_like_missing(remote_fetched, REMOTE_AUDIENCE, copies)
        problems += unseen_by_audience(remote_fetched, REMOTE_AUDIENCE, copies)
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
        # The public post is everywhere it should be: sanity that the surfaces were rendered,
        # collections' pages included.
        assert any(PUBLIC in item.body for item in fetched if item.viewer == "anonymous")
        outbox_pages = [item for item in fetched if item.path.startswith("/users/alice/outbox?")]
        assert outbox_pages and all(PUBLIC in item.body for item in outbox_pages)
        assert any(PUBLIC in item.body for item in remote_fetched if item.viewer == "anonymous")
