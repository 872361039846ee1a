"""OpenAPI paths and schemas for profiles and badges (profile_api.py, badges_api.py).

openapi.py merges BADGE_PATHS and BADGE_SCHEMAS into the document it serves. No schema here
has a count, score or any other popularity figure (product rule 1).
"""

from __future__ import annotations

from typing import Any

from fedipoly.web.openapi import DATE_TIME, JSON, STRING, _errors, _object, _ok, _op, _ref

BOOLEAN = {"type": "boolean"}
SLUG = {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}
SLUGS = {"type": "array", "items": SLUG, "maxItems": 100}


def _status(status: str, description: str) -> dict[str, Any]:
    return {status: {"description": description, "content": {JSON: {"schema": _ref("Error")}}}}


def _optional_auth(operation: dict[str, Any]) -> dict[str, Any]:
    """Anyone may call it; with a token the answer includes what that member may see."""
    return operation | {"security": [{}, {"bearer": []}]}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


LIMIT = _query(
    "limit", "Items per page (default 20)", {"type": "integer", "minimum": 1, "maximum": 100}
)
CURSOR = _query("cursor", "The `next` value of the previous page; omit for the first", STRING)
SEARCH = _query(
    "q",
    "Search by name, word prefix or close spelling ('pyhton' finds Python); one ranked page",
    {"type": "string", "maxLength": 100},
)


def _page(item: str, description: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "next": {"type": ["string", "null"], "description": description},
        },
        ["items", "next"],
    )


LINK = _object(
    {
        "label": {"type": "string", "minLength": 1, "maxLength": 40},
        "url": {"type": "string", "maxLength": 300, "description": "An http:// or https:// URL"},
    },
    ["label", "url"],
)
POSITIONS = {
    "type": "array",
    "items": {"type": "string", "maxLength": 80},
    "maxItems": 2,
    "description": "At most two short position lines: jobs take little space",
}
PLAIN = "Plain text; escape it before putting it in HTML"

