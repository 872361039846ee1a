"""Remote actors, follows, the inbox queue, outbound deliveries, posts and timelines on SQLite."""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fedipoly.models import (
    ClaimedDelivery,
    Delivery,
    DeliveryState,
    Follow,
    FollowState,
    InboxItem,
    InboxState,
    OutboundActivity,
    Post,
    RemoteActor,
    Visibility,
    new_id,
)
from fedipoly.store.base import Cursor
from fedipoly.store.post_fields import (
    EXT_FIELDS,
    SCALAR_FIELDS,
    cleared_on_delete,
    ext_fields,
    ext_values,
)
from fedipoly.store.sqlite.core import (
    SqliteCore,
    from_db_time,
    from_db_time_or_none,
    to_db_time,
    to_db_time_or_none,
)


def _remote_actor(row: sqlite3.Row) -> RemoteActor:
    return RemoteActor(
        uri=row["uri"],
        actor_type=row["actor_type"],
        username=row["username"],
        domain=row["domain"],
        inbox=row["inbox"],
        shared_inbox=row["shared_inbox"],
        followers_url=row["followers_url"],
        display_name=row["display_name"],
        summary_html=row["summary_html"],
        profile_url=row["profile_url"],
        icon_url=row["icon_url"],
        key_id=row["key_id"],
        public_key_pem=row["public_key_pem"],
        manually_approves_followers=bool(row["manually_approves_followers"]),
        fetched_at=from_db_time(row["fetched_at"]),
    )


def _follow(row: sqlite3.Row) -> Follow:
    return Follow(
        id=row["id"],
        follower=row["follower"],
        followed=row["followed"],
        activity_id=row["activity_id"],
        state=FollowState(row["state"]),
        created_at=from_db_time(row["created_at"]),
    )


def _inbox_item(row: sqlite3.Row, *, attempts_since: int = 0) -> InboxItem:
    """``attempts_since``: attempts counted after the row was read (a claim counts one)."""
    return InboxItem(
        activity_id=row["activity_id"],
        actor=row["actor"],
        activity_type=row["activity_type"],
        raw=row["raw"],
        received_at=from_db_time(row["received_at"]),
        attempts=row["attempts"] + attempts_since,
    )


