"""Community moderation over HTTP: suspending a member (no sign-in, no token, actor 410),
reports through the form and the API and their handling pages, domain blocks and remote
accounts pages, and clear 400s for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Role
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.web.profile_badges_support import make_person, open_app
from tests.fedipoly.web.social_support import PASSWORD, Member, api, browse, submit


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


async def test_a_suspended_member_cannot_sign_in_post_or_be_fetched_until_lifted(
    client: TestClient, mod: Member, alice: Member
) -> None:
    status, answer = await api(
        client, "POST", "/api/v1/moderation/accounts/alice/suspend", mod, {"reason": "spam"}
    )
    assert (status, answer) == (200, {"username": "alice", "suspended": True})
    status, _ = await api(client, "POST", "/api/v1/posts", alice, {"text": "still here?"})
    assert status == 401  # the token no longer names an active account
    status, _ = await api(client, "GET", "/api/v1/accounts/me", alice)
    assert status == 401
    signed_in = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
    )
    assert signed_in.status == 403
    actor = await client.get("/users/alice", headers={"Accept": "application/activity+json"})
    assert actor.status == 410  # Mastodon treats 410 as gone
    domain = client.server.app[appkeys.URLS].domain
    finger = await client.get(f"/.well-known/webfinger?resource=acct:alice@{domain}")
    assert finger.status == 410

    status, answer = await api(
        client, "POST", "/api/v1/moderation/accounts/alice/unsuspend", mod, {}
    )
    assert (status, answer) == (200, {"username": "alice", "suspended": False})
    status, _ = await api(client, "POST", "/api/v1/posts", alice, {"text": "back"})
    assert status == 201
    status, log = await api(client, "GET", "/api/v1/moderation/audit", mod)
    assert [(e["action"], e["target"], e["reason"]) for e in log["entries"]] == [
        ("account.unsuspend", "account:alice", ""),
        ("account.suspend", "account:alice", "spam"),
    ]


async def test_a_report_from_the_form_is_handled_on_the_reports_pages(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    status, page = await browse(client, "/report?kind=badge&target=chess", alice)
    assert status == 200 and 'value="chess"' in page
    answer = await submit(
        client, "/report", {"kind": "badge", "target": "nope", "comment": "x"}, alice
    )
    assert answer.status == 404
    answer = await submit(
        client, "/report", {"kind": "badge", "target": "chess", "comment": "Off topic"}, alice
    )
    assert answer.status == 303 and answer.headers["Location"].startswith("/notifications")

    status, page = await browse(client, "/moderation/reports", mod)
    assert status == 200 and "Off topic" in page
    [report] = (await app[appkeys.MODERATION].reports(mod.account)).reports
    status, page = await browse(client, f"/moderation/reports/{report.id}", mod)
    assert status == 200 and "Close the report" in page
    assert "Forward" not in page  # nothing remote to forward
    answer = await submit(
        client, f"/moderation/reports/{report.id}/resolve", {"action": "dismiss"}, mod
    )
    assert answer.status == 303
    answer = await submit(
        client, f"/moderation/reports/{report.id}/resolve", {"action": "dismiss"}, mod
    )
    assert answer.status == 409  # handled already: the page says so
    status, page = await browse(client, "/moderation/reports?state=dismissed", mod)
    assert "Off topic" in page
    status, answer = await api(client, "GET", "/api/v1/notifications", alice)
    assert "closed without action" in answer["notifications"][0]["message"]


async def test_reports_api_refuses_bad_input_and_changes_nothing(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    for body in (
        {"kind": "badge"},
        {"kind": "nothing", "target": "chess"},
        {"kind": "badge", "target": "chess", "comment": 5},
        {"kind": "badge", "target": "chess", "comment": "x" * 1001},
        {"kind": ["post"], "target": "chess"},
    ):
        status, answer = await api(client, "POST", "/api/v1/reports", alice, body)
        assert status == 400, (body, answer)
        assert "error" in answer
    status, _ = await api(client, "POST", "/api/v1/reports", None, {"kind": "badge"})
    assert status == 401
    status, answer = await api(client, "GET", "/api/v1/moderation/reports?state=weird", mod)
    assert status == 400
    status, answer = await api(client, "GET", "/api/v1/moderation/reports", mod)
    assert answer == {"reports": [], "next_cursor": None}


async def test_domain_blocks_and_remote_accounts_pages(
    client: TestClient, app: web.Application, mod: Member
) -> None:
    admin = await make_person(app, "ada", Role.ADMIN)
    answer = await submit(client, "/moderation/domains", {"domain": "spam.example"}, mod)
    assert answer.status == 403  # admins block domains
    answer = await submit(client, "/moderation/domains", {"domain": "not a domain"}, admin)
    assert answer.status == 400
    answer = await submit(
        client, "/moderation/domains", {"domain": "spam.example", "reason": "spam"}, admin
    )
    assert answer.status == 303
    status, page = await browse(client, "/moderation/domains", mod)
    assert status == 200 and "spam.example" in page
    status, answer = await api(client, "GET", "/api/v1/moderation/domain_blocks", mod)
    assert [block["domain"] for block in answer["domain_blocks"]] == ["spam.example"]
    answer = await submit(client, "/moderation/domains/spam.example/unblock", {}, admin)
    assert answer.status == 303
    status, answer = await api(client, "GET", "/api/v1/moderation/domain_blocks", mod)
    assert answer["domain_blocks"] == []

    carol = remote_actor("carol")
    await app[appkeys.STORE].upsert_remote_actor(carol)
    answer = await submit(
        client,
        "/moderation/remote_accounts",
        {"actor": "carol@remote.example", "level": "silenced", "reason": "noisy"},
        mod,
    )
    assert answer.status == 303
    status, page = await browse(client, "/moderation/accounts", mod)
    assert carol.uri in page and "silenced" in page
    status, answer = await api(
        client,
        "POST",
        "/api/v1/moderation/remote_accounts",
        mod,
        {"actor": carol.uri, "level": "x"},
    )
    assert status == 400
    status, _ = await api(
        client, "POST", "/api/v1/moderation/remote_accounts/lift", mod, {"actor": carol.uri}
    )
    assert status == 204
    status, answer = await api(client, "GET", "/api/v1/moderation/remote_accounts", mod)
    assert answer == {"remote_accounts": []}


async def test_resolving_a_post_report_can_remove_the_post_and_tells_its_author(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    bob = await make_person(app, "bob")
    status, created = await api(client, "POST", "/api/v1/posts", bob, {"text": "Buy followers"})
    assert status == 201
    status, report = await api(
        client, "POST", "/api/v1/reports", alice, {"kind": "post", "target": created["id"]}
    )
    assert status == 201
    path = f"/api/v1/moderation/reports/{report['id']}/resolve"
    status, _ = await api(client, "POST", path, mod, {"action": "dismiss", "remove": True})
    assert status == 400  # only a resolution removes anything; nothing changed
    status, _ = await api(client, "GET", f"/api/v1/posts/{created['id']}", alice)
    assert status == 200
    status, closed = await api(
        client, "POST", path, mod, {"action": "resolve", "remove": True, "note": "Spam"}
    )
    assert status == 200 and closed["state"] == "resolved"
    status, _ = await api(client, "GET", f"/api/v1/posts/{created['id']}", alice)
    assert status in (404, 410)
    note = await client.get(
        created["uri"].removeprefix(app[appkeys.URLS].base),
        headers={"Accept": "application/activity+json"},
    )
    assert note.status == 410  # a tombstone for the fediverse too
    status, inbox = await api(client, "GET", "/api/v1/notifications", bob)
    assert "A moderator removed one of your posts. Reason: Spam" in [
        item["message"] for item in inbox["notifications"]
    ]
    status, log = await api(client, "GET", "/api/v1/moderation/audit", mod)
    assert [entry["action"] for entry in log["entries"]][:2] == ["report.resolve", "post.remove"]
