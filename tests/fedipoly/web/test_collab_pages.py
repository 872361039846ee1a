"""The pages of "open to", collaboration requests, conversations and the Space Station: forms
that work without JavaScript, 303 after success, the page again with the message on failure."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.config import Config
from tests.fedipoly.web.social_support import TickingClock, browse, make_member, submit
from tests.fedipoly.web.test_profile_pages import assert_page_hygiene


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    app = create_app(config, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


async def test_answers_requests_and_a_conversation_through_the_pages(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")

    status, page = await browse(client, "/settings/open-to", bob)
    assert status == 200 and 'name="state_mentoring"' in page
    bad = await submit(
        client,
        "/settings/open-to",
        {"state_mentoring": "yes", "until_mentoring": "someday"},
        bob,
    )
    assert bad.status == 400
    saved = await submit(
        client,
        "/settings/open-to",
        {"state_mentoring": "yes", "until_mentoring": "2099-12-31", "state_hiring": "no"},
        bob,
    )
    assert saved.status == 303
    status, profile = await browse(client, "/@bob", alice)
    assert "Mentoring" in profile and "(until 2099-12-31)" in profile
    assert "Not open to: Hiring" in profile and "/collaborate?to=bob" in profile
    status, own = await browse(client, "/@bob", bob)
    assert "/collaborate?to=bob" not in own and "/settings/open-to" in own

    status, station = await browse(client, "/space-station?reason=mentoring", alice)
    assert status == 200 and "@bob@" in station
    status, station = await browse(client, "/space-station?reason=hiring", alice)
    assert "@bob@" not in station

    status, form = await browse(client, "/collaborate?to=bob", alice)
    assert status == 200 and '<option value="mentoring"' in form
    assert 'value="hiring"' not in form  # only reasons bob is open to are offered
    refused = await submit(
        client, "/collaborate", {"to": "bob", "reason": "hiring", "message": "Join us?"}, alice
    )
    assert refused.status == 400
    assert "not open to" in html.unescape(await refused.text())
    sent = await submit(
        client, "/collaborate", {"to": "bob", "reason": "mentoring", "message": "Teach me?"}, alice
    )
    assert sent.status == 303 and sent.headers["Location"].startswith("/requests")

    status, inbox = await browse(client, "/requests", bob)
    assert "Teach me?" in inbox and "Interested" in inbox and "Not right now" in inbox
    request_id = re.search(r"/requests/(\w+)/interested", inbox)
    assert request_id is not None
    accepted = await submit(client, f"/requests/{request_id.group(1)}/interested", {}, bob)
    assert accepted.status == 303
    conversation_path = accepted.headers["Location"].split("?")[0]
    status, conversation = await browse(client, conversation_path, bob)
    assert status == 200 and "Interested in your request about Mentoring" in conversation
    assert "Teach me?" in conversation  # the request it started from

    status, listing = await browse(client, "/conversations", alice)
    alices_path = re.search(r'href="(/conversations/\w+)"', listing)
    assert alices_path is not None
    replied = await submit(client, alices_path.group(1), {"text": "When are you free?"}, alice)
    assert replied.status == 303
    status, conversation = await browse(client, conversation_path, bob)
    assert "When are you free?" in conversation
    status, _ = await browse(client, conversation_path, await make_member(app, "carol"))
    assert status == 404


async def test_pages_need_a_member(client: TestClient) -> None:
    for path in (
        "/requests",
        "/conversations",
        "/space-station",
        "/settings/open-to",
        "/settings/blocks",
    ):
        status, _ = await browse(client, path)
        assert status == 303, path


async def test_report_and_block_from_the_requests_page(
    client: TestClient, app: web.Application
) -> None:
    alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
    await submit(client, "/settings/open-to", {"state_mentoring": "yes"}, bob)
    await submit(
        client, "/collaborate", {"to": "bob", "reason": "mentoring", "message": "Spam"}, alice
    )
    _status, inbox = await browse(client, "/requests", bob)
    found = re.search(r"/requests/(\w+)/report", inbox)
    assert found is not None
    reported = await submit(client, f"/requests/{found.group(1)}/report", {"comment": "spam"}, bob)
    assert reported.status == 303
    store = app[appkeys.STORE]
    reports = await store.list_reports(None, before=None, limit=10)
    assert [report.target for report in reports] == [app[appkeys.URLS].actor("alice")]
    blocked = await submit(client, f"/requests/{found.group(1)}/block", {}, bob)
    assert blocked.status == 303
    refused = await submit(
        client, "/collaborate", {"to": "bob", "reason": "mentoring", "message": "Again"}, alice
    )
    assert refused.status == 403


async def test_the_blocked_accounts_page_lists_blocks_and_lifts_one_with_a_form(
    client: TestClient, app: web.Application
) -> None:
    alice = await make_member(app, "alice", display_name="Alice Liddell")
    bob, carol = await make_member(app, "bob"), await make_member(app, "carol")
    alice_uri = app[appkeys.URLS].actor("alice")
    store = app[appkeys.STORE]
    await submit(client, "/settings/open-to", {"state_mentoring": "yes"}, bob)
    ask = {"to": "bob", "reason": "mentoring", "message": "Hi"}
    await submit(client, "/collaborate", ask, alice)
    _status, inbox = await browse(client, "/requests", bob)
    found = re.search(r"/requests/(\w+)/block", inbox)
    assert found is not None
    await submit(client, f"/requests/{found.group(1)}/block", {}, bob)

    _status, settings = await browse(client, "/settings", bob)
    assert 'href="/settings/blocks"' in settings
    status, page = await browse(client, "/settings/blocks", bob)
    assert status == 200 and "Alice Liddell" in page and "@alice@" in page
    assert f'name="actor" value="{alice_uri}"' in page
    assert_page_hygiene(page)  # the Unblock form carries the CSRF token
    _status, carols = await browse(client, "/settings/blocks", carol)
    assert "Alice Liddell" not in carols and "You have not blocked anyone" in carols

    # A forged form (no CSRF token), a stranger, or a block that does not exist: refused,
    # and alice stays blocked.
    forged = await submit(client, "/settings/blocks/unblock", {"actor": alice_uri}, bob, csrf=None)
    assert forged.status == 403
    stranger = await submit(client, "/settings/blocks/unblock", {"actor": alice_uri}, carol)
    assert stranger.status == 404 and "not blocked" in await stranger.text()
    empty = await submit(client, "/settings/blocks/unblock", {"actor": ""}, bob)
    assert empty.status == 400 and "Alice Liddell" in await empty.text()
    assert await store.is_blocked(bob.account.id, alice_uri)

    lifted = await submit(client, "/settings/blocks/unblock", {"actor": alice_uri}, bob)
    assert lifted.status == 303
    assert lifted.headers["Location"] == "/settings/blocks?notice=unblocked"
    status, page = await browse(client, lifted.headers["Location"], bob)
    assert "Unblocked." in page and "Alice Liddell" not in page
    assert not await store.is_blocked(bob.account.id, alice_uri)
    assert (
        await submit(client, "/collaborate", ask | {"message": "Hi again"}, alice)
    ).status == 303


async def test_the_pages_refuse_strangers_members_and_too_many_requests(config: Config) -> None:
    limited = replace(config, collaboration=replace(config.collaboration, requests_per_day=1))
    app = create_app(limited, run_workers=False, clock=TickingClock())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        alice, bob = await make_member(app, "alice"), await make_member(app, "bob")
        carol = await make_member(app, "carol")
        for member in (bob, carol):
            await submit(client, "/settings/open-to", {"state_mentoring": "yes"}, member)
        ask = {"reason": "mentoring", "message": "Teach me?"}
        assert (await submit(client, "/collaborate", {"to": "bob"} | ask, alice)).status == 303
        again = await submit(client, "/collaborate", {"to": "carol"} | ask, alice)
        assert again.status == 429 and int(again.headers["Retry-After"]) > 0
        assert "requests a day" in await again.text()

        _status, inbox = await browse(client, "/requests", bob)
        found = re.search(r"/requests/(\w+)/interested", inbox)
        assert found is not None
        for action in ("interested", "decline", "block", "report"):
            answer = await submit(client, f"/requests/{found.group(1)}/{action}", {}, carol)
            assert answer.status == 404, action
        _status, inbox = await browse(client, "/requests", bob)
        assert "Teach me?" in inbox  # still waiting for bob

        # Only admins change the catalogue.
        change = {"action": "add", "slug": "workshops", "label": "Workshops"}
        assert (await submit(client, "/settings/open-to/catalogue", change, bob)).status == 403
        assert await app[appkeys.STORE].get_open_to_reason("workshops") is None
