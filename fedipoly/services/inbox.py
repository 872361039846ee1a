"""Incoming activities: stored once verified (persist, then process), then handled by a worker.

The HTTP handler only verifies and stores; `process_once` does the work idempotently, so a
crash between the two loses nothing and a redelivered activity changes nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from federation.client import FederationClient, RequestSigner
from federation.errors import (
    FederationError,
    FetchError,
    ForbiddenAddress,
    ForbiddenRedirect,
    KeyFetchError,
    TooManyRedirects,
)
from federation.inbox import VerifiedActivity
from federation.vocab import id_of, same_origin
from fedipoly.errors import FedipolyError
from fedipoly.models import Clock, InboxItem, InboxState, RemoteActor
from fedipoly.services.actors import STALE_AFTER, RemoteActors
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badge_directory import BadgeDirectoryService
from fedipoly.services.collab import CollabService
from fedipoly.services.follows import FollowService
from fedipoly.services.moderation import ModerationService
from fedipoly.services.moderation_policy import blocked_domain
from fedipoly.services.posts import PostService
from fedipoly.store.base import Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

# Product rule: likes are never stored or counted (docs/product.md, rule 1).
DROPPED_TYPES = frozenset({"Like", "EmojiReact", "Dislike"})
HANDLED_TYPES = frozenset(
    {"Follow", "Undo", "Accept", "Reject", "Create", "Update", "Delete", "Announce", "Flag"}
)
NOTE_TYPES = frozenset({"Note", "Question", "Article", "Page"})
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30.0


@dataclass(frozen=True)
class KnownActor:
    """An actor's cached document (fresh enough to use) and its local followers' account
    ids, read once for a claimed batch."""

    actor: RemoteActor
    local_followers: list[str]


def is_permanent(error: Exception) -> bool:
    """Errors that the same input will hit again, however long we wait."""
    if isinstance(error, FedipolyError):
        return error.status < 500
    if isinstance(error, ForbiddenAddress | ForbiddenRedirect | TooManyRedirects):
        return True
    if isinstance(error, KeyFetchError):
        return not error.transient
    if isinstance(error, FetchError):
        return (
            error.status is not None
            and 400 <= error.status < 500
            and error.status not in (408, 429)
        )
    return False


class InboxService:
    def __init__(
        self,
        store: Store,
        actors: RemoteActors,
        follows: FollowService,
        posts: PostService,
        client: FederationClient,
        instance_signer: RequestSigner,
        urls: Urls,
        clock: Clock,
        *,
        lease_seconds: float = 60.0,
        # A batch costs a claim, two reads, one write of its notes and one finish whatever
        # its size, so under a backlog 50 drain faster than 20 (bench/inbox_bench.py).
        batch_size: int = 50,
        badge_actors: BadgeActorService | None = None,
        badge_directory: BadgeDirectoryService | None = None,
        moderation: ModerationService | None = None,
        collab: CollabService | None = None,
    ) -> None:
        """`badge_actors` answers Follows of our badge actors; `badge_directory` takes the
        Announces of peer badge actors our badge actors follow."""
        self._badge_actors = badge_actors
        self._badge_directory = badge_directory
        # Flags become reports; a silenced actor's new posts stay off the public timelines.
        self._moderation = moderation
        # Collaboration requests and conversation messages (services/collab.py).
        self._collab = collab
        self._store = store
        self._actors = actors
        self._follows = follows
        self._posts = posts
        self._client = client
        self._signer = instance_signer
        self._urls = urls
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size

    async def accept(self, verified: VerifiedActivity) -> bool:
        """Store a verified activity for processing. False when it is dropped or a duplicate."""
        activity_type = str(verified.activity.get("type", ""))
        if activity_type in DROPPED_TYPES or activity_type not in HANDLED_TYPES:
            return False  # answered 202 by the handler; nothing is kept
        activity_id = id_of(verified.activity) or (
            "urn:sha256:" + hashlib.sha256(verified.raw).hexdigest()
        )
        return await self._store.enqueue_inbox(
            InboxItem(
                activity_id=activity_id,
                actor=verified.actor,
                activity_type=activity_type,
                raw=verified.raw.decode("utf-8", errors="replace"),
                received_at=self._clock(),
            )
        )

    async def process_once(self) -> bool:
        items = await self._store.claim_inbox(
            now=self._clock(), lease_seconds=self._lease_seconds, limit=self._batch_size
        )
        if not items:
            return False
        # One actor's activities in the order they came (a Follow before its Undo); different
        # actors' side by side, so one item's database round trips overlap another's work.
        # Workers in several processes already handle different items at the same time.
        by_actor: dict[str, list[InboxItem]] = {}
        for item in items:
            by_actor.setdefault(item.actor, []).append(item)
        known = await self._read_for_batch(list(by_actor))
        done: list[str] = []
        outcomes = await asyncio.gather(
            *(
                self._process_in_order(queue, known.get(actor), done)
                for actor, queue in by_actor.items()
            ),
            return_exceptions=True,
        )
        # Finished only now, after their effects are stored, in one write for the batch. A
        # crash before this leaves them pending: they are processed again, idempotently.
        await self._store.finish_inbox_items(done, InboxState.DONE)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return True

    async def _read_for_batch(self, actor_uris: list[str]) -> dict[str, KnownActor]:
        """Each actor's cached document and local followers, two reads for the whole batch
        instead of two per activity."""
        actors, followers = await asyncio.gather(
            self._store.get_remote_actors(actor_uris),
            self._store.local_follower_ids_of(actor_uris),
        )
        now = self._clock()
        return {
            uri: KnownActor(actor, followers[uri])
            for uri, actor in actors.items()
            if now - actor.fetched_at < STALE_AFTER  # else RemoteActors.get refreshes it
        }

    async def _process_in_order(
        self, items: list[InboxItem], known: KnownActor | None, done: list[str]
    ) -> None:
        for item in items:
            if await self._process(item, known):
                done.append(item.activity_id)
            if item.activity_type != "Create":
                # A Follow's Accept, an Update of the actor...: what was read for the batch
                # may be out of date for the actor's next activities.
                known = None

    async def _process(self, item: InboxItem, known: KnownActor | None = None) -> bool:
        """Handle one item; True when it is done (left for the batch to finish), False when
        its failure or retry has been recorded here."""
        try:
            activity = orjson.loads(item.raw)  # as the inbox parsed it when accepting
            await self.handle(activity, item.actor, known=known)
        except (FederationError, FedipolyError) as error:
            # The peer's data or server is the problem. Permanent refusals (a forbidden
            # address, a 404, invalid data) fail at once; passing trouble is retried with
            # backoff, a few times, so one bad Announce can't make us fetch in a loop.
            log.info("inbox activity %s not processed: %s", item.activity_id, error)
            if is_permanent(error) or item.attempts >= MAX_ATTEMPTS:
                await self._store.finish_inbox(
                    item.activity_id, InboxState.FAILED, str(error)[:500]
                )
            else:
                delay = RETRY_BASE_SECONDS * 2 ** max(item.attempts - 1, 0)
                await self._store.finish_inbox(
                    item.activity_id,
                    InboxState.PENDING,
                    str(error)[:500],
                    retry_at=self._clock() + timedelta(seconds=delay),
                )
            return False
        except Exception as error:
            # A verified but malformed activity (a Follow without id, a list-valued type...)
            # that our handling chokes on. Escaping would leave it leased and retried forever,
            # with the rest of its batch stuck behind it; the same input fails the same way.
            log.exception("inbox activity %s failed", item.activity_id)
            await self._store.finish_inbox(
                item.activity_id, InboxState.FAILED, f"{type(error).__name__}: {error}"[:500]
            )
            return False
        return True

    async def handle(
        self, activity: dict[str, Any], actor_uri: str, *, known: KnownActor | None = None
    ) -> None:
        """`known`: the actor's fresh cached document and local followers, read for the batch."""
        kind = activity.get("type")
        if kind == "Delete" and id_of(activity.get("object")) == actor_uri:
            await self._store.delete_remote_actor(actor_uri)
            return
        actor = known.actor if known else await self._actors.get(actor_uri)
        if kind == "Follow":
            if self._badge_actors is None or not await self._badge_actors.on_follow(
                activity, actor
            ):
                await self._follows.on_follow(activity, actor)
        elif kind in ("Accept", "Reject"):
            await self._follows.on_accept_or_reject(activity, actor)
        elif kind == "Undo":
            await self._undo(activity, actor)
        elif kind == "Create":
            await self._create(activity, actor, known.local_followers if known else None)
        elif kind == "Flag":
            if self._moderation is not None:
                await self._moderation.receive_flag(activity, actor)
        elif kind == "Update":
            await self._update(activity, actor)
        elif kind == "Delete":
            target = id_of(activity.get("object"))
            if target:
                await self._posts.delete_remote(target, actor)
        elif kind == "Announce":
            await self._announce(activity, actor)

    async def _undo(self, activity: dict[str, Any], actor: RemoteActor) -> None:
        inner = activity.get("object")
        if not isinstance(inner, dict):
            return  # a bare id: we keep no state for what it might undo
        if inner.get("type") == "Follow":
            await self._follows.on_undo_follow(inner, actor)
        elif inner.get("type") == "Announce" and self._badge_directory is not None:
            await self._badge_directory.on_undo_announce(inner, actor)

    async def _create(
        self, activity: dict[str, Any], actor: RemoteActor, followers: list[str] | None
    ) -> None:
        note = activity.get("object")
        if not isinstance(note, dict) or note.get("type") not in NOTE_TYPES:
            return
        if note.get("attributedTo") not in (None, actor.uri):
            return  # the verifier refuses this; kept as a second line of defence
        if self._collab is not None and await self._collab.route_direct_note(note, actor):
            return  # a collaboration request, or a message of a direct conversation
        # Read once: they make the note relevant and receive it on their home timelines.
        if followers is None:
            followers = await self._store.local_follower_ids(actor.uri)
        if not followers and not await self._is_relevant(note, actor):
            return  # like Mastodon's related_to_local_activity?: nobody here asked for it
        await self._posts.ingest_remote(note, actor, local_followers=followers)

    async def _is_relevant(self, note: dict[str, Any], actor: RemoteActor) -> bool:
        """Relevant though nobody here follows the author."""
        parsed_audience = [id_of(value) for value in _addresses(note)]
        if any(address and self._urls.local_username(address) for address in parsed_audience):
            return True
        reply_to = id_of(note.get("inReplyTo"))
        if not reply_to:
            return False
        if self._urls.is_local(reply_to):
            return True
        # A reply to a reply we keep, in a thread one of our members started: threads stay
        # whole however deep the conversation goes.
        parent = await self._store.get_post_by_uri(reply_to)
        return bool(parent and parent.reply_root and self._urls.is_local(parent.reply_root))

    async def _update(self, activity: dict[str, Any], actor: RemoteActor) -> None:
        obj = activity.get("object")
        if not isinstance(obj, dict):
            return
        if obj.get("id") == actor.uri:
            await self._actors.fetch(actor.uri)  # take the profile from its origin, not the body
        elif obj.get("type") in NOTE_TYPES:
            await self._posts.update_remote(obj, actor)

    async def _announce(self, activity: dict[str, Any], actor: RemoteActor) -> None:
        """A boost: fetch the object from its own origin rather than trusting an embedded copy."""
        object_id = id_of(activity.get("object"))
        if object_id is None:
            return
        if self._badge_directory is not None:
            # A peer badge actor ours follow: the post joins our badge pages (only those;
            # members who follow that actor themselves get it below, as any boost).
            await self._badge_directory.on_announce(activity, actor)
        if self._urls.is_local(object_id):
            return  # a boost of one of our posts; no counts are kept (no popularity metrics)
        if not await self._store.local_follower_ids(actor.uri):
            return
        existing = await self._store.get_post_by_uri(object_id)
        if existing is None:
            if await blocked_domain(self._store, object_id) is not None:
                return  # a boost of a blocked server's post: never fetched, never shown
            fetched = await self._client.get_json(object_id, signer=self._signer)
            note = fetched.data or {}
            author_uri = id_of(note.get("attributedTo"))
            if (
                author_uri is None
                or id_of(note) != object_id
                or not same_origin(object_id, author_uri)
                or not same_origin(fetched.url, object_id)
            ):
                return
            author = await self._actors.get(author_uri)
            existing = await self._posts.ingest_remote(note, author)
        if existing is not None:
            await self._posts.share_to_followers_of(existing, actor)


def _addresses(note: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for field in ("to", "cc", "bto", "bcc"):
        value = note.get(field)
        values.extend(value if isinstance(value, list) else [value] if value else [])
    for tag in note.get("tag") or []:
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            values.append(tag.get("href"))
    return values
