"""OpenAPI paths and schemas for "open to", collaboration requests, direct conversations and
the Space Station (collab_api.py). openapi.py merges COLLAB_PATHS and COLLAB_SCHEMAS."""

from __future__ import annotations

from typing import Any

from fedipoly.web.openapi import DATE_TIME, JSON, STRING, _errors, _object, _ok, _op, _ref
from fedipoly.web.openapi_social import CURSOR_PARAMETERS, _page

TAG = "collaboration"
REASON_SLUG = {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _collab(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    auth: bool = True,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation = _op(summary, responses, body=body, auth=auth, tag=TAG)
    return operation | {"parameters": parameters} if parameters else operation


def _status(status: int, description: str) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {JSON: {"schema": _ref("Error")}}}}


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> Any:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


ANSWER = _object(
    {
        "reason": REASON_SLUG,
        "open": {"type": "boolean", "description": "Yes (true) or no (false)"},
        "until": {
            **NULLABLE_TIME,
            "description": "Optional end date (in the future); past it the answer lapses",
        },
    },
    ["reason", "open"],
)

COLLAB_SCHEMAS: dict[str, Any] = {
    "OpenToReason": _object({"slug": REASON_SLUG, "label": STRING}, ["slug", "label"]),
    "OpenToLine": _object(
        {
            "reason": REASON_SLUG,
            "label": STRING,
            "open": {
                "type": ["boolean", "null"],
                "description": "null: nothing said (or the answer lapsed)",
            },
            "until": NULLABLE_TIME,
        },
        ["reason", "label", "open", "until"],
    ),
    "CollabRequest": _object(
        {
            "id": STRING,
            "sender": _ref("Actor"),
            "recipient": _ref("Actor"),
            "reason": REASON_SLUG,
            "reason_label": STRING,
            "message": {"type": "string", "description": "Plain text; escape it for HTML"},
            "state": {"type": "string", "enum": ["pending", "accepted", "declined"]},
            "created_at": DATE_TIME,
        },
        ["id", "sender", "recipient", "reason", "reason_label", "message", "state", "created_at"],
    ),
    "CollabRequestPage": _page("CollabRequest"),
    "Conversation": _object(
        {
            "id": STRING,
            "peer": _ref("Actor"),
            "created_at": DATE_TIME,
            "last_message_at": DATE_TIME,
        },
        ["id", "peer", "created_at", "last_message_at"],
    ),
    "ConversationPage": _page("Conversation"),
    "Block": _object(
        {
            "actor": _ref("Actor"),
            "created_at": {**DATE_TIME, "description": "When you blocked them"},
        },
        ["actor", "created_at"],
    ),
    "BlockPage": _page("Block"),
    "ConversationWithMessages": _object(
        {
            "id": STRING,
            "peer": _ref("Actor"),
            "created_at": DATE_TIME,
            "last_message_at": DATE_TIME,
            "messages": {
                "type": "array",
                "items": _ref("Post"),
                "description": "Newest first",
            },
            "next": {
                "type": ["string", "null"],
                "description": "Pass as `before` for older messages; null on the last page",
            },
        },
        ["id", "peer", "messages", "next"],
    ),
    "SpaceStationMatch": _object(
        {
            "uri": STRING,
            "handle": STRING,
            "display_name": STRING,
            "headline": STRING,
            "url": STRING,
            "local": {"type": "boolean"},
            "badges": {"type": "array", "items": STRING},
            "reason": _ref("OpenToReason"),
        },
        ["uri", "handle", "display_name", "headline", "url", "local", "badges", "reason"],
    ),
    "SpaceStationPage": _object(
        {
            "items": {"type": "array", "items": _ref("SpaceStationMatch")},
            "next": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last",
            },
        },
        ["items", "next"],
    ),
}

LINES = {"type": "array", "items": _ref("OpenToLine")}

