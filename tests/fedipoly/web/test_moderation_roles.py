"""Every moderation endpoint answers 403 to a member.

The endpoints are read from the app's route table -- every route under /api/v1/moderation/,
/moderation, /api/v1/admin/ and /admin -- so an endpoint added later is checked without anyone remembering to.
Path parameters name things that exist, so a 403 is the role check, not a missing target;
an admin calling the same routes is never refused, so the check is not refusing everyone.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.profile_badges_support import make_person, open_app
from tests.fedipoly.web.social_support import CSRF, Member

# Moderation and administration (e.g. badge peers) alike: members may use none of it.
MODERATION_PREFIXES = ("/api/v1/moderation/", "/moderation", "/api/v1/admin/", "/admin")
PARAMETER = re.compile(r"\{(\w+)\}")


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


def moderation_routes(app: web.Application) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(MODERATION_PREFIXES) and route.method != "HEAD":
            found.add((route.method, path))
    return sorted(found)


async def existing_targets(app: web.Application, admin: Member, member: Member) -> dict[str, str]:
    """Values for every path parameter, each naming something that exists."""
    report = await app[appkeys.MODERATION].report(member.account, "badge", "chess", "spam")
    await app[appkeys.BADGES].create_badge(
        member.account, slug="pyhton", display_name="Pyhton", color="#123456", icon="🐍"
    )
    merge = await app[appkeys.BADGE_MODERATION].merge(admin.account, "pyhton", "python")
    await app[appkeys.MODERATION].block_domain(admin.account, "spam.example")
    return {
        "slug": "chess",
        "report_id": report.id,
        "merge_id": merge.id,
        "username": "target",
        "domain": "spam.example",
    }


def fill(path: str, targets: dict[str, str]) -> str:
    return PARAMETER.sub(lambda match: targets.get(match.group(1), "x"), path)


async def call(client: TestClient, method: str, path: str, who: Member) -> int:
    if path.startswith("/api/"):
        body = {} if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(method, path, headers=who.auth, json=body)
    else:
        response = await client.request(
            method,
            path,
            data={"csrf_token": CSRF} if method == "POST" else None,
            headers={"Accept": "text/html"},
            cookies=who.cookies,
            allow_redirects=False,
        )
    await response.read()
    return response.status


async def test_every_moderation_endpoint_answers_403_to_a_member(client: TestClient) -> None:
    app = client.server.app
    admin = await make_person(app, "ada", Role.ADMIN)
    member = await make_person(app, "member")
    await make_person(app, "target")
    targets = await existing_targets(app, admin, member)
    routes = moderation_routes(app)
    # The table is really read: the review queue, merges, reports and blocks are all in it.
    paths = {path for _method, path in routes}
    for known in (
        "/moderation/badges",
        "/api/v1/moderation/badges/{slug}/merge",
        "/api/v1/moderation/reports/{report_id}/resolve",
        "/api/v1/moderation/domain_blocks",
        "/moderation/audit",
    ):
        assert known in paths

    answers = {
        (method, path): await call(client, method, fill(path, targets), member)
        for method, path in routes
    }
    assert {key: status for key, status in answers.items() if status != 403} == {}

    # The same requests from an admin are never refused for their role.
    refused = []
    for method, path in routes:
        status = await call(client, method, fill(path, targets), admin)
        if status in (401, 403):
            refused.append((method, path, status))
    assert refused == []
