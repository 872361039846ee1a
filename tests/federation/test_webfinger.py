"""Tests for federation.webfinger: resource parsing, JRD and host-meta shapes, and lookups
against a real aiohttp WebFinger server on 127.0.0.1."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from federation.client import FederationClient
from federation.errors import FederationError, WebFingerError
from federation.ssrf import HostPolicy
from federation.webfinger import (
    build_jrd,
    host_meta_json,
    host_meta_xml,
    lookup,
    parse_acct,
)

XRD_NS = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:alice@our.host", ("alice", "our.host")),
        ("ACCT:alice@Our.Host", ("alice", "our.host")),
        ("alice@our.host", ("alice", "our.host")),
        ("@Alice@our.host", ("Alice", "our.host")),
        ("  acct:alice@our.host ", ("alice", "our.host")),
        ("mastodon.example@mastodon.example", ("mastodon.example", "mastodon.example")),
        ("bob@127.0.0.1:8080", ("bob", "127.0.0.1:8080")),
        ("bob@[::1]:8080", ("bob", "[::1]:8080")),
        ("first.last-name_1@a-b.example", ("first.last-name_1", "a-b.example")),
        # An instance actor on a port is named after its host, port included.
        ("acct:127.0.0.1:8080@127.0.0.1:8080", ("127.0.0.1:8080", "127.0.0.1:8080")),
        ("Our.Host:8443@our.host:8443", ("Our.Host:8443", "our.host:8443")),
        ("[::1]:8080@[::1]:8080", ("[::1]:8080", "[::1]:8080")),
    ],
)
def test_parse_acct(resource: str, expected: tuple[str, str]) -> None:
    assert parse_acct(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "alice",
        "acct:alice",
        "@alice",
        "acct:@our.host",
        "alice@",
        "alice@our.host/any/path",  # webfinger.js GHSA-8xq3-w9fx-74rv
        "alice@our.host?x=1",
        "alice@our.host#x",
        "alice@bob@our.host",
        "al ice@our.host",
        "alice@our host",
        "alice@-bad.host",
        "alice@our.host:99999",
        "alice@our.host:",
        "https://our.host/users/alice",
        "al%69ce@our.host",
        # A ':' in the user part is only ever the instance actor's own host and port.
        "alice:8080@our.host:8080",
        "our.host:8080@our.host:8081",
        "our.host:8080@other.host:8080",
        "our.host:8080@our.host",
        "127.0.0.1:99999@127.0.0.1:99999",
        "our.host:@our.host:",
    ],
)
def test_parse_acct_refuses(resource: str) -> None:
    with pytest.raises(WebFingerError) as info:
        parse_acct(resource)
    assert info.value.status == 400
    assert isinstance(info.value, FederationError)


def test_build_jrd_matches_mastodon_shape() -> None:
    jrd = build_jrd(
        subject="acct:alice@our.host",
        actor_url="https://our.host/users/alice",
        profile_url="https://our.host/@alice",
        aliases=["https://our.host/@alice", "https://our.host/users/alice"],
        subscribe_template="https://our.host/authorize_interaction?uri={uri}",
    )
    assert jrd == {
        "subject": "acct:alice@our.host",
        "aliases": ["https://our.host/@alice", "https://our.host/users/alice"],
        "links": [
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": "https://our.host/@alice",
            },
            {
                "rel": "self",
                "type": "application/activity+json",
                "href": "https://our.host/users/alice",
            },
            {
                "rel": "http://ostatus.org/schema/1.0/subscribe",
                "template": "https://our.host/authorize_interaction?uri={uri}",
            },
        ],
    }


def test_build_jrd_minimal_and_byte_identical_href() -> None:
    actor = "https://our.host:8443/users/Alice/"  # whatever the id is, it is copied as is
    jrd = build_jrd(subject="alice@our.host", actor_url=actor, profile_url=None)
    assert jrd == {
        "subject": "acct:alice@our.host",
        "links": [{"rel": "self", "type": "application/activity+json", "href": actor}],
    }


def test_host_meta() -> None:
    xml = host_meta_xml("https://our.host/")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == f"{XRD_NS}XRD"
    (link,) = root.findall(f"{XRD_NS}Link")
    assert link.attrib == {
        "rel": "lrdd",
        "template": "https://our.host/.well-known/webfinger?resource={uri}",
    }
    assert host_meta_json("https://our.host") == {
        "links": [
            {"rel": "lrdd", "template": "https://our.host/.well-known/webfinger?resource={uri}"}
        ]
    }


def test_host_meta_escapes() -> None:
    root = ET.fromstring(host_meta_xml('https://our.host/a"<&>'))
    (link,) = root.findall(f"{XRD_NS}Link")
    assert link.attrib["template"].startswith('https://our.host/a"<&>/')


# -- lookups against a loopback WebFinger server ------------------------------------------------


@dataclass
class WebFingerServer:
    port: int = 0
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
async def wf() -> AsyncIterator[WebFingerServer]:
    server = WebFingerServer()

    async def webfinger(request: web.Request) -> web.Response:
        resource = request.query.get("resource", "")
        server.seen.append(
            (resource, request.headers.get("Accept", ""), request.headers.get("Signature"))
        )
        status, doc = server.answers.get(resource, (404, {"error": "not found"}))
        return web.json_response(doc, status=status, content_type="application/jrd+json")

    app = web.Application()
    app.router.add_get("/.well-known/webfinger", webfinger)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = int(runner.addresses[0][1])
    yield server
    await runner.cleanup()


@pytest.fixture
async def client(wf: WebFingerServer) -> AsyncIterator[FederationClient]:
    async with FederationClient(HostPolicy(frozenset({wf.host})), "Fedipoly-test/0.1") as c:
        yield c


def serve(wf: WebFingerServer, links: list[dict[str, Any]], **jrd: Any) -> str:
    acct = f"acct:bob@{wf.host}"
    wf.answers[acct] = (200, {"subject": acct, "links": links, **jrd})
    return acct


def self_link(href: str, type_: str = "application/activity+json") -> dict[str, str]:
    return {"rel": "self", "type": type_, "href": href}


async def test_lookup(wf: WebFingerServer, client: FederationClient) -> None:
    actor = f"http://{wf.host}/users/bob"
    serve(
        wf,
        [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "x"},
            self_link(actor),
        ],
    )
    assert await lookup(client, f"@bob@{wf.host}", scheme="http") == actor
    resource, accept, signature = wf.seen[0]
    assert resource == f"acct:bob@{wf.host}"
    assert accept == "application/jrd+json, application/json"
    assert signature is None  # WebFinger is unsigned, as Mastodon sends it


async def test_lookup_ld_json_profile_link(wf: WebFingerServer, client: FederationClient) -> None:
    actor = f"http://{wf.host}/users/bob"
    link_type = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    serve(wf, [self_link("https://wrong/", "application/json"), self_link(actor, link_type)])
    assert await lookup(client, f"bob@{wf.host}", scheme="http") == actor


async def test_subject_compared_case_insensitively(
    wf: WebFingerServer, client: FederationClient
) -> None:
    actor = f"http://{wf.host}/users/bob"
    acct = serve(wf, [self_link(actor)])
    wf.answers[acct][1]["subject"] = f"acct:BOB@{wf.host}"
    assert await lookup(client, f"bob@{wf.host}", scheme="http") == actor


async def test_wrong_subject(wf: WebFingerServer, client: FederationClient) -> None:
    acct = serve(wf, [self_link(f"http://{wf.host}/users/mallory")])
    wf.answers[acct][1]["subject"] = "acct:mallory@evil.example"
    with pytest.raises(WebFingerError, match="answered for"):
        await lookup(client, f"bob@{wf.host}", scheme="http")


async def test_subject_with_requested_alias(wf: WebFingerServer, client: FederationClient) -> None:
    actor = f"http://{wf.host}/users/bob"
    acct = serve(wf, [self_link(actor)], aliases=[f"acct:bob@{wf.host}", actor])
    wf.answers[acct][1]["subject"] = "acct:bob@example.com"
    assert await lookup(client, f"bob@{wf.host}", scheme="http") == actor
    assert len(wf.seen) == 1  # no second lookup


async def test_missing_subject(wf: WebFingerServer, client: FederationClient) -> None:
    acct = serve(wf, [self_link(f"http://{wf.host}/users/bob")])
    del wf.answers[acct][1]["subject"]
    with pytest.raises(WebFingerError, match="subject"):
        await lookup(client, f"bob@{wf.host}", scheme="http")


@pytest.mark.parametrize(
    "links",
    [
        [],
        [{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "x"}],
        [self_link("http://x.example/users/bob", "application/json")],  # Mastodon refuses it
        [self_link("http://x.example/users/bob", "text/html")],
        ["not a link"],
    ],
)
async def test_missing_self_link(
    wf: WebFingerServer, client: FederationClient, links: list[Any]
) -> None:
    serve(wf, links)
    with pytest.raises(WebFingerError, match="no ActivityPub self link"):
        await lookup(client, f"bob@{wf.host}", scheme="http")


@pytest.mark.parametrize(
    "href", ["javascript:alert(1)", "ftp://x.example/bob", "/users/bob", "", None, 5]
)
async def test_non_http_href(wf: WebFingerServer, client: FederationClient, href: Any) -> None:
    serve(wf, [{"rel": "self", "type": "application/activity+json", "href": href}])
    with pytest.raises(WebFingerError, match="not http"):
        await lookup(client, f"bob@{wf.host}", scheme="http")


async def test_not_found(wf: WebFingerServer, client: FederationClient) -> None:
    with pytest.raises(WebFingerError) as info:
        await lookup(client, f"nobody@{wf.host}", scheme="http")
    assert info.value.status == 404


async def test_unreachable_host_has_no_status(client: FederationClient) -> None:
    with pytest.raises(WebFingerError) as info:
        await lookup(client, "bob@127.0.0.1:1", scheme="http")  # refused by the policy
    assert info.value.status is None


async def test_bad_handle_makes_no_request(wf: WebFingerServer, client: FederationClient) -> None:
    with pytest.raises(WebFingerError):
        await lookup(client, f"bob@{wf.host}/../admin", scheme="http")
    with pytest.raises(ValueError):
        await lookup(client, f"bob@{wf.host}", scheme="gopher")
    assert wf.seen == []
