"""WebFinger finds the instance actor by its handle when the server runs on a port (as every
local test instance does): the handle's user part is then the host with its port."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from tests.fedipoly.web.social_support import make_member


async def finger(client: TestClient, resource: str) -> tuple[int, dict[str, object]]:
    response = await client.get(f"/.well-known/webfinger?resource={quote(resource)}")
    return response.status, await response.json()


async def test_the_instance_actor_handle_with_a_port_resolves_and_member_names_stay_strict(
    client: TestClient,
) -> None:
    urls = client.server.app[appkeys.URLS]
    domain = urls.domain
    assert ":" in domain  # the test server listens on a port
    await make_member(client.server.app, "alice")

    for resource in (f"acct:{domain}@{domain}", f"{domain.upper()}@{domain}"):
        status, jrd = await finger(client, resource)
        assert status == 200, (resource, jrd)
        assert jrd["subject"] == f"acct:{domain}@{domain}"
        links = jrd["links"]
        assert isinstance(links, list)
        assert {
            "rel": "self",
            "type": "application/activity+json",
            "href": urls.instance_actor,
        } in links

    status, jrd = await finger(client, f"acct:alice@{domain}")
    assert status == 200 and jrd["subject"] == f"acct:alice@{domain}"
    host, port = domain.rsplit(":", 1)
    for refused in (f"acct:alice:{port}@{domain}", f"acct:{host}:1@{domain}"):
        status, _ = await finger(client, refused)
        assert status == 400, refused
