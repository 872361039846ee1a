"""The storage port: narrow, intention-revealing operations that both adapters implement.

`tests/contract/` runs one suite against every adapter; a behaviour exists only when all pass it.
Adapters raise `fedipoly.errors.StoreUnavailable` when the database does not answer, and the
specific domain errors (`UsernameTaken`, `InvalidInvite`, ...) where the docstrings say so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

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