COLLAB_PATHS: dict[str, Any] = {
    "/api/v1/open_to/reasons": {
        "get": _collab(
            "The open-to catalogue of collaboration reasons",
            _ok("Reasons", {"type": "array", "items": _ref("OpenToReason")}),
            auth=False,
        ),
        "post": _collab(
            "Add a reason to the catalogue (admins)",
            _ok("Added", _ref("OpenToReason"), status="201") | _errors(403, 409),
            body=_object({"slug": REASON_SLUG, "label": STRING}, ["slug", "label"]),
        ),
    },
    "/api/v1/open_to/reasons/{slug}": {
        "patch": _collab(
            "Rename a reason (admins)",
            _ok("Renamed", _ref("OpenToReason")) | _errors(403, 404),
            body=_object({"label": STRING}, ["label"]),
        ),
        "delete": _collab(
            "Remove a reason and every member's answer for it (admins)",
            _ok("Removed", status="204") | _errors(403, 404),
        ),
    },
    "/api/v1/open_to": {
        "get": _collab("Your answers, one line per reason", _ok("Your answers", LINES)),
        "put": _collab(
            "Replace your answers (reasons not listed: nothing said)",
            _ok("Your answers", LINES),
            body=_object({"open_to": {"type": "array", "items": ANSWER}}, ["open_to"]),
        ),
    },
    "/api/v1/accounts/{username}/open_to": {
        "get": _collab(
            "What a member said they are open to (and not)",
            _ok("Their answers", LINES) | _errors(404) | _status(410, "The account is suspended"),
            auth=False,
        ),
    },
    "/api/v1/collab_requests": {
        "get": _collab(
            "Your Requests inbox, newest first",
            _ok("Requests", _ref("CollabRequestPage")),
            parameters=[
                _query(
                    "state",
                    "pending (default), accepted or declined",
                    {"type": "string", "enum": ["pending", "accepted", "declined"]},
                ),
                *CURSOR_PARAMETERS,
            ],
        ),
        "post": _collab(
            "Send a collaboration request naming a reason the recipient is open to now",
            _ok("Sent", _ref("CollabRequest"), status="201")
            | _errors(403, 404, 409)
            | {
                "429": _status(429, "Too many requests today")["429"]
                | {
                    "headers": {
                        "Retry-After": {
                            "description": "seconds until a request may be sent again",
                            "schema": {"type": "integer"},
                        }
                    }
                }
            },
            body=_object(
                {
                    "to": {"type": "string", "description": "username, name@server or actor URI"},
                    "reason": REASON_SLUG,
                    "message": {"type": "string", "minLength": 1, "maxLength": 2000},
                },
                ["to", "reason", "message"],
            ),
        ),
    },
    "/api/v1/collab_requests/sent": {
        "get": _collab(
            "Requests you sent, newest first",
            _ok("Requests", _ref("CollabRequestPage")),
            parameters=CURSOR_PARAMETERS,
        ),
    },
    "/api/v1/collab_requests/{request_id}/interested": {
        "post": _collab(
            "Interested: open a direct conversation and tell the sender",
            _ok("The conversation", _ref("ConversationWithMessages"), status="201")
            | _errors(404, 409),
            body=_object({"message": {"type": "string", "maxLength": 2000}}),
        ),
    },
    "/api/v1/collab_requests/{request_id}/decline": {
        "post": _collab(
            "Not right now: decline (the sender is not told)",
            _ok("Declined", status="204") | _errors(404, 409),
        ),
    },
    "/api/v1/collab_requests/{request_id}/block": {
        "post": _collab(
            "Block the sender: no more requests or messages from them",
            _ok("Blocked", status="204") | _errors(404),
        ),
    },
    "/api/v1/collab_requests/{request_id}/report": {
        "post": _collab(
            "Report the sender to the moderators",
            _ok("Reported", status="204") | _errors(404),
            body=_object({"comment": {"type": "string", "maxLength": 1000}}),
        ),
    },
    "/api/v1/blocks": {
        "get": _collab(
            "Accounts you blocked, newest first",
            _ok("Blocks", _ref("BlockPage")),
            parameters=CURSOR_PARAMETERS,
        ),
        "delete": _collab(
            "Unblock an account: its requests, direct messages and mentions reach you again",
            _ok("Unblocked", status="204")
            | _errors(400)
            | _status(404, "You have not blocked that account"),
            parameters=[
                _query(
                    "actor",
                    "The blocked account's actor URI (`actor.uri` in the list)",
                    {"type": "string", "minLength": 1},
                    required=True,
                )
            ],
        ),
    },
    "/api/v1/conversations": {
        "get": _collab(
            "Your direct conversations, most recent first",
            _ok("Conversations", _ref("ConversationPage")),
            parameters=CURSOR_PARAMETERS,
        ),
    },
    "/api/v1/conversations/{conversation_id}": {
        "get": _collab(
            "A conversation with a page of its messages (newest first)",
            _ok("The conversation", _ref("ConversationWithMessages")) | _errors(404),
            parameters=CURSOR_PARAMETERS,
        ),
    },
    "/api/v1/conversations/{conversation_id}/messages": {
        "post": _collab(
            "Send a direct message in the conversation",
            _ok("Sent", _ref("Post"), status="201") | _errors(404),
            body=_object({"text": {"type": "string", "minLength": 1}}, ["text"]),
        ),
    },
    "/api/v1/space_station": {
        "get": _collab(
            "Find discoverable people open to a reason, here and on known Fedipoly servers",
            _ok("Matches", _ref("SpaceStationPage")) | _errors(404),
            parameters=[
                _query("reason", "A reason slug of the catalogue", REASON_SLUG, required=True),
                _query(
                    "badge",
                    "Only people with this badge: our slug, or a remote badge of the same"
                    " slug or normalised name",
                    STRING,
                ),
                _query(
                    "q", "Words in name, handle or headline", {"type": "string", "maxLength": 100}
                ),
                _query(
                    "cursor",
                    "The `next` value of the previous page. A page looks at a bounded number"
                    " of people, so it may hold fewer than `limit` (even none) and still have"
                    " a `next`",
                    STRING,
                ),
                CURSOR_PARAMETERS[1],
            ],
        ),
    },
}
