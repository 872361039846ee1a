"""The parts of an activity post besides its text: activity tags, images, the "happened on"
date, what a remote Note carries of them, and how replies form a thread (no I/O here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from federation.vocab import as_list, id_of
from fedipoly.errors import ValidationFailed
from fedipoly.models import Attachment, Post, PostActivityTag
from fedipoly.names import normalize_phrase
from fedipoly.services.badges import SLUG_PATTERN
from fedipoly.services.media import MAX_ALT_TEXT
from fedipoly.services.profiles import clean_line

MAX_ACTIVITY_TAGS = 5
MAX_PHRASE = 60
MAX_ATTACHMENTS = 4  # Mastodon keeps at most 4 (Status::MEDIA_ATTACHMENTS_LIMIT)
EARLIEST_HAPPENED_ON = date(1900, 1, 1)
MAX_THREAD = 500
# What we keep of a remote Note's extras; more is dropped, not refused.
MAX_REMOTE_TAGS = 50
MAX_REMOTE_MENTIONS = 50
MAX_REMOTE_HASHTAG = 100
MAX_URL = 2048
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "image/avif"})


@dataclass(frozen=True)
class NewAttachment:
    """An image to attach: a media id from MediaService.save_image, and its alt text."""

    media_id: str
    alt: str = ""


@dataclass(frozen=True)
class ThreadReply:
    """One reply in a thread: depth 1 answers the post the thread was asked for."""

    post: Post
    depth: int
    parent: str  # the URI it answers


def clean_activity_tags(tags: Sequence[PostActivityTag]) -> list[PostActivityTag]:
    """Phrases trimmed to one line (1..60 characters), slugs well-formed or "" (meaning: the
    catalogue's badge for that phrase), at most 5, repeats dropped."""
    if isinstance(tags, str | PostActivityTag):
        raise ValidationFailed("activity tags are a list", {"field": "activity_tags"})
    if len(tags) > MAX_ACTIVITY_TAGS:
        raise ValidationFailed(
            f"a post has at most {MAX_ACTIVITY_TAGS} activity tags", {"field": "activity_tags"}
        )
    cleaned: dict[tuple[str, str], PostActivityTag] = {}
    for tag in tags:
        if not isinstance(tag, PostActivityTag):
            raise ValidationFailed(
                "an activity tag has a phrase and a badge", {"field": "activity_tags"}
            )
        phrase = (
            clean_line(tag.phrase, "activity_tags", MAX_PHRASE)
            if isinstance(tag.phrase, str)
            else ""
        )
        if not phrase:
            raise ValidationFailed("an activity tag needs a phrase", {"field": "activity_tags"})
        slug = tag.badge_slug or ""
        if slug and not SLUG_PATTERN.fullmatch(slug):
            raise ValidationFailed(
                f"{slug!r} is not a badge slug", {"field": "activity_tags", "slug": slug}
            )
        cleaned.setdefault((normalize_phrase(phrase), slug), PostActivityTag(phrase, slug))
    return list(cleaned.values())


def clean_attachments(attachments: Sequence[NewAttachment]) -> list[NewAttachment]:
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationFailed(
            f"a post has at most {MAX_ATTACHMENTS} images", {"field": "attachments"}
        )
    cleaned = []
    for item in attachments:
        if not isinstance(item, NewAttachment) or not isinstance(item.alt, str):
            raise ValidationFailed("an image is a media id and alt text", {"field": "attachments"})
        alt = item.alt.strip()
        if len(alt) > MAX_ALT_TEXT:
            raise ValidationFailed(
                f"alt text has at most {MAX_ALT_TEXT} characters", {"field": "attachments"}
            )
        cleaned.append(NewAttachment(item.media_id, alt))
    if len({item.media_id for item in cleaned}) != len(cleaned):
        raise ValidationFailed("the same image is attached twice", {"field": "attachments"})
    return cleaned


def clean_happened_on(value: date | None, today: date) -> date | None:
    if value is None:
        return None
    if not isinstance(value, date):
        raise ValidationFailed("happened_on is a date", {"field": "happened_on"})
    # A day of slack: "today" where the member is may be tomorrow in UTC.
    if not EARLIEST_HAPPENED_ON <= value <= today + timedelta(days=1):
        raise ValidationFailed(
            "happened_on is a date between 1900 and today", {"field": "happened_on"}
        )
    return value


# --- what a remote Note carries ------------------------------------------------------------


def _http_url(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("href")
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str | dict)), None)
        return _http_url(value) if value is not None else None
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    return value if urlsplit(value).scheme in ("http", "https") else None


