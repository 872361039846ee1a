"""Versioned SQLite schema. Append new versions; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            username_lower TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL,
            email_lower TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            display_name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            public_key_pem TEXT NOT NULL,
            private_key_pem TEXT NOT NULL,
            manually_approves_followers INTEGER NOT NULL DEFAULT 0,
            suspended INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE invites (
            code TEXT PRIMARY KEY,
            created_by TEXT REFERENCES accounts(id) ON DELETE CASCADE,
            max_uses INTEGER NOT NULL,
            uses_left INTEGER NOT NULL,
            expires_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX invites_by_creator ON invites (created_by, created_at);
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX api_tokens_by_account ON api_tokens (account_id, created_at);
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX sessions_by_expiry ON sessions (expires_at);
        """,
    ),
    (
        2,
        """
        CREATE TABLE remote_actors (
            uri TEXT PRIMARY KEY,
            actor_type TEXT NOT NULL,
            username TEXT NOT NULL,
            domain TEXT NOT NULL,
            handle_lower TEXT NOT NULL,
            inbox TEXT NOT NULL,
            shared_inbox TEXT,
            followers_url TEXT,
            display_name TEXT NOT NULL,
            summary_html TEXT NOT NULL,
            profile_url TEXT,
            icon_url TEXT,
            key_id TEXT NOT NULL,
            public_key_pem TEXT NOT NULL,
            manually_approves_followers INTEGER NOT NULL,
            fetched_at TEXT NOT NULL
        );
        CREATE INDEX remote_actors_by_key ON remote_actors (key_id);
        CREATE INDEX remote_actors_by_handle ON remote_actors (handle_lower);
        CREATE TABLE follows (
            id TEXT PRIMARY KEY,
            follower TEXT NOT NULL,
            followed TEXT NOT NULL,
            follower_account_id TEXT,
            activity_id TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (follower, followed)
        );
        CREATE INDEX follows_by_followed ON follows (followed, state, created_at, id);
        CREATE INDEX follows_by_follower ON follows (follower, state, created_at, id);
        CREATE INDEX follows_by_activity ON follows (activity_id);
        CREATE TABLE inbox_items (
            activity_id TEXT PRIMARY KEY,
            actor TEXT NOT NULL,
            activity_type TEXT NOT NULL,
            raw TEXT NOT NULL,
            received_at TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_until TEXT,
            error TEXT
        );
        CREATE INDEX inbox_items_pending ON inbox_items (state, received_at);
        CREATE TABLE outbound_activities (
            id TEXT PRIMARY KEY,
            actor TEXT NOT NULL,
            signer_account_id TEXT,
            activity_type TEXT NOT NULL,
            raw TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            activity_id TEXT NOT NULL REFERENCES outbound_activities(id),
            inbox_url TEXT NOT NULL,
            host TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            first_attempt_at TEXT,
            last_status INTEGER,
            last_error TEXT,
            lease_token TEXT,
            lease_until TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (activity_id, inbox_url)
        );
        CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
        CREATE TABLE host_health (
            host TEXT PRIMARY KEY,
            consecutive_failures INTEGER NOT NULL,
            last_failure_at TEXT
        );
        CREATE TABLE posts (
            id TEXT PRIMARY KEY,
            uri TEXT NOT NULL UNIQUE,
            author TEXT NOT NULL,
            local_account_id TEXT,
            content_html TEXT NOT NULL,
            source_text TEXT NOT NULL,
            visibility TEXT NOT NULL,
            in_reply_to TEXT,
            published TEXT NOT NULL,
            updated TEXT,
            url TEXT,
            audience TEXT NOT NULL,
            deleted_at TEXT
        );
        CREATE INDEX posts_by_author ON posts (author, published, id);
        CREATE TABLE timeline_entries (
            owner_id TEXT NOT NULL,
            published TEXT NOT NULL,
            post_id TEXT NOT NULL,
            PRIMARY KEY (owner_id, published, post_id)
        ) WITHOUT ROWID;
        CREATE INDEX timeline_entries_by_post ON timeline_entries (post_id);
        """,
    ),
    (
        3,
        """
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        # Profiles and badges. positions and links are JSON arrays (bounded, read whole).
        # badge_terms holds fedipoly.names.search_terms: word-start prefix search on ordinary
        # indexes. The default catalogue is seeded after migrating (fedipoly/store/seed.py).
        """
        CREATE TABLE profiles (
            account_id TEXT PRIMARY KEY,
            headline TEXT NOT NULL DEFAULT '',
            bio TEXT NOT NULL DEFAULT '',
            bio_html TEXT NOT NULL DEFAULT '',
            positions TEXT NOT NULL DEFAULT '[]',
            links TEXT NOT NULL DEFAULT '[]',
            discoverable INTEGER NOT NULL DEFAULT 1,
            avatar_media_id TEXT,
            updated_at TEXT
        );
        CREATE TABLE badges (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            name_lower TEXT NOT NULL,
            color TEXT NOT NULL,
            icon TEXT NOT NULL,
            status TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            reviewed_by TEXT,
            reviewed_at TEXT,
            reject_reason TEXT
        );
        CREATE INDEX badges_by_status ON badges (status, slug);
        CREATE INDEX badges_by_creator ON badges (created_by, status, slug);
        CREATE TABLE badge_terms (
            term TEXT NOT NULL,
            badge_id TEXT NOT NULL REFERENCES badges(id) ON DELETE CASCADE,
            PRIMARY KEY (term, badge_id)
        ) WITHOUT ROWID;
        CREATE INDEX badge_terms_by_badge ON badge_terms (badge_id);
        CREATE TABLE member_badges (
            account_id TEXT NOT NULL,
            badge_id TEXT NOT NULL REFERENCES badges(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            featured INTEGER NOT NULL DEFAULT 0,
            added_at TEXT NOT NULL,
            PRIMARY KEY (account_id, badge_id)
        ) WITHOUT ROWID;
        CREATE INDEX member_badges_by_badge ON member_badges (badge_id, added_at, account_id);
        CREATE TABLE activity_tags (
            phrase_lower TEXT PRIMARY KEY,
            phrase TEXT NOT NULL,
            badge_id TEXT NOT NULL REFERENCES badges(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX activity_tags_by_badge ON activity_tags (badge_id);
        """,
    ),
    (
        5,
        # Activity posts and timelines. The new list-valued post fields are JSON arrays
        # (bounded, read whole); `unlisted` marks remote posts with Public in cc only. Partial indexes make the local and federated timelines one range scan each;
        # badge_entries is the badge timeline, fanned out on write (public posts, approved
        # badges only). reply_root groups a thread so it reads in one range scan.
        """
        ALTER TABLE posts ADD COLUMN activity_tags TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE posts ADD COLUMN badges TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE posts ADD COLUMN hashtags TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE posts ADD COLUMN mentions TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE posts ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE posts ADD COLUMN happened_on TEXT;
        ALTER TABLE posts ADD COLUMN reply_root TEXT;
        ALTER TABLE posts ADD COLUMN unlisted INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX posts_public ON posts (published, id)
            WHERE visibility = 'public' AND unlisted = 0;
        CREATE INDEX posts_local_public ON posts (published, id)
            WHERE visibility = 'public' AND unlisted = 0 AND local_account_id IS NOT NULL;
        CREATE INDEX posts_by_account ON posts (local_account_id, published, id)
            WHERE local_account_id IS NOT NULL;
        CREATE INDEX posts_by_reply_root ON posts (reply_root, published, id)
            WHERE reply_root IS NOT NULL;
        CREATE TABLE badge_entries (
            badge_id TEXT NOT NULL,
            published TEXT NOT NULL,
            post_id TEXT NOT NULL,
            PRIMARY KEY (badge_id, published, post_id)
        ) WITHOUT ROWID;
        CREATE INDEX badge_entries_by_post ON badge_entries (post_id);
        """,
    ),
]
