"""Badge, local and federated timelines and threads on SQLite.

Each read is one index range scan: badge_entries' primary key for a badge, the partial
indexes posts_local_public / posts_public for the local and federated timelines, and
posts_by_reply_root for a thread (migration 5).
"""

from __future__ import annotations

from typing import Any

from fedipoly.models import Post
from fedipoly.store.base import Cursor
from fedipoly.store.sqlite.core import SqliteCore, to_db_time
from fedipoly.store.sqlite.federation import _before_clause, _post

# Moderation hides restricted authors at read time (store/*/moderation.py): the subquery
# reads the small hidden_authors table once per query; the range scans stay as they are.
HIDDEN = " AND {author} NOT IN (SELECT actor_uri FROM hidden_authors)"
SUSPENDED = " AND {author} NOT IN (SELECT actor_uri FROM hidden_authors WHERE level = 'suspended')"


class SqlitePostsExt(SqliteCore):
    async def replace_badge_entries(self, post: Post, badge_ids: list[str]) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM badge_entries WHERE post_id = ?", (post.id,))
            await db.executemany(
                "INSERT INTO badge_entries (badge_id, published, post_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(badge_id, to_db_time(post.published), post.id) for badge_id in set(badge_ids)],
            )

    async def backfill_badge_entries(self, badge_id: str, slug: str, account_id: str) -> int:
        # Only the badge's creator could tag a pending badge, so their posts are all there is
        # to look at (posts_by_account); json_each reads the post's badge list.
        return await self.execute(
            "INSERT INTO badge_entries (badge_id, published, post_id)"
            " SELECT ?, p.published, p.id FROM posts p"
            " WHERE p.local_account_id = ? AND p.visibility = 'public' AND p.unlisted = 0"
            " AND p.deleted_at IS NULL"
            " AND EXISTS (SELECT 1 FROM json_each(p.badges) WHERE json_each.value = ?)"
            " ON CONFLICT DO NOTHING",
            (badge_id, account_id, slug),
        )

    async def badge_timeline(
        self, badge_id: str, *, before: Cursor | None, limit: int
    ) -> list[Post]:
        params: tuple[Any, ...] = (badge_id,)
        clause = ""
        if before is not None:
            clause = " AND (b.published, b.post_id) < (?, ?)"
            params += (to_db_time(before[0]), before[1])
        rows = await self.fetch_all(
            "SELECT p.* FROM badge_entries b JOIN posts p ON p.id = b.post_id"
            f" WHERE b.badge_id = ?{clause} AND p.deleted_at IS NULL AND p.visibility = 'public'"
            " AND p.unlisted = 0"
            + HIDDEN.format(author="p.author")
            + " ORDER BY b.published DESC, b.post_id DESC LIMIT ?",
            (*params, limit),
        )
        return [_post(row) for row in rows]

    async def local_timeline(self, *, before: Cursor | None, limit: int) -> list[Post]:
        return await self._public_posts("AND local_account_id IS NOT NULL", before, limit)

    async def public_timeline(self, *, before: Cursor | None, limit: int) -> list[Post]:
        return await self._public_posts("", before, limit)

    async def _public_posts(self, scope: str, before: Cursor | None, limit: int) -> list[Post]:
        clause, params = _before_clause("published", before)
        rows = await self.fetch_all(
            f"SELECT * FROM posts WHERE visibility = 'public' AND unlisted = 0 {scope}{clause}"
            " AND deleted_at IS NULL"
            + HIDDEN.format(author="author")
            + " ORDER BY published DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_post(row) for row in rows]

    async def thread_posts(self, root_uri: str, *, limit: int) -> list[Post]:
        rows = await self.fetch_all(
            "SELECT * FROM posts WHERE reply_root = ? AND deleted_at IS NULL"
            + SUSPENDED.format(author="author")
            + " ORDER BY published, id LIMIT ?",
            (root_uri, limit),
        )
        return [_post(row) for row in rows]
