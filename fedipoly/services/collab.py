"""Collaboration requests: consent before contact (product rule 5).

A member asks another for one of the reasons that member is open to now, with a message. A
reason they are not open to is refused with a clear error; senders are rate-limited. The
recipient's Requests inbox offers *Interested* (a direct conversation opens and a first
message tells the sender) and *Not right now* (declined; the sender is never told), and lets
them block or report the sender. Members list whom they blocked and lift a block.

Across servers a request is a direct `Note` addressed only to the recipient, with a readable
prefix (so a Mastodon user sees an ordinary DM) and the reason in `fedipoly:collaborationRequest`.
A receiving Fedipoly server files it under Requests and refuses reasons its member is not open
to. A direct note without that property is an ordinary direct message, unless it comes from
someone the member has a conversation with (or asked for one): then it joins the conversation.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from federation.vocab import as_list, id_of, is_public_address
from fedipoly import render
from fedipoly.collab_models import CollabRequest, Conversation, MemberBlock, RequestState
from fedipoly.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from fedipoly.models import Account, Clock, RemoteActor, new_id
from fedipoly.services.actors import RemoteActors
from fedipoly.services.conversations import ConversationService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.directory import ActorDirectory, ActorSummary
from fedipoly.services.moderation_policy import refused_actor
from fedipoly.services.open_to import OpenToService, clean_reason_slug
from fedipoly.services.posts import clamp_limit, decode_cursor, encode_cursor
from fedipoly.services.text import html_to_text, plain_text_to_html
from fedipoly.store.base import Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000
RATE_WINDOW = timedelta(days=1)
REQUEST_PROPERTY = "fedipoly:collaborationRequest"
PREFIX = "Collaboration request"

# Reports go to the moderation service: (reporter, target kind, target, comment).
Reporter = Callable[[Account, str, str, str], Awaitable[Any]]


@dataclass(frozen=True)
class RequestView:
    request: CollabRequest
    sender: ActorSummary
    recipient: ActorSummary


@dataclass(frozen=True)
class RequestPage:
    items: list[RequestView]
    next_cursor: str | None


@dataclass(frozen=True)
class BlockView:
    """A block with who is blocked, named as well as we know them."""

    block: MemberBlock
    actor: ActorSummary


@dataclass(frozen=True)
class BlockPage:
    items: list[BlockView]
    next_cursor: str | None


@dataclass(frozen=True)
class Recipient:
    """Whom a request is for: a local member, or a remote actor with the answers we know."""

    uri: str
    account: Account | None
    actor: RemoteActor | None


def clean_message(message: Any) -> str:
    if not isinstance(message, str):
        raise ValidationFailed("message must be a string", {"field": "message"})
    text = message.strip()
    if not 1 <= len(text) <= MAX_MESSAGE:
        raise ValidationFailed(
            f"a request's message has 1 to {MAX_MESSAGE} characters", {"field": "message"}
        )
    return text


def _addresses(note: dict[str, Any]) -> list[str]:
    return [
        address
        for address in (
            id_of(value) for key in ("to", "cc", "bto", "bcc") for value in as_list(note.get(key))
        )
        if address
    ]


def is_direct(note: dict[str, Any], actor: RemoteActor) -> bool:
    """Addressed to neither the public nor the sender's followers (Mastodon's "direct")."""
    addresses = _addresses(note)
    if any(is_public_address(address) for address in addresses):
        return False
    return not (actor.followers_url and actor.followers_url in addresses)


class CollabService:
    def __init__(
        self,
        store: Store,
        open_to: OpenToService,
        conversations: ConversationService,
        actors: RemoteActors,
        deliverer: Deliverer,
        urls: Urls,
        clock: Clock,
        *,
        requests_per_day: int = 20,
        reporter: Reporter | None = None,
    ) -> None:
        self._store = store
        self._open_to = open_to
        self._conversations = conversations
        self._actors = actors
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock
        self._requests_per_day = requests_per_day
        self._reporter = reporter

    # --- sending -------------------------------------------------------------------------

    async def open_reasons_of(self, target: str) -> list[tuple[str, str]]:
        """(slug, label) of the reasons `target` (username, handle or actor URI) is open to
        now: what the Collaborate form offers."""
        recipient = await self._recipient(target)
        return await self._open_reasons(recipient)

    async def send(self, sender: Account, target: str, reason: str, message: str) -> CollabRequest:
        """Ask `target` (username, name@server or actor URI) about `reason`. Refused with a
        clear error when they are not open to it now; nothing is stored then."""
        slug = clean_reason_slug(reason)
        text = clean_message(message)
        recipient = await self._recipient(target)
        me = self._urls.actor(sender.username)
        if recipient.uri == me:
            raise ValidationFailed("you cannot send a request to yourself", {"field": "to"})
        open_now = dict(await self._open_reasons(recipient))
        if slug not in open_now:
            offered = ", ".join(open_now.values()) or "nothing at the moment"
            raise ValidationFailed(
                f"they are not open to {slug!r}; they are open to: {offered}",
                {"field": "reason", "open_to": sorted(open_now)},
            )
        if recipient.account is not None and await self._store.is_blocked(recipient.account.id, me):
            raise Forbidden("this member does not take requests from you")
        await self._check_rate(me, sender)
        latest = await self._store.latest_collab_request(me, recipient.uri)
        if latest is not None and latest.state is RequestState.PENDING:
            raise Conflict("you already have a request waiting for their answer")
        now = self._clock()
        request_id = new_id(now)
        request = CollabRequest(
            id=request_id,
            uri=self._urls.activity(sender.username, "requests", request_id),
            sender=me,
            recipient=recipient.uri,
            sender_account_id=sender.id,
            recipient_account_id=recipient.account.id if recipient.account else None,
            reason_slug=slug,
            reason_label=open_now[slug],
            message=text,
            state=RequestState.PENDING,
            created_at=now,
        )
        await self._store.insert_collab_request(request)
        if recipient.actor is not None:
            await self._deliver_request(sender, request, recipient.actor)
        return request

    async def _recipient(self, target: str) -> Recipient:
        if not isinstance(target, str) or not target.strip():
            raise ValidationFailed("say whom the request is for", {"field": "to"})
        target = target.strip().lstrip("@")
        username = self._urls.local_username(target) if "://" in target else None
        if "://" not in target:
            name, _, host = target.partition("@")
            if not host or host.lower() == self._urls.domain:
                username = name
        if username is not None:
            account = await self._store.get_account_by_username(username)
            if account is None or account.suspended:
                raise NotFound("no such member")
            return Recipient(self._urls.actor(account.username), account, None)
        if "://" in target:
            if self._urls.is_local(target):
                raise NotFound("no such member")
            actor = await self._actors.get(target)
        else:
            actor = await self._actors.resolve_handle(target)
        if await refused_actor(self._store, actor.uri) is not None:
            raise NotFound("no such member")  # a blocked server or an account suspended here
        return Recipient(actor.uri, None, actor)

    async def _open_reasons(self, recipient: Recipient) -> list[tuple[str, str]]:
        if recipient.account is not None:
            return [
                (reason.slug, reason.label)
                for reason in await self._open_to.open_reasons(recipient.account)
            ]
        profile = await self._store.get_remote_profile(recipient.uri)
        if profile is None:
            # Cached before its profile was kept: read the actor again (the Space Station
            # observer stores its profile).
            await self._actors.fetch(recipient.uri)
            profile = await self._store.get_remote_profile(recipient.uri)
        if profile is None:
            return []
        now = self._clock()
        open_now = {entry.reason_slug for entry in profile.open_to if entry.is_open_at(now)}
        catalogue = await self._open_to.catalogue()
        known = [(reason.slug, reason.label) for reason in catalogue if reason.slug in open_now]
        # Reasons of their server's catalogue that ours lacks come last, named by slug.
        ours = {reason.slug for reason in catalogue}
        return known + [(slug, slug) for slug in sorted(open_now - ours)]

    async def _check_rate(self, sender_uri: str, local: Account | None = None) -> None:
        now = self._clock()
        if await self._store.count_collab_requests_since(sender_uri, now - RATE_WINDOW) < (
            self._requests_per_day
        ):
            return
        wait = RATE_WINDOW
        if local is not None:
            # A slot frees up when the oldest of the last `requests_per_day` leaves the window.
            recent = await self._store.sent_collab_requests(
                local.id, before=None, limit=self._requests_per_day
            )
            if recent:
                wait = recent[-1].created_at + RATE_WINDOW - now
        seconds = max(1, int(wait.total_seconds()) + 1)
        raise RateLimited(
            f"at most {self._requests_per_day} requests a day; try again in {_duration(seconds)}",
            retry_after_seconds=seconds,
        )

    async def _deliver_request(
        self, sender: Account, request: CollabRequest, actor: RemoteActor
    ) -> None:
        activity = request_activity(request, sender, actor, self._urls)
        await self._deliverer.publish(activity, signer_account_id=sender.id, inboxes=[actor.inbox])

    # --- the Requests inbox --------------------------------------------------------------

    async def received(
        self,
        member: Account,
        state: RequestState = RequestState.PENDING,
        *,
        before: str | None = None,
        limit: int | None = None,
    ) -> RequestPage:
        size = clamp_limit(limit)
        found = await self._store.received_collab_requests(
            member.id, state, before=decode_cursor(before), limit=size
        )
        return await self._page(found, size)

    async def sent(
        self, member: Account, *, before: str | None = None, limit: int | None = None
    ) -> RequestPage:
        size = clamp_limit(limit)
        found = await self._store.sent_collab_requests(
            member.id, before=decode_cursor(before), limit=size
        )
        return await self._page(found, size)

    async def describe(self, request: CollabRequest) -> RequestView:
        """The request with who sent it and whom it is for."""
        directory = ActorDirectory(self._store, self._urls)
        return RequestView(
            request,
            await directory.describe(request.sender),
            await directory.describe(request.recipient),
        )

    async def _page(self, found: list[CollabRequest], size: int) -> RequestPage:
        directory = ActorDirectory(self._store, self._urls)
        items = [
            RequestView(
                item,
                await directory.describe(item.sender),
                await directory.describe(item.recipient),
            )
            for item in found
        ]
        last = found[-1] if len(found) == size else None
        return RequestPage(items, encode_cursor(last.created_at, last.id) if last else None)

    async def request_for(self, member: Account, request_id: str) -> CollabRequest | None:
        """A request the member sent or received (a conversation's origin), else None."""
        found = await self._store.get_collab_request(request_id)
        if found is None or member.id not in (found.sender_account_id, found.recipient_account_id):
            return None
        return found

    async def _own_received(self, member: Account, request_id: str) -> CollabRequest:
        found = await self._store.get_collab_request(request_id)
        if found is None or found.recipient_account_id != member.id:
            raise NotFound("no such request")
        return found

    async def interested(
        self, member: Account, request_id: str, reply: str | None = None
    ) -> Conversation:
        """Open a conversation with the sender and tell them, with a first direct message."""
        request = await self._own_received(member, request_id)
        text = (
            clean_message(reply)
            if reply
            else f"Interested in your request about {request.reason_label}. Let's talk!"
        )
        decided = await self._store.decide_collab_request(
            request.id, RequestState.ACCEPTED, now=self._clock()
        )
        if decided is None:
            raise Conflict("you already answered this request")
        conversation = await self._conversations.open(member, request.sender, request_id=request.id)
        if request.sender_account_id is not None:
            sender = await self._store.get_account(request.sender_account_id)
            if sender is not None:
                await self._conversations.open(
                    sender, self._urls.actor(member.username), request_id=request.id
                )
        await self._conversations.send_to(member, conversation, text)
        return conversation

    async def not_right_now(self, member: Account, request_id: str) -> None:
        """Decline; the sender is never told."""
        request = await self._own_received(member, request_id)
        if (
            await self._store.decide_collab_request(
                request.id, RequestState.DECLINED, now=self._clock()
            )
            is None
        ):
            raise Conflict("you already answered this request")

    async def block_sender(self, member: Account, request_id: str) -> None:
        """Refuse everything from the sender from now on; a waiting request is declined."""
        request = await self._own_received(member, request_id)
        await self._store.block_actor(MemberBlock(member.id, request.sender, self._clock()))
        await self._store.decide_collab_request(
            request.id, RequestState.DECLINED, now=self._clock()
        )

    async def report_sender(self, member: Account, request_id: str, comment: str = "") -> None:
        """Report the sender's account to the moderators, quoting the request."""
        request = await self._own_received(member, request_id)
        if self._reporter is None:
            raise NotFound("reporting is not available on this server")
        quoted = f"Collaboration request ({request.reason_label}): {request.message}"
        text = f"{comment.strip()}\n\n{quoted}" if comment and comment.strip() else quoted
        await self._reporter(member, "account", request.sender, text[:1000])

    # --- blocked accounts ----------------------------------------------------------------

    async def blocks(
        self, member: Account, *, before: str | None = None, limit: int | None = None
    ) -> BlockPage:
        """The actors the member blocked, newest first."""
        size = clamp_limit(limit)
        found = await self._store.list_blocks(member.id, before=decode_cursor(before), limit=size)
        directory = ActorDirectory(self._store, self._urls)
        items = [BlockView(block, await directory.describe(block.blocked)) for block in found]
        last = found[-1] if len(found) == size else None
        return BlockPage(items, encode_cursor(last.created_at, last.blocked) if last else None)

    async def unblock(self, member: Account, actor: str) -> None:
        """Lift the member's own block of `actor` (an actor URI, as the list gives it): their
        requests, direct messages and mentions reach the member again. Lifting a block that
        does not exist is NotFound, as deleting a token or an invite is."""
        if not actor.strip():
            raise ValidationFailed("say whom to unblock (their actor URI)", {"field": "actor"})
        if not await self._store.unblock_actor(member.id, actor.strip()):
            raise NotFound("you have not blocked that account")

    # --- from other servers --------------------------------------------------------------

    async def route_direct_note(self, note: dict[str, Any], actor: RemoteActor) -> bool:
        """Handle an incoming Note that is a request, or a message of a conversation. True
        when it was handled here (the caller must not ingest it again); False for anything
        else, e.g. an ordinary direct message. Raises Forbidden for a refused request."""
        if REQUEST_PROPERTY in note:
            await self._receive_request(note, actor)
            return True
        if not is_direct(note, actor):
            return False
        members = await self._addressed_members(note)
        ingested, plain = False, 0
        for member in members:
            if await self._store.is_blocked(member.id, actor.uri):
                continue
            conversation = await self._conversation_for(member, actor)
            if conversation is not None:
                await self._conversations.receive(member, conversation, note, actor)
                ingested = True
            else:
                plain += 1
        # Everyone addressed here blocked the sender: dropped. Someone without a conversation
        # gets it as an ordinary direct message (the caller's path) unless it is stored already.
        return ingested or (bool(members) and plain == 0)

    async def _conversation_for(self, member: Account, actor: RemoteActor) -> Conversation | None:
        """The member's conversation with `actor`; opened now when the member asked them for
        one (their direct answer to a request is consent)."""
        existing = await self._store.find_conversation(member.id, actor.uri)
        if existing is not None:
            return existing
        asked = await self._store.latest_collab_request(
            self._urls.actor(member.username), actor.uri
        )
        if asked is None or asked.state is RequestState.DECLINED:
            return None
        await self._store.decide_collab_request(asked.id, RequestState.ACCEPTED, now=self._clock())
        return await self._conversations.open(member, actor.uri, request_id=asked.id)

    async def _addressed_members(self, note: dict[str, Any]) -> list[Account]:
        members = []
        for address in dict.fromkeys(_addresses(note)):
            username = self._urls.local_username(address)
            if username:
                account = await self._store.get_account_by_username(username)
                if account is not None and not account.suspended:
                    members.append(account)
        return members

    async def _receive_request(self, note: dict[str, Any], actor: RemoteActor) -> None:
        uri = id_of(note)
        data = note.get(REQUEST_PROPERTY)
        if uri is None or not isinstance(data, dict):
            raise ValidationFailed("a collaboration request needs an id and its reason")
        slug = clean_reason_slug(data.get("fedipoly:reason"))
        message = data.get("fedipoly:message")
        text = (
            message.strip()[:MAX_MESSAGE]
            if isinstance(message, str) and message.strip()
            else html_to_text(str(note.get("content") or ""))[:MAX_MESSAGE]
        )
        members = await self._addressed_members(note)
        if len(members) != 1 or not is_direct(note, actor):
            raise ValidationFailed("a collaboration request is addressed to one member only")
        member = members[0]
        if await self._store.is_blocked(member.id, actor.uri):
            return  # dropped without a word
        open_now = {reason.slug: reason for reason in await self._open_to.open_reasons(member)}
        if slug not in open_now:
            raise Forbidden(f"{member.username} is not open to {slug!r}")
        waiting = await self._store.latest_collab_request(
            actor.uri, self._urls.actor(member.username)
        )
        if waiting is not None and waiting.state is RequestState.PENDING:
            return  # one waiting request per pair, as for local senders: the rest is dropped
        await self._check_rate(actor.uri)
        now = self._clock()
        await self._store.insert_collab_request(
            CollabRequest(
                id=new_id(now),
                uri=uri,
                sender=actor.uri,
                recipient=self._urls.actor(member.username),
                sender_account_id=None,
                recipient_account_id=member.id,
                reason_slug=slug,
                reason_label=open_now[slug].label,
                message=text or "(no message)",
                state=RequestState.PENDING,
                created_at=now,
            )
        )


def _duration(seconds: int) -> str:
    hours, minutes = divmod(-(-seconds // 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{max(minutes, 1)} min"


def request_activity(
    request: CollabRequest, sender: Account, recipient: RemoteActor, urls: Urls
) -> dict[str, Any]:
    """Create{Note} of a request: direct to the recipient alone, a readable prefix first
    (what a Mastodon user sees), the reason and message in our extension property."""
    profile = html.escape(recipient.profile_url or recipient.uri, quote=True)
    mention = (
        f'<span class="h-card"><a href="{profile}" class="u-url mention">'
        f"@<span>{html.escape(recipient.username)}</span></a></span>"
    )
    content = (
        f"<p>{mention} {PREFIX}: {html.escape(request.reason_label)}</p>"
        + plain_text_to_html(request.message)
    )
    published = render.iso(request.created_at)
    note = {
        "id": request.uri,
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": published,
        "attributedTo": request.sender,
        "to": [recipient.uri],
        "cc": [],
        "sensitive": False,
        "content": content,
        "tag": [{"type": "Mention", "href": recipient.uri, "name": f"@{recipient.handle}"}],
        REQUEST_PROPERTY: {
            "type": "fedipoly:CollaborationRequest",
            "name": request.reason_label,
            "fedipoly:reason": request.reason_slug,
            "fedipoly:message": request.message,
        },
    }
    return render.with_context(
        {
            "id": f"{request.uri}/activity",
            "type": "Create",
            "actor": urls.actor(sender.username),
            "published": published,
            "to": note["to"],
            "cc": [],
            "object": note,
        }
    )
