"""NodeInfo discovery and documents (schema 2.0 and 2.1).

Follows jhass/nodeinfo ``PROTOCOL.md``: ``/.well-known/nodeinfo`` lists one link per schema
version we serve, and each document's ``version`` equals its link's ``rel`` suffix. Mastodon
serves only 2.0 (``app/serializers/node_info/serializer.rb``); crawlers (fedidb,
the-federation.info) and clients read ``software.name`` and ``version`` to tell servers apart,
and a client "should follow the link matching the highest schema version it supports".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APPLICATION_ACTOR_REL",
    "NODEINFO_CONTENT_TYPE",
    "NODEINFO_VERSIONS",
    "nodeinfo_content_type",
    "nodeinfo_document",
    "nodeinfo_links",
    "nodeinfo_path",
    "nodeinfo_schema",
]

NODEINFO_VERSIONS = ("2.0", "2.1")
_SCHEMA_BASE = "http://nodeinfo.diaspora.software/ns/schema/"
# Both schemas: "^[a-z0-9-]+$" for software.name.
_SOFTWARE_NAME = re.compile(r"[a-z0-9-]+")


def _check_version(version: str) -> str:
    if version not in NODEINFO_VERSIONS:
        raise ValueError(f"NodeInfo version must be one of {NODEINFO_VERSIONS}, not {version!r}")
    return version


def nodeinfo_schema(version: str) -> str:
    """The schema URL of ``version``, which is also its ``rel`` in the discovery document."""
    return _SCHEMA_BASE + _check_version(version)


def nodeinfo_content_type(version: str) -> str:
    """The Content-Type to serve the ``version`` document with (PROTOCOL.md §Retrieval)."""
    return f'application/json; profile="{nodeinfo_schema(version)}#"'


NODEINFO_CONTENT_TYPE = nodeinfo_content_type("2.1")


def nodeinfo_path(version: str) -> str:
    """Where :func:`nodeinfo_links` says the ``version`` document lives: ``/nodeinfo/<v>``."""
    return f"/nodeinfo/{_check_version(version)}"


# FEP-2677 ("Identifying the Application Actor"): the server's own actor is linked from the
# discovery document under this rel (the WordPress ActivityPub plugin, Mobilizon and others
# read it there).
APPLICATION_ACTOR_REL = "https://www.w3.org/ns/activitystreams#Application"


def nodeinfo_links(base_url: str, application_actor: str | None = None) -> dict[str, Any]:
    """The ``/.well-known/nodeinfo`` discovery document, linking every version we serve and,
    when given, the server's application actor (FEP-2677)."""
    base = base_url.rstrip("/")
    links = [
        {"rel": nodeinfo_schema(v), "href": f"{base}{nodeinfo_path(v)}"} for v in NODEINFO_VERSIONS
    ]
    if application_actor is not None:
        links.append({"rel": APPLICATION_ACTOR_REL, "href": application_actor})
    return {"links": links}


def nodeinfo_document(
    *,
    version: str,
    software_name: str,
    software_version: str,
    repository: str | None,
    open_registrations: bool,
    users_total: int,
    users_active_month: int,
    users_active_halfyear: int,
    local_posts: int,
    metadata: Mapping[str, Any],
    homepage: str | None = None,
) -> dict[str, Any]:
    """A NodeInfo document of schema ``version`` ("2.0" or "2.1").

    ``software.repository`` and ``software.homepage`` exist only in 2.1 and are left out of
    2.0 documents (its schema forbids additional properties). ``software_name`` must match
    ``[a-z0-9-]+`` and name this software, not "mastodon".
    """
    _check_version(version)
    if not _SOFTWARE_NAME.fullmatch(software_name):
        raise ValueError(f"software name must match [a-z0-9-]+, not {software_name!r}")
    if not software_version:
        raise ValueError("software version must not be empty")
    counts = {
        "users_total": users_total,
        "users_active_month": users_active_month,
        "users_active_halfyear": users_active_halfyear,
        "local_posts": local_posts,
    }
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    software: dict[str, Any] = {"name": software_name, "version": software_version}
    if version == "2.1":
        if repository is not None:
            software["repository"] = repository
        if homepage is not None:
            software["homepage"] = homepage
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": users_total,
                "activeMonth": users_active_month,
                "activeHalfyear": users_active_halfyear,
            },
            "localPosts": local_posts,
        },
        "metadata": dict(metadata),
    }
