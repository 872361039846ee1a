"""Reading what a member sends with a post, from a JSON body (the API) or a form (the pages):
activity tags, images with alt text, the "happened on" date, and image uploads.

Shapes are checked here (400 with the field at fault); the rules (catalogue phrases, usable
badges, at most 4 images, dates) are the post service's. Every image needs alt text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import BodyPartReader, web

from fedipoly import appkeys
from fedipoly.errors import PayloadTooLarge, ValidationFailed
from fedipoly.models import Account, PostActivityTag
from fedipoly.services.media import MediaPurpose, StoredMedia
from fedipoly.services.post_parts import NewAttachment
from fedipoly.services.posts import KEEP, Keep

UPLOAD_CHUNK = 64 * 1024
# Room for the multipart boundaries and part headers around one file.
MULTIPART_OVERHEAD = 64 * 1024


def parse_date(value: Any, name: str = "happened_on") -> date | None:
    """ "YYYY-MM-DD" (what <input type=date> sends), or None for null / an empty string."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value.strip()) != 10:
        raise ValidationFailed(f"{name} is a date like 2025-03-01", {"field": name})
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{name} is a date like 2025-03-01", {"field": name}) from None


def json_activity_tags(body: dict[str, Any]) -> list[PostActivityTag] | None:
    """`activity_tags`: [{"phrase": ..., "badge": slug}]; a catalogue phrase may leave out the
    badge. None when the field is absent."""
    raw = body.get("activity_tags")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValidationFailed("activity_tags is a list", {"field": "activity_tags"})
    tags = []
    for item in raw:
        phrase = item.get("phrase") if isinstance(item, dict) else None
        badge = item.get("badge", "") if isinstance(item, dict) else None
        if not isinstance(phrase, str) or not isinstance(badge, str | None):
            raise ValidationFailed(
                'an activity tag is {"phrase": "...", "badge": "slug"}',
                {"field": "activity_tags"},
            )
        tags.append(PostActivityTag(phrase, badge or ""))
    return tags


def json_attachments(body: dict[str, Any]) -> list[NewAttachment] | None:
    """`attachments`: [{"media_id": ..., "alt": ...}] from POST /api/v1/media. None when absent."""
    raw = body.get("attachments")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValidationFailed("attachments is a list", {"field": "attachments"})
    items = []
    for item in raw:
        media_id = item.get("media_id") if isinstance(item, dict) else None
        alt = item.get("alt") if isinstance(item, dict) else None
        if not isinstance(media_id, str) or not isinstance(alt, str):
            raise ValidationFailed(
                'an image is {"media_id": "...", "alt": "..."}', {"field": "attachments"}
            )
        items.append(NewAttachment(media_id, alt))
    require_alt_text(items)
    return items


def require_alt_text(items: list[NewAttachment]) -> None:
    for number, item in enumerate(items, start=1):
        if not item.alt.strip():
            raise ValidationFailed(
                f"describe image {number} in its alt text, for people who cannot see it",
                {"field": "attachments", "image": number},
            )


def json_happened_on(body: dict[str, Any]) -> date | Keep | None:
    """KEEP when absent (an edit leaves the date alone), None when null or ""."""
    if "happened_on" not in body:
        return KEEP
    return parse_date(body["happened_on"])


async def read_upload(request: web.Request, field: str = "file") -> tuple[bytes, str | None]:
    """The bytes and file name of the `field` part of a multipart/form-data body, read no
    further than the configured image size (413 beyond it)."""
    limit = request.app[appkeys.CONFIG].media.max_upload_bytes
    too_big = PayloadTooLarge(
        f"an image has at most {limit // (1024 * 1024) or 1} MB", {"field": field}
    )
    if request.content_type != "multipart/form-data":
        raise ValidationFailed(
            f"send the image as multipart/form-data in a part named {field!r}", {"field": field}
        )
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise too_big
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != field:
                continue
            data = bytearray()
            while chunk := await part.read_chunk(UPLOAD_CHUNK):
                data += chunk
                if len(data) > limit:
                    raise too_big
            return bytes(data), part.filename
    except (ValueError, AssertionError, RuntimeError) as error:  # a malformed multipart body
        raise ValidationFailed("the upload is not valid multipart/form-data") from error
    raise ValidationFailed(f"no {field!r} part in the upload", {"field": field})


def media_json(stored: StoredMedia, request: web.Request) -> dict[str, Any]:
    return {
        "id": stored.id,
        "url": request.app[appkeys.URLS].media(stored.id),
        "media_type": stored.media_type,
        "width": stored.width,
        "height": stored.height,
    }


async def save_post_image(request: web.Request, owner: Account, data: bytes) -> StoredMedia:
    """Store an image for a post, as `owner`'s upload (only they can attach it)."""
    return await request.app[appkeys.MEDIA_LIBRARY].upload(owner, data, MediaPurpose.POST)
