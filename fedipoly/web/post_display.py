"""What a page or an API answer shows of a post besides its author and text: its activity tags
(linked to badge pages), the people it mentions, the post it answers, its images, and a thread
of replies as a tree. Shared by social_api.post_views (HTML and JSON) and the post pages.

Nothing here counts anything: no likes, boosts or reply counts (product rule 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import FedipolyError
from fedipoly.models import Account, Attachment, Badge, Post
from fedipoly.services.directory import ActorDirectory, ActorSummary, web_url
from fedipoly.services.post_parts import ThreadReply


@dataclass(frozen=True)
class TagView:
    """An activity tag: the phrase, and the badge page it files the post under (when this
    instance has that badge and the reader may see it)."""

    phrase: str
    badge_slug: str
    badge_name: str
    path: str | None


@dataclass(frozen=True)
class ReplyContext:
    """The post a reply answers: a link, and who wrote it when we know."""

    path: str  # a site path for local posts, else the remote post's URL ("" when unusable)
    author: ActorSummary | None
    host: str


@dataclass(frozen=True)
class ImageView:
    src: str  # a site path for our own media, else the remote https URL
    alt: str
    width: int | None
    height: int | None


def day_label(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def image_views(attachments: Sequence[Attachment]) -> tuple[ImageView, ...]:
    return tuple(
        ImageView(
            src=f"/media/{item.media_id}" if item.media_id else item.url,
            alt=item.alt,
            width=item.width,
            height=item.height,
        )
        for item in attachments
        if item.media_id or web_url(item.url)
    )


class BadgeLookup:
    """Badges by slug as the reader may see them, each looked up once per request."""

    def __init__(self, request: web.Request, reader: Account | None) -> None:
        self._badges = request.app[appkeys.BADGES]
        self._reader = reader
        self._found: dict[str, Badge | None] = {}

    async def get(self, slug: str) -> Badge | None:
        if slug not in self._found:
            try:
                self._found[slug] = await self._badges.get_badge(slug, self._reader)
            except FedipolyError:  # unknown, malformed, or pending and not the reader's
                self._found[slug] = None
        return self._found[slug]


def _badge_peer_hosts(request: web.Request) -> frozenset[str]:
    return frozenset(host.lower() for host in request.app[appkeys.CONFIG].federation.badge_peers)


async def tag_views(request: web.Request, post: Post, badges: BadgeLookup) -> tuple[TagView, ...]:
    """Local posts' tags link our badge pages; a remote post's only when its server is an
    allow-listed badge peer (its slugs then name the same badges as ours)."""
    linkable = post.is_local or urlsplit(post.author).netloc.lower() in _badge_peer_hosts(request)
    views = []
    for tag in post.activity_tags:
        badge = await badges.get(tag.badge_slug) if tag.badge_slug and linkable else None
        views.append(
            TagView(
                phrase=tag.phrase,
                badge_slug=tag.badge_slug,
                badge_name=badge.display_name if badge else "",
                path=f"/badges/{badge.slug}" if badge else None,
            )
        )
    return tuple(views)


def local_note(request: web.Request, uri: str) -> tuple[str, str] | None:
    """(username, post id) when `uri` is one of our notes ({base}/users/{name}/statuses/{id})."""
    prefix = f"{request.app[appkeys.URLS].base}/users/"
    if not uri.startswith(prefix):
        return None
    username, separator, post_id = uri[len(prefix) :].partition("/statuses/")
    if not separator or not username or "/" in username:
        return None
    if not post_id or any(char in post_id for char in "/?#"):
        return None
    return username, post_id


async def reply_context(
    request: web.Request, post: Post, directory: ActorDirectory
) -> ReplyContext | None:
    if not post.in_reply_to:
        return None
    uri = post.in_reply_to
    found = local_note(request, uri)
    if found is not None:
        username, post_id = found
        author = await directory.describe(request.app[appkeys.URLS].actor(username))
        return ReplyContext(path=f"/@{username}/{post_id}", author=author, host="")
    return ReplyContext(path=web_url(uri) or "", author=None, host=urlsplit(uri).netloc)


# --- threads ---------------------------------------------------------------------------------


@dataclass
class ThreadNode:
    """One reply and the replies below it, for nested lists (oldest first at each level)."""

    view: Any  # social_api.PostView (not imported: social_api imports this module)
    depth: int
    children: list[ThreadNode] = field(default_factory=list)


def thread_tree(top: str, replies: Sequence[ThreadReply], views: Sequence[Any]) -> list[ThreadNode]:
    """Nest the service's flat, oldest-first replies (with their views, in the same order)
    under `top`, the URI of the post the thread was asked for."""
    nodes = {
        reply.post.uri: ThreadNode(view=view, depth=reply.depth)
        for reply, view in zip(replies, views, strict=True)
    }
    roots: list[ThreadNode] = []
    for reply in replies:  # a second pass: a remote reply may predate its parent
        parent = nodes.get(reply.parent)
        if reply.parent == top or parent is None:
            roots.append(nodes[reply.post.uri])
        else:
            parent.children.append(nodes[reply.post.uri])
    return roots
