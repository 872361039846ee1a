"""Direct conversations: threaded direct messages between a member and one other person.

A conversation only ever starts from consent: the recipient of a collaboration request said
*Interested* (services/collab.py). Messages are ordinary direct posts (PostService), addressed
and mentioned to the other side only, each answering the previous one so Mastodon threads
them too; every local participant has their own conversation row listing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fedipoly.collab_models import Conversation
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.models import Account, Clock, Post, RemoteActor, Visibility
from fedipoly.services.directory import ActorDirectory, ActorSummary
from fedipoly.services.posts import PostService, clamp_limit, decode_cursor, encode_cursor
from fedipoly.store.base import Store
from fedipoly.urls import Urls


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    peer: ActorSummary


@dataclass(frozen=True)
class ConversationPage:
    items: list[ConversationView]
    next_cursor: str | None


@dataclass(frozen=True)
class MessagePage:
    """Messages newest first (a page of history); `next_cursor` reads older ones."""

    messages: list[Post]
    next_cursor: str | None


def _conversation_cursor(conversation: Conversation) -> str:
    return encode_cursor(conversation.last_message_at, conversation.id)


class ConversationService:
    def __init__(self, store: Store, posts: PostService, urls: Urls, clock: Clock) -> None:
        self._store = store
        self._posts = posts
        self._urls = urls
        self._clock = clock

    def directory(self) -> ActorDirectory:
        return ActorDirectory(self._store, self._urls)

    async def open(self, member: Account, peer: str, *, request_id: str | None) -> Conversation:
        """The member's conversation with `peer`, opened now if there is none. Called only
        once consent exists (an accepted request)."""
        return await self._store.open_conversation(
            member.id, peer, request_id=request_id, now=self._clock()
        )

    async def page(
        self, member: Account, *, before: str | None = None, limit: int | None = None
    ) -> ConversationPage:
        size = clamp_limit(limit)
        found = await self._store.list_conversations(
            member.id, before=decode_cursor(before), limit=size
        )
        directory = self.directory()
        items = [ConversationView(item, await directory.describe(item.peer)) for item in found]
        cursor = _conversation_cursor(found[-1]) if len(found) == size else None
        return ConversationPage(items, cursor)

    async def get(self, member: Account, conversation_id: str) -> ConversationView:
        """The member's own conversation; NotFound for anyone else's (never revealing it)."""
        found = await self._store.get_conversation(conversation_id)
        if found is None or found.account_id != member.id:
            raise NotFound("no such conversation")
        return ConversationView(found, await self.directory().describe(found.peer))

    async def messages(
        self,
        member: Account,
        conversation_id: str,
        *,
        before: str | None = None,
        limit: int | None = None,
    ) -> MessagePage:
        view = await self.get(member, conversation_id)
        size = clamp_limit(limit)
        found = await self._store.conversation_messages(
            view.conversation.id, before=decode_cursor(before), limit=size
        )
        last = found[-1] if len(found) == size else None
        cursor = encode_cursor(last.at, last.post.id) if last else None
        return MessagePage([message.post for message in found], cursor)

    async def send(self, member: Account, conversation_id: str, text: str) -> Post:
        """A direct message to the other side, answering the newest message."""
        view = await self.get(member, conversation_id)
        return await self.send_to(member, view.conversation, text)

    async def send_to(self, member: Account, conversation: Conversation, text: str) -> Post:
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("a message needs some text", {"field": "text"})
        newest = await self._store.conversation_messages(conversation.id, before=None, limit=1)
        post = await self._posts.create(
            member,
            text,
            Visibility.DIRECT,
            in_reply_to=newest[0].post.uri if newest else None,
            recipients=[conversation.peer],
        )
        await self._store.add_conversation_message(conversation.id, post, at=post.published)
        await self._mirror_locally(conversation, member, post)
        return post

    async def _mirror_locally(
        self, conversation: Conversation, member: Account, post: Post
    ) -> None:
        """A local peer gets the message in their side of the conversation, unless they
        blocked the sender."""
        username = self._urls.local_username(conversation.peer)
        if username is None:
            return
        peer = await self._store.get_account_by_username(username)
        me = self._urls.actor(member.username)
        if peer is None or await self._store.is_blocked(peer.id, me):
            return
        theirs = await self._store.open_conversation(
            peer.id, me, request_id=conversation.request_id, now=self._clock()
        )
        await self._store.add_conversation_message(theirs.id, post, at=post.published)

    async def receive(
        self,
        member: Account,
        conversation: Conversation,
        note: dict[str, Any],
        actor: RemoteActor,
    ) -> Post | None:
        """A remote direct note from the conversation's peer: store it and list it, in the
        order it arrived (its own date is the sender's clock, to the second)."""
        post = await self._posts.ingest_remote(note, actor)
        if post is not None and post.author == actor.uri:
            await self._store.add_conversation_message(conversation.id, post, at=self._clock())
        return post
