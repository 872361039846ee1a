"""Cross-instance badge discovery: our badge directory, peer instances and their badges.

Our side: the instance actor (`/actor`, an `Application`, found by WebFinger on the host as
FEP-d556 describes) declares badge federation support and links a paged directory of our
approved badges (`DIRECTORY_PATH`): an ActivityStreams OrderedCollection whose pages list one
plain JSON object per badge — `id` (its badge actor), `type` "Group", `preferredUsername`,
`slug`, `name`, `icon` (a short text symbol, not an AS Image), `url` (its page),
`holderCount` (members listed on its page) and `updated`. NodeInfo's metadata links both.

Their side: admins list peer instances (or pick among instances this one has met); a worker
reads each peer's directory in the background, through the one FederationClient, signed as our
instance actor, and keeps its badges. Badges match by normalised name (names.normalize_name),
so "Open source" here meets "open-source" there. A badge page shows "also on peer.example
(N holders)". For approved peers our badge actor follows the matching badge actor there, and
the public posts it announces join our badge page — only the badge page: they are never
re-announced (badge actors announce local posts only) and never fanned out to home timelines.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from federation.client import JRD_ACCEPT, FederationClient, RequestSigner
from federation.errors import FederationError
from federation.vocab import AS_CONTEXT, id_of, is_activitypub_media_type, same_origin
from fedipoly import render
from fedipoly.badge_federation_models import BadgePeer, PeerBadge
from fedipoly.errors import Forbidden, NotFound, ValidationFailed
from fedipoly.models import (
    Account,
    Badge,
    BadgeStatus,
    Clock,
    Follow,
    FollowState,
    RemoteActor,
    Role,
    Visibility,
    new_id,
)
from fedipoly.names import normalize_name
from fedipoly.services.actors import RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badge_keys import badge_signer_id
from fedipoly.services.delivery import Deliverer
from fedipoly.services.posts import PostService, parse_remote_note
from fedipoly.store.base import Store
from fedipoly.urls import Urls

log = logging.getLogger(__name__)

DIRECTORY_PATH = "/federation/badges"
DIRECTORY_PAGE_SIZE = 50
MAX_DIRECTORY_PAGES = 40
# At most this many badges are kept per peer, however many items its pages hold: a 1 MB page
# can list tens of thousands of tiny items, and a peer must not fill our database.
MAX_PEER_BADGES = 2000
MAX_MET_INSTANCES = 200
FOLLOWER_PAGE_SIZE = 100
MAX_FOLLOWER_PAGES = 50  # local followers of one peer badge actor read per Announce
FETCH_LEASE_SECONDS = 120.0
RETRY_AFTER_FAILURE = timedelta(minutes=15)
SERVICE_REL = "https://www.w3.org/ns/activitystreams#Service"
HOST_PATTERN = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?")
MAX_TEXT = 200
# The JSON-LD terms of our directory and of the instance actor's declaration.
DIRECTORY_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "fedipoly": render.FEDIPOLY_NS,
        "slug": "fedipoly:slug",
        "holderCount": "fedipoly:holderCount",
        "badgeDirectory": {"@id": "fedipoly:badgeDirectory", "@type": "@id"},
        "badgeFederation": "fedipoly:badgeFederation",
    },
]


@dataclass(frozen=True)
class DirectoryEntry:
    badge: Badge
    holder_count: int


@dataclass(frozen=True)
class AlsoOn:
    """The same badge on a peer instance, for "also on peer.example (N holders)"."""

    host: str
    name: str
    holder_count: int
    url: str | None
    approved: bool


@dataclass(frozen=True)
class PeerView:
    peer: BadgePeer
    from_config: bool


def clean_host(raw: Any) -> str:
    if not isinstance(raw, str) or not HOST_PATTERN.fullmatch(raw.strip().lower()):
        raise ValidationFailed(
            "give an instance's host name, like peer.example or peer.example:8443",
            {"field": "host"},
        )
    return raw.strip().lower()


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def parse_directory_item(item: Any, host: str, origin: str, now: datetime) -> PeerBadge | None:
    """One badge of a peer's directory, or None when it is unusable. Every URL must be on the
    peer's own origin: a directory cannot point us at a third server."""
    if not isinstance(item, dict):
        return None
    slug, name = _text(item.get("slug"), 64), _text(item.get("name"), 64)
    if slug is None or name is None:
        return None
    actor = id_of(item)
    url = item.get("url") if isinstance(item.get("url"), str) else None
    return PeerBadge(
        host=host,
        slug=slug,
        name=name,
        normalized_name=normalize_name(name),
        icon=_text(item.get("icon"), 8) or "",
        holder_count=_int(item.get("holderCount")),
        actor_uri=actor if actor and same_origin(actor, origin) else None,
        url=url if url and same_origin(url, origin) else None,
        updated=_time(item.get("updated")),
        fetched_at=now,
    )


