"""Posts: writing, editing and deleting local notes, ingesting remote ones, and home timelines.

Home timelines are fan-out on write: when a post is stored, one timeline row is written per
local reader (the author and their local followers), so reading a page is one range scan.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from federation.vocab import as_list, id_of, is_public_address, same_origin
from fedipoly import render
from fedipoly.errors import Forbidden, Gone, NotFound, ValidationFailed
from fedipoly.models import (
    Account,
    Clock,
    FollowState,
    Post,
    RemoteActor,
    TimelinePage,
    Visibility,
    new_id,
)
from fedipoly.services.delivery import Deliverer
from fedipoly.services.directory import ActorDirectory
from fedipoly.services.text import html_to_text, plain_text_to_html, sanitize_html
from fedipoly.store.base import Cursor, Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

MAX_POST_CHARACTERS = 5000
MAX_REMOTE_CONTENT = 100_000
PAGE_SIZE = 20
MAX_PAGE_SIZE = 40


def encode_cursor(published: datetime, post_id: str) -> str:
    raw = f"{published.isoformat()}|{post_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Cursor | None:
    """Opaque cursors carry (published, id); anything malformed is a 400, never a crash."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        published, post_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        moment = datetime.fromisoformat(published)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("the page cursor is not valid", {"field": "before"}) from None
    if moment.tzinfo is None or not post_id:
        raise ValidationFailed("the page cursor is not valid", {"field": "before"})
    return moment, post_id


def page_of(posts: list[Post], limit: int) -> TimelinePage:
    next_cursor = encode_cursor(posts[-1].published, posts[-1].id) if len(posts) == limit else None
    return TimelinePage(posts=posts, next_cursor=next_cursor)


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit is 1 to {MAX_PAGE_SIZE}", {"field": "limit"})
    return limit


@dataclass(frozen=True)
class RemoteNote:
    """The parts of a remote Note we keep, after validation."""

    uri: str
    content_html: str
    visibility: Visibility
    in_reply_to: str | None
    published: datetime
    updated: datetime | None
    url: str | None
    audience: tuple[str, ...]


def _parse_time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    return fallback


def remote_visibility(note: dict[str, Any], author: RemoteActor) -> Visibility:
    """Mastodon's StatusParser#visibility: Public in to/cc is public, followers-only, else direct."""
    to, cc = as_list(note.get("to")), as_list(note.get("cc"))
    addresses = [id_of(value) or "" for value in to + cc]
    if any(is_public_address(address) for address in addresses):
        return Visibility.PUBLIC
    if author.followers_url and author.followers_url in addresses:
        return Visibility.FOLLOWERS
    return Visibility.DIRECT


def parse_remote_note(note: dict[str, Any], author: RemoteActor, now: datetime) -> RemoteNote:
    uri = id_of(note)
    if uri is None or not same_origin(uri, author.uri):
        raise ValidationFailed("the note's id is not on its author's server")
    if note.get("type") not in ("Note", "Question", "Article", "Page"):
        raise ValidationFailed(f"unsupported object type {note.get('type')!r}")
    content = note.get("content")
    content_html = sanitize_html(content[:MAX_REMOTE_CONTENT]) if isinstance(content, str) else ""
    url = note.get("url")
    audience = tuple(
        address
        for address in (id_of(value) for value in as_list(note.get("to")) + as_list(note.get("cc")))
        if address
    )
    published = _parse_time(note.get("published"), now)
    return RemoteNote(
        uri=uri,
        content_html=content_html,
        visibility=remote_visibility(note, author),
        in_reply_to=id_of(note.get("inReplyTo")),
        published=min(published, now),  # a future date must not pin a post to the top
        updated=_parse_time(note["updated"], now) if note.get("updated") else None,
        url=url if isinstance(url, str) and same_origin(url, author.uri) else None,
        audience=audience,
    )


