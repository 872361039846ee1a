"""The activity-post fields of `Post` as plain values, shared by both adapters (no I/O here).

SQLite keeps the list-valued ones as JSON text, MongoDB as arrays of subdocuments; both go
through these two functions so a post reads back the same from either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fedipoly.models import Attachment, Post, PostActivityTag

LIST_FIELDS = ("activity_tags", "badges", "hashtags", "mentions", "attachments")
SCALAR_FIELDS = ("happened_on", "reply_root", "unlisted")
EXT_FIELDS = LIST_FIELDS + SCALAR_FIELDS


def ext_values(post: Post) -> dict[str, Any]:
    """The fields added in schema version 5, as JSON-compatible values."""
    return {
        "activity_tags": [
            {"phrase": tag.phrase, "badge": tag.badge_slug} for tag in post.activity_tags
        ],
        "badges": list(post.badges),
        "hashtags": list(post.hashtags),
        "mentions": list(post.mentions),
        "attachments": [
            {
                "url": item.url,
                "media_type": item.media_type,
                "alt": item.alt,
                "width": item.width,
                "height": item.height,
                "media_id": item.media_id,
            }
            for item in post.attachments
        ],
        "happened_on": post.happened_on.isoformat() if post.happened_on else None,
        "reply_root": post.reply_root,
        "unlisted": post.unlisted,
    }


def _attachment(value: Mapping[str, Any]) -> Attachment:
    return Attachment(
        url=value["url"],
        media_type=value["media_type"],
        alt=value.get("alt") or "",
        width=value.get("width"),
        height=value.get("height"),
        media_id=value.get("media_id"),
    )


def ext_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """`Post` keyword arguments from stored values; absent ones (older rows) get defaults."""
    happened_on = values.get("happened_on")
    return {
        "activity_tags": tuple(
            PostActivityTag(tag["phrase"], tag["badge"])
            for tag in values.get("activity_tags") or []
        ),
        "badges": tuple(values.get("badges") or ()),
        "hashtags": tuple(values.get("hashtags") or ()),
        "mentions": tuple(values.get("mentions") or ()),
        "attachments": tuple(_attachment(item) for item in values.get("attachments") or []),
        "happened_on": date.fromisoformat(happened_on) if happened_on else None,
        "reply_root": values.get("reply_root"),
        "unlisted": bool(values.get("unlisted")),
    }


def cleared_on_delete() -> dict[str, Any]:
    """What a tombstone keeps of these fields: only its place in a thread."""
    return {field: [] for field in LIST_FIELDS} | {"happened_on": None}
