"""OpenAPI paths and schemas for reports, notifications and moderation (moderation_api.py).

openapi.py merges MODERATION_PATHS and MODERATION_SCHEMAS into the document it serves. Every
operation under /api/v1/moderation/ answers 403 to members.
"""

from __future__ import annotations

from typing import Any

from fedipoly.web.openapi import DATE_TIME, STRING, _errors, _object, _ok, _op, _ref
from fedipoly.web.openapi_badges import CURSOR, LIMIT, SLUG, _optional_auth, _query, _status

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
REASON = {"type": "string", "maxLength": 500, "description": "For the audit log"}
REASON_BODY = _object({"reason": REASON})
TAG = "moderation"

MODERATION_SCHEMAS: dict[str, Any] = {
    "NewReport": _object(
        {
            "kind": {"type": "string", "enum": ["post", "badge", "account"]},
            "target": {
                "type": "string",
                "description": "A post's id or URI, a badge slug, or an account "
                "(username, user@domain or actor URI)",
            },
            "comment": {"type": "string", "maxLength": 1000},
        },
        ["kind", "target"],
    ),
    "ReportReceipt": _object(
        {"id": STRING, "kind": STRING, "state": STRING}, ["id", "kind", "state"]
    ),
    "Report": _object(
        {
            "id": STRING,
            "kind": {"type": "string", "enum": ["post", "badge", "account"]},
            "target": STRING,
            "target_actor": NULLABLE_STRING,
            "comment": STRING,
            "state": {"type": "string", "enum": ["open", "resolved", "dismissed"]},
            "created_at": DATE_TIME,
            "from_member": {"type": "boolean"},
            "from_server": {
                "type": ["string", "null"],
                "description": "The actor that sent the Flag, for reports from other servers",
            },
            "resolution": NULLABLE_STRING,
            "resolved_at": NULLABLE_TIME,
            "forwarded": {"type": "boolean"},
            "post": {
                "oneOf": [_ref("ReportedPost"), {"type": "null"}],
                "description": "One report only: the reported post as moderators see it, "
                "whatever its audience and even when its author is suspended",
            },
        },
        ["id", "kind", "target", "state", "created_at"],
    ),
    "ReportedPost": _object(
        {
            "uri": STRING,
            "author": STRING,
            "content_html": STRING,
            "visibility": {"type": "string", "enum": ["public", "followers", "direct"]},
            "published": DATE_TIME,
            "deleted_at": NULLABLE_TIME,
            "author_suspended": {"type": "boolean"},
        },
        ["uri", "author", "content_html", "visibility", "published", "author_suspended"],
    ),
    "ReportPage": _object(
        {
            "reports": {"type": "array", "items": _ref("Report")},
            "next_cursor": NULLABLE_STRING,
        },
        ["reports", "next_cursor"],
    ),
    "Notification": _object(
        {
            "id": STRING,
            "kind": STRING,
            "message": STRING,
            "link": NULLABLE_STRING,
            "created_at": DATE_TIME,
            "read": {"type": "boolean"},
        },
        ["id", "kind", "message", "created_at", "read"],
    ),
    "DomainBlock": _object(
        {"domain": STRING, "reason": STRING, "created_at": DATE_TIME},
        ["domain", "reason", "created_at"],
    ),
    "RemoteRestriction": _object(
        {
            "actor": STRING,
            "level": {"type": "string", "enum": ["silenced", "suspended"]},
            "reason": STRING,
            "created_at": DATE_TIME,
        },
        ["actor", "level", "reason", "created_at"],
    ),
    "AuditEntry": _object(
        {
            "id": STRING,
            "moderator_id": NULLABLE_STRING,
            "moderator": {
                "type": ["string", "null"],
                "description": "The moderator's username; null for the command line",
            },
            "action": STRING,
            "target": STRING,
            "reason": STRING,
            "created_at": DATE_TIME,
        },
        ["id", "action", "target", "reason", "created_at"],
    ),
    "BadgeMerge": _object(
        {
            "id": STRING,
            "source": SLUG,
            "target": SLUG,
            "created_at": DATE_TIME,
            "reverted_at": NULLABLE_TIME,
        },
        ["id", "source", "target", "created_at", "reverted_at"],
    ),
    "Steward": _object({"username": STRING, "since": DATE_TIME}, ["username", "since"]),
    "SuspensionState": _object(
        {"username": STRING, "suspended": {"type": "boolean"}}, ["username", "suspended"]
    ),
}

