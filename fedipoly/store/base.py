"""The storage port: narrow, intention-revealing operations that both adapters implement.

`tests/contract/` runs one suite against every adapter; a behaviour exists only when all pass it.
Adapters raise `fedipoly.errors.StoreUnavailable` when the database does not answer, and the
specific domain errors (`UsernameTaken`, `InvalidInvite`, ...) where the docstrings say so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from fedipoly.badge_federation_models import BadgeAnnounce, BadgePeer, PeerBadge
from fedipoly.collab_models import (
    CollabRequest,
    Conversation,
    ConversationMessage,
    MemberBlock,
    OpenToEntry,
    OpenToReason,
    RemoteProfile,
    RequestState,
)
from fedipoly.media_models import MediaRecord
from fedipoly.models import (
    Account,
    ActivityTag,
    ApiToken,
    Badge,
    BadgeHolder,
    BadgeStatus,
    ClaimedDelivery,
    Delivery,
    DeliveryState,
    FinishedDelivery,
    Follow,
    FollowState,
    InboxItem,
    InboxState,
    Invite,
    MemberBadge,
    MemberBadgeEntry,
    NewAccount,
    OutboundActivity,
    Post,
    Profile,
    RemoteActor,
    Role,
    Session,
)
from fedipoly.moderation_models import (
    AuditEntry,
    BadgeMerge,
    DomainBlock,
    Notification,
    RemoteRestriction,
    Report,
    ReportState,
    ReportTarget,
    RestrictionLevel,
    Steward,
)

Cursor = tuple[datetime, str]


class AccountStore(Protocol):
    async def create_account(
        self, account: NewAccount, *, invite_code: str | None, now: datetime
    ) -> Account:
        """Insert the account; when `invite_code` is given, atomically consume one use of it.

        Raises UsernameTaken / EmailTaken (case-insensitive) or InvalidInvite (unknown, used up
        or expired code). On any failure nothing is written and no invite use is consumed.
        """
        ...

    async def get_account(self, account_id: str) -> Account | None: ...

    async def get_account_by_username(self, username: str) -> Account | None: ...

    async def get_password_hash(self, account_id: str) -> str | None: ...

    async def get_private_key(self, account_id: str) -> str | None:
        """The actor's private key PEM; it is used for signing and never leaves the server."""
        ...

    async def set_password_hash(self, account_id: str, password_hash: str) -> None: ...

    async def set_role(self, account_id: str, role: Role) -> None: ...

    async def update_account_profile(
        self, account_id: str, *, display_name: str, manually_approves_followers: bool
    ) -> Account | None: ...

    async def count_accounts(self) -> int: ...

    async def create_invite(self, invite: Invite) -> None: ...

    async def get_invite(self, code: str) -> Invite | None: ...

    async def list_invites(self, created_by: str | None) -> list[Invite]:
        """Invites made by that member (or by operators when None), newest first."""
        ...

    async def count_invites(self, created_by: str) -> int: ...

    async def delete_invite(self, code: str, created_by: str | None) -> bool: ...

    async def create_token(self, token: ApiToken) -> None: ...

    async def get_token_by_hash(self, token_hash: str) -> ApiToken | None: ...

    async def list_tokens(self, account_id: str) -> list[ApiToken]: ...

    async def delete_token(self, account_id: str, token_id: str) -> bool: ...

    async def create_session(self, session: Session) -> None: ...

    async def get_session(self, id_hash: str) -> Session | None: ...

    async def delete_session(self, id_hash: str) -> None: ...

    async def delete_expired_sessions(self, now: datetime) -> int: ...


class ActorStore(Protocol):
    async def upsert_remote_actor(self, actor: RemoteActor) -> None: ...

    async def get_remote_actor(self, uri: str) -> RemoteActor | None: ...

    async def get_remote_actor_by_key(self, key_id: str) -> RemoteActor | None: ...

    async def get_remote_actor_by_handle(self, username: str, domain: str) -> RemoteActor | None:
        """Case-insensitive on both parts."""
        ...

    async def delete_remote_actor(self, uri: str) -> None:
        """Forget the actor, its follows in both directions and its posts."""
        ...