BADGE_SCHEMAS: dict[str, Any] = {
    "Badge": _object(
        {
            "slug": SLUG,
            "display_name": {"type": "string", "description": PLAIN},
            "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
            "icon": {"type": "string", "description": "A few characters, e.g. an emoji"},
            "hashtag": {"type": "string", "description": "CamelCase hashtag name, without '#'"},
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "url": {"type": "string", "description": "The badge page"},
            "created_at": DATE_TIME,
            "reject_reason": {
                "type": "string",
                "description": "Why a moderator refused it (its creator and moderators only)",
            },
        },
        ["slug", "display_name", "color", "icon", "hashtag", "status", "url", "created_at"],
    ),
    "MemberBadge": {
        "allOf": [
            _ref("Badge"),
            _object({"featured": BOOLEAN}, ["featured"]),
        ]
    },
    "MemberBadgeList": _object(
        {
            "items": {
                "type": "array",
                "items": _ref("MemberBadge"),
                "description": "In the member's order",
            }
        },
        ["items"],
    ),
    "BadgePage": _page("Badge", "Pass as `cursor` for the next page; null on the last"),
    "BadgeHolder": _object(
        {
            "username": STRING,
            "handle": {"type": "string", "description": "name@server, without a leading @"},
            "display_name": {"type": "string", "description": PLAIN},
            "url": {"type": "string", "description": "Profile page"},
        },
        ["username", "handle", "display_name", "url"],
    ),
    "HolderPage": _page(
        "BadgeHolder", "Pass as `cursor` for the next page (older holders); null on the last"
    ),
    "ProfileLink": LINK,
    "OwnProfile": _object(
        {
            "username": STRING,
            "display_name": {"type": "string", "description": PLAIN},
            "manually_approves_followers": BOOLEAN,
            "headline": {"type": "string", "description": PLAIN},
            "bio": {"type": "string", "description": "The source text you wrote"},
            "bio_html": {"type": "string", "description": "The bio as sanitised HTML"},
            "positions": POSITIONS,
            "links": {"type": "array", "items": _ref("ProfileLink")},
            "discoverable": {
                "type": "boolean",
                "description": "Listed on badge pages and in search",
            },
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
        [
            "username",
            "display_name",
            "manually_approves_followers",
            "headline",
            "bio",
            "bio_html",
            "positions",
            "links",
            "discoverable",
            "updated_at",
        ],
    ),
    "PublicProfile": _object(
        {
            "username": STRING,
            "handle": {"type": "string", "description": "name@server, without a leading @"},
            "url": {"type": "string", "description": "Profile page"},
            "display_name": {"type": "string", "description": PLAIN},
            "headline": {"type": "string", "description": PLAIN},
            "bio_html": {"type": "string", "description": "The bio as sanitised HTML"},
            "positions": POSITIONS,
            "links": {"type": "array", "items": _ref("ProfileLink")},
            "badges": {
                "type": "array",
                "items": _ref("MemberBadge"),
                "description": "Approved badges only, in the member's order",
            },
        },
        [
            "username",
            "handle",
            "url",
            "display_name",
            "headline",
            "bio_html",
            "positions",
            "links",
            "badges",
        ],
    ),
}

PROFILE_CHANGES = _object(
    {
        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "manually_approves_followers": BOOLEAN,
        "headline": {"type": "string", "maxLength": 100},
        "bio": {"type": "string", "maxLength": 2000},
        "positions": POSITIONS,
        "links": {"type": "array", "items": _ref("ProfileLink"), "maxItems": 6},
        "discoverable": BOOLEAN,
    }
)
SLUGS_BODY = _object({"slugs": SLUGS}, ["slugs"])
NOT_FOUND_BADGE = "No such badge (pending and rejected badges are hidden from everyone but their creator and moderators)"

BADGE_PATHS: dict[str, Any] = {
    "/api/v1/profile": {
        "get": _op(
            "Your profile, with the source of your bio",
            _ok("Your profile", _ref("OwnProfile")) | _errors(401),
            tag="profiles",
        ),
        "patch": _op(
            "Change your profile; fields left out stay as they are. Followers get an Update",
            _ok("Changed", _ref("OwnProfile")) | _errors(400, 401, 413),
            body=PROFILE_CHANGES,
            tag="profiles",
        ),
    },
    "/api/v1/accounts/{username}/profile": {
        "get": _optional_auth(
            _op(
                "A member's public profile: approved badges only, no counts",
                _ok("The profile", _ref("PublicProfile"))
                | _errors(401, 404)
                | _status("410", "The account is suspended"),
                tag="profiles",
            )
        ),
    },
    "/api/v1/badges": {
        "get": _optional_auth(
            _op(
                "The badge catalogue in slug order (approved badges and your own pending ones), "
                "or with `q` the best search matches",
                _ok("A page of badges", _ref("BadgePage")) | _errors(400, 401),
                tag="badges",
            )
        )
        | {"parameters": [SEARCH, CURSOR, LIMIT]},
        "post": _op(
            "Create a badge: usable by you at once, public once a moderator approves it",
            _ok("Created, pending review", _ref("Badge"), status="201")
            | _errors(400, 401, 409, 413)
            | _status("429", "You have too many badges waiting for review"),
            body=_object(
                {
                    "slug": SLUG,
                    "display_name": {"type": "string", "minLength": 1, "maxLength": 64},
                    "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                    "icon": {"type": "string", "minLength": 1, "maxLength": 8},
                },
                ["slug", "display_name", "color", "icon"],
            ),
            tag="badges",
        ),
    },
    "/api/v1/badges/{slug}": {
        "get": _optional_auth(
            _op(
                "One badge",
                _ok("The badge", _ref("Badge"))
                | _errors(400, 401)
                | _status("404", NOT_FOUND_BADGE),
                tag="badges",
            )
        ),
    },
    "/api/v1/badges/{slug}/holders": {
        "get": _optional_auth(
            _op(
                "Members holding the badge who chose to be listed, most recently added first",
                _ok("A page of holders", _ref("HolderPage"))
                | _errors(400, 401)
                | _status("404", NOT_FOUND_BADGE),
                tag="badges",
            )
        )
        | {"parameters": [CURSOR, LIMIT]},
    },
    "/api/v1/profile/badges": {
        "get": _op(
            "Your badges in your order, pending ones included",
            _ok("Your badges", _ref("MemberBadgeList")) | _errors(401),
            tag="badges",
        ),
        "post": _op(
            "Add and remove badges in bulk; added ones go to the end, ones already held stay",
            _ok("Your badges", _ref("MemberBadgeList")) | _errors(400, 401, 404, 413),
            body=_object({"add": SLUGS, "remove": SLUGS}),
            tag="badges",
        ),
    },
    "/api/v1/profile/badges/order": {
        "put": _op(
            "Put your badges in this order (name each badge you hold exactly once)",
            _ok("Your badges", _ref("MemberBadgeList")) | _errors(400, 401, 413),
            body=SLUGS_BODY,
            tag="badges",
        ),
    },
    "/api/v1/profile/badges/featured": {
        "put": _op(
            "Feature exactly these badges (at most 10, all held); the order stays",
            _ok("Your badges", _ref("MemberBadgeList")) | _errors(400, 401, 413),
            body=_object({"slugs": SLUGS | {"maxItems": 10}}, ["slugs"]),
            tag="badges",
        ),
    },
    "/api/v1/moderation/badges": {
        "get": _op(
            "Badges waiting for review, in slug order (moderators and admins)",
            _ok("A page of pending badges", _ref("BadgePage")) | _errors(400, 401, 403),
            tag="moderation",
        )
        | {"parameters": [CURSOR, LIMIT]},
    },
    "/api/v1/moderation/badges/{slug}/approve": {
        "post": _op(
            "Approve a pending badge: it becomes public (moderators and admins)",
            _ok("Approved", _ref("Badge"))
            | _errors(400, 401, 403, 404)
            | _status("409", "The badge was reviewed already"),
            tag="moderation",
        ),
    },
    "/api/v1/moderation/badges/{slug}/reject": {
        "post": _op(
            "Reject a pending badge with a reason its creator sees; it leaves every list",
            _ok("Rejected", _ref("Badge"))
            | _errors(400, 401, 403, 404, 413)
            | _status("409", "The badge was reviewed already"),
            body=_object({"reason": {"type": "string", "maxLength": 500}}),
            tag="moderation",
        ),
    },
}