STATE = _query(
    "state",
    "open (default), resolved, dismissed or all",
    {"type": "string", "enum": ["open", "resolved", "dismissed", "all"]},
)


def _moderation(summary: str, responses: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return _op(summary, responses | _errors(403), tag=TAG, **kwargs)


def _list(schema: str, key: str) -> dict[str, Any]:
    return _object({key: {"type": "array", "items": _ref(schema)}}, [key])


MODERATION_PATHS: dict[str, Any] = {
    "/api/v1/reports": {
        "post": _op(
            "Report a post, a badge or an account to the moderators",
            _ok("Reported", _ref("ReportReceipt"), "201") | _errors(404),
            body=_ref("NewReport"),
            tag=TAG,
        ),
    },
    "/api/v1/notifications": {
        "get": _op(
            "The member's notifications (e.g. a rejected badge and why), newest first",
            _ok(
                "A page of notifications",
                _object(
                    {
                        "notifications": {"type": "array", "items": _ref("Notification")},
                        "next_cursor": NULLABLE_STRING,
                        "unread": {"type": "integer", "minimum": 0},
                    },
                    ["notifications", "next_cursor", "unread"],
                ),
            )
            | _errors(400),
            tag=TAG,
        )
        | {"parameters": [CURSOR, LIMIT]},
    },
    "/api/v1/notifications/read": {
        "post": _op(
            "Mark every notification as read",
            _ok("Marked", _object({"marked": {"type": "integer"}}, ["marked"])),
            tag=TAG,
        ),
    },
    "/api/v1/badges/{slug}/stewards": {
        "get": _optional_auth(
            _op(
                "The stewards of a badge",
                _ok("Stewards", _list("Steward", "stewards")) | _errors(400, 404),
                tag=TAG,
            )
        ),
    },
    "/api/v1/moderation/reports": {
        "get": _moderation(
            "Reports, newest first",
            _ok("A page of reports", _ref("ReportPage")) | _errors(400),
        )
        | {"parameters": [STATE, CURSOR, LIMIT]},
    },
    "/api/v1/moderation/badges/{slug}/reports": {
        "get": _moderation(
            "Reports about one badge (moderators and the badge's stewards), newest first",
            _ok("A page of reports", _ref("ReportPage")) | _errors(400, 404),
        )
        | {"parameters": [STATE, CURSOR, LIMIT]},
    },
    "/api/v1/moderation/reports/{report_id}": {
        "get": _moderation("One report", _ok("The report", _ref("Report")) | _errors(404)),
    },
    "/api/v1/moderation/reports/{report_id}/resolve": {
        "post": _moderation(
            "Close a report; `forward` sends a report about remote content to its server as "
            "a Flag from this instance (the reporter stays anonymous)",
            _ok("Closed", _ref("Report"))
            | _errors(404)
            | _status("409", "The report was handled already"),
            body=_object(
                {
                    "action": {"type": "string", "enum": ["resolve", "dismiss"]},
                    "note": {"type": "string", "maxLength": 500},
                    "forward": {"type": "boolean"},
                    "remove": {
                        "type": "boolean",
                        "description": "Resolving a report about a post: delete the post",
                    },
                },
                ["action"],
            ),
        ),
    },
    "/api/v1/moderation/accounts/{username}/suspend": {
        "post": _moderation(
            "Suspend a member: no sign-in, no posting; their actor answers 410",
            _ok("Suspended", _ref("SuspensionState")) | _errors(404),
            body=REASON_BODY,
        ),
    },
    "/api/v1/moderation/accounts/{username}/unsuspend": {
        "post": _moderation(
            "Lift a member's suspension",
            _ok("Lifted", _ref("SuspensionState")) | _errors(404),
            body=REASON_BODY,
        ),
    },
    "/api/v1/moderation/remote_accounts": {
        "get": _moderation(
            "Silenced and suspended remote accounts",
            _ok("Restrictions", _list("RemoteRestriction", "remote_accounts")),
        ),
        "post": _moderation(
            "Silence (off the public timelines) or suspend (content purged, inbox refused) "
            "a remote account",
            _ok("Restricted", _ref("RemoteRestriction"), "201") | _errors(404),
            body=_object(
                {
                    "actor": {"type": "string", "description": "Actor URI or user@domain"},
                    "level": {"type": "string", "enum": ["silenced", "suspended"]},
                    "reason": REASON,
                },
                ["actor", "level"],
            ),
        ),
    },
    "/api/v1/moderation/remote_accounts/lift": {
        "post": _moderation(
            "Lift a remote account's restriction",
            {"204": {"description": "Lifted"}} | _errors(404),
            body=_object({"actor": STRING, "reason": REASON}, ["actor"]),
        ),
    },
    "/api/v1/moderation/domain_blocks": {
        "get": _moderation("Blocked domains", _ok("Blocks", _list("DomainBlock", "domain_blocks"))),
        "post": _moderation(
            "Block a domain (admins): its inbox traffic is refused (403), nothing is delivered "
            "to it and its cached actors, follows and posts are purged",
            _ok("Blocked", _ref("DomainBlock"), "201")
            | _status("409", "The domain is blocked already"),
            body=_object({"domain": STRING, "reason": REASON}, ["domain"]),
        ),
    },
    "/api/v1/moderation/domain_blocks/{domain}": {
        "delete": _moderation(
            "Lift a domain block (admins)", {"204": {"description": "Lifted"}} | _errors(400, 404)
        ),
    },
    "/api/v1/moderation/audit": {
        "get": _moderation(
            "The audit log of moderator actions, newest first",
            _ok(
                "A page of entries",
                _object(
                    {
                        "entries": {"type": "array", "items": _ref("AuditEntry")},
                        "next_cursor": NULLABLE_STRING,
                    },
                    ["entries", "next_cursor"],
                ),
            )
            | _errors(400),
        )
        | {"parameters": [CURSOR, LIMIT]},
    },
    "/api/v1/moderation/badges/{slug}/rename": {
        "post": _moderation(
            "Give a badge a new display name (moderators and the badge's stewards)",
            _ok("Renamed", _ref("Badge")) | _errors(404),
            body=_object(
                {"display_name": {"type": "string", "maxLength": 64}, "reason": REASON},
                ["display_name"],
            ),
        ),
    },
    "/api/v1/moderation/badges/{slug}/merge": {
        "post": _moderation(
            "Merge the badge into another: holders and posts move, the old slug redirects; "
            "revertible",
            _ok("Merged", _ref("BadgeMerge"), "201")
            | _errors(404)
            | _status("409", "The badge is merged already"),
            body=_object({"into": SLUG, "reason": REASON}, ["into"]),
        ),
    },
    "/api/v1/moderation/badge_merges": {
        "get": _moderation(
            "Badge merges, newest first", _ok("Merges", _list("BadgeMerge", "merges"))
        ),
    },
    "/api/v1/moderation/badge_merges/{merge_id}/revert": {
        "post": _moderation(
            "Revert a merge: both badges come back with their holders and posts",
            _ok("Reverted", _ref("BadgeMerge"))
            | _errors(404)
            | _status("409", "The merge was reverted already"),
            body=REASON_BODY,
        ),
    },
    "/api/v1/moderation/badges/{slug}/stewards": {
        "post": _moderation(
            "Appoint a member steward of an approved badge",
            _ok("Appointed", _ref("Steward"), "201")
            | _errors(404)
            | _status("409", "The member is a steward already"),
            body=_object({"username": STRING, "reason": REASON}, ["username"]),
        ),
    },
    "/api/v1/moderation/badges/{slug}/stewards/{username}": {
        "delete": _moderation(
            "Dismiss a steward", {"204": {"description": "Dismissed"}} | _errors(400, 404)
        ),
    },
}
