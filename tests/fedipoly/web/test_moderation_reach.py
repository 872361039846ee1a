"""A suspension reaches everything others read: a suspended member's posts leave the local and
federated timelines, badge pages, followers' home timelines, threads, post pages and their
ActivityPub documents, and all come back when the suspension is lifted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import PostActivityTag, Role, Visibility
from tests.fedipoly.web.profile_badges_support import make_person, open_app
from tests.fedipoly.web.social_support import Member, api, browse

AP = {"Accept": "application/activity+json"}


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


async def what_others_read(
    client: TestClient, reader: Member, alice_post: str, bob_post: str
) -> dict[str, object]:
    """Where alice's post shows, as bob (who follows her) and anonymous visitors see it."""
    seen: dict[str, object] = {}
    for name, path in (
        ("local", "/api/v1/timelines/local"),
        ("federated", "/api/v1/timelines/federated"),
        ("badge", "/api/v1/badges/chess/posts"),
        ("home", "/api/v1/timelines/home"),
    ):
        status, page = await api(client, "GET", path, reader)
        assert status == 200, name
        seen[name] = alice_post in {item["id"] for item in page["items"]}
    status, thread = await api(client, "GET", f"/api/v1/posts/{bob_post}/thread", reader)
    seen["thread"] = alice_post in {reply["post"]["id"] for reply in thread["replies"]}
    status, page = await browse(client, "/badges/chess")
    seen["badge page"] = "a chess reply" in page
    seen["post"] = (await api(client, "GET", f"/api/v1/posts/{alice_post}"))[0]
    seen["post page"] = (await browse(client, f"/@alice/{alice_post}"))[0]
    note = await client.get(f"/users/alice/statuses/{alice_post}", headers=AP)
    seen["note"] = note.status
    activity = await client.get(f"/users/alice/statuses/{alice_post}/activity", headers=AP)
    seen["activity"] = activity.status
    outbox = await client.get("/users/alice/outbox?page=true", headers=AP)
    seen["outbox"] = outbox.status == 200 and alice_post in await outbox.text()
    return seen


async def test_a_suspended_members_posts_vanish_for_everyone_else_until_lifted(
    client: TestClient,
) -> None:
    app = client.server.app
    mod = await make_person(app, "mod", Role.MODERATOR)
    alice, bob = await make_person(app, "alice"), await make_person(app, "bob")
    posts, badges = app[appkeys.POSTS], app[appkeys.BADGES]
    await badges.add_badges(alice.account, ["chess"])
    status, _ = await api(client, "POST", "/api/v1/follows", bob, {"handle": "alice"})
    assert status == 201
    started = await posts.create(bob.account, "who plays?", Visibility.PUBLIC)
    reply = await posts.reply(
        alice.account,
        started.id,
        "a chess reply",
        Visibility.PUBLIC,
        activity_tags=[PostActivityTag("Played a tournament", "chess")],
    )
    visible = {
        "local": True,
        "federated": True,
        "badge": True,
        "home": True,
        "thread": True,
        "badge page": True,
        "post": 200,
        "post page": 200,
        "note": 200,
        "activity": 200,
        "outbox": True,
    }
    assert await what_others_read(client, bob, reply.id, started.id) == visible

    status, _ = await api(client, "POST", "/api/v1/moderation/accounts/alice/suspend", mod, {})
    assert status == 200
    hidden = await what_others_read(client, bob, reply.id, started.id)
    assert hidden == {
        name: (False if isinstance(value, bool) else 404) for name, value in visible.items()
    }

    status, _ = await api(client, "POST", "/api/v1/moderation/accounts/alice/unsuspend", mod, {})
    assert status == 200
    assert await what_others_read(client, bob, reply.id, started.id) == visible


