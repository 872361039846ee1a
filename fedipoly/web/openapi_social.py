"""OpenAPI paths and schemas for the social API (social_api.py): follows, posts, timelines.

openapi.py merges SOCIAL_PATHS and SOCIAL_SCHEMAS into the document it serves.
"""

from __future__ import annotations

from typing import Any

from fedipoly.web.openapi import DATE_TIME, JSON, STRING, _errors, _object, _ok, _op, _ref

CURSOR_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "before",
        "in": "query",
        "required": False,
        "description": "The `next` cursor of the previous page; omit for the newest items",
        "schema": STRING,
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Items per page (default 20)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 40},
    },
]


def _gone(description: str) -> dict[str, Any]:
    return {"410": {"description": description, "content": {JSON: {"schema": _ref("Error")}}}}


def _page(item: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "next": {
                "type": ["string", "null"],
                "description": "Pass as `before` for the next (older) page; null on the last",
            },
        },
        ["items", "next"],
    )


def _optional_auth(operation: dict[str, Any]) -> dict[str, Any]:
    """Anyone may call it; with a token, the answer can include what that member may see."""
    return operation | {"security": [{}, {"bearer": []}]}


def _with_parameters(operation: dict[str, Any], parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return operation | {"parameters": parameters}


VISIBILITY = {"type": "string", "enum": ["public", "followers", "direct"]}
FOLLOW_STATE = {"type": "string", "enum": ["pending", "accepted"]}
ACTOR_BODY = _object(
    {"actor": {"type": "string", "description": "The follower's actor URI"}}, ["actor"]
)

SOCIAL_SCHEMAS: dict[str, Any] = {
    "Actor": _object(
        {
            "uri": {"type": "string", "description": "ActivityPub actor id"},
            "handle": {"type": "string", "description": "name@server, without a leading @"},
            "display_name": STRING,
            "url": {"type": "string", "description": "Profile page"},
            "local": {"type": "boolean", "description": "A member of this server"},
        },
        ["uri", "handle", "display_name", "url", "local"],
    ),
    "Post": _object(
        {
            "id": STRING,
            "uri": {"type": "string", "description": "ActivityPub id of the Note"},
            "url": {"type": "string", "description": "The post's web page"},
            "author": _ref("Actor"),
            "content_html": {"type": "string", "description": "Sanitised HTML"},
            "visibility": VISIBILITY,
            "in_reply_to": {"type": ["string", "null"]},
            "published": DATE_TIME,
            "updated": {"type": ["string", "null"], "format": "date-time"},
            "text": {"type": "string", "description": "The source text; only for its author"},
        },
        ["id", "uri", "url", "author", "content_html", "visibility", "published", "updated"],
    ),
    "PostPage": _page("Post"),
    "Follow": _object(
        {
            "actor": {"type": "string", "description": "The other side's actor URI"},
            "handle": STRING,
            "display_name": STRING,
            "url": {"type": ["string", "null"], "description": "Profile page"},
            "state": FOLLOW_STATE,
            "created_at": DATE_TIME,
        },
        ["actor", "handle", "display_name", "state", "created_at"],
    ),
    "FollowPage": _page("Follow"),
}


def _follow_list(summary: str) -> dict[str, Any]:
    return _with_parameters(
        _op(
            summary,
            _ok("A page, newest first", _ref("FollowPage")) | _errors(400, 401),
            tag="follows",
        ),
        CURSOR_PARAMETERS,
    )


SOCIAL_PATHS: dict[str, Any] = {
    "/api/v1/follows": {
        "post": _op(
            "Follow someone by handle (name@server); local members need no federation round trip",
            _ok("Followed (accepted at once)", _ref("Follow"), status="201")
            | _ok("Follow request sent; pending until they accept", _ref("Follow"), status="202")
            | _errors(400, 401, 404, 413),
            body=_object(
                {"handle": {"type": "string", "description": "name@server.example"}}, ["handle"]
            ),
            tag="follows",
        ),
    },
    "/api/v1/follows/{handle}": {
        "delete": _op(
            "Unfollow (or withdraw a pending follow request); {handle} is name@server",
            _ok("Unfollowed", status="204") | _errors(401, 404),
            tag="follows",
        ),
    },
    "/api/v1/following": {"get": _follow_list("Accounts you follow (accepted follows)")},
    "/api/v1/followers": {"get": _follow_list("Accounts that follow you (accepted)")},
    "/api/v1/follow_requests": {
        "get": _follow_list("Pending requests to follow you, waiting for your approval")
    },
    "/api/v1/follow_requests/approve": {
        "post": _op(
            "Approve a pending follow request",
            _ok("Approved", status="204") | _errors(400, 401, 404, 413),
            body=ACTOR_BODY,
            tag="follows",
        ),
    },
    "/api/v1/follow_requests/reject": {
        "post": _op(
            "Reject a follow request, or remove an existing follower",
            _ok("Rejected", status="204") | _errors(400, 401, 404, 413),
            body=ACTOR_BODY,
            tag="follows",
        ),
    },
    "/api/v1/posts": {
        "post": _op(
            "Publish a post: one line or many, same call",
            _ok("Published", _ref("Post"), status="201") | _errors(400, 401, 413),
            body=_object(
                {
                    "text": {"type": "string", "minLength": 1, "maxLength": 5000},
                    "visibility": VISIBILITY | {"default": "public"},
                },
                ["text"],
            ),
            tag="posts",
        ),
    },
    "/api/v1/posts/{post_id}": {
        "get": _optional_auth(
            _op(
                "One post: public ones to anyone; others only to their author and audience "
                "(404 to everyone else)",
                _ok("The post", _ref("Post")) | _errors(401, 404) | _gone("The post was deleted"),
                tag="posts",
            )
        ),
        "put": _op(
            "Edit your post's text",
            _ok("Edited", _ref("Post"))
            | _errors(400, 401, 403, 404, 413)
            | _gone("The post was deleted"),
            body=_object({"text": {"type": "string", "minLength": 1, "maxLength": 5000}}, ["text"]),
            tag="posts",
        ),
        "delete": _op(
            "Delete your post (its URL then answers 410)",
            _ok("Deleted", status="204") | _errors(401, 403, 404) | _gone("Already deleted"),
            tag="posts",
        ),
    },
    "/api/v1/accounts/{username}/posts": {
        "get": _with_parameters(
            _optional_auth(
                _op(
                    "A member's public posts, newest first",
                    _ok("A page, newest first", _ref("PostPage"))
                    | _errors(400, 401, 404)
                    | _gone("The account is suspended"),
                    tag="posts",
                )
            ),
            CURSOR_PARAMETERS,
        ),
    },
    "/api/v1/timelines/home": {
        "get": _with_parameters(
            _op(
                "Your home timeline: your posts and those of everyone you follow, newest first, "
                "never ranked",
                _ok("A page, newest first", _ref("PostPage")) | _errors(400, 401),
                tag="timelines",
            ),
            CURSOR_PARAMETERS,
        ),
    },
}
