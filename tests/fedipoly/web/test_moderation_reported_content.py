"""A moderator always sees what was reported (both backends): the report page and the API
show the reported post itself, whatever its audience, while its author is suspended (when it
answers 404 to everyone else) and, once removed, say so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.profile_badges_support import make_person, open_app
from tests.fedipoly.web.social_support import api, browse


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


async def test_the_report_page_shows_the_reported_post_even_when_its_author_is_suspended(
    client: TestClient, app: web.Application
) -> None:
    mod = await make_person(app, "mod", Role.MODERATOR)
    alice = await make_person(app, "alice")
    bob = await make_person(app, "bob")
    status, created = await api(
        client, "POST", "/api/v1/posts", bob, {"text": "Buy cheap followers today"}
    )
    assert status == 201
    status, receipt = await api(
        client, "POST", "/api/v1/reports", alice, {"kind": "post", "target": created["id"]}
    )
    assert status == 201
    page_path = f"/moderation/reports/{receipt['id']}"
    api_path = f"/api/v1/moderation/reports/{receipt['id']}"

    status, page = await browse(client, page_path, mod)
    assert status == 200 and "Buy cheap followers today" in page
    assert "only moderators see" not in page

    status, _ = await api(client, "POST", "/api/v1/moderation/accounts/bob/suspend", mod, {})
    assert status == 200
    status, _ = await api(client, "GET", f"/api/v1/posts/{created['id']}", alice)
    assert status == 404  # hidden from everyone else now
    status, page = await browse(client, page_path, mod)
    assert status == 200 and "Buy cheap followers today" in page
    assert "Its author is suspended: only moderators see this post now." in page
    status, report = await api(client, "GET", api_path, mod)
    assert status == 200
    assert report["post"]["uri"] == created["uri"]
    assert "Buy cheap followers today" in report["post"]["content_html"]
    assert report["post"]["author_suspended"] is True
    assert report["post"]["deleted_at"] is None

    status, _ = await api(
        client, "POST", f"{api_path}/resolve", mod, {"action": "resolve", "remove": True}
    )
    assert status == 200
    status, page = await browse(client, page_path, mod)
    assert status == 200 and "This post was removed on" in page
    status, report = await api(client, "GET", api_path, mod)
    assert report["post"]["deleted_at"] is not None

    status, _ = await api(client, "GET", api_path, alice)
    assert status == 403  # members never see reports


async def test_reports_about_badges_have_no_post(client: TestClient, app: web.Application) -> None:
    mod = await make_person(app, "mod", Role.MODERATOR)
    alice = await make_person(app, "alice")
    status, receipt = await api(
        client, "POST", "/api/v1/reports", alice, {"kind": "badge", "target": "chess"}
    )
    assert status == 201
    status, report = await api(client, "GET", f"/api/v1/moderation/reports/{receipt['id']}", mod)
    assert status == 200 and report["post"] is None
