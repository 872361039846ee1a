"""Posts: writing, editing and deleting local notes, ingesting remote ones, and timelines.

Home timelines are fan-out on write: when a post is stored, one timeline row is written per
local reader (the author and their local followers), so reading a page is one range scan.
Badge timelines are fanned out on write too (one badge_entries row per approved badge of a
public post); the local and federated timelines read the posts' own indexes; a thread is one
range scan over the posts sharing its root.

An activity post carries activity tags (verb phrases tied to badges), images, @mentions and
#hashtags (see post_text.py and post_parts.py), an optional "happened on" date and, for a
reply, its parent and thread root. Mentioned actors and a reply's parent author join the
audience (to/cc and Mention tags), so they are delivered to and may see the post.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from federation.errors import FederationError
from federation.vocab import as_list, id_of, is_public_address, same_origin
from fedipoly import render
from fedipoly.errors import FedipolyError, Forbidden, Gone, NotFound, ValidationFailed
from fedipoly.media_models import post_target
from fedipoly.models import (
    Account,
    Attachment,
    Badge,
    Clock,
    FollowState,
    Post,
    PostActivityTag,
    RemoteActor,
    TimelinePage,
    Visibility,
    new_id,
)
from fedipoly.moderation_models import RestrictionLevel
from fedipoly.names import normalize_phrase
from fedipoly.services.actors import RemoteActors
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badges import can_see, can_use, clean_slug
from fedipoly.services.delivery import Deliverer
from fedipoly.services.directory import ActorDirectory
from fedipoly.services.media import MediaPurpose, MediaService
from fedipoly.services.media_library import UNKNOWN_IMAGE, claim, may_attach, release
from fedipoly.services.post_parts import (
    MAX_THREAD,
    NewAttachment,
    ThreadReply,
    badges_of,
    build_thread,
    clean_activity_tags,
    clean_attachments,
    clean_happened_on,
    remote_activity_tags,
    remote_attachments,
    remote_happened_on,
    remote_hashtags,
    remote_mentions,
)
from fedipoly.services.post_text import (
    MentionTarget,
    find_hashtags,
    find_mentions,
    mention_key,
    render_post_html,
)
from fedipoly.services.text import html_to_text, sanitize_html
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
    activity_tags: tuple[PostActivityTag, ...] = ()
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    happened_on: date | None = None
    unlisted: bool = False


# Leave a field as it is (update); None would mean "remove it".
class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class RenderedText:
    """A member's text as HTML, with whom it mentions and which hashtags it has."""

    html: str
    mentions: tuple[str, ...]  # actor URIs, the author left out
    hashtags: tuple[str, ...]
    names: dict[str, str] = field(default_factory=dict)  # actor URI -> name@host


def _is_unlisted(note: dict[str, Any]) -> bool:
    """Mastodon's "unlisted": Public in cc, not in to."""
    to = [id_of(value) or "" for value in as_list(note.get("to"))]
    cc = [id_of(value) or "" for value in as_list(note.get("cc"))]
    return not any(map(is_public_address, to)) and any(map(is_public_address, cc))


def _clean_text(text: str, *, images: bool, editing: bool = False) -> str:
    """The text, trimmed; it may be empty only when the post has images."""
    if not isinstance(text, str):
        raise ValidationFailed("text is a string", {"field": "text"})
    text = text.strip()
    if editing and (len(text) > MAX_POST_CHARACTERS or not (text or images)):
        raise ValidationFailed(
            f"a post has 1 to {MAX_POST_CHARACTERS} characters", {"field": "text"}
        )
    if not text and not images:
        raise ValidationFailed("a post needs some text", {"field": "text"})
    if len(text) > MAX_POST_CHARACTERS:
        raise ValidationFailed(
            f"a post has at most {MAX_POST_CHARACTERS} characters", {"field": "text"}
        )
    return text


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
    visibility = remote_visibility(note, author)
    return RemoteNote(
        uri=uri,
        content_html=content_html,
        visibility=visibility,
        in_reply_to=id_of(note.get("inReplyTo")),
        published=min(published, now),  # a future date must not pin a post to the top
        updated=_parse_time(note["updated"], now) if note.get("updated") else None,
        url=url if isinstance(url, str) and same_origin(url, author.uri) else None,
        audience=audience,
        activity_tags=remote_activity_tags(note),
        hashtags=remote_hashtags(note),
        mentions=remote_mentions(note),
        attachments=remote_attachments(note),
        happened_on=remote_happened_on(note),
        unlisted=visibility is Visibility.PUBLIC and _is_unlisted(note),
    )