class PostService:
    def __init__(self, store: Store, deliverer: Deliverer, urls: Urls, clock: Clock) -> None:
        self._store = store
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock

    # --- local posts ---------------------------------------------------------------------

    async def create(self, author: Account, text: str, visibility: Visibility) -> Post:
        text = text.strip()
        if not text:
            raise ValidationFailed("a post needs some text", {"field": "text"})
        if len(text) > MAX_POST_CHARACTERS:
            raise ValidationFailed(
                f"a post has at most {MAX_POST_CHARACTERS} characters", {"field": "text"}
            )
        now = self._clock()
        post_id = new_id(now)
        post = Post(
            id=post_id,
            uri=self._urls.note(author.username, post_id),
            author=self._urls.actor(author.username),
            local_account_id=author.id,
            content_html=plain_text_to_html(text),
            source_text=text,
            visibility=visibility,
            in_reply_to=None,
            published=now,
            updated=None,
            url=self._urls.note_page(author.username, post_id),
            audience=(),
        )
        await self._store.insert_post(post)
        await self._fan_out_locally(post, author_account_id=author.id)
        if visibility is not Visibility.DIRECT:
            await self._deliver(author, render.create_note(post, author, self._urls), post)
        return post

    async def update(self, author: Account, post_id: str, text: str) -> Post:
        post = await self.get_own(author, post_id)
        text = text.strip()
        if not text or len(text) > MAX_POST_CHARACTERS:
            raise ValidationFailed(
                f"a post has 1 to {MAX_POST_CHARACTERS} characters", {"field": "text"}
            )
        now = self._clock()
        edited = replace(post, source_text=text, content_html=plain_text_to_html(text), updated=now)
        await self._store.update_post(edited)
        update_id = self._urls.activity(author.username, "updates", new_id(now))
        await self._deliver(
            author, render.update_note(edited, author, self._urls, update_id), edited
        )
        return edited

    async def delete(self, author: Account, post_id: str) -> None:
        post = await self.get_own(author, post_id)
        now = self._clock()
        deleted = await self._store.mark_post_deleted(post.uri, now)
        if deleted is None:
            raise Gone("this post was deleted")
        delete_id = self._urls.activity(author.username, "deletes", new_id(now))
        await self._deliver(author, render.delete_note(post, author, self._urls, delete_id), post)

    async def get_own(self, author: Account, post_id: str) -> Post:
        post = await self._store.get_post(post_id)
        if post is None or post.deleted_at is not None:
            raise NotFound("no such post")
        if post.local_account_id != author.id:
            raise Forbidden("this is not your post")
        return post

    async def _deliver(self, author: Account, activity: dict[str, Any], post: Post) -> None:
        inboxes = await self._store.follower_inboxes(self._urls.actor(author.username))
        for address in post.audience:
            actor = await self._store.get_remote_actor(address)
            if actor is not None:
                inboxes.append(actor.inbox)
        await self._deliverer.publish(activity, signer_account_id=author.id, inboxes=inboxes)

    async def _fan_out_locally(self, post: Post, *, author_account_id: str | None) -> None:
        readers: list[str] = [author_account_id] if author_account_id else []
        if post.visibility is not Visibility.DIRECT:
            readers += await self._store.local_follower_ids(post.author)
        for address in post.audience:
            username = self._urls.local_username(address)
            if username:
                account = await self._store.get_account_by_username(username)
                if account is not None:
                    readers.append(account.id)
        await self._store.add_to_timelines(post, readers)

    # --- reading -------------------------------------------------------------------------

    def directory(self) -> ActorDirectory:
        """A per-request describer of post authors and follow partners."""
        return ActorDirectory(self._store, self._urls)

    async def may_see(self, reader: Account | None, post: Post) -> bool:
        """Public posts: anyone. Otherwise the author, the addressed people, and (for
        followers-only posts) the author's accepted followers. Nobody else, anywhere."""
        if post.visibility is Visibility.PUBLIC:
            return True
        if reader is None:
            return False
        if post.local_account_id == reader.id:
            return True
        me = self._urls.actor(reader.username)
        if me in post.audience:
            return True
        if post.visibility is Visibility.FOLLOWERS:
            follow = await self._store.get_follow(me, post.author)
            return follow is not None and follow.state is FollowState.ACCEPTED
        return False

    async def visible_post(
        self, reader: Account | None, post_id: str, *, author_username: str | None = None
    ) -> Post:
        """The post if `reader` may see it (and, when given, it is that member's); 404 when
        not, never revealing that it exists; 410 once deleted."""
        post = await self._store.get_post(post_id)
        if post is None or not await self.may_see(reader, post):
            raise NotFound("no such post")
        if author_username is not None and post.author != self._urls.actor(author_username):
            raise NotFound("no such post")
        if post.deleted_at is not None:
            raise Gone("this post was deleted")
        return post

    async def deleted_at(self, uri: str) -> datetime | None:
        """When the post at `uri` was deleted (for its Tombstone), or None."""
        post = await self._store.get_post_by_uri(uri)
        return post.deleted_at if post else None

    async def count_local_posts(self) -> int:
        return await self._store.count_local_posts()

    async def home_timeline(
        self, reader: Account, *, before: str | None, limit: int | None = None
    ) -> TimelinePage:
        size = clamp_limit(limit)
        posts = await self._store.home_timeline(reader.id, before=decode_cursor(before), limit=size)
        return page_of(posts, size)

    async def local_post(self, username: str, post_id: str) -> tuple[Account, Post]:
        """A local post by its author's username and id; Gone (410) once deleted."""
        account = await self._store.get_account_by_username(username)
        post = await self._store.get_post(post_id)
        if account is None or post is None or post.local_account_id != account.id:
            raise NotFound("no such post")
        if post.deleted_at is not None:
            raise Gone("this post was deleted")
        return account, post

    async def public_posts(
        self, author: Account, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        return await self._store.author_posts(
            self._urls.actor(author.username),
            (Visibility.PUBLIC.value,),
            before=before,
            limit=limit,
        )

    async def count_public_posts(self, author: Account) -> int:
        return await self._store.count_author_posts(
            self._urls.actor(author.username), (Visibility.PUBLIC.value,)
        )

    # --- remote posts --------------------------------------------------------------------

    async def ingest_remote(self, note: dict[str, Any], author: RemoteActor) -> Post | None:
        """Store a remote note and put it on the timelines of the local people it is for."""
        now = self._clock()
        parsed = parse_remote_note(note, author, now)
        existing = await self._store.get_post_by_uri(parsed.uri)
        if existing is not None:
            return existing
        post = Post(
            id=new_id(parsed.published),
            uri=parsed.uri,
            author=author.uri,
            local_account_id=None,
            content_html=parsed.content_html,
            source_text=html_to_text(parsed.content_html),
            visibility=parsed.visibility,
            in_reply_to=parsed.in_reply_to,
            published=parsed.published,
            updated=parsed.updated,
            url=parsed.url,
            audience=parsed.audience,
        )
        if not await self._store.insert_post(post):
            return await self._store.get_post_by_uri(parsed.uri)
        await self._fan_out_locally(post, author_account_id=None)
        return post

    async def update_remote(self, note: dict[str, Any], author: RemoteActor) -> None:
        parsed = parse_remote_note(note, author, self._clock())
        existing = await self._store.get_post_by_uri(parsed.uri)
        if existing is None or existing.author != author.uri or existing.deleted_at is not None:
            return
        await self._store.update_post(
            replace(
                existing,
                content_html=parsed.content_html,
                source_text=html_to_text(parsed.content_html),
                updated=parsed.updated or self._clock(),
            )
        )

    async def delete_remote(self, uri: str, author: RemoteActor) -> None:
        existing = await self._store.get_post_by_uri(uri)
        if existing is None or existing.author != author.uri:
            return  # only the author may delete (Mastodon: delete.rb non_matching_uri_hosts?)
        await self._store.mark_post_deleted(uri, self._clock())

    async def share_to_followers_of(self, post: Post, booster: RemoteActor) -> None:
        """An Announce: the post goes to the home timelines of the booster's local followers."""
        if post.visibility is not Visibility.PUBLIC:
            return
        readers = await self._store.local_follower_ids(booster.uri)
        await self._store.add_to_timelines(post, readers)
