"""Badge moderation over HTTP: merging `pyhton` into `python` (holders, posts, redirects of the
old HTML and API URLs) and reverting it; rejecting with a reason the creator reads; renaming;
stewards who may moderate their badge and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.profile_badges_support import make_person, open_app
from tests.fedipoly.web.social_support import Member, api, browse, submit


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


@pytest.fixture
async def mod(app: web.Application) -> Member:
    return await make_person(app, "mod", Role.MODERATOR)


@pytest.fixture
async def alice(app: web.Application) -> Member:
    return await make_person(app, "alice")


async def ok(client: TestClient, method: str, path: str, who: Member, body: Any = None) -> Any:
    status, answer = await api(client, method, path, who, body)
    assert status in (200, 201, 204), (path, status, answer)
    return answer


async def held(client: TestClient, who: Member) -> list[str]:
    answer = await ok(client, "GET", "/api/v1/profile/badges", who)
    return [item["slug"] for item in answer["items"]]


async def badge_post_ids(client: TestClient, slug: str, who: Member) -> list[str]:
    answer = await ok(client, "GET", f"/api/v1/badges/{slug}/posts", who)
    return [item["id"] for item in answer["items"]]


async def holder_names(client: TestClient, slug: str, who: Member) -> list[str]:
    answer = await ok(client, "GET", f"/api/v1/badges/{slug}/holders", who)
    return [item["username"] for item in answer["items"]]


async def test_merging_pyhton_into_python_moves_holders_and_posts_and_redirects_until_reverted(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    bob = await make_person(app, "bob")
    await ok(
        client,
        "POST",
        "/api/v1/badges",
        alice,
        {"slug": "pyhton", "display_name": "Pyhton", "color": "#112233", "icon": "🐍"},
    )
    await ok(client, "POST", "/api/v1/moderation/badges/pyhton/approve", mod)
    await ok(client, "POST", "/api/v1/profile/badges", alice, {"add": ["chess"]})
    await ok(client, "PUT", "/api/v1/profile/badges/order", alice, {"slugs": ["chess", "pyhton"]})
    await ok(client, "POST", "/api/v1/profile/badges", bob, {"add": ["python", "pyhton"]})
    tagged = await ok(
        client,
        "POST",
        "/api/v1/posts",
        alice,
        {"text": "Wrote a parser", "activity_tags": [{"phrase": "Hacked", "badge": "pyhton"}]},
    )
    both = await ok(
        client,
        "POST",
        "/api/v1/posts",
        bob,
        {
            "text": "Both",
            "activity_tags": [
                {"phrase": "Hacked", "badge": "pyhton"},
                {"phrase": "Shipped", "badge": "python"},
            ],
        },
    )
    assert await badge_post_ids(client, "pyhton", alice) == [both["id"], tagged["id"]]
    assert await badge_post_ids(client, "python", alice) == [both["id"]]

    merge = await ok(
        client, "POST", "/api/v1/moderation/badges/pyhton/merge", mod, {"into": "python"}
    )
    assert (merge["source"], merge["target"], merge["reverted_at"]) == ("pyhton", "python", None)

    # Holders moved: alice holds python where pyhton was; bob, who held both, keeps python.
    assert await held(client, alice) == ["chess", "python"]
    assert await held(client, bob) == ["python"]
    assert sorted(await holder_names(client, "python", mod)) == ["alice", "bob"]
    # Posts moved, with their tags.
    assert await badge_post_ids(client, "python", alice) == [both["id"], tagged["id"]]
    moved = await ok(client, "GET", f"/api/v1/posts/{tagged['id']}", alice)
    assert moved["activity_tags"] == [{"phrase": "Hacked", "badge": "python"}]
    assert moved["badges"] == ["python"]
    bobs = await ok(client, "GET", f"/api/v1/posts/{both['id']}", bob)
    assert bobs["badges"] == ["python"]

    # The old URLs redirect, HTML and API alike, for everyone.
    for path, expected in (
        ("/badges/pyhton", "/badges/python"),
        ("/api/v1/badges/pyhton", "/api/v1/badges/python"),
        ("/api/v1/badges/pyhton/holders?limit=5", "/api/v1/badges/python/holders?limit=5"),
        ("/api/v1/badges/pyhton/posts", "/api/v1/badges/python/posts"),
    ):
        for who in (None, alice, mod):
            answer = await client.get(path, headers=who.auth if who else {}, allow_redirects=False)
            assert answer.status == 301, (path, answer.status)
            assert answer.headers["Location"] == expected
    status, _ = await browse(client, "/badges/pyhton")
    assert status == 301
    followed = await client.get("/api/v1/badges/pyhton")
    assert followed.status == 200 and (await followed.json())["slug"] == "python"
    catalogue = await ok(client, "GET", "/api/v1/badges?limit=100", alice)
    assert "pyhton" not in [item["slug"] for item in catalogue["items"]]
    status, _ = await api(client, "POST", "/api/v1/profile/badges", alice, {"add": ["pyhton"]})
    assert status == 400  # a merged badge cannot be picked any more

    # Reverting restores both badges exactly.
    reverted = await ok(
        client, "POST", f"/api/v1/moderation/badge_merges/{merge['id']}/revert", mod
    )
    assert reverted["reverted_at"] is not None
    assert await held(client, alice) == ["chess", "pyhton"]
    assert await held(client, bob) == ["python", "pyhton"]
    assert await badge_post_ids(client, "pyhton", alice) == [both["id"], tagged["id"]]
    assert await badge_post_ids(client, "python", alice) == [both["id"]]
    restored = await ok(client, "GET", f"/api/v1/posts/{tagged['id']}", alice)
    assert restored["activity_tags"] == [{"phrase": "Hacked", "badge": "pyhton"}]
    answer = await client.get("/api/v1/badges/pyhton", allow_redirects=False)
    assert answer.status == 200 and (await answer.json())["status"] == "approved"
    status, _ = await api(
        client, "POST", f"/api/v1/moderation/badge_merges/{merge['id']}/revert", mod
    )
    assert status == 409

    audit = await ok(client, "GET", "/api/v1/moderation/audit", mod)
    actions = [entry["action"] for entry in audit["entries"]]
    assert actions[:3] == ["badge.unmerge", "badge.merge", "badge.approve"]
    assert audit["entries"][1]["target"] == "badge:pyhton→python"
    assert audit["entries"][1]["moderator_id"] == mod.account.id
    assert audit["entries"][1]["moderator"] == "mod"


async def test_merge_refuses_what_makes_no_sense_and_changes_nothing(
    client: TestClient, mod: Member
) -> None:
    for body, status in (
        ({"into": "chess"}, 404),  # `pyhton` does not exist (yet)
        ({"into": "nope"}, 404),
        ({"into": "Not A Slug"}, 400),
        ({}, 400),
    ):
        answer, _ = await api(client, "POST", "/api/v1/moderation/badges/pyhton/merge", mod, body)
        assert answer == status, body
    answer, _ = await api(
        client, "POST", "/api/v1/moderation/badges/python/merge", mod, {"into": "python"}
    )
    assert answer == 400
    assert (await ok(client, "GET", "/api/v1/moderation/badge_merges", mod))["merges"] == []


async def test_a_rejected_badges_creator_reads_the_reason_in_their_notifications(
    client: TestClient, mod: Member, alice: Member
) -> None:
    await ok(
        client,
        "POST",
        "/api/v1/badges",
        alice,
        {"slug": "spam_badge", "display_name": "Buy now", "color": "#112233", "icon": "$"},
    )
    await ok(
        client,
        "POST",
        "/api/v1/moderation/badges/spam_badge/reject",
        mod,
        {"reason": "Advertising is not an activity"},
    )
    inbox = await ok(client, "GET", "/api/v1/notifications", alice)
    assert inbox["unread"] == 1
    [note] = inbox["notifications"]
    assert note["kind"] == "badge_rejected" and not note["read"]
    assert "Advertising is not an activity" in note["message"]
    status, page = await browse(client, "/notifications", alice)
    assert status == 200 and "Advertising is not an activity" in page
    await ok(client, "POST", "/api/v1/notifications/read", alice)
    assert (await ok(client, "GET", "/api/v1/notifications", alice))["unread"] == 0
    # Nobody else is told.
    assert (await ok(client, "GET", "/api/v1/notifications", mod))["notifications"] == []


async def test_stewards_rename_their_badge_and_handle_its_reports_but_nothing_else(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    bob = await make_person(app, "bob")
    status, _ = await api(
        client, "POST", "/api/v1/moderation/badges/chess/rename", alice, {"display_name": "X"}
    )
    assert status == 403
    appointed = await ok(
        client, "POST", "/api/v1/moderation/badges/chess/stewards", mod, {"username": "alice"}
    )
    assert appointed["username"] == "alice"
    stewards = await ok(client, "GET", "/api/v1/badges/chess/stewards", bob)
    assert [item["username"] for item in stewards["stewards"]] == ["alice"]

    renamed = await ok(
        client,
        "POST",
        "/api/v1/moderation/badges/chess/rename",
        alice,
        {"display_name": "Chess & Go"},
    )
    assert renamed["display_name"] == "Chess & Go"
    for path in (
        "/api/v1/moderation/badges/python/rename",
        "/api/v1/moderation/badges/nope/rename",
    ):
        status, _ = await api(client, "POST", path, alice, {"display_name": "Mine now"})
        assert status == 403
    status, _ = await api(
        client, "POST", "/api/v1/moderation/badges/chess/merge", alice, {"into": "python"}
    )
    assert status == 403

    badge_report = await ok(
        client, "POST", "/api/v1/reports", bob, {"kind": "badge", "target": "chess"}
    )
    account_report = await ok(
        client, "POST", "/api/v1/reports", bob, {"kind": "account", "target": "mod"}
    )
    status, _ = await api(
        client, "GET", f"/api/v1/moderation/reports/{account_report['id']}", alice
    )
    assert status == 403
    status, listed = await api(client, "GET", "/api/v1/moderation/badges/chess/reports", alice)
    assert status == 200
    assert [item["id"] for item in listed["reports"]] == [badge_report["id"]]
    status, _ = await api(client, "GET", "/api/v1/moderation/badges/python/reports", alice)
    assert status == 403
    closed = await ok(
        client,
        "POST",
        f"/api/v1/moderation/reports/{badge_report['id']}/resolve",
        alice,
        {"action": "resolve", "note": "Renamed it"},
    )
    assert closed["state"] == "resolved"
    status, _ = await api(client, "GET", "/api/v1/moderation/reports", alice)
    assert status == 403  # the queue itself stays with moderators

    status, page = await browse(client, "/moderation/badges/chess", alice)
    assert status == 200 and "Rename" in page and "Merge" not in page
    assert f'href="/moderation/reports/{badge_report["id"]}"' not in page  # closed already
    status, page = await browse(client, f"/moderation/reports/{badge_report['id']}", alice)
    assert status == 200 and "Closed (resolved): Renamed it" in page
    assert 'href="/moderation/audit"' not in page  # the moderators' menu is not theirs
    status, _ = await browse(client, "/moderation/badges/python", alice)
    assert status == 403

    await api(client, "DELETE", "/api/v1/moderation/badges/chess/stewards/alice", mod)
    status, _ = await api(
        client, "POST", "/api/v1/moderation/badges/chess/rename", alice, {"display_name": "Y"}
    )
    assert status == 403


async def test_renaming_and_merging_from_the_badge_moderation_page(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    await app[appkeys.BADGES].create_badge(
        alice.account, slug="pyhton", display_name="Pyhton", color="#112233", icon="🐍"
    )
    status, page = await browse(client, "/moderation/badges", mod)
    assert status == 200 and 'href="/moderation/badges/pyhton"' in page
    answer = await submit(
        client, "/moderation/badges/pyhton/rename", {"display_name": "Python typo"}, mod
    )
    assert answer.status == 303
    answer = await submit(client, "/moderation/badges/pyhton/merge", {"into": "nope"}, mod)
    assert answer.status == 404
    answer = await submit(client, "/moderation/badges/pyhton/merge", {"into": "python"}, mod)
    assert answer.status == 303 and answer.headers["Location"].startswith("/moderation/merges")
    status, page = await browse(client, "/moderation/merges", mod)
    assert status == 200 and "pyhton" in page and "Revert" in page
    assert (await app[appkeys.BADGES].member_badges(alice.account, alice.account))[
        0
    ].badge.slug == "python"
    inbox = await ok(client, "GET", "/api/v1/notifications", alice)
    assert inbox["notifications"][0]["kind"] == "badge_merged"
