"""Versioned MongoDB index definitions. Append new versions; never edit one that has shipped.

Only standard features are used (single-field and compound indexes, unique and partial
indexes), so the same definitions work on a MongoDB replica set or sharded cluster.
"""

from __future__ import annotations

from typing import Any

IndexSpec = tuple[str, list[tuple[str, int]], dict[str, Any]]

MIGRATIONS: list[tuple[int, list[IndexSpec]]] = [
    (
        1,
        [
            ("accounts", [("username_lower", 1)], {"unique": True}),
            ("accounts", [("email_lower", 1)], {"unique": True}),
            ("invites", [("created_by", 1), ("created_at", -1)], {}),
            ("api_tokens", [("token_hash", 1)], {"unique": True}),
            ("api_tokens", [("account_id", 1), ("created_at", 1)], {}),
            ("sessions", [("expires_at", 1)], {}),
        ],
    ),
    (
        2,
        [
            ("remote_actors", [("key_id", 1)], {}),
            ("remote_actors", [("handle_lower", 1)], {}),
            ("follows", [("follower", 1), ("followed", 1)], {"unique": True}),
            ("follows", [("followed", 1), ("state", 1), ("created_at", -1), ("_id", -1)], {}),
            ("follows", [("follower", 1), ("state", 1), ("created_at", -1), ("_id", -1)], {}),
            ("follows", [("activity_id", 1)], {}),
            ("inbox_items", [("state", 1), ("received_at", 1)], {}),
            ("deliveries", [("activity_id", 1), ("inbox_url", 1)], {"unique": True}),
            ("deliveries", [("state", 1), ("next_attempt_at", 1)], {}),
            ("posts", [("uri", 1)], {"unique": True}),
            ("posts", [("author", 1), ("published", -1), ("_id", -1)], {}),
            (
                "timeline_entries",
                [("owner_id", 1), ("published", -1), ("post_id", -1)],
                {"unique": True},
            ),
            ("timeline_entries", [("post_id", 1)], {}),
        ],
    ),
    (
        4,
        # Profiles and badges. `profiles` and `activity_tags` are keyed by _id (account id,
        # lower-cased phrase). `terms` is a multikey index over fedipoly.names.search_terms:
        # word-start prefix search with ordinary indexes (SecantusDB has no text indexes).
        # member_badges carry a copy of the holder's `discoverable` so a badge page is one
        # index range scan. The default catalogue is seeded after migrating (store/seed.py).
        [
            ("badges", [("slug", 1)], {"unique": True}),
            ("badges", [("status", 1), ("slug", 1)], {}),
            ("badges", [("created_by", 1), ("status", 1), ("slug", 1)], {}),
            ("badges", [("terms", 1)], {}),
            ("member_badges", [("account_id", 1), ("badge_id", 1)], {"unique": True}),
            ("member_badges", [("account_id", 1), ("position", 1)], {}),
            (
                "member_badges",
                [("badge_id", 1), ("discoverable", 1), ("added_at", -1), ("account_id", -1)],
                {},
            ),
            ("activity_tags", [("badge_id", 1)], {}),
        ],
    ),
    (
        5,
        # Activity posts and timelines. Posts carry a `local` flag (true for posts written
        # here; documents stored before this version get it when it is applied, see
        # store/mongo/posts_ext.py) so the local and federated timelines are one index range
        # scan each. badge_entries is the badge timeline, fanned out on write (public posts,
        # approved badges only). reply_root groups a thread.
        [
            ("posts", [("visibility", 1), ("published", -1), ("_id", -1)], {}),
            ("posts", [("local", 1), ("visibility", 1), ("published", -1), ("_id", -1)], {}),
            ("posts", [("local_account_id", 1), ("published", -1), ("_id", -1)], {}),
            ("posts", [("reply_root", 1), ("published", 1), ("_id", 1)], {}),
            (
                "badge_entries",
                [("badge_id", 1), ("published", -1), ("post_id", -1)],
                {"unique": True},
            ),
            ("badge_entries", [("post_id", 1)], {}),
        ],
    ),
    (
        6,
        # "Open to", collaboration requests, direct conversations, blocks and the Space
        # Station's remote profiles. open_to_reasons and remote_profiles are keyed by _id (slug,
        # actor URI). remote_open_to rows carry a `listed` copy of their profile's
        # discoverability so a search is one index range scan. The default reasons are seeded
        # after migrating (store/mongo/collab.py).
        [
            ("open_to_reasons", [("position", 1), ("_id", 1)], {}),
            ("member_open_to", [("account_id", 1), ("reason_slug", 1)], {"unique": True}),
            ("member_open_to", [("reason_slug", 1), ("open", 1), ("account_id", 1)], {}),
            ("remote_profiles", [("refreshed_at", 1)], {}),
            ("remote_open_to", [("actor_uri", 1), ("reason_slug", 1)], {"unique": True}),
            (
                "remote_open_to",
                [("reason_slug", 1), ("open", 1), ("listed", 1), ("actor_uri", 1)],
                {},
            ),
            ("collab_requests", [("uri", 1)], {"unique": True}),
            (
                "collab_requests",
                [("recipient_account_id", 1), ("state", 1), ("created_at", -1), ("_id", -1)],
                {},
            ),
            ("collab_requests", [("sender_account_id", 1), ("created_at", -1), ("_id", -1)], {}),
            ("collab_requests", [("sender", 1), ("recipient", 1), ("created_at", -1)], {}),
            ("collab_requests", [("sender", 1), ("created_at", -1)], {}),
            ("conversations", [("account_id", 1), ("peer", 1)], {"unique": True}),
            ("conversations", [("account_id", 1), ("last_message_at", -1), ("_id", -1)], {}),
            (
                "conversation_messages",
                [("conversation_id", 1), ("post_id", 1)],
                {"unique": True},
            ),
            ("conversation_messages", [("conversation_id", 1), ("at", -1), ("post_id", -1)], {}),
            ("member_blocks", [("account_id", 1), ("blocked", 1)], {"unique": True}),
            ("member_blocks", [("account_id", 1), ("created_at", -1)], {}),
        ],
    ),
    (
        7,
        # Badge federation (see the SQLite migration 7). badge_announces carry an `active`
        # flag so a badge actor's outbox is one index range scan; withdrawn announces stay
        # for the rate limits. badge_peers are keyed by host, peer_badges by (host, slug).
        [
            ("badge_announces", [("badge_id", 1), ("post_uri", 1)], {"unique": True}),
            ("badge_announces", [("post_uri", 1)], {}),
            ("badge_announces", [("author_account_id", 1), ("badge_id", 1), ("created_at", 1)], {}),
            (
                "badge_announces",
                [("badge_id", 1), ("active", 1), ("created_at", -1), ("announce_id", -1)],
                {},
            ),
            ("badge_announces", [("created_at", 1)], {}),
            ("badge_peers", [("next_fetch_at", 1)], {}),
            ("peer_badges", [("host", 1), ("slug", 1)], {"unique": True}),
            ("peer_badges", [("normalized_name", 1), ("host", 1)], {}),
            ("peer_badges", [("actor_uri", 1)], {}),
        ],
    ),
    (
        8,
        # Moderation (see the SQLite migration 8). reports.flag_id is unique where present
        # (a partial index: member reports have none); posts get a multikey index on `badges`
        # so a badge merge finds the posts it moves.
        [
            ("reports", [("created_at", -1), ("_id", -1)], {}),
            ("reports", [("state", 1), ("created_at", -1), ("_id", -1)], {}),
            (
                "reports",
                [("target_kind", 1), ("target", 1), ("created_at", -1), ("_id", -1)],
                {},
            ),
            (
                "reports",
                [("flag_id", 1)],
                {"unique": True, "partialFilterExpression": {"flag_id": {"$type": "string"}}},
            ),
            ("remote_restrictions", [("created_at", -1)], {}),
            ("audit_log", [("created_at", -1), ("_id", -1)], {}),
            ("notifications", [("account_id", 1), ("created_at", -1), ("_id", -1)], {}),
            ("badge_merges", [("source_slug", 1), ("reverted_at", 1)], {}),
            ("badge_merges", [("created_at", -1), ("_id", -1)], {}),
            ("badge_stewards", [("badge_id", 1), ("account_id", 1)], {"unique": True}),
            ("posts", [("badges", 1), ("_id", 1)], {}),
            ("remote_actors", [("domain", 1)], {}),
        ],
    ),
    (
        9,
        # Uploaded images and who owns them (see the SQLite migration 9); `_id` is the media
        # id, so attaching is one conditional update_one by _id.
        [
            ("media", [("state", 1), ("created_at", 1)], {}),
        ],
    ),
    (
        10,
        # hidden_authors (see the SQLite migration 10): `_id` is the actor URI; the timelines
        # read the suspended ones by level.
        [
            ("hidden_authors", [("level", 1)], {}),
        ],
    ),
    (
        11,
        # A member's blocks listed newest first, a page at a time: the blocked actor breaks
        # ties between blocks made at the same moment.
        [
            ("member_blocks", [("account_id", 1), ("created_at", -1), ("blocked", -1)], {}),
        ],
    ),
]
