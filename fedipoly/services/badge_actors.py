"""Badge actors: every approved badge is a followable ActivityPub `Group`.

Handle: `badge.<slug>@host`. Member usernames are `[a-z0-9_]{1,30}` (accounts.USERNAME_PATTERN),
so a name with a dot can never be a member's and the two namespaces cannot collide. The actor's
id is keyed by the badge's id (urls.badge_actor), so a renamed badge keeps its followers.

A badge actor accepts every follow at once and `Announce`s each public post written here by a
member who holds the badge, tagged it and opted in to badge announces (off until the member
opts in, see `ANNOUNCES_DEFAULT`). When an edit drops the badge, the post is deleted or the member
removes the badge, it sends `Undo{Announce}`. It never announces followers-only, direct or
unlisted posts, nor anything written elsewhere. Announces are rate-limited per author and per
badge; a post over a limit stays on the badge page but is not announced.

Pending and rejected badges have no actor: every lookup answers NotFound, as for a badge that
does not exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any

from federation.errors import FederationError
from federation.vocab import AS_CONTEXT, PUBLIC, id_of
from federation.webfinger import build_jrd, parse_acct
from fedipoly import render
from fedipoly.badge_federation_models import BadgeAnnounce
from fedipoly.errors import NotFound
from fedipoly.models import (
    Account,
    Badge,
    Clock,
    Follow,
    FollowState,
    Post,
    RemoteActor,
    Visibility,
    new_id,
)
from fedipoly.services.badge_icons import ICON_MEDIA_TYPE
from fedipoly.services.badge_keys import badge_keys, badge_signer_id
from fedipoly.services.delivery import Deliverer
from fedipoly.store.base import Cursor, Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

HANDLE_PREFIX = "badge."
# Default for members who never chose: off. The product promise is that badge actors share the
# posts of holders who opted in (docs/product.md, Federation): being boosted to strangers'
# timelines across the fediverse is a wider audience than this instance's badge page, so it
# takes the member's explicit yes. Members switch it on in settings.
ANNOUNCES_DEFAULT = False
RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class AnnounceLimits:
    per_author_per_hour: int = 30
    per_badge_per_hour: int = 120


def badge_handle_slug(username: str) -> str | None:
    """The slug a `badge.<slug>` WebFinger username names, else None."""
    lowered = username.lower()
    if not lowered.startswith(HANDLE_PREFIX):
        return None
    return lowered[len(HANDLE_PREFIX) :] or None


def badge_username(badge: Badge) -> str:
    return f"{HANDLE_PREFIX}{badge.slug}"


class BadgeActorService:
    def __init__(
        self,
        store: Store,
        deliverer: Deliverer,
        urls: Urls,
        clock: Clock,
        *,
        limits: AnnounceLimits = AnnounceLimits(),
    ) -> None:
        self._store = store
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock
        self._limits = limits

    # --- finding badge actors --------------------------------------------------------------

    async def by_id(self, badge_id: str) -> Badge:
        """The approved badge behind a badge actor; NotFound for any other."""
        badge = await self._store.get_badge(badge_id)
        if badge is None or not badge.is_public:
            raise NotFound("no such badge actor")
        return badge

    async def by_handle_username(self, username: str) -> Badge | None:
        """The approved badge `badge.<slug>` names; None when the name is not a badge handle.
        NotFound when it is one but no approved badge has that slug."""
        slug = badge_handle_slug(username)
        if slug is None:
            return None
        badge = await self._store.get_badge_by_slug(slug)
        if badge is None or not badge.is_public:
            raise NotFound("no such badge actor")
        return badge

    async def by_actor_uri(self, uri: str) -> Badge | None:
        badge_id = self._urls.local_badge_id(uri)
        if badge_id is None:
            return None
        badge = await self._store.get_badge(badge_id)
        return badge if badge is not None and badge.is_public else None

    async def webfinger(self, resource: str) -> dict[str, Any] | None:
        """The JRD for `acct:badge.<slug>@host` or a badge actor's URL; None when `resource`
        names no badge actor (a member, say); NotFound for a badge handle without an approved
        badge."""
        if resource.startswith(("http://", "https://")):
            if self._urls.local_badge_id(resource) is None:
                return None
            badge = await self.by_actor_uri(resource)
            if badge is None:
                raise NotFound("no such badge actor")
        else:
            try:
                username, host = parse_acct(resource)
            except FederationError:
                return None
            if host.lower() != self._urls.domain:
                return None
            badge = await self.by_handle_username(username)
            if badge is None:
                return None
        actor = self.actor_uri(badge)
        return build_jrd(
            subject=f"acct:{self.handle(badge)}",
            actor_url=actor,
            profile_url=self._urls.badge_page(badge.slug),
            aliases=[self._urls.badge_page(badge.slug), actor],
        )

    def actor_uri(self, badge: Badge) -> str:
        return self._urls.badge_actor(badge.id)

    def handle(self, badge: Badge) -> str:
        return f"{badge_username(badge)}@{self._urls.domain}"

    # --- documents -------------------------------------------------------------------------

    async def actor_document(self, badge: Badge) -> dict[str, Any]:
        """The Group, in the shape Mastodon reads actors (actor_serializer.rb)."""
        actor = self.actor_uri(badge)
        keys = await badge_keys(self._store, badge.id)
        name = escape(badge.display_name)
        return {
            "@context": render.ACTOR_CONTEXT,
            "id": actor,
            "type": "Group",
            "preferredUsername": badge_username(badge),
            "name": badge.display_name,
            "summary": (
                f"<p>Public posts tagged {name} by members of {escape(self._urls.domain)}. "
                f"Follow to see them in your timeline.</p>"
            ),
            "url": self._urls.badge_page(badge.slug),
            # Mastodon keeps only raster avatars (see services/badge_icons.py).
            "icon": {"type": "Image", "mediaType": ICON_MEDIA_TYPE, "url": f"{actor}/icon.png"},
            "inbox": f"{actor}/inbox",
            "outbox": f"{actor}/outbox",
            "followers": f"{actor}/followers",
            "following": f"{actor}/following",
            "endpoints": {"sharedInbox": self._urls.shared_inbox},
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "published": render.iso(badge.created_at),
            "tag": [
                {
                    "type": "Hashtag",
                    "href": self._urls.tag(badge.hashtag),
                    "name": f"#{badge.hashtag}",
                }
            ],
            "publicKey": {
                "id": self._urls.badge_key_id(badge.id),
                "owner": actor,
                "publicKeyPem": keys.public_pem,
            },
        }

    def announce_document(
        self, badge: Badge, announce: BadgeAnnounce, author: str
    ) -> dict[str, Any]:
        """Mastodon's shape (announce serializer): to Public, cc the followers and the author."""
        actor = self.actor_uri(badge)
        return {
            "@context": AS_CONTEXT,
            "id": announce.announce_id,
            "type": "Announce",
            "actor": actor,
            "published": render.iso(announce.created_at),
            "to": [PUBLIC],
            "cc": [f"{actor}/followers", author],
            "object": announce.post_uri,
        }

    async def outbox_total(self, badge: Badge) -> int:
        return await self._store.count_badge_announces(badge.id)

    async def outbox_page(
        self, badge: Badge, *, before: Cursor | None, limit: int
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """Announces newest first, each without @context, and the cursor of the next page."""
        announces = await self._store.list_badge_announces(badge.id, before=before, limit=limit)
        items = []
        for announce in announces:
            post = await self._store.get_post(announce.post_id)
            document = self.announce_document(badge, announce, post.author if post else PUBLIC)
            document.pop("@context")
            items.append(document)
        last = announces[-1] if len(announces) == limit else None
        return items, (last.created_at, last.announce_id) if last else None

    async def follower_total(self, badge: Badge) -> int:
        return await self._store.count_followers(self.actor_uri(badge))

    async def followers_page(
        self, badge: Badge, *, before: Cursor | None, limit: int
    ) -> tuple[list[str], Cursor | None]:
        follows = await self._store.list_followers(
            self.actor_uri(badge), FollowState.ACCEPTED, before=before, limit=limit
        )
        last = follows[-1] if len(follows) == limit else None
        return [follow.follower for follow in follows], (
            (last.created_at, last.id) if last else None
        )

    async def following_total(self, badge: Badge) -> int:
        return await self._store.count_following(self.actor_uri(badge))

    # --- members' choice -------------------------------------------------------------------

    async def announces_enabled(self, member: Account) -> bool:
        chosen = await self._store.get_badge_announce_preference(member.id)
        return ANNOUNCES_DEFAULT if chosen is None else chosen

    async def set_announces_enabled(self, member: Account, enabled: bool) -> bool:
        """Future posts follow the new choice; announces already sent stay."""
        await self._store.set_badge_announce_preference(member.id, bool(enabled))
        return bool(enabled)

    # --- follows -----------------------------------------------------------------------------

    async def on_follow(self, activity: dict[str, Any], follower: RemoteActor) -> bool:
        """Accept a Follow of one of our badge actors at once. False when the Follow is for
        something else (a member), which the caller then handles."""
        target_uri = id_of(activity.get("object"))
        if not target_uri or self._urls.local_badge_id(target_uri) is None:
            return False
        badge = await self.by_actor_uri(target_uri)
        if badge is None:
            return True  # a pending, rejected or unknown badge: no actor, nothing to accept
        now = self._clock()
        follow = await self._store.upsert_follow(
            Follow(
                id=new_id(now),
                follower=follower.uri,
                followed=target_uri,
                activity_id=str(activity["id"]),
                state=FollowState.ACCEPTED,
                created_at=now,
            ),
            None,
        )
        accept_id = f"{target_uri}#accepts/{new_id(now)}"
        await self._deliverer.publish(
            render.answer_follow("Accept", accept_id, target_uri, follow.activity_id, follower.uri),
            signer_account_id=badge_signer_id(badge.id),
            # The answer goes to the follower's own inbox (Mastodon: follow_service.rb).
            inboxes=[follower.inbox],
        )
        return True

    # --- announcing --------------------------------------------------------------------------

    async def post_saved(self, post: Post) -> None:
        """After a local post is written or edited: announce it by each badge that should,
        and withdraw the announces of badges that no longer should."""
        if post.local_account_id is None:
            return  # never announce content written elsewhere
        wanted = await self._announcing_badges(post)
        current = {
            announce.badge_id: announce
            for announce in await self._store.badge_announces_of_post(post.uri)
        }
        for badge_id in current.keys() - wanted.keys():
            await self._withdraw(badge_id, post.uri)
        for badge_id, badge in wanted.items():
            if badge_id not in current:
                await self._announce(badge, post)

    async def reached_inboxes(self, post: Post) -> list[str]:
        """The inboxes of the followers of every badge actor announcing `post` now: where its
        Update or Delete must go as well as to the author's followers."""
        inboxes: list[str] = []
        for announce in await self._store.badge_announces_of_post(post.uri):
            inboxes += await self._store.follower_inboxes(self._urls.badge_actor(announce.badge_id))
        return inboxes

    async def post_deleted(self, post: Post) -> None:
        for announce in await self._store.badge_announces_of_post(post.uri):
            await self._withdraw(announce.badge_id, post.uri)

    async def badges_removed(self, member: Account, badge_ids: list[str]) -> None:
        """The member no longer holds these badges: withdraw their posts' announces."""
        for badge_id in badge_ids:
            for announce in await self._store.badge_announces_of_author(member.id, badge_id):
                await self._withdraw(badge_id, announce.post_uri)

    async def author_withdrawn(self, member: Account) -> None:
        """The member was suspended: their posts now answer 404, so withdraw every announce
        of them. A member's posts are announced only by badges they hold (dropping a badge
        withdraws its announces), so their badge list finds them all."""
        held = [item.badge.id for item in await self._store.member_badges(member.id)]
        await self.badges_removed(member, held)

    async def badge_withdrawn(self, badge_id: str) -> None:
        """The badge left the public catalogue (merged away, say): withdraw all its announces."""
        while announces := await self._store.list_badge_announces(badge_id, before=None, limit=100):
            for announce in announces:
                await self._withdraw(badge_id, announce.post_uri)

    async def _announcing_badges(self, post: Post) -> dict[str, Badge]:
        if (
            post.visibility is not Visibility.PUBLIC
            or post.unlisted
            or post.deleted_at is not None
            or not post.badges
            or post.local_account_id is None
        ):
            return {}
        author = await self._store.get_account(post.local_account_id)
        if author is None or author.suspended or not await self.announces_enabled(author):
            return {}
        held = {item.badge.id for item in await self._store.member_badges(author.id)}
        badges = await self._store.get_badges_by_slugs(list(post.badges))
        return {badge.id: badge for badge in badges if badge.is_public and badge.id in held}

    async def _within_limits(self, badge: Badge, author_id: str) -> bool:
        since = self._clock() - RATE_WINDOW
        by_author = await self._store.count_recent_badge_announces(
            since, author_account_id=author_id
        )
        if by_author >= self._limits.per_author_per_hour:
            log.info("badge announce skipped: author %s is over the hourly limit", author_id)
            return False
        by_badge = await self._store.count_recent_badge_announces(since, badge_id=badge.id)
        if by_badge >= self._limits.per_badge_per_hour:
            log.info("badge announce skipped: badge %s is over the hourly limit", badge.slug)
            return False
        return True

    async def _announce(self, badge: Badge, post: Post) -> None:
        assert post.local_account_id is not None
        if not await self._within_limits(badge, post.local_account_id):
            return
        now = self._clock()
        actor = self.actor_uri(badge)
        announce = BadgeAnnounce(
            badge_id=badge.id,
            post_uri=post.uri,
            post_id=post.id,
            author_account_id=post.local_account_id,
            announce_id=f"{actor}#announces/{new_id(now)}",
            created_at=now,
        )
        if not await self._store.record_badge_announce(announce):
            return  # announced meanwhile by a concurrent edit
        await self._deliverer.publish(
            self.announce_document(badge, announce, post.author),
            signer_account_id=badge_signer_id(badge.id),
            inboxes=await self._store.follower_inboxes(actor),
        )

    async def _withdraw(self, badge_id: str, post_uri: str) -> None:
        now = self._clock()
        announce = await self._store.withdraw_badge_announce(badge_id, post_uri, now)
        if announce is None:
            return
        badge = await self._store.get_badge(badge_id)
        if badge is None:
            return
        actor = self.actor_uri(badge)
        post = await self._store.get_post(announce.post_id)
        undone = self.announce_document(badge, announce, post.author if post else PUBLIC)
        await self._deliverer.publish(
            render.undo(f"{actor}#undos/{new_id(now)}", actor, undone) | {"to": [PUBLIC]},
            signer_account_id=badge_signer_id(badge_id),
            inboxes=await self._store.follower_inboxes(actor),
        )
