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
ACTIVITY_TAG = _object(
    {
        "phrase": {"type": "string", "minLength": 1, "maxLength": 60},
        "badge": {
            "type": "string",
            "description": "A badge slug; may be left out for a phrase of the instance's "
            "activity catalogue (its badge is then used). Otherwise a badge you can use.",
        },
    },
    ["phrase"],
)
NEW_IMAGE = _object(
    {
        "media_id": {"type": "string", "description": "The id POST /api/v1/media returned"},
        "alt": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1500,
            "description": "What the image shows, for people who cannot see it (required)",
        },
    },
    ["media_id", "alt"],
)
POST_EXTRAS: dict[str, Any] = {
    "activity_tags": {
        "type": "array",
        "maxItems": 5,
        "items": ACTIVITY_TAG,
        "description": "What you did, each tied to a badge: the post appears on those "
        "badges' pages",
    },
    "attachments": {"type": "array", "maxItems": 4, "items": NEW_IMAGE},
    "happened_on": {
        "type": ["string", "null"],
        "format": "date",
        "description": "When it happened, for a work timeline (1900-01-01 to today); "
        "timelines still order by publication time",
    },
}
NEW_POST_PROPERTIES: dict[str, Any] = {
    "text": {
        "type": "string",
        "maxLength": 5000,
        "description": "Plain text; links, @mentions and #hashtags become links. May be "
        "empty only when the post has images",
    },
    "visibility": VISIBILITY | {"default": "public"},
} | POST_EXTRAS
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
            "in_reply_to": {
                "type": ["string", "null"],
                "description": "The URI of the post this one answers",
            },
            "published": DATE_TIME,
            "updated": {"type": ["string", "null"], "format": "date-time"},
            "happened_on": {"type": ["string", "null"], "format": "date"},
            "activity_tags": {
                "type": "array",
                "items": _object(
                    {
                        "phrase": STRING,
                        "badge": {
                            "type": "string",
                            "description": "Badge slug (the sending server's, for remote "
                            "posts); empty when the tag has none",
                        },
                    },
                    ["phrase", "badge"],
                ),
            },
            "badges": {
                "type": "array",
                "items": STRING,
                "description": "Slugs of the badges the post is filed under",
            },
            "hashtags": {"type": "array", "items": STRING, "description": "Without the #"},
            "mentions": {"type": "array", "items": _ref("Actor")},
            "attachments": {"type": "array", "items": _ref("Image")},
            "text": {"type": "string", "description": "The source text; only for its author"},
        },
        [
            "id",
            "uri",
            "url",
            "author",
            "content_html",
            "visibility",
            "in_reply_to",
            "published",
            "updated",
            "happened_on",
            "activity_tags",
            "badges",
            "hashtags",
            "mentions",
            "attachments",
        ],
    ),
    "Image": _object(
        {
            "url": STRING,
            "media_type": STRING,
            "alt": {"type": "string", "description": "Alt text"},
            "width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]},
        },
        ["url", "media_type", "alt", "width", "height"],
    ),
    "Media": _object(
        {
            "id": {"type": "string", "description": "Pass as `media_id` in a post's attachments"},
            "url": STRING,
            "media_type": {"type": "string", "enum": ["image/png", "image/jpeg", "image/webp"]},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
        },
        ["id", "url", "media_type", "width", "height"],
    ),
    "Thread": _object(
        {
            "post": _ref("Post"),
            "replies": {
                "type": "array",
                "description": "Oldest first; each reply's `in_reply_to` names its parent",
                "items": _object(
                    {
                        "depth": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "1 answers `post`, 2 answers a reply, ...",
                        },
                        "post": _ref("Post"),
                    },
                    ["depth", "post"],
                ),
            },
        },
        ["post", "replies"],
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


def _public_timeline(summary: str) -> dict[str, Any]:
    return _with_parameters(
        _optional_auth(
            _op(
                summary + "; never ranked",
                _ok("A page, newest first", _ref("PostPage")) | _errors(400, 401),
                tag="timelines",
            )
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
            "Publish a post: one line or many, same call; optionally with activity tags, "
            'images, a "happened on" date, or as a reply',
            _ok("Published", _ref("Post"), status="201")
            | _errors(400, 401, 404, 413)
            | _gone("The post replied to was deleted"),
            body=_object(
                NEW_POST_PROPERTIES
                | {
                    "in_reply_to": {
                        "type": "string",
                        "description": "The id or the URI of a post you may see: makes "
                        "this a reply (404 when there is no such post)",
                    }
                },
            ),
            tag="posts",
        ),
    },
    "/api/v1/posts/{post_id}/replies": {
        "post": _op(
            "Reply to a post you may see (threaded comments)",
            _ok("Published", _ref("Post"), status="201")
            | _errors(400, 401, 404, 413)
            | _gone("The post was deleted"),
            body=_object(NEW_POST_PROPERTIES),
            tag="posts",
        ),
    },
    "/api/v1/posts/{post_id}/thread": {
        "get": _optional_auth(
            _op(
                "A post and the replies below it that you may see, oldest first",
                _ok("The thread", _ref("Thread")) | _errors(401, 404) | _gone("Deleted"),
                tag="posts",
            )
        ),
    },
    "/api/v1/media": {
        "post": _op(
            "Upload an image for a post (PNG, JPEG, WebP or GIF; re-encoded without metadata "
            "and resized). Attach it with its alt text in a post's `attachments`; only the "
            "uploader can, once, and an upload no post uses is deleted after "
            "`media.unattached_retention_hours`",
            _ok("Stored", _ref("Media"), status="201") | _errors(400, 401, 413),
            tag="posts",
        )
        | {
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": _object(
                            {"file": {"type": "string", "contentMediaType": "image/*"}},
                            ["file"],
                        )
                    }
                },
            }
        },
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
            "Edit your post's text and, when given, its activity tags, images (the full new "
            "list) and date (null removes it); visibility and the reply it answers stay",
            _ok("Edited", _ref("Post"))
            | _errors(400, 401, 403, 404, 413)
            | _gone("The post was deleted"),
            body=_object(
                {"text": {"type": "string", "minLength": 1, "maxLength": 5000}} | POST_EXTRAS,
                ["text"],
            ),
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
                    "A member's posts, newest first: public ones; followers-only ones too for "
                    "their accepted followers; all of them for the member",
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
    "/api/v1/timelines/local": {
        "get": _public_timeline("Public posts by this server's members, newest first"),
    },
    "/api/v1/timelines/federated": {
        "get": _public_timeline(
            "Every public post this server knows, local and remote, newest first"
        ),
    },
    "/api/v1/badges/{slug}/posts": {
        "get": _with_parameters(
            _optional_auth(
                _op(
                    "Public posts filed under the badge by their activity tags, newest first",
                    _ok("A page, newest first", _ref("PostPage")) | _errors(400, 401, 404),
                    tag="timelines",
                )
            ),
            CURSOR_PARAMETERS,
        ),
    },
}
