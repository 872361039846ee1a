"""Badge federation over HTTP on both backends: badge actors and their WebFinger, the instance
actor (FEP-d556) and NodeInfo, the public badge directory, pending badges' invisibility, the
members' announce choice and the admins' badge peers (API and pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Badge, Role
from tests.fedipoly.web.profile_badges_support import make_person, open_app
from tests.fedipoly.web.social_support import Member, api, browse, submit

AP = {"Accept": "application/activity+json"}


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


@pytest.fixture
async def alice(app: web.Application) -> Member:
    return await make_person(app, "alice")


@pytest.fixture
async def bob(app: web.Application) -> Member:
    return await make_person(app, "bob")


@pytest.fixture
async def mod(app: web.Application) -> Member:
    return await make_person(app, "mod", Role.MODERATOR)


@pytest.fixture
async def admin(app: web.Application) -> Member:
    return await make_person(app, "operator_ann", Role.ADMIN)


async def get_json(
    client: TestClient, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    response = await client.get(url, headers=headers or AP, allow_redirects=False)
    text = await response.text()
    return response.status, (await response.json(content_type=None)) if text else None


def path_of(app: web.Application, url: str) -> str:
    return url.removeprefix(app[appkeys.URLS].base)


async def directory_slugs(client: TestClient, app: web.Application) -> list[str]:
    """Every slug of the public directory, walking its pages."""
    status, collection = await get_json(client, "/federation/badges")
    assert status == 200 and collection["type"] == "OrderedCollection"
    slugs: list[str] = []
    page_url: str | None = collection["first"]
    while page_url:
        status, page = await get_json(client, path_of(app, page_url))
        assert status == 200 and page["type"] == "OrderedCollectionPage"
        slugs += [item["slug"] for item in page["orderedItems"]]
        page_url = page.get("next")
    assert len(slugs) == collection["totalItems"]
    return slugs


async def chess(app: web.Application) -> Badge:
    return await app[appkeys.BADGES].get_badge("chess", None)


# --- badge actors -------------------------------------------------------------------------


async def test_a_badge_is_a_group_found_by_handle(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    domain, badge = app[appkeys.URLS].domain, await chess(app)
    actor_url = app[appkeys.URLS].badge_actor(badge.id)
    status, jrd = await get_json(
        client, f"/.well-known/webfinger?resource=acct:badge.chess@{domain}", {}
    )
    assert status == 200 and jrd["subject"] == f"acct:badge.chess@{domain}"
    [self_link] = [link for link in jrd["links"] if link["rel"] == "self"]
    assert self_link == {"rel": "self", "type": "application/activity+json", "href": actor_url}
    _, by_url = await get_json(client, f"/.well-known/webfinger?resource={actor_url}", {})
    assert by_url["subject"] == jrd["subject"]

    status, actor = await get_json(client, path_of(app, actor_url))
    assert status == 200
    assert actor["id"] == actor_url and actor["type"] == "Group"
    assert actor["preferredUsername"] == "badge.chess" and actor["name"] == "Chess"
    assert actor["publicKey"]["owner"] == actor_url
    assert actor["publicKey"]["id"] == f"{actor_url}#main-key"
    assert actor["publicKey"]["publicKeyPem"] != app[appkeys.INSTANCE_KEYS].public_pem
    assert actor["manuallyApprovesFollowers"] is False
    # What Mastodon needs to show and follow a Group (mastodon-interop.md §actor fields).
    urls = app[appkeys.URLS]
    assert actor["inbox"] == f"{actor_url}/inbox"
    assert actor["endpoints"] == {"sharedInbox": urls.shared_inbox}
    assert actor["discoverable"] is True
    assert actor["url"] == urls.badge_page("chess")
    assert set(jrd["aliases"]) == {actor_url, urls.badge_page("chess")}
    # Its avatar is a raster image (Mastodon keeps no SVG or text avatars).
    assert actor["icon"]["type"] == "Image" and actor["icon"]["mediaType"] == "image/png"
    icon = await client.get(path_of(app, actor["icon"]["url"]))
    assert icon.status == 200 and icon.content_type == "image/png"
    assert (await icon.read()).startswith(b"\x89PNG\r\n\x1a\n")
    for name in ("outbox", "followers", "following"):
        status, collection = await get_json(client, path_of(app, actor[name]))
        assert status == 200 and collection["totalItems"] == 0, name

    # A browser is sent to the badge's page, which names the handle.
    response = await client.get(path_of(app, actor_url), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].endswith("/badges/chess")
    _, html = await browse(client, "/badges/chess", alice)
    assert f"@badge.chess@{domain}" in html

    # Member handles are unaffected; an unknown badge handle is a 404.
    status, _ = await get_json(client, f"/.well-known/webfinger?resource=acct:alice@{domain}", {})
    assert status == 200
    status, _ = await get_json(
        client, f"/.well-known/webfinger?resource=acct:badge.nope@{domain}", {}
    )
    assert status == 404


async def test_a_pending_badge_is_invisible_but_to_its_creator_and_moderators(
    client: TestClient, app: web.Application, alice: Member, bob: Member, mod: Member
) -> None:
    domain = app[appkeys.URLS].domain
    status, _ = await api(
        client,
        "POST",
        "/api/v1/badges",
        alice,
        {"slug": "knitting", "display_name": "Knitting", "color": "#aa3300", "icon": "*"},
    )
    assert status == 201
    pending = await app[appkeys.BADGES].get_badge("knitting", alice.account)
    actor_path = path_of(app, app[appkeys.URLS].badge_actor(pending.id))

    # HTML and API: only the creator and moderators.
    for who, expected in ((None, 404), (bob, 404), (alice, 200), (mod, 200)):
        status, _ = await browse(client, "/badges/knitting", who)
        assert status == expected, (who, "html")
        status, _ = await api(client, "GET", "/api/v1/badges/knitting", who)
        assert status == expected, (who, "api")
        status, _ = await api(client, "GET", "/api/v1/badges/knitting/also-on", who)
        assert status == expected, (who, "also-on")
    _, creator_html = await browse(client, "/badges/knitting", alice)
    assert "@badge.knitting" not in creator_html  # no fediverse handle while pending

    # Directory and actor: nobody, whoever asks.
    assert "knitting" not in await directory_slugs(client, app)
    for path in (actor_path, f"{actor_path}/outbox", f"{actor_path}/followers"):
        status, _ = await get_json(client, path)
        assert status == 404, path
    for path in (f"{actor_path}/following", f"{actor_path}/icon.png"):
        status = (await client.get(path)).status
        assert status == 404, path
    status, _ = await get_json(
        client, f"/.well-known/webfinger?resource=acct:badge.knitting@{domain}", {}
    )
    assert status == 404
    inbox = await client.post(
        f"{actor_path}/inbox", data=b"{}", headers={"Content-Type": "application/activity+json"}
    )
    assert inbox.status == 404

    # Once approved it is everywhere: the checks above can fail.
    await app[appkeys.BADGES].approve(mod.account, "knitting")
    assert "knitting" in await directory_slugs(client, app)
    status, actor = await get_json(client, actor_path)
    assert status == 200 and actor["preferredUsername"] == "badge.knitting"
    status, _ = await browse(client, "/badges/knitting", bob)
    assert status == 200


# --- the instance actor and the directory ---------------------------------------------------


async def test_the_instance_actor_is_found_on_the_host_and_links_the_directory(
    client: TestClient, app: web.Application
) -> None:
    urls = app[appkeys.URLS]
    # (acct:host@host also works, for hosts without a port as in production.)
    for resource in (f"{urls.base}/", urls.base, urls.instance_actor):
        status, jrd = await get_json(client, f"/.well-known/webfinger?resource={resource}", {})
        assert status == 200, resource
        hrefs = {link["rel"]: link["href"] for link in jrd["links"] if "href" in link}
        assert hrefs["self"] == urls.instance_actor, resource
    status, jrd = await get_json(client, f"/.well-known/webfinger?resource={urls.base}/", {})
    assert {
        "rel": "https://www.w3.org/ns/activitystreams#Service",
        "type": "application/activity+json",
        "href": urls.instance_actor,
    } in jrd["links"]

    status, actor = await get_json(client, "/actor")
    assert status == 200 and actor["type"] == "Application"
    assert actor["badgeDirectory"] == f"{urls.base}/federation/badges"
    assert actor["badgeFederation"]["badgeActors"] is True

    status, links = await get_json(client, "/.well-known/nodeinfo", {})
    hrefs = {link["rel"]: link["href"] for link in links["links"]}
    # FEP-2677: NodeInfo's discovery document links the instance actor.
    assert hrefs["https://www.w3.org/ns/activitystreams#Application"] == urls.instance_actor
    nodeinfo_url = hrefs["http://nodeinfo.diaspora.software/ns/schema/2.1"]
    _, nodeinfo = await get_json(client, path_of(app, nodeinfo_url), {})
    metadata = nodeinfo["metadata"]
    assert metadata["instanceActor"] == urls.instance_actor
    assert metadata["badgeFederation"]["directory"] == f"{urls.base}/federation/badges"


async def test_the_directory_pages_approved_badges_with_their_holder_counts(
    client: TestClient, app: web.Application, alice: Member, bob: Member
) -> None:
    badges = app[appkeys.BADGES]
    await badges.add_badges(alice.account, ["chess"])
    await badges.add_badges(bob.account, ["chess"])
    slugs = await directory_slugs(client, app)
    assert slugs == sorted(slugs) and "chess" in slugs

    _, collection = await get_json(client, "/federation/badges")
    _, page = await get_json(client, path_of(app, collection["first"]))
    [item] = [entry for entry in page["orderedItems"] if entry["slug"] == "chess"]
    badge = await chess(app)
    assert item == {
        "id": app[appkeys.URLS].badge_actor(badge.id),
        "type": "Group",
        "preferredUsername": "badge.chess",
        "slug": "chess",
        "name": "Chess",
        "icon": badge.icon,
        "url": app[appkeys.URLS].badge_page("chess"),
        "holderCount": 2,
        "updated": item["updated"],
    }
    assert item["updated"].endswith("Z")


# --- members: the announce choice -------------------------------------------------------------


async def test_members_choose_whether_badges_announce_their_posts(
    client: TestClient, alice: Member
) -> None:
    assert await api(client, "GET", "/api/v1/profile/badge-announces", alice) == (
        200,
        {"enabled": False},  # opt-in: off until the member says yes
    )
    assert await api(
        client, "PUT", "/api/v1/profile/badge-announces", alice, {"enabled": True}
    ) == (
        200,
        {"enabled": True},
    )
    assert await api(
        client, "PUT", "/api/v1/profile/badge-announces", alice, {"enabled": False}
    ) == (
        200,
        {"enabled": False},
    )
    status, body = await api(
        client, "PUT", "/api/v1/profile/badge-announces", alice, {"enabled": "no"}
    )
    assert status == 400 and body["detail"]["field"] == "enabled"
    assert (await api(client, "GET", "/api/v1/profile/badge-announces", alice))[1] == {
        "enabled": False
    }
    status, _ = await api(client, "GET", "/api/v1/profile/badge-announces")
    assert status == 401

    _, html = await browse(client, "/settings/badge-announces", alice)
    assert 'id="announces-no" name="enabled" value="no" checked' in html
    response = await submit(client, "/settings/badge-announces", {"enabled": "yes"}, alice)
    assert response.status == 303
    assert (await api(client, "GET", "/api/v1/profile/badge-announces", alice))[1] == {
        "enabled": True
    }


# --- admins: badge peers -------------------------------------------------------------------------


async def test_only_admins_manage_badge_peers(
    client: TestClient, alice: Member, mod: Member, admin: Member
) -> None:
    for who in (alice, mod):
        assert (await api(client, "GET", "/api/v1/admin/badge-peers", who))[0] == 403
        assert (
            await api(client, "POST", "/api/v1/admin/badge-peers", who, {"host": "peer.example"})
        )[0] == 403
        assert (await api(client, "DELETE", "/api/v1/admin/badge-peers/peer.example", who))[
            0
        ] == 403
        assert (await browse(client, "/admin/badge-peers", who))[0] == 403
        response = await submit(client, "/admin/badge-peers", {"host": "peer.example"}, who)
        assert response.status == 403
    assert (await api(client, "GET", "/api/v1/admin/badge-peers", admin))[1] == {
        "peers": [],
        "met": [],
    }


async def test_admins_list_approve_and_remove_badge_peers(
    client: TestClient, admin: Member
) -> None:
    status, body = await api(client, "POST", "/api/v1/admin/badge-peers", admin, {"host": "x y"})
    assert status == 400 and body["detail"]["field"] == "host"
    status, peer = await api(
        client, "POST", "/api/v1/admin/badge-peers", admin, {"host": "Peer.Example:8443"}
    )
    assert status == 200
    assert peer["host"] == "peer.example:8443" and peer["approved"] is False
    status, peer = await api(
        client,
        "POST",
        "/api/v1/admin/badge-peers",
        admin,
        {"host": "peer.example:8443", "approved": True},
    )
    assert peer["approved"] is True
    _, listed = await api(client, "GET", "/api/v1/admin/badge-peers", admin)
    assert [item["host"] for item in listed["peers"]] == ["peer.example:8443"]

    # The page lists it and takes a new one.
    _, html = await browse(client, "/admin/badge-peers", admin)
    assert "peer.example:8443" in html
    response = await submit(client, "/admin/badge-peers", {"host": "other.example"}, admin)
    assert response.status == 303
    _, listed = await api(client, "GET", "/api/v1/admin/badge-peers", admin)
    assert [item["host"] for item in listed["peers"]] == ["other.example", "peer.example:8443"]

    status, _ = await api(client, "DELETE", "/api/v1/admin/badge-peers/peer.example:8443", admin)
    assert status == 204
    status, _ = await api(client, "DELETE", "/api/v1/admin/badge-peers/peer.example:8443", admin)
    assert status == 404
    response = await submit(client, "/admin/badge-peers/remove", {"host": "other.example"}, admin)
    assert response.status == 303
    assert (await api(client, "GET", "/api/v1/admin/badge-peers", admin))[1]["peers"] == []