def remote_hashtags(note: dict[str, Any]) -> tuple[str, ...]:
    names: dict[str, str] = {}
    for tag in as_list(note.get("tag"))[:MAX_REMOTE_TAGS]:
        if isinstance(tag, dict) and tag.get("type") == "Hashtag":
            name = tag.get("name")
            if isinstance(name, str):
                name = name.removeprefix("#").strip()
                if (
                    name
                    and len(name) <= MAX_REMOTE_HASHTAG
                    and all(char.isalnum() or char == "_" for char in name)
                ):
                    names.setdefault(name.casefold(), name)
    return tuple(names.values())


def remote_mentions(note: dict[str, Any]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for tag in as_list(note.get("tag"))[:MAX_REMOTE_TAGS]:
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            href = _http_url(tag.get("href"))
            if href and len(found) < MAX_REMOTE_MENTIONS:
                found[href] = None
    return tuple(found)


def remote_attachments(note: dict[str, Any]) -> tuple[Attachment, ...]:
    """Images only (http(s) URLs, an image media type), at most 4, alt text capped."""
    kept: list[Attachment] = []
    for item in as_list(note.get("attachment")):
        if len(kept) == MAX_ATTACHMENTS:
            break
        if not isinstance(item, dict) or item.get("type") not in ("Document", "Image"):
            continue
        media_type = item.get("mediaType")
        url = _http_url(item.get("url"))
        if url is None or not isinstance(media_type, str) or media_type not in IMAGE_TYPES:
            continue
        alt = item.get("name") if isinstance(item.get("name"), str) else item.get("summary")
        width, height = item.get("width"), item.get("height")
        sized = all(isinstance(v, int) and 0 < v < 100_000 for v in (width, height))
        kept.append(
            Attachment(
                url=url,
                media_type=media_type,
                alt=(alt if isinstance(alt, str) else "")[:MAX_ALT_TEXT],
                width=width if sized else None,
                height=height if sized else None,
            )
        )
    return tuple(kept)


def remote_activity_tags(note: dict[str, Any]) -> tuple[PostActivityTag, ...]:
    """Another Fedipoly's `fedipoly:activityTags`: phrases with that instance's badge slugs.
    A tag without a (well-formed) badge keeps its phrase with an empty slug."""
    kept: dict[str, PostActivityTag] = {}
    for item in as_list(note.get("fedipoly:activityTags"))[: MAX_ACTIVITY_TAGS * 2]:
        if not isinstance(item, dict):
            continue
        phrase = item.get("fedipoly:phrase")
        if not isinstance(phrase, str):
            continue
        phrase = " ".join(phrase.split())[:MAX_PHRASE]
        if not phrase or any(ord(char) < 32 for char in phrase):
            continue
        slug = item.get("fedipoly:badge")
        slug = slug if isinstance(slug, str) and SLUG_PATTERN.fullmatch(slug) else ""
        kept.setdefault(normalize_phrase(phrase), PostActivityTag(phrase, slug))
        if len(kept) == MAX_ACTIVITY_TAGS:
            break
    return tuple(kept.values())


def remote_happened_on(note: dict[str, Any]) -> date | None:
    value = note.get("fedipoly:happenedOn")
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed >= EARLIEST_HAPPENED_ON else None


def badges_of(tags: Sequence[PostActivityTag]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag.badge_slug for tag in tags if tag.badge_slug))


def in_reply_to_of(note: dict[str, Any]) -> str | None:
    return id_of(note.get("inReplyTo"))


# --- threads -------------------------------------------------------------------------------


def build_thread(
    root: str, top: str, posts: Sequence[Post], visible: set[str]
) -> list[ThreadReply]:
    """The replies below `top`, oldest first by (published, id), each with depth and parent.

    `posts` are the thread's replies (those whose reply_root is `root`); `top` is `root` or
    one of them. Only replies whose URI is in `visible` are returned, and the replies below
    one the reader may not see are left out too, so a hidden reply leaves no trace. A reply
    whose parent is unknown here (deleted, never received) hangs directly below `root`.
    """
    known = {post.uri for post in posts} | {root}
    children: dict[str, list[Post]] = {}
    for post in posts:
        parent = post.in_reply_to if post.in_reply_to in known else root
        children.setdefault(parent, []).append(post)
    replies: list[ThreadReply] = []
    seen = {top}
    stack = [(top, 0)]
    while stack:
        uri, depth = stack.pop()
        for child in children.get(uri, []):
            if child.uri in seen or child.uri not in visible:
                continue
            seen.add(child.uri)
            replies.append(ThreadReply(child, depth + 1, uri))
            stack.append((child.uri, depth + 1))
    replies.sort(key=lambda reply: (reply.post.published, reply.post.id))
    return replies