class PostService:
    def __init__(
        self,
        store: Store,
        deliverer: Deliverer,
        urls: Urls,
        clock: Clock,
        *,
        actors: RemoteActors | None = None,
        media: MediaService | None = None,
        badge_peers: frozenset[str] = frozenset(),
        badge_actors: BadgeActorService | None = None,
    ) -> None:
        """`actors` resolves remote @mentions (without it only cached actors are found);
        `media` holds uploaded images (without it posts take none); public posts by authors
        on the `badge_peers` hosts join our badge timelines for badges with the same slug;
        `badge_actors` announces local posts by their badges (and withdraws the announces)."""
        self._store = store
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock
        self._actors = actors
        self._media = media
        self._badge_peers = frozenset(host.lower() for host in badge_peers)
        self._badge_actors = badge_actors

    # --- local posts ---------------------------------------------------------------------

    async def create(
        self,
        author: Account,
        text: str,
        visibility: Visibility,
        *,
        activity_tags: Sequence[PostActivityTag] = (),
        attachments: Sequence[NewAttachment] = (),
        happened_on: date | None = None,
        in_reply_to: str | None = None,
        recipients: Sequence[str] = (),
    ) -> Post:
        """Write a post. `activity_tags`: a catalogue phrase with badge_slug "" takes the
        catalogue's badge; any phrase may name a badge the author can use (approved, or their
        own pending one). `attachments`: images stored by MediaService. `in_reply_to`: the URI
        of a post the author may see. `recipients`: actor URIs addressed and mentioned without
        an @name in the text (a direct conversation's other side). Bad input raises before
        anything is stored."""
        text = _clean_text(text, images=bool(attachments))
        now = self._clock()
        tags = await self._activity_tags(author, activity_tags)
        images = await self._attachments(author, attachments)
        happened = clean_happened_on(happened_on, now.date())
        parent = await self._reply_parent(author, in_reply_to)
        rendered = await self._render(author, text, parent)
        if recipients:
            addressed = dict.fromkeys([*rendered.mentions, *recipients])
            rendered = replace(rendered, mentions=tuple(addressed))
        post_id = new_id(now)
        post = Post(
            id=post_id,
            uri=self._urls.note(author.username, post_id),
            author=self._urls.actor(author.username),
            local_account_id=author.id,
            content_html=rendered.html,
            source_text=text,
            visibility=visibility,
            in_reply_to=parent.uri if parent else None,
            published=now,
            updated=None,
            url=self._urls.note_page(author.username, post_id),
            audience=rendered.mentions,
            activity_tags=tuple(tags),
            badges=badges_of(tags),
            hashtags=rendered.hashtags,
            mentions=rendered.mentions,
            attachments=images,
            happened_on=happened,
            reply_root=(parent.reply_root or parent.uri) if parent else None,
        )
        claimed = await self._claim_images(author, post_id, images)
        try:
            await self._store.insert_post(post)
        except BaseException:
            await release(self._store, claimed, post_target(post_id))
            raise
        await self._fan_out_locally(post, author_account_id=author.id)
        badges = await self._fan_out_to_badges(post, fresh=True)
        activity = render.create_note(
            post, author, self._urls, badges=badges, mention_names=rendered.names
        )
        await self._deliver(author, activity, post)
        if self._badge_actors is not None:
            await self._badge_actors.post_saved(post)
        return post

    async def reply(
        self,
        author: Account,
        parent_id: str,
        text: str,
        visibility: Visibility,
        *,
        activity_tags: Sequence[PostActivityTag] = (),
        attachments: Sequence[NewAttachment] = (),
        happened_on: date | None = None,
    ) -> Post:
        """`create` answering the post with this id (local or remote), which the author must
        be able to see (404 otherwise, 410 once deleted)."""
        parent = await self.visible_post(author, parent_id)
        return await self.create(
            author,
            text,
            visibility,
            activity_tags=activity_tags,
            attachments=attachments,
            happened_on=happened_on,
            in_reply_to=parent.uri,
        )

    async def update(
        self,
        author: Account,
        post_id: str,
        text: str,
        *,
        activity_tags: Sequence[PostActivityTag] | None = None,
        attachments: Sequence[NewAttachment] | None = None,
        happened_on: date | Keep | None = KEEP,
    ) -> Post:
        """Edit text (mentions and hashtags re-read) and, when given, activity tags, images
        and the date; None / KEEP leave those as they are. Visibility and the reply it
        answers do not change. Someone no longer mentioned keeps seeing the post (as on
        Mastodon: a silent mention) and gets the Update too."""
        post = await self.get_own(author, post_id)
        tags = (
            list(post.activity_tags)
            if activity_tags is None
            else await self._activity_tags(author, activity_tags)
        )
        images = (
            post.attachments
            if attachments is None
            else await self._attachments(author, attachments, post)
        )
        text = _clean_text(text, images=bool(images), editing=True)
        now = self._clock()
        happened = (
            post.happened_on
            if isinstance(happened_on, Keep)
            else clean_happened_on(happened_on, now.date())
        )
        parent = await self._store.get_post_by_uri(post.in_reply_to) if post.in_reply_to else None
        rendered = await self._render(author, text, parent)
        edited = replace(
            post,
            source_text=text,
            content_html=rendered.html,
            updated=now,
            audience=tuple(dict.fromkeys([*post.audience, *rendered.mentions])),
            activity_tags=tuple(tags),
            badges=badges_of(tags),
            hashtags=rendered.hashtags,
            mentions=rendered.mentions,
            attachments=images,
            happened_on=happened,
        )
        claimed = await self._claim_images(author, post.id, images, shown=post.attachments)
        try:
            await self._store.update_post(edited)
        except BaseException:
            await release(self._store, claimed, post_target(post.id))
            raise
        newly = [uri for uri in edited.audience if uri not in post.audience]
        await self._store.add_to_timelines(
            edited, await self._local_readers(newly, author=edited.author)
        )
        badges = await self._fan_out_to_badges(edited)
        update_id = self._urls.activity(author.username, "updates", new_id(now))
        activity = render.update_note(
            edited, author, self._urls, update_id, badges=badges, mention_names=rendered.names
        )
        await self._deliver(author, activity, edited)
        if self._badge_actors is not None:
            await self._badge_actors.post_saved(edited)
        await self._forget_images(post.attachments, keep=images)
        return edited

    async def delete(self, author: Account, post_id: str) -> None:
        """Tombstone the post (its URI answers 410), take it off every timeline, delete its
        images, and send Delete to everyone who received it."""
        post = await self.get_own(author, post_id)
        now = self._clock()
        deleted = await self._store.mark_post_deleted(post.uri, now)
        if deleted is None:
            raise Gone("this post was deleted")
        delete_id = self._urls.activity(author.username, "deletes", new_id(now))
        await self._deliver(author, render.delete_note(post, author, self._urls, delete_id), post)
        if self._badge_actors is not None:
            await self._badge_actors.post_deleted(post)
        await self._forget_images(post.attachments, keep=())

    async def get_own(self, author: Account, post_id: str) -> Post:
        post = await self._store.get_post(post_id)
        if post is None or post.deleted_at is not None:
            raise NotFound("no such post")
        if post.local_account_id != author.id:
            raise Forbidden("this is not your post")
        return post

    async def _deliver(self, author: Account, activity: dict[str, Any], post: Post) -> None:
        """To followers (unless direct) and to every remote actor in the audience: the
        mentioned, and a reply's parent author."""
        inboxes = (
            []
            if post.visibility is Visibility.DIRECT
            else await self._store.follower_inboxes(self._urls.actor(author.username))
        )
        for address in post.audience:
            actor = await self._store.get_remote_actor(address)
            if actor is not None:
                inboxes.append(actor.inbox)
        if self._badge_actors is not None:
            # Servers that got the post through a badge's Announce keep a copy: its Update
            # and Delete must reach them too, or they show a stale or deleted post.
            inboxes += await self._badge_actors.reached_inboxes(post)
        await self._deliverer.publish(activity, signer_account_id=author.id, inboxes=inboxes)

    async def _fan_out_locally(self, post: Post, *, author_account_id: str | None) -> None:
        await self._store.add_to_timelines(
            post, await self._home_readers(post, author_account_id=author_account_id)
        )

    async def _home_readers(
        self,
        post: Post,
        *,
        author_account_id: str | None,
        local_followers: list[str] | None = None,
    ) -> list[str]:
        """Whose home timelines the post goes on: its local author, the author's local
        followers (unless direct) and the local members it is addressed to."""
        readers: list[str] = [author_account_id] if author_account_id else []
        if post.visibility is not Visibility.DIRECT:
            if local_followers is None:
                local_followers = await self._store.local_follower_ids(post.author)
            readers += local_followers
        readers += await self._local_readers(post.audience, author=post.author)
        return readers

    async def _local_readers(self, addresses: Sequence[str], *, author: str) -> list[str]:
        """Account ids of the local members among these actor URIs, leaving out those who
        blocked the author: a block stops their mentions and direct messages reaching them."""
        readers = []
        for address in addresses:
            username = self._urls.local_username(address)
            if username:
                account = await self._store.get_account_by_username(username)
                if account is not None and not await self._store.is_blocked(account.id, author):
                    readers.append(account.id)
        return readers

    async def _fan_out_to_badges(self, post: Post, *, fresh: bool = False) -> list[Badge]:
        """Put a public post on the timelines of its approved badges (off all others), and
        return the post's badges (for their Hashtags).

        The badges are read after the post is stored: a badge approved meanwhile is either
        seen approved here or finds the post when its approval backfills
        (BadgeService.approve), so no post is missed.
        """
        if fresh and not post.badges:
            return []  # a new post without badges is on no badge timeline yet
        badges = await self._store.get_badges_by_slugs(list(post.badges)) if post.badges else []
        listed = post.visibility is Visibility.PUBLIC and not post.unlisted
        if not post.is_local and not self._is_badge_peer(post.author):
            listed = False  # only allow-listed peers' posts join our badge pages
        approved = [badge.id for badge in badges if badge.is_public] if listed else []
        await self._store.replace_badge_entries(post, approved)
        return badges

    def _is_badge_peer(self, actor_uri: str) -> bool:
        return urlsplit(actor_uri).netloc.lower() in self._badge_peers

    async def _activity_tags(
        self, author: Account, tags: Sequence[PostActivityTag]
    ) -> list[PostActivityTag]:
        """Validated activity tags, catalogue phrases in the catalogue's spelling."""
        cleaned = clean_activity_tags(tags)
        if not cleaned:
            return []
        catalogue = {
            normalize_phrase(entry.phrase): entry
            for entry in await self._store.list_activity_tag_catalogue()
            if entry.badge.is_public
        }
        resolved: dict[tuple[str, str], PostActivityTag] = {}
        for tag in cleaned:
            entry = catalogue.get(normalize_phrase(tag.phrase))
            if entry is not None and tag.badge_slug in ("", entry.badge.slug):
                tag = PostActivityTag(entry.phrase, entry.badge.slug)
            elif not tag.badge_slug:
                raise ValidationFailed(
                    f"choose a badge for {tag.phrase!r}; it is not in the catalogue",
                    {"field": "activity_tags", "phrase": tag.phrase},
                )
            resolved.setdefault((normalize_phrase(tag.phrase), tag.badge_slug), tag)
        slugs = list(dict.fromkeys(tag.badge_slug for tag in resolved.values()))
        found = {badge.slug: badge for badge in await self._store.get_badges_by_slugs(slugs)}
        for slug in slugs:
            badge = found.get(slug)
            if badge is None or not can_use(badge, author):
                raise ValidationFailed(
                    f"there is no badge {slug!r} you can tag",
                    {"field": "activity_tags", "slug": slug},
                )
        return list(resolved.values())

    async def _attachments(
        self, author: Account, items: Sequence[NewAttachment], post: Post | None = None
    ) -> tuple[Attachment, ...]:
        """The images as attachments: each one the author's own upload, unused elsewhere, or
        one this `post` already shows (uploads from before upload records keep working)."""
        cleaned = clean_attachments(items)
        if not cleaned:
            return ()
        if self._media is None:
            raise ValidationFailed("this server takes no images", {"field": "attachments"})
        shown = {item.media_id for item in post.attachments} if post else set()
        target = post_target(post.id) if post else ""
        attachments = []
        for item in cleaned:
            # Another member's upload gets the answer an unknown id gets: ids cannot be probed.
            unknown = ValidationFailed(UNKNOWN_IMAGE, {"field": "attachments"})
            if item.media_id not in shown and not await may_attach(
                self._store, author, item.media_id, MediaPurpose.POST, target
            ):
                raise unknown
            try:
                stored = await self._media.info(item.media_id)
            except NotFound:
                raise unknown from None
            attachments.append(
                Attachment(
                    url=self._urls.media(stored.id),
                    media_type=stored.media_type,
                    alt=item.alt,
                    width=stored.width,
                    height=stored.height,
                    media_id=stored.id,
                )
            )
        return tuple(attachments)

    async def _claim_images(
        self,
        author: Account,
        post_id: str,
        images: Sequence[Attachment],
        *,
        shown: Sequence[Attachment] = (),
    ) -> list[str]:
        """Attach to the post the images it does not show yet; their ids, to release them
        again should the post not be stored."""
        showing = {item.media_id for item in shown}
        new = [item.media_id for item in images if item.media_id and item.media_id not in showing]
        refusal = ValidationFailed(UNKNOWN_IMAGE, {"field": "attachments"})
        await claim(self._store, author, new, MediaPurpose.POST, post_target(post_id), refusal)
        return new

    async def _forget_images(
        self, before: Sequence[Attachment], *, keep: Sequence[Attachment]
    ) -> None:
        """Delete the stored files (and their upload records) of images a post no longer
        shows."""
        kept = {item.media_id for item in keep}
        if self._media is None:
            return
        for item in before:
            if item.media_id and item.media_id not in kept:
                await self._media.delete(item.media_id)
                await self._store.delete_media(item.media_id)

    async def _reply_parent(self, author: Account, uri: str | None) -> Post | None:
        if uri is None:
            return None
        parent = await self._store.get_post_by_uri(uri) if isinstance(uri, str) else None
        if parent is None or not await self.may_see(author, parent):
            raise NotFound("no such post to reply to", {"field": "in_reply_to"})
        if parent.deleted_at is not None:
            raise Gone("the post you reply to was deleted")
        return parent

    async def _mention_target(
        self, username: str, host: str | None
    ) -> tuple[MentionTarget, str] | None:
        """Whom `@username[@host]` names, with their name@host; None when nobody (or a
        suspended member): the text then stays plain."""
        if host is None or host.lower() == self._urls.domain:
            account = await self._store.get_account_by_username(username)
            if account is None or account.suspended:
                return None
            name = account.username
            target = MentionTarget(self._urls.actor(name), self._urls.profile(name), name)
            return target, f"{name}@{self._urls.domain}"
        actor: RemoteActor | None
        try:
            if self._actors is not None:
                actor = await self._actors.resolve_handle(f"{username}@{host}")
            else:
                actor = await self._store.get_remote_actor_by_handle(username, host)
        except (FedipolyError, FederationError) as error:
            log.info("mention @%s@%s not resolved: %s", username, host, error)
            return None
        if actor is None:
            return None
        url = actor.profile_url or actor.uri
        return MentionTarget(actor.uri, url, actor.username), actor.handle

    async def _render(self, author: Account, text: str, parent: Post | None) -> RenderedText:
        """HTML for the text; the mentioned and, for a reply, the parent's author."""
        me = self._urls.actor(author.username)
        targets: dict[str, MentionTarget] = {}
        names: dict[str, str] = {}
        written = find_mentions(text)
        # Remote handles may each need a WebFinger lookup: resolve them side by side.
        resolved = await asyncio.gather(*(self._mention_target(*each) for each in written))
        for (username, host), found in zip(written, resolved, strict=True):
            if found is not None:
                targets[mention_key(username, host)] = found[0]
                names[found[0].uri] = found[1]
        mentions = [target.uri for target in targets.values()]
        if parent is not None:
            mentions.append(parent.author)  # Mastodon too addresses the author replied to
            handle = (await self.directory().describe(parent.author)).handle
            if parent.author not in names and handle != parent.author:
                names[parent.author] = handle
        return RenderedText(
            html=render_post_html(text, mentions=targets, tag_url=self._urls.tag),
            mentions=tuple(uri for uri in dict.fromkeys(mentions) if uri != me),
            hashtags=tuple(find_hashtags(text)),
            names=names,
        )

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
        if post is None or not await self.may_see(reader, post) or await self._suspended(post):
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

    async def profile_timeline(
        self,
        member: Account,
        reader: Account | None,
        before: str | None = None,
        limit: int | None = None,
    ) -> TimelinePage:
        """The member's posts newest first: public ones; followers-only ones too for an
        accepted follower; everything (direct included) for the member themself."""
        size = clamp_limit(limit)
        author = self._urls.actor(member.username)
        visibilities = [Visibility.PUBLIC.value]
        if reader is not None and reader.id == member.id:
            visibilities += [Visibility.FOLLOWERS.value, Visibility.DIRECT.value]
        elif reader is not None:
            follow = await self._store.get_follow(self._urls.actor(reader.username), author)
            if follow is not None and follow.state is FollowState.ACCEPTED:
                visibilities.append(Visibility.FOLLOWERS.value)
        posts = await self._store.author_posts(
            author, tuple(visibilities), before=decode_cursor(before), limit=size
        )
        return page_of(posts, size)

    async def badge_timeline(
        self,
        slug: str,
        viewer: Account | None,
        before: str | None = None,
        limit: int | None = None,
    ) -> TimelinePage:
        """Public posts tagged with the badge, newest first. NotFound for a badge the viewer
        may not see; a pending badge (seen by its creator) has no posts until approved."""
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        if badge is None or not can_see(badge, viewer):
            raise NotFound("no such badge")
        size = clamp_limit(limit)
        posts = await self._store.badge_timeline(badge.id, before=decode_cursor(before), limit=size)
        return page_of(posts, size)

    async def local_timeline(
        self, before: str | None = None, limit: int | None = None
    ) -> TimelinePage:
        """Public posts by this instance's members, newest first."""
        size = clamp_limit(limit)
        posts = await self._store.local_timeline(before=decode_cursor(before), limit=size)
        return page_of(posts, size)

    async def federated_timeline(
        self, before: str | None = None, limit: int | None = None
    ) -> TimelinePage:
        """Every public post known here, local and remote (not Mastodon's unlisted ones)."""
        size = clamp_limit(limit)
        posts = await self._store.public_timeline(before=decode_cursor(before), limit=size)
        return page_of(posts, size)

    async def thread(
        self, post: Post, reader: Account | None, *, limit: int = MAX_THREAD
    ) -> list[ThreadReply]:
        """The replies below `post` that `reader` may see, oldest first, each with its depth
        (1 = answers `post`) and parent URI. A reply the reader may not see is left out with
        everything below it. Check that the reader may see `post` itself first."""
        root = post.reply_root or post.uri
        replies = await self._store.thread_posts(root, limit=limit)
        may_see = self._visibility_checker(reader)
        visible = {reply.uri for reply in replies if await may_see(reply)}
        return build_thread(root, post.uri, replies, visible)

    def _visibility_checker(self, reader: Account | None) -> Any:
        """`may_see` for many posts by few authors: one follow lookup per author."""
        follows: dict[str, bool] = {}

        async def check(post: Post) -> bool:
            if post.visibility is not Visibility.FOLLOWERS or reader is None:
                return await self.may_see(reader, post)
            me = self._urls.actor(reader.username)
            if post.local_account_id == reader.id or me in post.audience:
                return True
            if post.author not in follows:
                follow = await self._store.get_follow(me, post.author)
                follows[post.author] = follow is not None and follow.state is FollowState.ACCEPTED
            return follows[post.author]

        return check

    async def note_document(self, post: Post, author: Account) -> dict[str, Any]:
        """The bare Note of a local post with its badge Hashtags and mention names, for
        dereferencing (GET on its URI) — render.note alone does not know the badges."""
        return render.with_context(await self._note(post, author))

    async def create_document(self, post: Post, author: Account) -> dict[str, Any]:
        """Its Create{Note}, as the outbox lists it."""
        badges = await self._store.get_badges_by_slugs(list(post.badges)) if post.badges else []
        names = await self._mention_names(post)
        return render.create_note(post, author, self._urls, badges=badges, mention_names=names)

    async def _note(self, post: Post, author: Account) -> dict[str, Any]:
        badges = await self._store.get_badges_by_slugs(list(post.badges)) if post.badges else []
        names = await self._mention_names(post)
        return render.note(post, author, self._urls, badges=badges, mention_names=names)

    async def _mention_names(self, post: Post) -> dict[str, str]:
        """name@host of the mentioned actors we know (render guesses the others)."""
        directory, names = self.directory(), {}
        for uri in post.mentions:
            handle = (await directory.describe(uri)).handle
            if handle != uri:
                names[uri] = handle
        return names

    async def local_post(self, username: str, post_id: str) -> tuple[Account, Post]:
        """A local post by its author's username and id; Gone (410) once deleted."""
        account = await self._store.get_account_by_username(username)
        post = await self._store.get_post(post_id)
        if account is None or post is None or post.local_account_id != account.id:
            raise NotFound("no such post")
        if account.suspended:
            raise NotFound("no such post")  # back when the suspension is lifted
        if post.deleted_at is not None:
            raise Gone("this post was deleted")
        return account, post

    async def _suspended(self, post: Post) -> bool:
        """Whether moderation hides everything by the post's author (a suspension)."""
        return await self._store.author_hidden(post.author) is RestrictionLevel.SUSPENDED

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

    async def ingest_remote(
        self,
        note: dict[str, Any],
        author: RemoteActor,
        *,
        local_followers: list[str] | None = None,
    ) -> Post | None:
        """Store a remote note and put it on the timelines of the local people it is for
        (`local_followers`: the author's local followers' account ids, when the caller has
        just read them)."""
        now = self._clock()
        parsed = parse_remote_note(note, author, now)
        # No look-up first: a note we already hold fails the insert (its uri is unique) and
        # is returned below, so the usual case, a new note, costs one read less.
        parent = (
            await self._store.get_post_by_uri(parsed.in_reply_to) if parsed.in_reply_to else None
        )
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
            activity_tags=parsed.activity_tags,
            badges=badges_of(parsed.activity_tags),
            hashtags=parsed.hashtags,
            mentions=parsed.mentions,
            attachments=parsed.attachments,
            happened_on=parsed.happened_on,
            # A reply joins its parent's thread; one whose parent we never saw starts its own
            # below that parent, so replies to it still group together.
            reply_root=(parent.reply_root or parent.uri) if parent else parsed.in_reply_to,
            unlisted=parsed.unlisted,
        )
        readers = await self._home_readers(
            post, author_account_id=None, local_followers=local_followers
        )
        # The post and its timeline rows in one write: a retry after a crash finds either
        # both or neither (on SQLite; see insert_post_on_timelines).
        if not await self._store.insert_post_on_timelines(post, readers):
            return await self._store.get_post_by_uri(parsed.uri)
        if post.badges and self._is_badge_peer(post.author):
            await self._fan_out_to_badges(post, fresh=True)
        return post

    async def update_remote(self, note: dict[str, Any], author: RemoteActor) -> None:
        parsed = parse_remote_note(note, author, self._clock())
        existing = await self._store.get_post_by_uri(parsed.uri)
        if existing is None or existing.author != author.uri or existing.deleted_at is not None:
            return
        edited = replace(
            existing,
            content_html=parsed.content_html,
            source_text=html_to_text(parsed.content_html),
            updated=parsed.updated or self._clock(),
            activity_tags=parsed.activity_tags,
            badges=badges_of(parsed.activity_tags),
            hashtags=parsed.hashtags,
            mentions=parsed.mentions,
            attachments=parsed.attachments,
            happened_on=parsed.happened_on,
        )
        await self._store.update_post(edited)
        if self._is_badge_peer(edited.author):
            await self._fan_out_to_badges(edited)

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
