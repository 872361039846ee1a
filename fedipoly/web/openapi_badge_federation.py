"""OpenAPI paths and schemas for badge federation (badge_federation.py): members' choice to let
badge actors announce their posts, admins' badge peers, and a badge's namesakes on peers.

openapi.py merges BADGE_FEDERATION_PATHS and BADGE_FEDERATION_SCHEMAS into its document.
"""

from __future__ import annotations

from typing import Any

from fedipoly.web.openapi import DATE_TIME, STRING, _errors, _object, _ok, _op, _ref

BOOLEAN = {"type": "boolean"}
NULLABLE_STRING = {"type": ["string", "null"]}
HOST = {
    "type": "string",
    "description": "A host name, optionally with a port: peer.example or peer.example:8443",
    "maxLength": 260,
}

BADGE_FEDERATION_SCHEMAS: dict[str, Any] = {
    "BadgeAnnounces": _object(
        {
            "enabled": {
                "type": "boolean",
                "description": "Whether the badges you hold announce your tagged public posts "
                "to their fediverse followers (on unless you switched it off)",
            }
        },
        ["enabled"],
    ),
    "BadgePeer": _object(
        {
            "host": STRING,
            "approved": {
                "type": "boolean",
                "description": "Our badges follow its badges; their posts join our badge pages",
            },
            "from_config": {
                "type": "boolean",
                "description": "Listed in federation.badge_peers (approved, cannot be removed here)",
            },
            "added_at": DATE_TIME,
            "fetched_at": {"type": ["string", "null"], "format": "date-time"},
            "last_error": NULLABLE_STRING,
            "badges_read": {
                "type": "integer",
                "minimum": 0,
                "description": "Badges read from its directory the last time",
            },
        },
        ["host", "approved", "from_config", "added_at", "fetched_at", "last_error", "badges_read"],
    ),
    "BadgePeers": _object(
        {
            "peers": {"type": "array", "items": _ref("BadgePeer")},
            "met": {
                "type": "array",
                "items": STRING,
                "description": "Instances this one has met that are not peers yet",
            },
        },
        ["peers", "met"],
    ),
    "BadgePeerInput": _object({"host": HOST, "approved": BOOLEAN}, ["host"]),
    "AlsoOn": _object(
        {
            "items": {
                "type": "array",
                "items": _object(
                    {
                        "host": STRING,
                        "name": STRING,
                        "holders": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Members listed on its page there",
                        },
                        "url": NULLABLE_STRING,
                        "approved": BOOLEAN,
                    },
                    ["host", "name", "holders", "url", "approved"],
                ),
            }
        },
        ["items"],
    ),
}

BADGE_FEDERATION_PATHS: dict[str, Any] = {
    "/api/v1/profile/badge-announces": {
        "get": _op(
            "Whether badge actors announce your tagged public posts",
            _ok("Your choice", _ref("BadgeAnnounces")) | _errors(401),
            tag="badges",
        ),
        "put": _op(
            "Let badge actors announce your tagged public posts, or not (future posts)",
            _ok("Your choice", _ref("BadgeAnnounces")) | _errors(400, 401),
            body=_ref("BadgeAnnounces"),
            tag="badges",
        ),
    },
    "/api/v1/admin/badge-peers": {
        "get": _op(
            "Badge peers and the instances this one has met (admins)",
            _ok("Peers", _ref("BadgePeers")) | _errors(401, 403),
            tag="federation",
        ),
        "post": _op(
            "List or approve an instance as a badge peer (admins); its directory is read soon",
            _ok("The peer", _ref("BadgePeer")) | _errors(400, 401, 403),
            body=_ref("BadgePeerInput"),
            tag="federation",
        ),
    },
    "/api/v1/admin/badge-peers/{host}": {
        "delete": _op(
            "Remove a badge peer and the badges read from it (admins)",
            _ok("Removed", status="204") | _errors(400, 401, 403, 404),
            tag="federation",
        ),
    },
    "/api/v1/badges/{slug}/also-on": {
        "get": _op(
            "The badge on peer instances, matched by name, and how many members hold it there",
            _ok("Peers' namesakes", _ref("AlsoOn")) | _errors(401, 404),
            auth=False,
            tag="badges",
        )
        | {"security": [{}, {"bearer": []}]},
    },
}