async def test_bad_moderation_requests_change_nothing_and_say_why(client: TestClient) -> None:
    app = client.server.app
    mod = await make_person(app, "mod", Role.MODERATOR)
    admin = await make_person(app, "ada", Role.ADMIN)
    alice = await make_person(app, "alice")
    badges = app[appkeys.BADGES]
    for slug in ("pyhton", "snek"):
        await badges.create_badge(
            alice.account, slug=slug, display_name=slug.title(), color="#123456", icon="🐍"
        )
    await badges.approve(mod.account, "pyhton")  # "snek" stays pending
    status, merge = await api(
        client, "POST", "/api/v1/moderation/badges/pyhton/merge", mod, {"into": "python"}
    )
    assert status == 201, merge
    revert = f"/api/v1/moderation/badge_merges/{merge['id']}/revert"
    assert (await api(client, "POST", revert, mod, {}))[0] == 200
    status, _ = await api(
        client, "POST", "/api/v1/moderation/badges/pyhton/merge", mod, {"into": "python"}
    )
    assert status == 201  # merged again, so "pyhton" is a merged badge below
    audited = (await api(client, "GET", "/api/v1/moderation/audit", mod))[1]["entries"]

    long_reason = {"reason": "x" * 501}
    refused = [
        (mod, "GET", "/api/v1/moderation/reports/nope", None, 404),
        (mod, "POST", "/api/v1/moderation/reports/nope/resolve", {"action": "resolve"}, 404),
        (mod, "POST", "/api/v1/moderation/accounts/nobody/suspend", {}, 404),
        (mod, "POST", "/api/v1/moderation/accounts/alice/suspend", long_reason, 400),
        (mod, "POST", "/api/v1/moderation/accounts/mod/suspend", {}, 400),
        (
            mod,
            "POST",
            "/api/v1/moderation/remote_accounts/lift",
            {"actor": "https://x.example/u"},
            404,
        ),
        (
            mod,
            "POST",
            "/api/v1/moderation/remote_accounts",
            {"actor": "a@nowhere.example", "level": "silenced"},
            404,
        ),
        (
            mod,
            "POST",
            "/api/v1/moderation/remote_accounts",
            {"actor": "a@b.example", "level": "loud"},
            400,
        ),
        (admin, "DELETE", "/api/v1/moderation/domain_blocks/never.example", None, 404),
        (
            admin,
            "POST",
            "/api/v1/moderation/domain_blocks",
            {"domain": "x.example"} | long_reason,
            400,
        ),
        (mod, "POST", "/api/v1/moderation/badges/nope/rename", {"display_name": "N"}, 404),
        (mod, "POST", "/api/v1/moderation/badges/chess/rename", {"display_name": ""}, 400),
        (mod, "POST", "/api/v1/moderation/badges/chess/merge", {"into": "chess"}, 400),
        (mod, "POST", "/api/v1/moderation/badges/chess/merge", {"into": "nope"}, 404),
        (mod, "POST", "/api/v1/moderation/badges/chess/merge", {"into": "snek"}, 400),
        (mod, "POST", "/api/v1/moderation/badges/chess/merge", {"into": "pyhton"}, 400),
        (mod, "POST", "/api/v1/moderation/badges/pyhton/merge", {"into": "python"}, 409),
        (
            mod,
            "POST",
            "/api/v1/moderation/badges/chess/merge",
            {"into": "python"} | long_reason,
            400,
        ),
        (mod, "POST", revert, {}, 409),
        (mod, "POST", "/api/v1/moderation/badge_merges/nope/revert", {}, 404),
        (mod, "POST", "/api/v1/moderation/badges/chess/stewards", {"username": "nobody"}, 404),
        (mod, "DELETE", "/api/v1/moderation/badges/chess/stewards/alice", None, 404),
        (
            alice,
            "POST",
            "/api/v1/reports",
            {"kind": "badge", "target": "chess", "comment": "x" * 1001},
            400,
        ),
        (
            alice,
            "POST",
            "/api/v1/reports",
            {"kind": "badge", "target": "chess", "comment": "looks \u202efine"},
            400,
        ),
        (alice, "POST", "/api/v1/reports", {"kind": "post", "target": "nope"}, 404),
    ]
    for who, method, path, body, expected in refused:
        status, answer = await api(client, method, path, who, body)
        assert status == expected, (method, path, status, answer)
        assert isinstance(answer, dict) and answer.get("error"), (path, answer)
    assert (await api(client, "GET", "/api/v1/moderation/audit", mod))[1]["entries"] == audited
    status, reports = await api(client, "GET", "/api/v1/moderation/reports", mod)
    assert status == 200 and reports["reports"] == []
