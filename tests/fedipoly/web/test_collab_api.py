"""The JSON API of "open to", collaboration requests, conversations and the Space Station."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.social_support import TickingClock, api, make_member


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


async def test_consent_before_contact_from_answers_to_a_conversation(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")

    status, lines = await api(
        client,
        "PUT",
        "/api/v1/open_to",
        bob,
        {
            "open_to": [
                {"reason": "mentoring", "open": True, "until": "2099-01-01T00:00:00Z"},
                {"reason": "angel_investing", "open": False},
            ]
        },
    )
    assert status == 200
    by_reason = {line["reason"]: line for line in lines}
    assert by_reason["mentoring"]["open"] is True
    assert by_reason["mentoring"]["until"].startswith("2099-01-01")
    assert by_reason["hiring"]["open"] is None
    status, public = await api(client, "GET", "/api/v1/accounts/bob/open_to")
    assert status == 200 and {line["reason"] for line in public} == {"mentoring", "angel_investing"}

    # Space Station: bob is there for mentoring, not for angel investing.
    status, found = await api(client, "GET", "/api/v1/space_station?reason=mentoring", alice)
    assert status == 200 and [item["handle"] for item in found["items"]] == [
        f"bob@{app[appkeys.URLS].domain}"
    ]
    status, found = await api(client, "GET", "/api/v1/space_station?reason=angel_investing", alice)
    assert found["items"] == []

    # A reason bob is not open to is refused, with what he is open to; nothing is stored.
    body = {"to": "bob", "reason": "angel_investing", "message": "Invest?"}
    status, error = await api(client, "POST", "/api/v1/collab_requests", alice, body)
    assert status == 400 and error["detail"]["open_to"] == ["mentoring"]
    status, sent = await api(client, "GET", "/api/v1/collab_requests/sent", alice)
    assert sent["items"] == []

    body = {"to": "bob", "reason": "mentoring", "message": "Could you mentor me?"}
    status, made = await api(client, "POST", "/api/v1/collab_requests", alice, body)
    assert status == 201 and made["state"] == "pending" and made["reason_label"] == "Mentoring"
    status, inbox = await api(client, "GET", "/api/v1/collab_requests", bob)
    assert [item["id"] for item in inbox["items"]] == [made["id"]]
    assert inbox["items"][0]["sender"]["handle"].startswith("alice@")
    status, _ = await api(client, "GET", "/api/v1/collab_requests", alice)
    assert status == 200 and _["items"] == []  # alice's inbox is her own

    path = f"/api/v1/collab_requests/{made['id']}"
    assert (await api(client, "POST", f"{path}/interested", alice, {}))[0] == 404
    status, conversation = await api(
        client, "POST", f"{path}/interested", bob, {"message": "Happy to help!"}
    )
    assert status == 201 and conversation["peer"]["handle"].startswith("alice@")
    assert [message["content_html"] for message in conversation["messages"]] == [
        "<p>Happy to help!</p>"
    ]
    assert (await api(client, "POST", f"{path}/decline", bob))[0] == 409

    status, listed = await api(client, "GET", "/api/v1/conversations", alice)
    alices = listed["items"][0]["id"]
    status, message = await api(
        client, "POST", f"/api/v1/conversations/{alices}/messages", alice, {"text": "Thanks!"}
    )
    assert status == 201 and message["visibility"] == "direct"
    status, thread = await api(client, "GET", f"/api/v1/conversations/{conversation['id']}", bob)
    assert [item["content_html"] for item in thread["messages"]] == [
        "<p>Thanks!</p>",
        "<p>Happy to help!</p>",
    ]
    # Nobody else reads it, and bad input changes nothing.
    carol = await make_member(app, "carol")
    assert (await api(client, "GET", f"/api/v1/conversations/{alices}", carol))[0] == 404
    status, _ = await api(
        client, "POST", f"/api/v1/conversations/{alices}/messages", alice, {"text": "  "}
    )
    assert status == 400


async def test_bad_input_is_refused_with_a_clear_error(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice")
    for body in (
        {"open_to": "mentoring"},
        {"open_to": [{"reason": "mentoring"}]},
        {"open_to": [{"reason": "mentoring", "open": True, "until": "tomorrow"}]},
        {"open_to": [{"reason": "mentoring", "open": True, "until": "2000-01-01T00:00:00Z"}]},
        {"open_to": [{"reason": "time_travel", "open": True}]},
        {"open_to": [], "extra": 1},
    ):
        status, error = await api(client, "PUT", "/api/v1/open_to", alice, body)
        assert status == 400 and error["error"], body
    status, lines = await api(client, "GET", "/api/v1/open_to", alice)
    assert all(line["open"] is None for line in lines)
    assert (await api(client, "GET", "/api/v1/space_station", alice))[0] == 400
    assert (await api(client, "GET", "/api/v1/space_station?reason=time_travel", alice))[0] == 404
    assert (await api(client, "GET", "/api/v1/space_station?reason=mentoring"))[0] == 401
    status, _ = await api(
        client,
        "POST",
        "/api/v1/collab_requests",
        alice,
        {"to": "nobody", "reason": "mentoring", "message": "x"},
    )
    assert status == 404
    assert (await api(client, "GET", "/api/v1/collab_requests?state=maybe", alice))[0] == 400


async def test_members_list_whom_they_blocked_and_lift_only_their_own_blocks(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice", display_name="Alice Liddell")
    bob, carol = await make_member(app, "bob"), await make_member(app, "carol")
    alice_uri = app[appkeys.URLS].actor("alice")
    await api(
        client, "PUT", "/api/v1/open_to", bob, {"open_to": [{"reason": "mentoring", "open": True}]}
    )
    ask = {"to": "bob", "reason": "mentoring", "message": "Hi"}
    status, made = await api(client, "POST", "/api/v1/collab_requests", alice, ask)
    assert (await api(client, "POST", f"/api/v1/collab_requests/{made['id']}/block", bob))[0] == 204

    status, listed = await api(client, "GET", "/api/v1/blocks", bob)
    assert status == 200 and listed["next"] is None
    assert [item["actor"] for item in listed["items"]] == [
        {
            "uri": alice_uri,
            "handle": f"alice@{app[appkeys.URLS].domain}",
            "display_name": "Alice Liddell",
            "url": app[appkeys.URLS].profile("alice"),
            "local": True,
        }
    ]
    assert listed["items"][0]["created_at"].startswith("2025-03-01T12:")
    assert (await api(client, "GET", "/api/v1/blocks", carol))[1] == {"items": [], "next": None}

    # Without a token, with bad input, or for a block that is not yours: refused, nothing changes.
    assert (await api(client, "GET", "/api/v1/blocks"))[0] == 401
    unblock_alice = f"/api/v1/blocks?actor={quote(alice_uri, safe='')}"
    assert (await api(client, "DELETE", unblock_alice))[0] == 401
    for query in ("limit=0", "limit=many", "before=not-a-cursor"):
        status, error = await api(client, "GET", f"/api/v1/blocks?{query}", bob)
        assert status == 400 and error["error"], query
    for path in ("/api/v1/blocks", "/api/v1/blocks?actor=%20"):
        status, error = await api(client, "DELETE", path, bob)
        assert status == 400 and error["detail"]["field"] == "actor", path
    assert (await api(client, "DELETE", unblock_alice, carol))[0] == 404
    never = quote("https://remote.example/users/never-blocked", safe="")
    assert (await api(client, "DELETE", f"/api/v1/blocks?actor={never}", bob))[0] == 404
    assert len((await api(client, "GET", "/api/v1/blocks", bob))[1]["items"]) == 1
    assert (await api(client, "POST", "/api/v1/collab_requests", alice, ask))[0] == 403

    assert (await api(client, "DELETE", unblock_alice, bob))[0] == 204
    status, error = await api(client, "DELETE", unblock_alice, bob)
    assert status == 404 and "not blocked" in error["error"]
    assert (await api(client, "GET", "/api/v1/blocks", bob))[1]["items"] == []
    assert (await api(client, "POST", "/api/v1/collab_requests", alice, ask))[0] == 201


async def test_admins_edit_the_catalogue(client: TestClient, app: web.Application) -> None:
    admin, member = await make_member(app, "olga"), await make_member(app, "bob")
    await app[appkeys.STORE].set_role(admin.account.id, Role.ADMIN)
    body = {"slug": "workshops", "label": "Workshops"}
    assert (await api(client, "POST", "/api/v1/open_to/reasons", member, body))[0] == 403
    status, added = await api(client, "POST", "/api/v1/open_to/reasons", admin, body)
    assert status == 201 and added == body
    assert (await api(client, "POST", "/api/v1/open_to/reasons", admin, body))[0] == 409
    status, renamed = await api(
        client, "PATCH", "/api/v1/open_to/reasons/workshops", admin, {"label": "Workshops!"}
    )
    assert renamed["label"] == "Workshops!"
    status, reasons = await api(client, "GET", "/api/v1/open_to/reasons")
    assert reasons[-1] == {"slug": "workshops", "label": "Workshops!"}
    assert (await api(client, "DELETE", "/api/v1/open_to/reasons/workshops", admin))[0] == 204
    assert (await api(client, "DELETE", "/api/v1/open_to/reasons/workshops", admin))[0] == 404
    status, log = await api(client, "GET", "/api/v1/moderation/audit", admin)
    assert [(e["action"], e["target"]) for e in log["entries"]] == [  # refusals leave none
        ("open_to.remove", "open_to:workshops"),
        ("open_to.rename", "open_to:workshops"),
        ("open_to.add", "open_to:workshops"),
    ]


async def test_requests_refuse_bad_input_and_strangers_and_change_nothing(config: Config) -> None:
    clock = TickingClock()
    limited = replace(config, collaboration=replace(config.collaboration, requests_per_day=1))
    app = create_app(limited, run_workers=False, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
        carol = await make_member(app, "carol")
        until = (clock.now + timedelta(hours=1)).isoformat()
        answers = [
            {"reason": "mentoring", "open": True},
            {"reason": "hiring", "open": True, "until": until},
        ]
        for member in (bob, carol):
            await api(client, "PUT", "/api/v1/open_to", member, {"open_to": answers})
        clock.now += timedelta(hours=2)  # the yes to hiring lapsed

        for body, field in (
            ({"to": "bob", "reason": "time_travel", "message": "Hi"}, "reason"),
            ({"to": "bob", "reason": "hiring", "message": "Hi"}, "reason"),  # lapsed
            ({"to": "bob", "reason": "Mentoring!", "message": "Hi"}, "reason"),
            ({"to": "bob", "reason": "mentoring", "message": "   "}, "message"),
            ({"to": "bob", "reason": "mentoring", "message": "x" * 2001}, "message"),
            ({"to": "alice", "reason": "mentoring", "message": "Hi"}, "to"),
        ):
            status, error = await api(client, "POST", "/api/v1/collab_requests", alice, body)
            assert status == 400 and error["detail"]["field"] == field, body
        assert (await api(client, "GET", "/api/v1/collab_requests/sent", alice))[1]["items"] == []
        assert (await api(client, "GET", "/api/v1/collab_requests", bob))[1]["items"] == []

        body = {"to": "bob", "reason": "mentoring", "message": "Hi"}
        status, made = await api(client, "POST", "/api/v1/collab_requests", alice, body)
        assert status == 201
        # One request a day here: the next is refused with when to try again.
        response = await client.post(
            "/api/v1/collab_requests",
            headers=alice.auth,
            json={"to": "carol", "reason": "mentoring", "message": "Hi"},
        )
        assert response.status == 429
        assert 0 < int(response.headers["Retry-After"]) <= 86400
        assert (await api(client, "GET", "/api/v1/collab_requests", carol))[1]["items"] == []

        # Someone else's request, or one that does not exist, is not found (never "forbidden").
        path = f"/api/v1/collab_requests/{made['id']}"
        for stranger in (alice, carol):
            for action in ("interested", "decline", "block", "report"):
                status, _ = await api(client, "POST", f"{path}/{action}", stranger, {})
                assert status == 404, (stranger.account.username, action)
        for action in ("interested", "decline"):
            status, _ = await api(client, "POST", f"/api/v1/collab_requests/nope/{action}", bob, {})
            assert status == 404
        status, _ = await api(client, "POST", f"{path}/interested", bob, {"message": "x" * 2001})
        assert status == 400
        status, inbox = await api(client, "GET", "/api/v1/collab_requests", bob)
        assert [item["state"] for item in inbox["items"]] == ["pending"]

        # A conversation one is not in is not found, to read or to write to.
        status, conversation = await api(client, "POST", f"{path}/interested", bob, {})
        assert status == 201
        messages = f"/api/v1/conversations/{conversation['id']}/messages"
        status, _ = await api(client, "POST", messages, carol, {"text": "Let me in"})
        assert status == 404
        assert (await api(client, "GET", "/api/v1/conversations/nope", carol))[0] == 404
        assert (await api(client, "POST", messages, bob, {"text": "", "x": 1}))[0] == 400
        status, thread = await api(
            client, "GET", f"/api/v1/conversations/{conversation['id']}", bob
        )
        assert len(thread["messages"]) == 1
