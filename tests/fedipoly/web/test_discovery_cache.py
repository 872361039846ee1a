"""Members' actor documents and WebFinger answers are served from memory (services/discovery.py),
and every change to what they show is visible at once in the process that made it: profile,
display name, badges approved or removed, suspension (410 at once, and back on unsuspension)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.collab_models import OpenToEntry
from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.profile_badges_support import make_person, open_app

AS_ACCEPT = {"Accept": "application/activity+json"}


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


async def actor(client: TestClient, username: str) -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/users/{username}", headers=AS_ACCEPT)
    return response.status, json.loads(await response.read())


async def finger(client: TestClient, username: str) -> tuple[int, str, dict[str, Any]]:
    domain = client.server.app[appkeys.URLS].domain
    response = await client.get(
        f"/.well-known/webfinger?resource={quote(f'acct:{username}@{domain}')}"
    )
    return response.status, response.headers["Content-Type"], await response.json()


async def test_changes_made_here_show_in_the_served_documents_at_once(
    client: TestClient,
) -> None:
    app = client.server.app
    store = app[appkeys.STORE]
    alice = await make_person(app, "alice")
    admin = await make_person(app, "boss", Role.ADMIN)

    status, document = await actor(client, "alice")
    assert status == 200 and document["name"] == "alice"
    status, content_type, jrd = await finger(client, "alice")
    assert status == 200 and content_type == "application/jrd+json; charset=utf-8"
    assert jrd["subject"].startswith("acct:alice@")

    # Written behind the services' back (as another process would): the cached copy stays.
    await store.update_account_profile(
        alice.account.id, display_name="Elsewhere", manually_approves_followers=False
    )
    assert (await actor(client, "alice"))[1]["name"] == "alice"

    # Through the service: the next fetch renders afresh.
    await app[appkeys.PROFILES].update_basics(
        alice.account, display_name="Alice Liddell", manually_approves_followers=False
    )
    status, document = await actor(client, "ALICE")
    assert status == 200 and document["name"] == "Alice Liddell"

    # A badge approved for its creator appears; removing it makes it go.
    badges = app[appkeys.BADGES]
    await badges.create_badge(
        alice.account, slug="tidepools", display_name="Tide pools", color="#336699", icon="*"
    )
    assert "tidepools" not in json.dumps((await actor(client, "alice"))[1])  # pending: hidden
    await badges.approve(admin.account, "tidepools")
    assert "tidepools" in json.dumps((await actor(client, "alice"))[1])
    await badges.remove_badges(alice.account, ["tidepools"])
    assert "tidepools" not in json.dumps((await actor(client, "alice"))[1])

    # Suspension: 410 at once for the actor and WebFinger, and back when it is lifted.
    moderation = app[appkeys.MODERATION]
    await moderation.suspend_account(admin.account, "alice")
    assert (await actor(client, "alice"))[0] == 410
    assert (await finger(client, "alice"))[0] == 410
    await moderation.unsuspend_account(admin.account, "alice")
    assert (await actor(client, "alice"))[0] == 200
    assert (await finger(client, "alice"))[0] == 200


async def test_renaming_a_badge_or_an_open_to_reason_shows_in_every_cached_actor(
    client: TestClient,
) -> None:
    app = client.server.app
    alice = await make_person(app, "alice")
    admin = await make_person(app, "boss", Role.ADMIN)
    badges = app[appkeys.BADGES]
    await badges.create_badge(
        alice.account, slug="tidepools", display_name="Tide pools", color="#336699", icon="*"
    )
    badge = await badges.approve(admin.account, "tidepools")
    group_path = urlsplit(app[appkeys.URLS].badge_actor(badge.id)).path
    group = await client.get(group_path, headers=AS_ACCEPT)
    assert group.status == 200 and (await group.json(content_type=None))["name"] == "Tide pools"
    open_to = app[appkeys.OPEN_TO]
    await open_to.add_reason(admin.account, "kiteflying", "Kite flying")
    await open_to.set_answers(alice.account, [OpenToEntry("kiteflying", True)])
    document = json.dumps((await actor(client, "alice"))[1])
    assert "Tide pools" in document and "Kite flying" in document

    await app[appkeys.BADGE_MODERATION].rename(admin.account, "tidepools", "Rock pools")
    document = json.dumps((await actor(client, "alice"))[1])
    assert "Rock pools" in document and "Tide pools" not in document
    group = await client.get(group_path, headers=AS_ACCEPT)
    assert (await group.json(content_type=None))["name"] == "Rock pools"

    await open_to.rename_reason(admin.account, "kiteflying", "Kite surfing")
    document = json.dumps((await actor(client, "alice"))[1])
    assert "Kite surfing" in document and "Kite flying" not in document
    await open_to.remove_reason(admin.account, "kiteflying")
    assert "Kite surfing" not in json.dumps((await actor(client, "alice"))[1])


async def test_a_browser_is_still_sent_to_the_profile_page(client: TestClient) -> None:
    await make_person(client.server.app, "alice")
    await actor(client, "alice")  # now cached
    response = await client.get(
        "/users/alice", headers={"Accept": "text/html"}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"].endswith("/@alice")
    missing = await client.get("/users/nobody", headers=AS_ACCEPT)
    assert missing.status == 404
