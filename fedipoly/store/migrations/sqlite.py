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
    (
        6,
        # "Open to", collaboration requests, direct conversations, blocks and the Space
        # Station's remote profiles. Partial indexes make "who is open to this reason" one range
        # scan (expiry is checked on the rows found); conversation_messages lists the direct
        # posts of a conversation, fanned out per local participant. The default reasons are
        # seeded after migrating (store/sqlite/collab.py).
        """
        CREATE TABLE open_to_reasons (
            slug TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            position INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE member_open_to (
            account_id TEXT NOT NULL,
            reason_slug TEXT NOT NULL REFERENCES open_to_reasons(slug) ON DELETE CASCADE,
            open INTEGER NOT NULL,
            until TEXT,
            PRIMARY KEY (account_id, reason_slug)
        ) WITHOUT ROWID;
        CREATE INDEX member_open_to_yes ON member_open_to (reason_slug, account_id)
            WHERE open = 1;
        CREATE TABLE remote_profiles (
            actor_uri TEXT PRIMARY KEY,
            is_fedipoly INTEGER NOT NULL,
            discoverable INTEGER NOT NULL,
            headline TEXT NOT NULL DEFAULT '',
            badges TEXT NOT NULL DEFAULT '[]',
            refreshed_at TEXT NOT NULL
        );
        CREATE INDEX remote_profiles_by_refresh ON remote_profiles (refreshed_at);
        CREATE TABLE remote_open_to (
            actor_uri TEXT NOT NULL REFERENCES remote_profiles(actor_uri) ON DELETE CASCADE,
            reason_slug TEXT NOT NULL,
            open INTEGER NOT NULL,
            until TEXT,
            listed INTEGER NOT NULL,
            PRIMARY KEY (actor_uri, reason_slug)
        ) WITHOUT ROWID;
        CREATE INDEX remote_open_to_listed ON remote_open_to (reason_slug, actor_uri)
            WHERE open = 1 AND listed = 1;
        CREATE TABLE collab_requests (
            id TEXT PRIMARY KEY,
            uri TEXT NOT NULL UNIQUE,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            sender_account_id TEXT,
            recipient_account_id TEXT,
            reason_slug TEXT NOT NULL,
            reason_label TEXT NOT NULL,
            message TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            decided_at TEXT
        );
        CREATE INDEX collab_requests_received
            ON collab_requests (recipient_account_id, state, created_at, id)
            WHERE recipient_account_id IS NOT NULL;
        CREATE INDEX collab_requests_sent ON collab_requests (sender_account_id, created_at, id)
            WHERE sender_account_id IS NOT NULL;
        CREATE INDEX collab_requests_pair ON collab_requests (sender, recipient, created_at);
        CREATE INDEX collab_requests_by_sender ON collab_requests (sender, created_at);
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            peer TEXT NOT NULL,
            request_id TEXT,
            created_at TEXT NOT NULL,
            last_message_at TEXT NOT NULL,
            UNIQUE (account_id, peer)
        );
        CREATE INDEX conversations_by_activity ON conversations (account_id, last_message_at, id);
        CREATE TABLE conversation_messages (
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            post_id TEXT NOT NULL,
            PRIMARY KEY (conversation_id, at, post_id)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX conversation_messages_once
            ON conversation_messages (conversation_id, post_id);
        CREATE TABLE member_blocks (
            account_id TEXT NOT NULL,
            blocked TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (account_id, blocked)
        ) WITHOUT ROWID;
        """,
    ),
    (
        7,
        # Badge federation. badge_announces: one row per (badge actor, local post) announce,
        # kept after its Undo (undone_at) so the per-author and per-badge rate limits count
        # what was sent. badge_peers: instances whose badge directory we read (approved ones
        # are followed badge by badge); peer_badges: their directories, matched by name.
        """
        CREATE TABLE badge_announces (
            badge_id TEXT NOT NULL,
            post_uri TEXT NOT NULL,
            post_id TEXT NOT NULL,
            author_account_id TEXT NOT NULL,
            announce_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            undone_at TEXT,
            PRIMARY KEY (badge_id, post_uri)
        ) WITHOUT ROWID;
        CREATE INDEX badge_announces_by_post ON badge_announces (post_uri);
        CREATE INDEX badge_announces_by_author
            ON badge_announces (author_account_id, badge_id, created_at);
        CREATE INDEX badge_announces_by_badge
            ON badge_announces (badge_id, created_at, announce_id);
        CREATE INDEX badge_announces_by_time ON badge_announces (created_at);
        CREATE TABLE badge_announce_preferences (
            account_id TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL
        );
        CREATE TABLE badge_peers (
            host TEXT PRIMARY KEY,
            approved INTEGER NOT NULL,
            added_at TEXT NOT NULL,
            next_fetch_at TEXT NOT NULL,
            fetched_at TEXT,
            last_error TEXT,
            badge_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX badge_peers_due ON badge_peers (next_fetch_at);
        CREATE TABLE peer_badges (
            host TEXT NOT NULL,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            normalized_name TEXT NOT NULL,
            icon TEXT NOT NULL,
            holder_count INTEGER NOT NULL,
            actor_uri TEXT,
            url TEXT,
            updated TEXT,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (host, slug)
        ) WITHOUT ROWID;
        CREATE INDEX peer_badges_by_name ON peer_badges (normalized_name, host);
        CREATE INDEX peer_badges_by_actor ON peer_badges (actor_uri);
        """,
    ),
    (
        8,
        # Moderation. reports hold member reports and incoming Flags (flag_id deduplicates
        # redelivered Flags); domain_blocks and remote_restrictions refuse or quiet other
        # servers and actors; audit_log records every moderator action; notifications tell
        # members what moderators decided; badge_merges keep what a merge changed so it can
        # be reverted (the merged badge's slug redirects while a merge is active).
        """
        CREATE TABLE reports (
            id TEXT PRIMARY KEY,
            target_kind TEXT NOT NULL,
            target TEXT NOT NULL,
            target_actor TEXT,
            comment TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            reporter_account_id TEXT,
            reporter_actor TEXT,
            flag_id TEXT UNIQUE,
            resolved_by TEXT,
            resolved_at TEXT,
            resolution TEXT,
            forwarded INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX reports_by_time ON reports (created_at, id);
        CREATE INDEX reports_by_state ON reports (state, created_at, id);
        CREATE INDEX reports_by_target ON reports (target_kind, target, created_at, id);
        CREATE TABLE domain_blocks (
            domain TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE remote_restrictions (
            actor_uri TEXT PRIMARY KEY,
            level TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX remote_restrictions_by_time ON remote_restrictions (created_at);
        CREATE INDEX remote_actors_by_domain ON remote_actors (domain);
        CREATE TABLE audit_log (
            id TEXT PRIMARY KEY,
            moderator_id TEXT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX audit_log_by_time ON audit_log (created_at, id);
        CREATE TABLE notifications (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            link TEXT,
            created_at TEXT NOT NULL,
            read_at TEXT
        );
        CREATE INDEX notifications_by_account ON notifications (account_id, created_at, id);
        CREATE TABLE badge_merges (
            id TEXT PRIMARY KEY,
            source_id TEXT NOT NULL,
            source_slug TEXT NOT NULL,
            target_id TEXT NOT NULL,
            target_slug TEXT NOT NULL,
            undo TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            reverted_at TEXT
        );
        CREATE INDEX badge_merges_by_source ON badge_merges (source_slug, reverted_at);
        CREATE INDEX badge_merges_by_time ON badge_merges (created_at, id);
        CREATE TABLE badge_stewards (
            badge_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            appointed_by TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (badge_id, account_id)
        ) WITHOUT ROWID;
        """,
    ),
    (
        9,
        # Uploaded images and who owns them. Uploads made before this version have no row:
        # posts keep showing them, and nothing purges them (the purge walks rows only).
        """
        CREATE TABLE media (
            id TEXT PRIMARY KEY,
            owner_account_id TEXT NOT NULL,
            purpose TEXT NOT NULL,
            state TEXT NOT NULL,
            attached_to TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX media_by_state ON media (state, created_at);
        """,
    ),
    (
        10,
        # Authors moderation hides at read time (silenced: off the public timelines;
        # suspended: off everything others read), so lifting the restriction shows their
        # posts again. Filled from the restrictions and suspensions made before.
        """
        CREATE TABLE hidden_authors (
            actor_uri TEXT PRIMARY KEY,
            level TEXT NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO hidden_authors (actor_uri, level)
            SELECT actor_uri, level FROM remote_restrictions;
        INSERT OR IGNORE INTO hidden_authors (actor_uri, level)
            SELECT DISTINCT p.author, 'suspended' FROM posts p
            JOIN accounts a ON a.id = p.local_account_id WHERE a.suspended = 1;
        """,
    ),
    (
        11,
        # A member's blocks listed newest first, a page at a time (the primary key orders
        # them by blocked actor only).
        """
        CREATE INDEX member_blocks_by_time ON member_blocks (account_id, created_at, blocked);
        """,
    ),
]