def _outbound(row: sqlite3.Row) -> OutboundActivity:
    return OutboundActivity(
        id=row["id"],
        actor=row["actor"],
        signer_account_id=row["signer_account_id"],
        activity_type=row["activity_type"],
        raw=row["raw"],
        created_at=from_db_time(row["created_at"]),
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        activity_id=row["activity_id"],
        inbox_url=row["inbox_url"],
        host=row["host"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=from_db_time(row["next_attempt_at"]),
        first_attempt_at=from_db_time_or_none(row["first_attempt_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=from_db_time(row["created_at"]),
    )


def _post(row: sqlite3.Row) -> Post:
    return Post(
        id=row["id"],
        uri=row["uri"],
        author=row["author"],
        local_account_id=row["local_account_id"],
        content_html=row["content_html"],
        source_text=row["source_text"],
        visibility=Visibility(row["visibility"]),
        in_reply_to=row["in_reply_to"],
        published=from_db_time(row["published"]),
        updated=from_db_time_or_none(row["updated"]),
        url=row["url"],
        audience=tuple(json.loads(row["audience"])),
        deleted_at=from_db_time_or_none(row["deleted_at"]),
        **_post_ext_fields(row),
    )


def _post_ext_fields(row: sqlite3.Row) -> dict[str, Any]:
    """The schema-5 fields: list-valued ones are JSON text (see fedipoly/store/post_fields.py)."""
    return ext_fields(
        {
            field: row[field] if field in SCALAR_FIELDS else json.loads(row[field])
            for field in EXT_FIELDS
        }
    )


def _post_ext_values(post: Post) -> tuple[Any, ...]:
    values = ext_values(post)
    return tuple(_json_or_value(values[field]) for field in EXT_FIELDS)


def _json_or_value(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value) if value else "[]"  # most posts: no tags, no images...
    return value


def _post_values(post: Post) -> tuple[Any, ...]:
    return (
        post.id,
        post.uri,
        post.author,
        post.local_account_id,
        post.content_html,
        post.source_text,
        post.visibility.value,
        post.in_reply_to,
        to_db_time(post.published),
        to_db_time_or_none(post.updated),
        post.url,
        json.dumps(list(post.audience)),
        to_db_time_or_none(post.deleted_at),
        *_post_ext_values(post),
    )


_INSERT_POST = (
    "INSERT INTO posts (id, uri, author, local_account_id, content_html, source_text,"
    " visibility, in_reply_to, published, updated, url, audience, deleted_at,"
    f" {', '.join(EXT_FIELDS)}) VALUES ({', '.join('?' * (13 + len(EXT_FIELDS)))})"
    " ON CONFLICT (uri) DO NOTHING"
)
_INSERT_TIMELINE_ENTRY = (
    "INSERT INTO timeline_entries (owner_id, published, post_id) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)


def _timeline_rows(post: Post, owner_ids: list[str]) -> list[tuple[str, str, str]]:
    published = to_db_time(post.published)
    return [(owner, published, post.id) for owner in set(owner_ids)]


_IN_LIST_SIZE = 500


def _chunks(values: list[str]) -> list[list[str]]:
    """Pieces short enough for one `IN (...)` list (SQLite caps bound parameters)."""
    return [values[start : start + _IN_LIST_SIZE] for start in range(0, len(values), _IN_LIST_SIZE)]


def _before_clause(column: str, before: Cursor | None) -> tuple[str, tuple[Any, ...]]:
    """Keyset pagination on (time, id): a row-value comparison the index can range-scan."""
    if before is None:
        return "", ()
    return f" AND ({column}, id) < (?, ?)", (to_db_time(before[0]), before[1])


class SqliteFederation(SqliteCore):
    # --- remote actors -------------------------------------------------------------------

    async def upsert_remote_actor(self, actor: RemoteActor) -> None:
        await self.execute(
            "INSERT INTO remote_actors (uri, actor_type, username, domain, handle_lower, inbox,"
            " shared_inbox, followers_url, display_name, summary_html, profile_url, icon_url,"
            " key_id, public_key_pem, manually_approves_followers, fetched_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (uri) DO UPDATE SET actor_type = excluded.actor_type,"
            " username = excluded.username, domain = excluded.domain,"
            " handle_lower = excluded.handle_lower, inbox = excluded.inbox,"
            " shared_inbox = excluded.shared_inbox, followers_url = excluded.followers_url,"
            " display_name = excluded.display_name, summary_html = excluded.summary_html,"
            " profile_url = excluded.profile_url, icon_url = excluded.icon_url,"
            " key_id = excluded.key_id, public_key_pem = excluded.public_key_pem,"
            " manually_approves_followers = excluded.manually_approves_followers,"
            " fetched_at = excluded.fetched_at",
            (
                actor.uri,
                actor.actor_type,
                actor.username,
                actor.domain,
                actor.handle.lower(),
                actor.inbox,
                actor.shared_inbox,
                actor.followers_url,
                actor.display_name,
                actor.summary_html,
                actor.profile_url,
                actor.icon_url,
                actor.key_id,
                actor.public_key_pem,
                int(actor.manually_approves_followers),
                to_db_time(actor.fetched_at),
            ),
        )

    async def get_remote_actor(self, uri: str) -> RemoteActor | None:
        row = await self.fetch_one("SELECT * FROM remote_actors WHERE uri = ?", (uri,))
        return _remote_actor(row) if row else None

    async def get_remote_actors(self, uris: list[str]) -> dict[str, RemoteActor]:
        found: dict[str, RemoteActor] = {}
        for chunk in _chunks(sorted(set(uris))):
            rows = await self.fetch_all(
                f"SELECT * FROM remote_actors WHERE uri IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update((row["uri"], _remote_actor(row)) for row in rows)
        return found

    async def get_remote_actor_by_key(self, key_id: str) -> RemoteActor | None:
        row = await self.fetch_one("SELECT * FROM remote_actors WHERE key_id = ?", (key_id,))
        return _remote_actor(row) if row else None

    async def get_remote_actor_by_handle(self, username: str, domain: str) -> RemoteActor | None:
        row = await self.fetch_one(
            "SELECT * FROM remote_actors WHERE handle_lower = ? ORDER BY fetched_at DESC",
            (f"{username}@{domain}".lower(),),
        )
        return _remote_actor(row) if row else None

    async def delete_remote_actor(self, uri: str) -> None:
        async with self.transaction() as db:
            for table in ("timeline_entries", "badge_entries"):
                await db.execute(
                    f"DELETE FROM {table} WHERE post_id IN (SELECT id FROM posts WHERE author = ?)",
                    (uri,),
                )
            await db.execute("DELETE FROM posts WHERE author = ?", (uri,))
            await db.execute("DELETE FROM follows WHERE follower = ? OR followed = ?", (uri, uri))
            await db.execute("DELETE FROM remote_actors WHERE uri = ?", (uri,))

    # --- follows -------------------------------------------------------------------------

    async def upsert_follow(self, follow: Follow, follower_account_id: str | None) -> Follow:
        await self.execute(
            "INSERT INTO follows (id, follower, followed, follower_account_id, activity_id, state,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (follower, followed) DO UPDATE SET activity_id = excluded.activity_id,"
            " state = excluded.state",
            (
                follow.id,
                follow.follower,
                follow.followed,
                follower_account_id,
                follow.activity_id,
                follow.state.value,
                to_db_time(follow.created_at),
            ),
        )
        stored = await self.get_follow(follow.follower, follow.followed)
        assert stored is not None
        return stored

    async def get_follow(self, follower: str, followed: str) -> Follow | None:
        row = await self.fetch_one(
            "SELECT * FROM follows WHERE follower = ? AND followed = ?", (follower, followed)
        )
        return _follow(row) if row else None

    async def get_follow_by_activity(self, activity_id: str) -> Follow | None:
        row = await self.fetch_one("SELECT * FROM follows WHERE activity_id = ?", (activity_id,))
        return _follow(row) if row else None

    async def set_follow_state(self, follower: str, followed: str, state: FollowState) -> bool:
        changed = await self.execute(
            "UPDATE follows SET state = ? WHERE follower = ? AND followed = ?",
            (state.value, follower, followed),
        )
        return changed == 1

    async def delete_follow(self, follower: str, followed: str) -> bool:
        changed = await self.execute(
            "DELETE FROM follows WHERE follower = ? AND followed = ?", (follower, followed)
        )
        return changed == 1

    async def _list_follows(
        self, column: str, value: str, state: FollowState, before: Cursor | None, limit: int
    ) -> list[Follow]:
        clause, params = _before_clause("created_at", before)
        rows = await self.fetch_all(
            f"SELECT * FROM follows WHERE {column} = ? AND state = ?{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (value, state.value, *params, limit),
        )
        return [_follow(row) for row in rows]

    async def list_followers(
        self, followed: str, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[Follow]:
        return await self._list_follows("followed", followed, state, before, limit)

    async def list_following(
        self, follower: str, state: FollowState, *, before: Cursor | None, limit: int
    ) -> list[Follow]:
        return await self._list_follows("follower", follower, state, before, limit)

    async def count_followers(self, followed: str) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM follows WHERE followed = ? AND state = 'accepted'",
            (followed,),
        )
        return int(row["n"]) if row else 0

    async def count_following(self, follower: str) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM follows WHERE follower = ? AND state = 'accepted'",
            (follower,),
        )
        return int(row["n"]) if row else 0

    async def follower_inboxes(self, followed: str) -> list[str]:
        rows = await self.fetch_all(
            # An empty shared inbox counts as none, as in RemoteActor.preferred_inbox.
            "SELECT DISTINCT COALESCE(NULLIF(a.shared_inbox, ''), a.inbox) AS inbox FROM follows f"
            " JOIN remote_actors a ON a.uri = f.follower"
            " WHERE f.followed = ? AND f.state = 'accepted' ORDER BY inbox",
            (followed,),
        )
        return [row["inbox"] for row in rows]

    async def local_follower_ids(self, followed: str) -> list[str]:
        rows = await self.fetch_all(
            "SELECT follower_account_id FROM follows WHERE followed = ? AND state = 'accepted'"
            " AND follower_account_id IS NOT NULL",
            (followed,),
        )
        return [row["follower_account_id"] for row in rows]

    async def local_follower_ids_of(self, followed: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {uri: [] for uri in followed}
        for chunk in _chunks(sorted(found)):
            rows = await self.fetch_all(
                "SELECT followed, follower_account_id FROM follows"
                f" WHERE followed IN ({','.join('?' * len(chunk))}) AND state = 'accepted'"
                " AND follower_account_id IS NOT NULL",
                chunk,
            )
            for row in rows:
                found[row["followed"]].append(row["follower_account_id"])
        return found

    # --- inbox queue ---------------------------------------------------------------------

    async def enqueue_inbox(self, item: InboxItem) -> bool:
        changed = await self.execute(
            "INSERT INTO inbox_items (activity_id, actor, activity_type, raw, received_at, state)"
            " VALUES (?, ?, ?, ?, ?, 'pending') ON CONFLICT (activity_id) DO NOTHING",
            (
                item.activity_id,
                item.actor,
                item.activity_type,
                item.raw,
                to_db_time(item.received_at),
            ),
        )
        return changed == 1

    async def claim_inbox(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[InboxItem]:
        lease_until = to_db_time(now + timedelta(seconds=lease_seconds))

        def lease(db: sqlite3.Connection) -> list[sqlite3.Row]:
            rows = db.execute(
                "SELECT * FROM inbox_items WHERE state = 'pending'"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY received_at LIMIT ?",
                (to_db_time(now), limit),
            ).fetchall()
            db.executemany(
                "UPDATE inbox_items SET lease_until = ?, attempts = attempts + 1"
                " WHERE activity_id = ?",
                [(lease_until, row["activity_id"]) for row in rows],
            )
            return list(rows)

        # One hop to the database thread for the whole claim (the worker's hot path).
        rows = await self.run_in_transaction(lease)
        # The rows were read before the update: report the attempt this claim has just counted.
        return [_inbox_item(row, attempts_since=1) for row in rows]

    async def finish_inbox(
        self,
        activity_id: str,
        state: InboxState,
        error: str | None,
        *,
        retry_at: datetime | None = None,
    ) -> None:
        # The lease doubles as the retry time: claim_inbox skips items leased into the future.
        await self.execute(
            "UPDATE inbox_items SET state = ?, error = ?, lease_until = ? WHERE activity_id = ?",
            (state.value, error, to_db_time_or_none(retry_at), activity_id),
        )

    async def finish_inbox_items(self, activity_ids: list[str], state: InboxState) -> None:
        if not activity_ids:
            return
        await self.run_in_transaction(
            lambda db: db.executemany(
                "UPDATE inbox_items SET state = ?, error = NULL, lease_until = NULL"
                " WHERE activity_id = ?",
                [(state.value, activity_id) for activity_id in activity_ids],
            )
        )

    async def count_inbox(self, state: InboxState) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM inbox_items WHERE state = ?", (state.value,)
        )
        return int(row["n"]) if row else 0

    # --- outbound deliveries -------------------------------------------------------------

    async def create_outbound(
        self, activity: OutboundActivity, inboxes: list[str], *, now: datetime
    ) -> int:
        distinct = sorted(set(inboxes))
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO outbound_activities (id, actor, signer_account_id, activity_type, raw,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    activity.id,
                    activity.actor,
                    activity.signer_account_id,
                    activity.activity_type,
                    activity.raw,
                    to_db_time(activity.created_at),
                ),
            )
            await db.executemany(
                "INSERT INTO deliveries (id, activity_id, inbox_url, host, state, next_attempt_at,"
                " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)"
                " ON CONFLICT (activity_id, inbox_url) DO NOTHING",
                [
                    (
                        new_id(now),
                        activity.id,
                        inbox,
                        (urlsplit(inbox).netloc or "").lower(),
                        to_db_time(now),
                        to_db_time(now),
                    )
                    for inbox in distinct
                ],
            )
        return len(distinct)

    async def get_outbound(self, activity_id: str) -> OutboundActivity | None:
        row = await self.fetch_one("SELECT * FROM outbound_activities WHERE id = ?", (activity_id,))
        return _outbound(row) if row else None

    async def claim_deliveries(
        self, *, now: datetime, lease_seconds: float, limit: int
    ) -> list[ClaimedDelivery]:
        token = secrets.token_hex(8)
        now_text = to_db_time(now)
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET lease_token = ?, lease_until = ? WHERE id IN"
                " (SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
                "  AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?)",
                (
                    token,
                    to_db_time(now + timedelta(seconds=lease_seconds)),
                    now_text,
                    now_text,
                    limit,
                ),
            )
            cursor = await db.execute(
                "SELECT d.*, a.id AS a_id, a.actor AS a_actor, a.signer_account_id AS a_signer,"
                " a.activity_type AS a_type, a.raw AS a_raw, a.created_at AS a_created"
                " FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id"
                " WHERE d.lease_token = ?",
                (token,),
            )
            rows = list(await cursor.fetchall())
        return [
            ClaimedDelivery(
                delivery=_delivery(row),
                activity=OutboundActivity(
                    id=row["a_id"],
                    actor=row["a_actor"],
                    signer_account_id=row["a_signer"],
                    activity_type=row["a_type"],
                    raw=row["a_raw"],
                    created_at=from_db_time(row["a_created"]),
                ),
                lease_token=token,
            )
            for row in rows
        ]

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
        await self.execute(
            "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " first_attempt_at = COALESCE(first_attempt_at, ?), last_status = ?, last_error = ?,"
            " lease_token = NULL, lease_until = NULL WHERE id = ? AND lease_token = ?",
            (
                state.value,
                to_db_time(next_attempt_at),
                to_db_time(now),
                last_status,
                last_error,
                claimed.delivery.id,
                claimed.lease_token,
            ),
        )

    async def postpone_delivery(self, claimed: ClaimedDelivery, until: datetime) -> None:
        await self.execute(
            "UPDATE deliveries SET next_attempt_at = ?, lease_token = NULL, lease_until = NULL"
            " WHERE id = ? AND lease_token = ?",
            (to_db_time(until), claimed.delivery.id, claimed.lease_token),
        )

    async def list_deliveries(self, activity_id: str) -> list[Delivery]:
        rows = await self.fetch_all(
            "SELECT * FROM deliveries WHERE activity_id = ? ORDER BY inbox_url", (activity_id,)
        )
        return [_delivery(row) for row in rows]

    async def count_deliveries(self, state: DeliveryState) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM deliveries WHERE state = ?", (state.value,)
        )
        return int(row["n"]) if row else 0

    async def host_failures(self, host: str) -> tuple[int, datetime | None]:
        row = await self.fetch_one("SELECT * FROM host_health WHERE host = ?", (host,))
        if row is None:
            return 0, None
        return int(row["consecutive_failures"]), from_db_time_or_none(row["last_failure_at"])

    async def record_host_result(self, host: str, *, ok: bool, now: datetime) -> None:
        if ok:
            await self.execute("DELETE FROM host_health WHERE host = ?", (host,))
            return
        await self.execute(
            "INSERT INTO host_health (host, consecutive_failures, last_failure_at) VALUES (?, 1, ?)"
            " ON CONFLICT (host) DO UPDATE SET consecutive_failures = consecutive_failures + 1,"
            " last_failure_at = excluded.last_failure_at",
            (host, to_db_time(now)),
        )

    # --- posts and timelines -------------------------------------------------------------

    async def insert_post(self, post: Post) -> bool:
        changed = await self.execute(_INSERT_POST, _post_values(post))
        return changed == 1

    async def insert_post_on_timelines(self, post: Post, owner_ids: list[str]) -> bool:
        values = _post_values(post)
        entries = _timeline_rows(post, owner_ids)

        def store(db: sqlite3.Connection) -> bool:
            if db.execute(_INSERT_POST, values).rowcount != 1:
                return False  # held already: its timeline rows were written with it
            db.executemany(_INSERT_TIMELINE_ENTRY, entries)
            return True

        # The inbox worker stores a batch's notes side by side: one transaction for them all.
        stored: bool = await self.write_grouped(store)
        return stored

    async def get_post(self, post_id: str) -> Post | None:
        row = await self.fetch_one("SELECT * FROM posts WHERE id = ?", (post_id,))
        return _post(row) if row else None

    async def get_post_by_uri(self, uri: str) -> Post | None:
        row = await self.fetch_one("SELECT * FROM posts WHERE uri = ?", (uri,))
        return _post(row) if row else None

    async def update_post(self, post: Post) -> None:
        await self.execute(
            "UPDATE posts SET content_html = ?, source_text = ?, visibility = ?, in_reply_to = ?,"
            " updated = ?, url = ?, audience = ?,"
            f" {', '.join(f'{field} = ?' for field in EXT_FIELDS)} WHERE id = ?",
            (
                post.content_html,
                post.source_text,
                post.visibility.value,
                post.in_reply_to,
                to_db_time_or_none(post.updated),
                post.url,
                json.dumps(list(post.audience)),
                *_post_ext_values(post),
                post.id,
            ),
        )

    async def mark_post_deleted(self, uri: str, now: datetime) -> Post | None:
        async with self.transaction() as db:
            cleared = cleared_on_delete()
            cursor = await db.execute(
                "UPDATE posts SET deleted_at = ?, content_html = '', source_text = '',"
                f" {', '.join(f'{field} = ?' for field in cleared)}"
                " WHERE uri = ? AND deleted_at IS NULL",
                (
                    to_db_time(now),
                    *(json.dumps(v) if isinstance(v, list) else v for v in cleared.values()),
                    uri,
                ),
            )
            if cursor.rowcount != 1:
                return None
            for table in ("timeline_entries", "badge_entries"):
                await db.execute(
                    f"DELETE FROM {table} WHERE post_id IN (SELECT id FROM posts WHERE uri = ?)",
                    (uri,),
                )
        return await self.get_post_by_uri(uri)

    async def author_posts(
        self, author: str, visibilities: tuple[str, ...], *, before: Cursor | None, limit: int
    ) -> list[Post]:
        clause, params = _before_clause("published", before)
        marks = ",".join("?" * len(visibilities))
        rows = await self.fetch_all(
            f"SELECT * FROM posts WHERE author = ? AND deleted_at IS NULL"
            f" AND visibility IN ({marks}){clause} ORDER BY published DESC, id DESC LIMIT ?",
            (author, *visibilities, *params, limit),
        )
        return [_post(row) for row in rows]

    async def count_author_posts(self, author: str, visibilities: tuple[str, ...]) -> int:
        marks = ",".join("?" * len(visibilities))
        row = await self.fetch_one(
            f"SELECT COUNT(*) AS n FROM posts WHERE author = ? AND deleted_at IS NULL"
            f" AND visibility IN ({marks})",
            (author, *visibilities),
        )
        return int(row["n"]) if row else 0

    async def count_local_posts(self) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM posts WHERE local_account_id IS NOT NULL"
            " AND deleted_at IS NULL"
        )
        return int(row["n"]) if row else 0

    async def add_to_timelines(self, post: Post, owner_ids: list[str]) -> None:
        if not owner_ids:
            return
        entries = _timeline_rows(post, owner_ids)
        await self.run_in_transaction(lambda db: db.executemany(_INSERT_TIMELINE_ENTRY, entries))

    async def home_timeline(
        self, owner_id: str, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        params: tuple[Any, ...] = (owner_id,)
        clause = ""
        if before is not None:
            clause = " AND (t.published, t.post_id) < (?, ?)"
            params += (to_db_time(before[0]), before[1])
        rows = await self.fetch_all(
            "SELECT p.* FROM timeline_entries t JOIN posts p ON p.id = t.post_id"
            f" WHERE t.owner_id = ?{clause} AND p.deleted_at IS NULL"
            # Suspended authors' posts are hidden at read time (see posts_ext.SUSPENDED).
            " AND p.author NOT IN (SELECT actor_uri FROM hidden_authors WHERE level = 'suspended')"
            " ORDER BY t.published DESC, t.post_id DESC LIMIT ?",
            (*params, limit),
        )
        return [_post(row) for row in rows]