class BadgeDirectoryService:
    def __init__(
        self,
        store: Store,
        client: FederationClient,
        urls: Urls,
        clock: Clock,
        *,
        instance_signer: RequestSigner,
        actors: RemoteActors,
        deliverer: Deliverer,
        badge_actors: BadgeActorService,
        posts: PostService,
        audit: AuditLog,
        config_peers: frozenset[str] = frozenset(),
        refresh_seconds: float = 3600.0,
        max_peer_badges: int = MAX_PEER_BADGES,
    ) -> None:
        self._store = store
        self._client = client
        self._urls = urls
        self._clock = clock
        self._signer = instance_signer
        self._actors = actors
        self._deliverer = deliverer
        self._badge_actors = badge_actors
        self._posts = posts
        self._audit = audit  # admins' peer changes are moderator actions too
        self._config_peers = frozenset(host.lower() for host in config_peers)
        self._refresh = timedelta(seconds=refresh_seconds)
        self._max_peer_badges = max_peer_badges

    # --- what we publish ---------------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        return f"{self._urls.base}{DIRECTORY_PATH}"

    def directory_page_url(self, after: str | None) -> str:
        query = {"page": "true"} | ({"after": after} if after else {})
        return f"{self.directory_url}?{urlencode(query)}"

    def instance_actor_document(self, public_key_pem: str) -> dict[str, Any]:
        """The instance actor, declaring badge federation and linking the directory."""
        document = render.instance_actor(self._urls, public_key_pem)
        context = document.get("@context")
        extra = DIRECTORY_CONTEXT[1]
        document["@context"] = [*(context if isinstance(context, list) else [context]), extra]
        document["badgeFederation"] = {"version": 1, "badgeActors": True}
        document["badgeDirectory"] = self.directory_url
        return document

    def nodeinfo_metadata(self) -> dict[str, Any]:
        return {
            "instanceActor": self._urls.instance_actor,
            "badgeFederation": {"version": 1, "directory": self.directory_url},
        }

    def server_jrd(self, resource: str) -> dict[str, Any]:
        """WebFinger for the server itself (FEP-d556): its instance actor, under both the
        FEP's Service relation and `self` (what Mastodon answers for acct:host@host)."""
        actor = self._urls.instance_actor
        return {
            "subject": resource,
            "aliases": [actor],
            "links": [
                {"rel": SERVICE_REL, "type": "application/activity+json", "href": actor},
                {"rel": "self", "type": "application/activity+json", "href": actor},
            ],
        }

    def is_server_resource(self, resource: str) -> bool:
        return resource.rstrip("/").lower() == self._urls.base.lower()

    async def directory_total(self) -> int:
        total, after = 0, None
        while True:
            badges = await self._store.list_badges(BadgeStatus.APPROVED, after=after, limit=100)
            total += len(badges)
            if len(badges) < 100:
                return total
            after = badges[-1].slug

    async def directory_page(
        self, after: str | None, limit: int = DIRECTORY_PAGE_SIZE
    ) -> tuple[list[DirectoryEntry], str | None]:
        """Approved badges only, by slug; pending and rejected ones never appear."""
        badges = await self._store.list_badges(BadgeStatus.APPROVED, after=after, limit=limit)
        entries = [
            DirectoryEntry(
                badge, await self._store.count_badge_holders(badge.id, discoverable_only=True)
            )
            for badge in badges
        ]
        return entries, badges[-1].slug if len(badges) == limit else None

    def directory_item(self, entry: DirectoryEntry) -> dict[str, Any]:
        badge = entry.badge
        return {
            "id": self._urls.badge_actor(badge.id),
            "type": "Group",
            "preferredUsername": f"badge.{badge.slug}",
            "slug": badge.slug,
            "name": badge.display_name,
            "icon": badge.icon,
            "url": self._urls.badge_page(badge.slug),
            "holderCount": entry.holder_count,
            "updated": render.iso(badge.reviewed_at or badge.created_at),
        }

    # --- peers: administration ---------------------------------------------------------------

    @staticmethod
    def _require_admin(account: Account) -> None:
        if account.role is not Role.ADMIN:
            raise Forbidden("only admins manage badge peers")

    async def peers(self, admin: Account) -> list[PeerView]:
        self._require_admin(admin)
        await self.ensure_config_peers()
        return [
            PeerView(peer, peer.host in self._config_peers)
            for peer in await self._store.list_badge_peers()
        ]

    async def met_instances(self, admin: Account) -> list[str]:
        """Instances this one has met (remote actors it knows) that are not peers yet."""
        self._require_admin(admin)
        listed = {peer.host for peer in await self._store.list_badge_peers()}
        domains = await self._store.known_remote_domains(limit=MAX_MET_INSTANCES)
        return [domain for domain in domains if domain not in listed]

    async def save_peer(self, admin: Account, host: Any, *, approved: bool) -> BadgePeer:
        """List an instance as a badge peer (its directory is read at once), approved or not."""
        self._require_admin(admin)
        clean = clean_host(host)
        if clean == self._urls.domain:
            raise ValidationFailed("that is this instance", {"field": "host"})
        now = self._clock()
        before = await self._store.get_badge_peer(clean)
        peer = await self._store.save_badge_peer(
            BadgePeer(host=clean, approved=bool(approved), added_at=now, next_fetch_at=now)
        )
        if before is not None and before.approved and not peer.approved:
            await self._unfollow_peer(clean)
        if peer.approved:
            action = "badge_peer.approve"
        else:
            action = "badge_peer.unapprove" if before and before.approved else "badge_peer.add"
        await self._audit.record(admin, action, f"peer:{clean}")
        log.info("badge peer %s saved (approved: %s)", clean, peer.approved)
        return peer

    async def remove_peer(self, admin: Account, host: Any) -> None:
        self._require_admin(admin)
        clean = clean_host(host)
        if clean in self._config_peers:
            raise ValidationFailed(
                "this peer is listed in the configuration (federation.badge_peers)",
                {"field": "host"},
            )
        if await self._store.get_badge_peer(clean) is None:
            raise NotFound(f"{clean} is not a badge peer")
        await self._unfollow_peer(clean)
        await self._store.delete_badge_peer(clean)
        await self._audit.record(admin, "badge_peer.remove", f"peer:{clean}")

    async def _unfollow_peer(self, host: str) -> None:
        """Our badge actors stop following the peer's badge actors (Undo{Follow})."""
        for peer_badge in await self._store.list_peer_badges(host):
            if peer_badge.actor_uri is None:
                continue
            follows = [
                follow
                for state in (FollowState.ACCEPTED, FollowState.PENDING)
                for follow in await self._store.list_followers(
                    peer_badge.actor_uri, state, before=None, limit=100
                )
            ]
            target = await self._store.get_remote_actor(peer_badge.actor_uri)
            for follow in follows:
                badge_id = self._urls.local_badge_id(follow.follower)
                if badge_id is None:
                    continue  # a member's own follow: theirs to keep
                await self._store.delete_follow(follow.follower, follow.followed)
                if target is None:
                    continue
                undo_id = f"{follow.follower}#undos/{new_id(self._clock())}"
                await self._deliverer.publish(
                    render.undo(
                        undo_id,
                        follow.follower,
                        render.follow(follow.activity_id, follow.follower, follow.followed),
                    ),
                    signer_account_id=badge_signer_id(badge_id),
                    inboxes=[target.inbox],
                )

    async def ensure_config_peers(self) -> None:
        """Peers named in federation.badge_peers are approved peers."""
        for host in sorted(self._config_peers):
            existing = await self._store.get_badge_peer(host)
            if existing is None or not existing.approved:
                now = self._clock()
                await self._store.save_badge_peer(
                    BadgePeer(host=host, approved=True, added_at=now, next_fetch_at=now)
                )

    async def is_approved_peer(self, host: str) -> bool:
        if host.lower() in self._config_peers:
            return True
        peer = await self._store.get_badge_peer(host.lower())
        return peer is not None and peer.approved

    # --- peers: reading their directories (worker) -------------------------------------------

    async def refresh_once(self) -> bool:
        """Read one due peer's directory; True when there was one."""
        now = self._clock()
        peer = await self._store.claim_due_badge_peer(now, FETCH_LEASE_SECONDS)
        if peer is None:
            return False
        try:
            badges = await self._read_directory(peer.host)
        except (FederationError, ValidationFailed) as error:
            log.info("badge directory of %s not read: %s", peer.host, error)
            await self._store.record_badge_peer_fetch(
                peer.host,
                fetched_at=None,
                next_fetch_at=self._clock() + min(RETRY_AFTER_FAILURE, self._refresh),
                error=str(error)[:500],
                badges=None,
            )
            return True
        if peer.approved or peer.host in self._config_peers:
            await self._follow_matching(badges)
        # Recorded last: once a read shows as done, so are the follows it led to.
        await self._store.record_badge_peer_fetch(
            peer.host,
            fetched_at=self._clock(),
            next_fetch_at=self._clock() + self._refresh,
            error=None,
            badges=badges,
        )
        return True

    def _origin(self, host: str) -> str:
        return f"{self._actors.webfinger_scheme(host)}://{host}"

    async def _server_actor(self, host: str) -> str:
        """The peer's server-level actor, by WebFinger on its origin (FEP-d556)."""
        origin = self._origin(host)
        resource = f"{origin}/"
        result = await self._client.get_json(
            f"{origin}/.well-known/webfinger?{urlencode({'resource': resource})}",
            accept=JRD_ACCEPT,
        )
        links = (result.data or {}).get("links")
        for rel in (SERVICE_REL, "self"):
            for link in links if isinstance(links, list) else []:
                if (
                    isinstance(link, dict)
                    and link.get("rel") == rel
                    and is_activitypub_media_type(str(link.get("type", "")))
                    and isinstance(link.get("href"), str)
                    and same_origin(link["href"], origin)
                ):
                    return str(link["href"])
        raise ValidationFailed(f"{host} names no server actor")

    async def _read_directory(self, host: str) -> list[PeerBadge]:
        origin = self._origin(host)
        actor = (
            await self._client.get_json(await self._server_actor(host), signer=self._signer)
        ).data or {}
        directory = actor.get("badgeDirectory")
        if not isinstance(directory, str) or not same_origin(directory, origin):
            raise ValidationFailed(f"{host} publishes no badge directory")
        collection = (await self._client.get_json(directory, signer=self._signer)).data or {}
        page_url = id_of(collection.get("first"))
        badges: dict[str, PeerBadge] = {}
        now = self._clock()
        for _ in range(MAX_DIRECTORY_PAGES):
            if not page_url or not same_origin(page_url, origin):
                break
            page = (await self._client.get_json(page_url, signer=self._signer)).data or {}
            items = page.get("orderedItems")
            for item in items if isinstance(items, list) else []:
                badge = parse_directory_item(item, host, origin, now)
                if badge is not None:
                    badges.setdefault(badge.slug, badge)
                if len(badges) >= self._max_peer_badges:
                    log.info("badge directory of %s: kept its first %d badges", host, len(badges))
                    return list(badges.values())
            next_page = id_of(page.get("next"))
            page_url = next_page if next_page != page_url else None
        return list(badges.values())

    async def _local_badges_by_name(self) -> dict[str, Badge]:
        found: dict[str, Badge] = {}
        after = None
        while True:
            badges = await self._store.list_badges(BadgeStatus.APPROVED, after=after, limit=100)
            for badge in badges:
                found.setdefault(normalize_name(badge.display_name), badge)
            if len(badges) < 100:
                return found
            after = badges[-1].slug

    async def _follow_matching(self, peer_badges: list[PeerBadge]) -> None:
        """Our badge actor follows the peer's badge actor of the same name (once)."""
        local = await self._local_badges_by_name()
        for peer_badge in peer_badges:
            badge = local.get(peer_badge.normalized_name)
            if badge is None or peer_badge.actor_uri is None:
                continue
            ours = self._badge_actors.actor_uri(badge)
            if await self._store.get_follow(ours, peer_badge.actor_uri) is not None:
                continue
            try:
                target = await self._actors.get(peer_badge.actor_uri)
            except (FederationError, ValidationFailed) as error:
                log.info("peer badge actor %s not followed: %s", peer_badge.actor_uri, error)
                continue
            now = self._clock()
            activity_id = f"{ours}#follows/{new_id(now)}"
            await self._store.upsert_follow(
                Follow(
                    id=new_id(now),
                    follower=ours,
                    followed=target.uri,
                    activity_id=activity_id,
                    state=FollowState.PENDING,
                    created_at=now,
                ),
                None,  # not a member: the peer's posts reach no home timeline
            )
            await self._deliverer.publish(
                render.follow(activity_id, ours, target.uri),
                signer_account_id=badge_signer_id(badge.id),
                inboxes=[target.inbox],
            )

    # --- badge pages ---------------------------------------------------------------------------

    async def also_on(self, badge: Badge) -> list[AlsoOn]:
        """The badge's namesakes on peer instances (approved badges only ever have any)."""
        if not badge.is_public:
            return []
        peers = {peer.host: peer for peer in await self._store.list_badge_peers()}
        return [
            AlsoOn(
                host=found.host,
                name=found.name,
                holder_count=found.holder_count,
                url=found.url,
                approved=found.host in self._config_peers
                or (found.host in peers and peers[found.host].approved),
            )
            for found in await self._store.peer_badges_named(normalize_name(badge.display_name))
            if found.host in peers or found.host in self._config_peers
        ]

    # --- what followed peer badge actors send --------------------------------------------------

    async def _local_followers_badges(self, peer_actor: str) -> list[str]:
        """Ids of our badges whose actors follow `peer_actor` (accepted). Every Announce that
        arrives asks, so anything but a badge actor listed in a peer's directory is answered
        from one lookup; for those, every follower is read (members may follow it too, and
        newest first they would hide our badge actor's older follow)."""
        if await self._store.get_peer_badge_by_actor(peer_actor) is None:
            return []
        ids: list[str] = []
        before = None
        for _ in range(MAX_FOLLOWER_PAGES):
            follows = await self._store.list_followers(
                peer_actor, FollowState.ACCEPTED, before=before, limit=FOLLOWER_PAGE_SIZE
            )
            ids += [self._urls.local_badge_id(follow.follower) or "" for follow in follows]
            if len(follows) < FOLLOWER_PAGE_SIZE:
                break
            before = (follows[-1].created_at, follows[-1].id)
        return [badge_id for badge_id in ids if badge_id]

    async def on_announce(self, activity: dict[str, Any], actor: RemoteActor) -> bool:
        """An Announce by a peer badge actor one of our badge actors follows: the announced
        post joins those badges' pages. False when no badge actor of ours follows `actor`."""
        badge_ids = await self._local_followers_badges(actor.uri)
        if not badge_ids:
            return False
        object_id = id_of(activity.get("object"))
        # Only the peer's own posts, from an approved peer: never third-party content.
        if (
            object_id is None
            or not same_origin(object_id, actor.uri)
            or not await self.is_approved_peer(actor.domain)
        ):
            return True
        post = await self._store.get_post_by_uri(object_id)
        if post is None:
            fetched = await self._client.get_json(object_id, signer=self._signer)
            note = fetched.data or {}
            author_uri = id_of(note.get("attributedTo"))
            if (
                author_uri is None
                or id_of(note) != object_id
                or not same_origin(object_id, author_uri)
                or not same_origin(fetched.url, object_id)
            ):
                return True
            author = await self._actors.get(author_uri)
            # Checked before storing: a followers-only or direct note the peer's badge actor
            # announced (it should not) is neither kept nor shown.
            parsed = parse_remote_note(note, author, self._clock())
            if parsed.visibility is not Visibility.PUBLIC or parsed.unlisted:
                return True
            post = await self._posts.ingest_remote(note, author)
        if post is None or post.visibility is not Visibility.PUBLIC or post.unlisted:
            return True
        public = [
            badge.id
            for badge in [await self._store.get_badge(badge_id) for badge_id in badge_ids]
            if badge is not None and badge.is_public
        ]
        # Added, not replaced: the same post may also be announced by the peer's other badge
        # actors that ours follow (a post tagged chess and go), and stays on those pages.
        await self._store.add_badge_entries(post, public)
        return True

    async def on_undo_announce(self, inner: dict[str, Any], actor: RemoteActor) -> bool:
        """Undo{Announce} by a followed peer badge actor: the post leaves our badge pages."""
        badge_ids = await self._local_followers_badges(actor.uri)
        if not badge_ids:
            return False
        object_id = id_of(inner.get("object"))
        post = await self._store.get_post_by_uri(object_id) if object_id else None
        if post is not None and post.local_account_id is None and same_origin(post.uri, actor.uri):
            # Only the pages this announcer put it on; another badge's announce still holds.
            await self._store.remove_badge_entries(post.id, badge_ids)
        return True


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()
