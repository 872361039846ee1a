"""Tests for federation.nodeinfo: discovery links and 2.0 / 2.1 documents."""

from __future__ import annotations

from typing import Any

import pytest

from federation.nodeinfo import (
    NODEINFO_CONTENT_TYPE,
    nodeinfo_content_type,
    nodeinfo_document,
    nodeinfo_links,
    nodeinfo_path,
)


def document(version: str, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "version": version,
        "software_name": "fedipoly",
        "software_version": "0.1.0",
        "repository": "https://code.example/fedipoly",
        "open_registrations": False,
        "users_total": 3,
        "users_active_month": 2,
        "users_active_halfyear": 3,
        "local_posts": 42,
        "metadata": {"nodeName": "Fedipoly test"},
    }
    args.update(overrides)
    return nodeinfo_document(**args)


def test_links() -> None:
    assert nodeinfo_links("https://our.host/") == {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "https://our.host/nodeinfo/2.0",
            },
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": "https://our.host/nodeinfo/2.1",
            },
        ]
    }
    assert nodeinfo_path("2.1") == "/nodeinfo/2.1"


def test_links_name_the_application_actor_as_fep_2677_says() -> None:
    links = nodeinfo_links("https://our.host", "https://our.host/actor")["links"]
    assert links[-1] == {
        "rel": "https://www.w3.org/ns/activitystreams#Application",
        "href": "https://our.host/actor",
    }
    assert links[:-1] == nodeinfo_links("https://our.host")["links"]


def test_content_type() -> None:
    assert NODEINFO_CONTENT_TYPE == (
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
    )
    assert nodeinfo_content_type("2.0").endswith('schema/2.0#"')


def test_document_21() -> None:
    doc = document("2.1", homepage="https://fedipoly.example")
    assert doc == {
        "version": "2.1",
        "software": {
            "name": "fedipoly",
            "version": "0.1.0",
            "repository": "https://code.example/fedipoly",
            "homepage": "https://fedipoly.example",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {
            "users": {"total": 3, "activeMonth": 2, "activeHalfyear": 3},
            "localPosts": 42,
        },
        "metadata": {"nodeName": "Fedipoly test"},
    }


def test_document_20_has_no_repository_or_homepage() -> None:
    doc = document("2.0", homepage="https://fedipoly.example")
    assert doc["version"] == "2.0"
    assert doc["software"] == {"name": "fedipoly", "version": "0.1.0"}
    # The keys the activitypub-testsuite asserts.
    for key in ("services", "openRegistrations", "usage", "metadata"):
        assert key in doc


def test_document_21_without_repository() -> None:
    assert "repository" not in document("2.1", repository=None)["software"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"version": "2.2"},
        {"software_name": "Fedipoly"},
        {"software_name": "fedi poly"},
        {"software_version": ""},
        {"users_total": -1},
        {"local_posts": -5},
    ],
)
def test_invalid(overrides: dict[str, Any]) -> None:
    args = dict(overrides)
    version = args.pop("version", "2.1")
    with pytest.raises(ValueError):
        document(version, **args)
