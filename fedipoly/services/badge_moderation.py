"""Badge moderation beyond the review queue: approving and rejecting with the creator told
why, renaming, merging one badge into another (and reverting the merge), and stewards.

A merge of `pyhton` into `python`:

* every holder of `pyhton` holds `python` instead, at the same place in their list (members
  who held both simply lose `pyhton`);
* every local post tagged `pyhton` is tagged `python` and moves to its badge page;
* the catalogue's activity tags that pointed at `pyhton` point at `python`;
* `pyhton` gets the status `merged`: it leaves the catalogue, and its URLs (HTML and API)
  redirect to `python` for as long as the merge stands (`alias_target`).

What the merge changed is kept with it (`BadgeMerge.undo`: holders' places, posts' original
tags, the moved activity tags, the badge's previous review), so reverting restores both
badges. A post edited after the merge gets its pre-merge tags back on revert.

Stewards are members a moderator appoints to one badge: they may rename it and handle
reports about it, nothing else. Every action here is written to the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fedipoly.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fedipoly.models import (
    Account,
    Badge,
    BadgeStatus,
    Clock,
    MemberBadgeEntry,
    Post,
    PostActivityTag,
    Visibility,
    new_id,
)
from fedipoly.moderation_models import BadgeMerge, Steward
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badges import MAX_DISPLAY_NAME, BadgeService, clean_slug
from fedipoly.services.moderation import MAX_REASON, require_moderator
from fedipoly.services.notifications import NotificationService
from fedipoly.services.profiles import ProfileService, clean_line
from fedipoly.store.base import Store

BATCH = 100
MAX_ALIAS_HOPS = 8  # a merged badge may itself have been merged further


@dataclass(frozen=True)
class StewardView:
    account: Account
    appointed_at: datetime


def _reason(text: str | None) -> str:
    if text is not None and not isinstance(text, str):
        raise ValidationFailed("reason is text", {"field": "reason"})
    return clean_line(text or "", "reason", MAX_REASON)


def _retag(post: Post, source: str, target: str) -> Post:
    tags = list(
        dict.fromkeys(
            PostActivityTag(tag.phrase, target if tag.badge_slug == source else tag.badge_slug)
            for tag in post.activity_tags
        )
    )
    badges = tuple(dict.fromkeys(target if slug == source else slug for slug in post.badges))
    return replace(post, activity_tags=tuple(tags), badges=badges)


class BadgeModeration:
    def __init__(
        self,
        store: Store,
        badges: BadgeService,
        notifications: NotificationService,
        audit: AuditLog,
        clock: Clock,
        profiles: ProfileService | None = None,
        badge_actors: BadgeActorService | None = None,
    ) -> None:
        # With `profiles`, members whose badge list a merge changed send Update{Person}, so
        # their followers' servers see the new badge now (as BadgeService does). With
        # `badge_actors`, a merged badge's actor withdraws its announces (Undo{Announce}).
        self._profiles = profiles
        self._badge_actors = badge_actors
        self._store = store
        self._badges = badges
        self._notifications = notifications
        self._audit = audit
        self._clock = clock

    # --- the review queue ----------------------------------------------------------------

    async def approve(self, moderator: Account, slug: str) -> Badge:
        return await self._badges.approve(moderator, slug)  # which writes the audit entry

    async def reject(self, moderator: Account, slug: str, reason: str | None = "") -> Badge:
        """Reject a pending badge; its creator is notified with the reason."""
        badge = await self._badges.reject(moderator, slug, reason or "")  # audited there
        if badge.created_by is not None:
            why = f" The moderator's reason: {badge.reject_reason}" if badge.reject_reason else ""
            await self._notifications.notify(
                badge.created_by,
                "badge_rejected",
                f"Your badge “{badge.display_name}” ({badge.slug}) was not approved.{why}",
            )
        return badge

    # --- renaming ------------------------------------------------------------------------

    async def rename(
        self, actor: Account, slug: str, display_name: str, reason: str | None = None
    ) -> Badge:
        """A new display name (the slug stays); moderators, or the badge's stewards."""
        badge = await self.authorised_badge(actor, slug)
        if not isinstance(display_name, str):
            raise ValidationFailed("a badge needs a display name", {"field": "display_name"})
        name = clean_line(display_name, "display_name", MAX_DISPLAY_NAME)
        if not name:
            raise ValidationFailed("a badge needs a display name", {"field": "display_name"})
        renamed = await self._store.rename_badge(badge.id, name)
        if renamed is None:
            raise NotFound("no such badge")
        if self._profiles is not None:  # holders' cached actors show the old name
            self._profiles.forget_all_documents()
        why = _reason(reason)
        await self._audit.record(
            actor,
            "badge.rename",
            f"badge:{badge.slug}",
            f"{badge.display_name} → {name}" + (f": {why}" if why else ""),
        )
        return renamed

    async def authorised_badge(self, actor: Account, slug: str) -> Badge:
        """The badge, when `actor` may moderate it; 403 before anything is revealed."""
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        if actor.role.can_moderate:
            if badge is None:
                raise NotFound("no such badge")
            return badge
        if badge is None or not await self._store.is_steward(badge.id, actor.id):
            raise Forbidden("only moderators and this badge's stewards can do this")
        return badge

    # --- merging -------------------------------------------------------------------------

    async def alias_target(self, slug: str) -> str | None:
        """Where a merged badge's slug now points (following further merges), or None."""
        current, seen = slug, {slug}
        for _ in range(MAX_ALIAS_HOPS):
            merge = await self._store.active_badge_merge(current)
            if merge is None:
                break
            current = merge.target_slug
            if current in seen:
                break
            seen.add(current)
        return current if current != slug else None

    async def merge(
        self, moderator: Account, source_slug: str, target_slug: str, reason: str | None = None
    ) -> BadgeMerge:
        require_moderator(moderator)
        text = _reason(reason)
        source = await self._store.get_badge_by_slug(clean_slug(source_slug, "slug"))
        target = await self._store.get_badge_by_slug(clean_slug(target_slug, "into"))
        if source is None or target is None:
            raise NotFound("no such badge", {"field": "slug" if source is None else "into"})
        if source.id == target.id:
            raise ValidationFailed("a badge cannot be merged into itself", {"field": "into"})
        if source.status is BadgeStatus.MERGED:
            raise Conflict(f"{source.slug} is merged already")
        if not target.is_public:
            raise ValidationFailed("merge into an approved badge", {"field": "into"})
        undo: dict[str, Any] = {
            "source": {
                "status": source.status.value,
                "reviewed_by": source.reviewed_by,
                "reviewed_at": (source.reviewed_at or source.created_at).isoformat(),
                "reject_reason": source.reject_reason,
            },
            "holders": await self._move_holders(source, target),
            "posts": await self._move_posts(source, target),
            "activity_tags": await self._store.repoint_activity_tags(source.id, target.id),
        }
        now = self._clock()
        await self._store.set_badge_status(
            source.slug, BadgeStatus.MERGED, reviewer=moderator.id, reason=text or None, now=now
        )
        if self._profiles is not None:  # the merged badge's Group actor is gone
            self._profiles.forget_all_documents()
        merge = BadgeMerge(
            id=new_id(now),
            source_id=source.id,
            source_slug=source.slug,
            target_id=target.id,
            target_slug=target.slug,
            undo=json.dumps(undo),
            created_by=moderator.id,
            created_at=now,
        )
        await self._store.create_badge_merge(merge)
        if self._badge_actors is not None:
            # The merged badge leaves the catalogue, so its actor's announces go too. A revert
            # does not re-announce: like an approval, it should not flood followers with old
            # posts; later posts carrying the badge are announced again.
            await self._badge_actors.badge_withdrawn(source.id)
        await self._audit.record(
            moderator, "badge.merge", f"badge:{source.slug}→{target.slug}", text
        )
        if source.created_by is not None and source.created_by != moderator.id:
            await self._notifications.notify(
                source.created_by,
                "badge_merged",
                f"Your badge “{source.display_name}” ({source.slug}) was merged into "
                f"“{target.display_name}” ({target.slug}).",
                f"/badges/{target.slug}",
            )
        return merge

    async def _move_holders(self, source: Badge, target: Badge) -> list[dict[str, Any]]:
        moved: list[dict[str, Any]] = []
        # Each pass takes the source off the members it lists, so the next pass lists others.
        while rows := await self._store.badge_holders(
            source.id, discoverable_only=False, before=None, limit=BATCH
        ):
            for row in rows:
                held = await self._store.member_badges(row.account.id)
                had_target = any(item.badge.id == target.id for item in held)
                entries: list[MemberBadgeEntry] = []
                for item in held:
                    if item.badge.id != source.id:
                        entries.append(MemberBadgeEntry(item.badge.id, item.featured))
                        continue
                    moved.append(
                        {
                            "account": row.account.id,
                            "position": len(entries),
                            "featured": item.featured,
                            "had_target": had_target,
                        }
                    )
                    if not had_target:
                        entries.append(MemberBadgeEntry(target.id, item.featured))
                await self._store.set_member_badges(row.account.id, entries, now=self._clock())
                await self._announce(row.account.id)
        return moved

    async def _announce(self, account_id: str) -> None:
        account = await self._store.get_account(account_id) if self._profiles else None
        if self._profiles is not None and account is not None and not account.suspended:
            await self._profiles.announce_update(account)

    async def _move_posts(self, source: Badge, target: Badge) -> list[dict[str, Any]]:
        moved: list[dict[str, Any]] = []
        after: str | None = None
        while posts := await self._store.local_posts_tagged(
            source.slug, after_id=after, limit=BATCH
        ):
            for post in posts:
                moved.append(
                    {
                        "id": post.id,
                        "badges": list(post.badges),
                        "tags": [[tag.phrase, tag.badge_slug] for tag in post.activity_tags],
                    }
                )
                await self._save_post(_retag(post, source.slug, target.slug))
            after = posts[-1].id
        return moved

    async def _save_post(self, post: Post) -> None:
        """Store the post's new tags and put it on exactly its approved badges' pages (as
        PostService does for local posts)."""
        await self._store.update_post(post)
        badges = await self._store.get_badges_by_slugs(list(post.badges)) if post.badges else []
        listed = post.visibility is Visibility.PUBLIC and not post.unlisted
        await self._store.replace_badge_entries(
            post, [badge.id for badge in badges if badge.is_public] if listed else []
        )

    async def revert_merge(
        self, moderator: Account, merge_id: str, reason: str | None = None
    ) -> BadgeMerge:
        """Undo a merge: the merged badge comes back as it was, with its holders and posts."""
        require_moderator(moderator)
        text = _reason(reason)
        merge = await self._store.get_badge_merge(merge_id) if isinstance(merge_id, str) else None
        if merge is None:
            raise NotFound("no such merge")
        if merge.reverted_at is not None or not await self._store.mark_badge_merge_reverted(
            merge.id, self._clock()
        ):
            raise Conflict("this merge was reverted already")
        undo = json.loads(merge.undo)
        previous = undo["source"]
        await self._store.set_badge_status(
            merge.source_slug,
            BadgeStatus(previous["status"]),
            reviewer=previous["reviewed_by"],
            reason=previous["reject_reason"],
            now=datetime.fromisoformat(previous["reviewed_at"]),
        )
        if self._profiles is not None:  # the badge's Group actor is back
            self._profiles.forget_all_documents()
        await self._store.repoint_activity_tags(
            merge.target_id, merge.source_id, list(undo["activity_tags"])
        )
        for holder in undo["holders"]:
            await self._restore_holder(merge, holder)
        for saved in undo["posts"]:
            post = await self._store.get_post(saved["id"])
            if post is None or post.deleted_at is not None:
                continue
            tags = tuple(PostActivityTag(phrase, slug) for phrase, slug in saved["tags"])
            await self._save_post(replace(post, activity_tags=tags, badges=tuple(saved["badges"])))
        restored = await self._store.get_badge_merge(merge.id)
        assert restored is not None
        await self._audit.record(
            moderator, "badge.unmerge", f"badge:{merge.source_slug}→{merge.target_slug}", text
        )
        return restored

    async def _restore_holder(self, merge: BadgeMerge, holder: dict[str, Any]) -> None:
        account_id = holder["account"]
        held = await self._store.member_badges(account_id)
        entries = [
            MemberBadgeEntry(item.badge.id, item.featured)
            for item in held
            if holder["had_target"] or item.badge.id != merge.target_id
        ]
        if any(entry.badge_id == merge.source_id for entry in entries):
            return
        position = min(int(holder["position"]), len(entries))
        entries.insert(position, MemberBadgeEntry(merge.source_id, bool(holder["featured"])))
        await self._store.set_member_badges(account_id, entries, now=self._clock())
        await self._announce(account_id)

    async def merges(self, moderator: Account, *, limit: int = 50) -> list[BadgeMerge]:
        require_moderator(moderator)
        return await self._store.list_badge_merges(limit=limit)

    # --- stewards ------------------------------------------------------------------------

    async def appoint_steward(
        self, moderator: Account, slug: str, username: str, reason: str | None = None
    ) -> StewardView:
        require_moderator(moderator)
        badge = await self._approved(slug)
        member = await self._member(username)
        steward = Steward(badge.id, member.id, moderator.id, self._clock())
        if not await self._store.add_steward(steward):
            raise Conflict(f"{member.username} is a steward of {badge.slug} already")
        await self._audit.record(
            moderator,
            "badge.steward.appoint",
            f"badge:{badge.slug} account:{member.username}",
            _reason(reason),
        )
        await self._notifications.notify(
            member.id,
            "steward_appointed",
            f"You are now a steward of the badge “{badge.display_name}”: you can rename it "
            "and handle reports about it.",
            f"/badges/{badge.slug}",
        )
        return StewardView(member, steward.created_at)

    async def dismiss_steward(
        self, moderator: Account, slug: str, username: str, reason: str | None = None
    ) -> None:
        require_moderator(moderator)
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        if badge is None:
            raise NotFound("no such badge")
        member = await self._member(username)
        if not await self._store.remove_steward(badge.id, member.id):
            raise NotFound(f"{member.username} is not a steward of {badge.slug}")
        await self._audit.record(
            moderator,
            "badge.steward.dismiss",
            f"badge:{badge.slug} account:{member.username}",
            _reason(reason),
        )

    async def stewards(self, viewer: Account | None, slug: str) -> list[StewardView]:
        """A visible badge's stewards (public, like a group's moderators)."""
        badge = await self._badges.get_badge(slug, viewer)
        views = []
        for steward in await self._store.list_stewards(badge.id):
            account = await self._store.get_account(steward.account_id)
            if account is not None and not account.suspended:
                views.append(StewardView(account, steward.created_at))
        return views

    async def is_steward(self, account: Account | None, slug: str) -> bool:
        if account is None:
            return False
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        return badge is not None and await self._store.is_steward(badge.id, account.id)

    async def _approved(self, slug: str) -> Badge:
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        if badge is None:
            raise NotFound("no such badge")
        if not badge.is_public:
            raise ValidationFailed("stewards look after approved badges", {"field": "slug"})
        return badge

    async def _member(self, username: str) -> Account:
        account = (
            await self._store.get_account_by_username(username.strip().lstrip("@").lower())
            if isinstance(username, str)
            else None
        )
        if account is None or account.suspended:
            raise NotFound("no such member", {"field": "username"})
        return account
