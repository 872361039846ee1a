"""The compose form (home page): text and who can see it, plus optional activity tags (a phrase
from the instance catalogue, and/or the member's own phrase tied to one of their badges), up to
4 images each with alt text, and a "happened on" date.

A one-line post needs nothing but the text and the Post button: every extra is optional and the
less common ones sit in a closed <details>. The form is multipart/form-data so images upload
without JavaScript. Images are stored before the post is written and removed again when the
post is refused, so a failed form leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from fedipoly import appkeys
from fedipoly.errors import FedipolyError, ValidationFailed
from fedipoly.models import Account, Post, PostActivityTag, Visibility
from fedipoly.services.badges import can_use
from fedipoly.services.media import MAX_ALT_TEXT
from fedipoly.services.post_parts import MAX_ATTACHMENTS, MAX_PHRASE, NewAttachment
from fedipoly.services.posts import MAX_POST_CHARACTERS
from fedipoly.web.post_input import parse_date, save_post_image
from fedipoly.web.social_api import parse_visibility

IMAGE_SLOTS = tuple(range(1, MAX_ATTACHMENTS + 1))
IMAGE_ACCEPT = "image/png,image/jpeg,image/webp,image/gif"


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


@dataclass
class ComposeInput:
    """What the member typed and chose, kept to fill the form again after an error."""

    text: str = ""
    visibility: str = Visibility.PUBLIC.value
    activity: str = ""  # a catalogue phrase, or "" for none
    own_phrase: str = ""
    own_badge: str = ""
    happened_on: str = ""
    alts: dict[int, str] = field(default_factory=dict)
    files: dict[int, FileField] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Any) -> ComposeInput:
        files = {}
        for slot in IMAGE_SLOTS:
            value = form.get(f"image_{slot}")
            if isinstance(value, FileField) and value.filename:
                files[slot] = value
        return cls(
            text=_text(form, "text"),
            visibility=_text(form, "visibility") or Visibility.PUBLIC.value,
            activity=_text(form, "activity"),
            own_phrase=_text(form, "own_phrase"),
            own_badge=_text(form, "own_badge"),
            happened_on=_text(form, "happened_on"),
            alts={slot: _text(form, f"alt_{slot}") for slot in IMAGE_SLOTS},
            files=files,
        )

    @property
    def has_extras(self) -> bool:
        """Whether the closed "more" part of the form holds something (open it again)."""
        return bool(
            self.own_phrase or self.own_badge or self.happened_on or any(self.alts.values())
        )

    def activity_tags(self) -> list[PostActivityTag]:
        tags = []
        if self.activity:
            tags.append(PostActivityTag(self.activity, ""))  # the catalogue names its badge
        if self.own_phrase.strip():
            tags.append(PostActivityTag(self.own_phrase, self.own_badge))
        elif self.own_badge:
            raise ValidationFailed(
                "write what you did for the badge you chose", {"field": "own_phrase"}
            )
        return tags


async def compose_context(
    request: web.Request,
    account: Account,
    values: ComposeInput | None = None,
    error: FedipolyError | None = None,
) -> dict[str, Any]:
    """What _compose.html needs: the catalogue, the member's usable badges, limits, input."""
    badges = request.app[appkeys.BADGES]
    catalogue = await badges.activity_tags()
    held = await badges.member_badges(account, account)
    today = request.app[appkeys.CLOCK]().date()
    field_name = error.detail.get("field") if error and isinstance(error.detail, dict) else None
    return {
        "compose": values or ComposeInput(),
        "compose_error": error.message if error else None,
        "compose_error_field": field_name if isinstance(field_name, str) else None,
        "activity_options": [(tag.phrase, tag.badge.display_name) for tag in catalogue],
        "own_badge_options": [
            (item.badge.slug, item.badge.display_name)
            for item in held
            if can_use(item.badge, account)
        ],
        "max_characters": MAX_POST_CHARACTERS,
        "max_phrase": MAX_PHRASE,
        "max_alt": MAX_ALT_TEXT,
        "image_slots": IMAGE_SLOTS,
        "image_accept": IMAGE_ACCEPT,
        # A day of slack, as the service allows: "today" where the member is may be tomorrow.
        "happened_on_max": (today + timedelta(days=1)).isoformat(),
    }


async def publish(request: web.Request, account: Account, values: ComposeInput) -> Post:
    """Check the form, store its images, write the post; on any error nothing stays stored."""
    visibility = parse_visibility(values.visibility)
    tags = values.activity_tags()
    happened_on = parse_date(values.happened_on)
    for slot in values.files:
        if not values.alts.get(slot, "").strip():
            raise ValidationFailed(
                f"describe image {slot} in its alt text, for people who cannot see it",
                {"field": f"alt_{slot}"},
            )
    media = request.app[appkeys.MEDIA_LIBRARY]
    attached: list[NewAttachment] = []
    try:
        for slot, upload in sorted(values.files.items()):
            try:
                stored = await save_post_image(request, account, upload.file.read())
            except FedipolyError as error:
                raise type(error)(
                    f"image {slot}: {error.message}", {"field": f"image_{slot}"}
                ) from error
            attached.append(NewAttachment(stored.id, values.alts[slot]))
        return await request.app[appkeys.POSTS].create(
            account,
            values.text,
            visibility,
            activity_tags=tags,
            attachments=attached,
            happened_on=happened_on,
        )
    except BaseException:
        for item in attached:
            await media.discard(item.media_id)
        raise
