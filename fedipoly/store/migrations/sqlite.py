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
]