class FollowStore(Protocol):
    async def upsert_follow(self, follow: Follow, follower_account_id: str | None) -> Follow:
        """Insert, or on an existing (follower, followed) pair replace activity id and state.

        `follower_account_id` is the local account behind `follower`, or None when remote.
        """
        ...

    async def get_follow(self, follower: str, followed: str) -> Follow | None: ...

    async def get_follow_by_activity(self, activity_id: str) -> Follow | None: ...

    async def set_follow_state(self, follower: str, followed: str, state: FollowState) -> bool: ...

    async def delete_follow(self, follower: str, followed: str) -> bool: ...

    async def list_followers(
        self, followed: str, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[Follow]:
        """Newest first, by (created_at, id) strictly before the cursor."""
        ...

    async def list_following(
        self, follower: str, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[Follow]: ...

    async def count_followers(self, followed: str) -> int:
        """Accepted followers only."""
        ...

    async def count_following(self, follower: str) -> int: ...

    async def follower_inboxes(self, followed: str) -> list[str]:
        """Distinct preferred inboxes (shared first) of accepted remote followers."""
        ...

    async def local_follower_ids(self, followed: str) -> list[str]:
        """Account ids of accepted local followers."""
        ...


class InboxStore(Protocol):
    async def enqueue_inbox(self, item: InboxItem) -> bool:
        """Store a verified activity for processing; False when its id was seen before."""
        ...

    async def claim_inbox(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[InboxItem]:
        """Lease up to `limit` pending items (oldest first) that nobody holds."""
        ...

    async def finish_inbox(
        self,
        activity_id: str,
        state: InboxState,
        error: str | None,
        *,
        retry_at: datetime | None = None,
    ) -> None:
        """Record the outcome; a PENDING item with `retry_at` is not claimed before then."""
        ...

    async def count_inbox(self, state: InboxState) -> int: ...


class DeliveryStore(Protocol):
    async def create_outbound(
        self, activity: OutboundActivity, inboxes: list[str], *, now: datetime
    ) -> int:
        """Store the activity and one pending delivery per distinct inbox; returns that count."""
        ...

    async def get_outbound(self, activity_id: str) -> OutboundActivity | None: ...

    async def claim_deliveries(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[ClaimedDelivery]:
        """Lease due deliveries nobody holds; a crashed worker's lease simply expires."""
        ...

    async def finish_delivery(
        self,
        claimed: ClaimedDelivery,
        *,
        state: DeliveryState,
        next_attempt_at: datetime,
        last_status: int | None,
        last_error: str | None,
        now: datetime,
    ) -> None:
        """Record one attempt and release the lease (only if this worker still holds it)."""
        ...

    async def postpone_delivery(self, claimed: ClaimedDelivery, until: datetime) -> None:
        """Release without counting an attempt (e.g. the host's circuit breaker is open)."""
        ...

    async def list_deliveries(self, activity_id: str) -> list[Delivery]: ...

    async def count_deliveries(self, state: DeliveryState) -> int: ...

    async def host_failures(self, host: str) -> tuple[int, datetime | None]:
        """Consecutive failures and the time of the last one, for the circuit breaker."""
        ...

    async def record_host_result(self, host: str, *, ok: bool, now: datetime) -> None: ...


class PostStore(Protocol):
    async def insert_post(self, post: Post) -> bool:
        """False when a post with that URI exists already (idempotent ingestion)."""
        ...

    async def get_post(self, post_id: str) -> Post | None: ...

    async def get_post_by_uri(self, uri: str) -> Post | None: ...

    async def update_post(self, post: Post) -> None: ...

    async def mark_post_deleted(self, uri: str, now: datetime) -> Post | None:
        """Tombstone the post (its URI then answers 410) and take it out of every timeline."""
        ...

    async def author_posts(
        self, author: str, visibilities: tuple[str, ...], *, before: Cursor | None, limit: int
    ) -> list[Post]:
        """Not deleted, newest first by (published, id)."""
        ...

    async def count_author_posts(self, author: str, visibilities: tuple[str, ...]) -> int: ...

    async def count_local_posts(self) -> int:
        """Posts written here and not deleted (NodeInfo's localPosts)."""
        ...

    async def add_to_timelines(self, post: Post, owner_ids: list[str]) -> None:
        """Fan-out on write: one home-timeline row per reader (idempotent)."""
        ...

    async def home_timeline(
        self, owner_id: str, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        """One index range scan: newest first by (published, id), deleted posts left out."""
        ...


class PostTimelineStore(Protocol):
    """Badge, local and federated timelines, and threads (store/*/posts_ext.py)."""

    async def replace_badge_entries(self, post: Post, badge_ids: list[str]) -> None:
        """Put the post on exactly these badge timelines (fan-out on write; idempotent).

        Callers pass only approved badges of public posts; [] takes it off every badge timeline.
        `mark_post_deleted` and `delete_remote_actor` take deleted posts off them as well.
        """
        ...

    async def backfill_badge_entries(self, badge_id: str, slug: str, account_id: str) -> int:
        """Put the local member's public, not deleted posts tagged `slug` on the badge's
        timeline (when their pending badge is approved); returns how many entries were added."""
        ...

    async def badge_timeline(
        self, badge_id: str, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        """One index range scan: newest first by (published, id); only public (not unlisted),
        not deleted posts."""
        ...

    async def local_timeline(self, *, before: Cursor | None, limit: int) -> list[Post]:
        """Public (not unlisted), not deleted posts written here, newest first by
        (published, id)."""
        ...

    async def public_timeline(self, *, before: Cursor | None, limit: int) -> list[Post]:
        """Every public (not unlisted), not deleted post known here, local and remote, newest
        first by (published, id)."""
        ...

    async def thread_posts(self, root_uri: str, *, limit: int) -> list[Post]:
        """Not deleted posts whose `reply_root` is `root_uri`, oldest first by (published, id)."""
        ...


class ProfileStore(Protocol):
    async def get_profile(self, account_id: str) -> Profile:
        """The member's profile; `Profile(account_id)` defaults when none was ever saved."""
        ...

    async def save_profile(self, profile: Profile) -> Profile:
        """Insert or replace every field except the avatar (see `set_avatar`); returns it stored."""
        ...

    async def set_avatar(self, account_id: str, media_id: str | None) -> Profile:
        """Point the profile at an avatar media item, or at none."""
        ...


class BadgeStore(Protocol):
    async def create_badge(self, badge: Badge) -> Badge:
        """Insert a catalogue badge; raises BadgeTaken (a Conflict) when the slug exists."""
        ...

    async def get_badge(self, badge_id: str) -> Badge | None: ...

    async def get_badge_by_slug(self, slug: str) -> Badge | None: ...

    async def get_badges_by_slugs(self, slugs: list[str]) -> list[Badge]:
        """The badges that exist among `slugs`, in no particular order."""
        ...

    async def list_badges(
        self,
        status: BadgeStatus | None,
        *,
        prefix: str | None = None,
        created_by: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> list[Badge]:
        """Badges in slug order, strictly after the slug `after` (keyset pages).

        `status` None means any status. `prefix` (already normalised with
        `fedipoly.names.normalize_name`) matches the start of any word of the name or slug.
        """
        ...

    async def search_badges(
        self, query: str, *, status: BadgeStatus | None, created_by: str | None = None, limit: int
    ) -> list[Badge]:
        """Candidates for a fuzzy catalogue search, in slug order, at most `limit`.

        A badge is a candidate when one of its search terms (`fedipoly.names.search_terms`)
        starts with the first two characters of a word of the normalised `query` (the first
        character for one-letter words), so misspellings after the first two letters
        ("pyhton") still meet their badge. The caller ranks them; this only bounds the set.
        """
        ...

    async def set_badge_status(
        self,
        slug: str,
        status: BadgeStatus,
        *,
        reviewer: str | None,
        reason: str | None,
        now: datetime,
        expected: BadgeStatus | None = None,
    ) -> Badge | None:
        """Record a review. With `expected`, only a badge still in that status changes (so two
        moderators cannot both decide). None when no badge matched."""
        ...

    async def member_badges(self, account_id: str) -> list[MemberBadge]:
        """The member's badges in their order (position 0 first)."""
        ...

    async def set_member_badges(
        self, account_id: str, entries: list[MemberBadgeEntry], *, now: datetime
    ) -> list[MemberBadge]:
        """Replace the member's whole badge list; position = index in `entries`.

        New rows get `added_at` = now; badges kept keep theirs. Raises NotFound when an entry names no badge and
        ValueError on a repeated badge; then nothing changes.
        """
        ...

    async def badge_holders(
        self, badge_id: str, *, discoverable_only: bool, before: Cursor | None, limit: int
    ) -> list[BadgeHolder]:
        """Members holding the badge, most recently added first by (added_at, account id)."""
        ...

    async def count_badge_holders(self, badge_id: str, *, discoverable_only: bool) -> int: ...

    async def list_activity_tag_catalogue(self) -> list[ActivityTag]:
        """The instance's activity tags (verb phrase -> badge), by phrase, case-insensitively."""
        ...

    async def add_activity_tag(self, phrase: str, badge_id: str, *, now: datetime) -> ActivityTag:
        """Raises Conflict when the phrase exists (case-insensitively), NotFound for no badge."""
        ...


class SettingStore(Protocol):
    async def get_setting(self, name: str) -> str | None: ...

    async def put_setting_if_absent(self, name: str, value: str) -> str:
        """Store the value unless one exists; returns whichever value is stored (first wins)."""
        ...


class BadgeFederationStore(Protocol):
    """Badge actors' announces and preferences, badge peers and their directories
    (store/*/badge_federation.py, migration 7)."""

    async def record_badge_announce(self, announce: BadgeAnnounce) -> bool:
        """Store the announce of (badge, post), or revive a withdrawn one with the new id and
        time. False (nothing changed) when an active announce of that pair exists."""
        ...

    async def withdraw_badge_announce(
        self, badge_id: str, post_uri: str, now: datetime
    ) -> BadgeAnnounce | None:
        """Mark the active announce of (badge, post) undone; it, or None when none was active."""
        ...

    async def badge_announces_of_post(self, post_uri: str) -> list[BadgeAnnounce]:
        """The post's active announces."""
        ...

    async def badge_announces_of_author(
        self, author_account_id: str, badge_id: str
    ) -> list[BadgeAnnounce]:
        """The member's active announces by that badge."""
        ...

    async def list_badge_announces(
        self, badge_id: str, *, before: Cursor | None, limit: int
    ) -> list[BadgeAnnounce]:
        """The badge's active announces, newest first by (created_at, announce_id)."""
        ...

    async def count_badge_announces(self, badge_id: str) -> int:
        """Active announces of the badge."""
        ...

    async def count_recent_badge_announces(
        self, since: datetime, *, badge_id: str | None = None, author_account_id: str | None = None
    ) -> int:
        """Announces sent at or after `since` (withdrawn ones too), of one badge or author."""
        ...

    async def get_badge_announce_preference(self, account_id: str) -> bool | None:
        """Whether the member lets badge actors announce their posts; None when never set."""
        ...

    async def set_badge_announce_preference(self, account_id: str, enabled: bool) -> None: ...

    async def save_badge_peer(self, peer: BadgePeer) -> BadgePeer:
        """Insert the peer, or replace its `approved` flag and `next_fetch_at`."""
        ...

    async def get_badge_peer(self, host: str) -> BadgePeer | None: ...

    async def list_badge_peers(self) -> list[BadgePeer]:
        """Every peer, by host."""
        ...

    async def delete_badge_peer(self, host: str) -> bool:
        """Forget the peer and the badges read from its directory."""
        ...

    async def claim_due_badge_peer(self, now: datetime, lease_seconds: float) -> BadgePeer | None:
        """Atomically take one peer whose `next_fetch_at` is due, moving it `lease_seconds`
        ahead so no other worker reads the same directory meanwhile."""
        ...

    async def record_badge_peer_fetch(
        self,
        host: str,
        *,
        fetched_at: datetime | None,
        next_fetch_at: datetime,
        error: str | None,
        badges: list[PeerBadge] | None,
    ) -> None:
        """The outcome of reading a peer's directory; `badges` (when not None) replaces every
        badge known from that peer."""
        ...

    async def peer_badges_named(self, normalized_name: str) -> list[PeerBadge]:
        """Peers' badges with this normalised name, by host."""
        ...

    async def get_peer_badge_by_actor(self, actor_uri: str) -> PeerBadge | None: ...

    async def list_peer_badges(self, host: str) -> list[PeerBadge]:
        """The badges read from one peer's directory, by slug."""
        ...

    async def known_remote_domains(self, *, limit: int) -> list[str]:
        """Distinct domains of cached remote actors (the instances this one has met), sorted."""
        ...

    async def add_badge_entries(self, post: Post, badge_ids: list[str]) -> None:
        """Put the post on these badge timelines too, keeping those it is on (idempotent):
        a peer's post announced by several of its badge actors joins each matching badge."""
        ...

    async def remove_badge_entries(self, post_id: str, badge_ids: list[str]) -> None:
        """Take the post off these badge timelines only."""
        ...


class ModerationStore(Protocol):
    """Reports, domain blocks, remote restrictions, suspensions, the audit log, member
    notifications, badge merges and stewards (store/*/moderation.py, migration 8)."""

    async def put_domain_block(self, block: DomainBlock) -> bool:
        """False when the domain is blocked already (nothing changes)."""
        ...

    async def delete_domain_block(self, domain: str) -> bool: ...

    async def list_domain_blocks(self) -> list[DomainBlock]:
        """By domain."""
        ...

    async def find_domain_blocks(self, domains: list[str]) -> list[DomainBlock]:
        """The blocks among exactly these domains (callers pass a host and its parents)."""
        ...

    async def purge_domain(self, domain: str) -> int:
        """Forget every cached actor on the domain (exactly this host) with their follows
        and posts, and every post or follow whose actor URI is on it; returns actors removed."""
        ...

    async def put_remote_restriction(self, restriction: RemoteRestriction) -> None:
        """Insert or replace the restriction of that actor."""
        ...

    async def delete_remote_restriction(self, actor_uri: str) -> bool: ...

    async def get_remote_restriction(self, actor_uri: str) -> RemoteRestriction | None: ...

    async def list_remote_restrictions(self) -> list[RemoteRestriction]:
        """Newest first."""
        ...

    async def set_author_hidden(self, actor_uri: str, level: RestrictionLevel | None) -> None:
        """Hide an author's posts from what others read, at read time (None: show them
        again). SILENCED: off the local, federated and badge timelines; SUSPENDED: off
        every timeline and thread too. The set stays small: one row per restricted author."""
        ...

    async def author_hidden(self, actor_uri: str) -> RestrictionLevel | None: ...

    async def set_account_suspended(self, account_id: str, suspended: bool) -> Account | None: ...

    async def create_report(self, report: Report) -> bool:
        """False when a report with the same `flag_id` exists (a redelivered Flag)."""
        ...

    async def get_report(self, report_id: str) -> Report | None: ...

    async def list_reports(
        self, state: ReportState | None, *, before: Cursor | None, limit: int
    ) -> list[Report]:
        """Newest first by (created_at, id), strictly before the cursor."""
        ...

    async def list_reports_about(
        self,
        target_kind: ReportTarget,
        target: str,
        state: ReportState | None,
        *,
        before: Cursor | None,
        limit: int,
    ) -> list[Report]:
        """Reports about one target (e.g. a badge, for its stewards), newest first."""
        ...

    async def close_report(
        self,
        report_id: str,
        state: ReportState,
        *,
        by: str | None,
        resolution: str,
        forwarded: bool,
        now: datetime,
    ) -> Report | None:
        """Resolve or dismiss an open report; None when it is not open (or unknown)."""
        ...

    async def add_audit_entry(self, entry: AuditEntry) -> None: ...

    async def list_audit_entries(self, *, before: Cursor | None, limit: int) -> list[AuditEntry]:
        """Newest first by (created_at, id)."""
        ...

    async def add_notification(self, notification: Notification) -> None: ...

    async def list_notifications(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[Notification]:
        """Newest first by (created_at, id)."""
        ...

    async def mark_notifications_read(self, account_id: str, now: datetime) -> int: ...

    async def count_unread_notifications(self, account_id: str) -> int: ...

    async def rename_badge(self, badge_id: str, display_name: str) -> Badge | None:
        """Change the display name (and the search terms that follow from it)."""
        ...

    async def local_posts_tagged(
        self, slug: str, *, after_id: str | None, limit: int
    ) -> list[Post]:
        """Local, not deleted posts whose badge list holds `slug`, by id."""
        ...

    async def repoint_activity_tags(
        self, from_badge_id: str, to_badge_id: str, keys: list[str] | None = None
    ) -> list[str]:
        """Point the catalogue's activity tags of one badge (all, or those with these
        lower-cased phrases) at another; returns the lower-cased phrases moved."""
        ...

    async def create_badge_merge(self, merge: BadgeMerge) -> None: ...

    async def get_badge_merge(self, merge_id: str) -> BadgeMerge | None: ...

    async def active_badge_merge(self, source_slug: str) -> BadgeMerge | None:
        """The merge, not reverted, that folded this slug into another badge."""
        ...

    async def list_badge_merges(self, *, limit: int) -> list[BadgeMerge]:
        """Newest first."""
        ...

    async def mark_badge_merge_reverted(self, merge_id: str, now: datetime) -> bool:
        """False when it was reverted already (so two moderators cannot both revert it)."""
        ...

    async def add_steward(self, steward: Steward) -> bool:
        """False when the member is a steward of that badge already."""
        ...

    async def remove_steward(self, badge_id: str, account_id: str) -> bool: ...

    async def list_stewards(self, badge_id: str) -> list[Steward]: ...

    async def is_steward(self, badge_id: str, account_id: str) -> bool: ...


class CollabStore(Protocol):
    """ "Open to", collaboration requests, conversations, blocks and the Space Station's remote
    profiles (store/*/collab.py, migration 6)."""

    async def list_open_to_reasons(self) -> list[OpenToReason]:
        """The catalogue, by position then slug."""
        ...

    async def get_open_to_reason(self, slug: str) -> OpenToReason | None: ...

    async def create_open_to_reason(self, reason: OpenToReason) -> OpenToReason:
        """Raises Conflict when the slug exists."""
        ...

    async def rename_open_to_reason(self, slug: str, label: str) -> OpenToReason | None: ...

    async def delete_open_to_reason(self, slug: str) -> bool:
        """Remove the reason and every member's answer for it."""
        ...

    async def member_open_to(self, account_id: str) -> list[OpenToEntry]:
        """The member's answers, in catalogue slug order."""
        ...

    async def set_member_open_to(self, account_id: str, entries: list[OpenToEntry]) -> None:
        """Replace the member's whole list of answers."""
        ...

    async def members_open_to(
        self, reason_slug: str, *, now: datetime, after: str | None, limit: int
    ) -> list[str]:
        """Account ids, ascending, strictly after `after`, that said yes to the reason and whose
        answer has not lapsed at `now`."""
        ...

    async def listed_members_open_to(
        self,
        reason_slug: str,
        *,
        now: datetime,
        after: str | None,
        limit: int,
        badge_id: str | None = None,
    ) -> list[str]:
        """Like `members_open_to`, keeping only members the Space Station may list: not
        suspended, profile discoverable and, when `badge_id` is given, holding that badge.
        The filtering happens in the store, so a page costs a few queries however many
        members the filters leave out."""
        ...

    async def save_remote_profile(self, profile: RemoteProfile) -> None:
        """Insert or replace what we know of a remote actor's profile."""
        ...

    async def get_remote_profile(self, actor_uri: str) -> RemoteProfile | None: ...

    async def remote_profiles_open_to(
        self, reason_slug: str, *, now: datetime, after: str | None, limit: int
    ) -> list[RemoteProfile]:
        """Discoverable Fedipoly profiles open to the reason at `now`, by actor URI ascending,
        strictly after `after`."""
        ...

    async def stale_remote_profiles(self, refreshed_before: datetime, limit: int) -> list[str]:
        """Actor URIs of remote profiles last refreshed before that time, oldest first."""
        ...

    async def insert_collab_request(self, request: CollabRequest) -> bool:
        """False when a request with that URI exists (a redelivered Note)."""
        ...

    async def get_collab_request(self, request_id: str) -> CollabRequest | None: ...

    async def decide_collab_request(
        self, request_id: str, state: RequestState, *, now: datetime
    ) -> CollabRequest | None:
        """Move a PENDING request to `state`; None when it was not pending (decided once)."""
        ...

    async def received_collab_requests(
        self, account_id: str, state: RequestState, *, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        """Requests to the member in that state, newest first by (created_at, id)."""
        ...

    async def sent_collab_requests(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[CollabRequest]:
        """Requests the member sent, newest first by (created_at, id)."""
        ...

    async def latest_collab_request(self, sender: str, recipient: str) -> CollabRequest | None:
        """The newest request from `sender` to `recipient` (actor URIs)."""
        ...

    async def count_collab_requests_since(self, sender: str, since: datetime) -> int:
        """Requests `sender` sent at or after `since` (for the rate limit)."""
        ...

    async def open_conversation(
        self, account_id: str, peer: str, *, request_id: str | None, now: datetime
    ) -> Conversation:
        """The member's conversation with `peer`, created when there is none (idempotent)."""
        ...

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    async def find_conversation(self, account_id: str, peer: str) -> Conversation | None: ...

    async def list_conversations(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[Conversation]:
        """Newest activity first by (last_message_at, id)."""
        ...

    async def add_conversation_message(
        self, conversation_id: str, post: Post, *, at: datetime
    ) -> None:
        """List the post in the conversation at time `at` (idempotent per post) and move the
        conversation up."""
        ...

    async def conversation_messages(
        self, conversation_id: str, *, before: Cursor | None, limit: int
    ) -> list[ConversationMessage]:
        """Not deleted messages, newest first by (at, post id)."""
        ...

    async def block_actor(self, block: MemberBlock) -> None:
        """Idempotent."""
        ...

    async def unblock_actor(self, account_id: str, blocked: str) -> bool:
        """False when the member had not blocked that actor (nothing changes)."""
        ...

    async def is_blocked(self, account_id: str, actor: str) -> bool: ...

    async def list_blocks(
        self, account_id: str, *, before: Cursor | None, limit: int
    ) -> list[MemberBlock]:
        """The member's blocks, newest first by (created_at, blocked actor URI); `before` is
        the (created_at, blocked) of the last block of the previous page."""
        ...


class MediaStore(Protocol):
    """Records of uploaded images (migration 9); the files live with MediaService."""

    async def insert_media(self, record: MediaRecord) -> None: ...

    async def get_media(self, media_id: str) -> MediaRecord | None: ...

    async def attach_media(
        self, media_id: str, *, owner_account_id: str, purpose: str, target: str
    ) -> bool:
        """Mark the upload as shown by `target` in one conditional write: only when it
        belongs to `owner_account_id`, has this `purpose`, and is unattached or already
        attached to this same target. False (and nothing changed) otherwise."""
        ...

    async def detach_media(self, media_id: str, *, target: str) -> bool:
        """Unattached again, when `target` holds it; False otherwise."""
        ...

    async def delete_media(self, media_id: str) -> bool: ...

    async def claim_media_purge(self, before: datetime, *, limit: int) -> list[MediaRecord]:
        """Mark every unattached upload created before `before` as being purged, then return
        up to `limit` records being purged (oldest first), including ones an earlier,
        interrupted purge marked. A purged record can no longer be attached."""
        ...


class DeliveryBatchStore(Protocol):
    async def finish_deliveries(self, finished: list[FinishedDelivery]) -> None:
        """Record several attempts in one write, each exactly as `finish_delivery` would
        (counted, and only while its worker still holds the lease)."""
        ...

    async def hosts_failures(self, hosts: list[str]) -> dict[str, tuple[int, datetime | None]]:
        """`host_failures` of each host that has failures on record, in one read."""
        ...


class InboxBatchStore(Protocol):
    """What the inbox worker reads and writes once per claimed batch, or once per note."""

    async def get_remote_actors(self, uris: list[str]) -> dict[str, RemoteActor]:
        """The cached actors among `uris`, by URI, in one read (unknown ones left out)."""
        ...

    async def local_follower_ids_of(self, followed: list[str]) -> dict[str, list[str]]:
        """`local_follower_ids` of each actor in one read (an empty list when none)."""
        ...

    async def insert_post_on_timelines(self, post: Post, owner_ids: list[str]) -> bool:
        """`insert_post`, then `add_to_timelines` only when the post is new, in one write
        where the database has transactions. False when a post with that URI exists."""
        ...

    async def finish_inbox_items(self, activity_ids: list[str], state: InboxState) -> None:
        """`finish_inbox` of several items with one outcome, no error and no retry time, in
        one write."""
        ...


class Store(
    SettingStore,
    AccountStore,
    ActorStore,
    FollowStore,
    InboxStore,
    DeliveryStore,
    PostStore,
    PostTimelineStore,
    ProfileStore,
    BadgeStore,
    BadgeFederationStore,
    ModerationStore,
    CollabStore,
    MediaStore,
    DeliveryBatchStore,
    InboxBatchStore,
    Protocol,
):
    async def open(self) -> None:
        """Connect, then run pending migrations and create indexes."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Return when the database answers; raise StoreUnavailable otherwise."""
        ...

    async def schema_version(self) -> int: ...
