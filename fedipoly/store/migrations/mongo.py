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
]
