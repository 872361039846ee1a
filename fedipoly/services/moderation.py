"""Community moderation: reports (from members, and `Flag`s from other servers), forwarding
reports as `Flag`s, suspending local accounts, silencing or suspending remote accounts,
domain blocks, and the audit log every moderator action writes.

Roles are enforced here, in the service, before anything is looked up: a member gets 403
whatever the target, so nothing about reports or blocks leaks through a 404.

Domain blocks apply to a host and everything under it (`example.com` blocks
`social.example.com`), like Mastodon's. A block on an address with a port (`127.0.0.1:8001`)
applies to that port only. Blocked servers are refused at three places:

* inbound: `inbound_refusal` is the predicate `federation.inbox.InboxVerifier` calls before
  it looks up or fetches the signer's key, so a blocked server's signed POST answers 403 and
  nothing of it (not even its actor) is stored -- `federation/` stays storage-agnostic;
* outbound: `services.delivery.Deliverer` skips blocked hosts when queueing, and gives up on
  deliveries queued before the block (`blocked_domain`);
* cached content: blocking purges the domain's actors, their follows and posts.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from federation.vocab import AS_CONTEXT, as_list, id_of
from fedipoly.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fedipoly.models import Account, Clock, Post, RemoteActor, Role, new_id
from fedipoly.moderation_models import (
    AuditEntry,
    DomainBlock,
    RemoteRestriction,
    Report,
    ReportState,
    ReportTarget,
    RestrictionLevel,
)
from fedipoly.services.actors import BIDI_CONTROLS, RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badges import BadgeService, clean_limit, clean_slug
from fedipoly.services.delivery import Deliverer
from fedipoly.services.document_cache import DocumentCache
from fedipoly.services.moderation_policy import clean_domain, domain_candidates, refused_actor
from fedipoly.services.notifications import NotificationService
from fedipoly.services.posts import PostService, decode_cursor, encode_cursor
from fedipoly.services.profiles import clean_line
from fedipoly.store.base import Store
from fedipoly.urls import Urls

MAX_COMMENT = 1000
MAX_REASON = 500
MAX_PURGED_HOSTS = 100_000  # distinct remote hosts looked at when a block purges subdomains
MAX_FLAG_TARGETS = 5  # one Flag names an account and a few posts; more is noise or abuse


def require_moderator(account: Account) -> None:
    if not account.role.can_moderate:
        raise Forbidden("only moderators can do this")


def require_admin(account: Account) -> None:
    if account.role is not Role.ADMIN:
        raise Forbidden("only admins can do this")


@dataclass(frozen=True)
class ReportPage:
    reports: list[Report]
    next_cursor: str | None


@dataclass(frozen=True)
class ReportedPost:
    post: Post
    author_suspended: bool  # then nobody but moderators can see it


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None
    moderators: dict[str, str]  # account id -> username, for the entries on this page


def _reason(text: str | None, field: str = "reason") -> str:
    if text is not None and not isinstance(text, str):
        raise ValidationFailed(f"{field} is text", {"field": field})
    return clean_line(text or "", field, MAX_REASON)


def _comment(text: str | None) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise ValidationFailed("the comment is text", {"field": "comment"})
    cleaned = text.replace("\r\n", "\n").strip()
    if any(_disguising(char) for char in cleaned):
        raise ValidationFailed(
            "control characters are not allowed in a comment", {"field": "comment"}
        )
    if len(cleaned) > MAX_COMMENT:
        raise ValidationFailed(
            f"a comment has at most {MAX_COMMENT} characters", {"field": "comment"}
        )
    return cleaned


def _disguising(char: str) -> bool:
    """Control characters and bidirectional overrides: they hide or reorder what a
    moderator reads. Line breaks and tabs are fine."""
    if char in "\n\t":
        return False
    return unicodedata.category(char) == "Cc" or ord(char) in BIDI_CONTROLS


def _remote_comment(text: str) -> str:
    """A Flag's comment as moderators will read it: without disguising characters (another
    server's text cannot be refused, only cleaned), at most MAX_COMMENT characters."""
    return "".join(char for char in text if not _disguising(char)).strip()[:MAX_COMMENT]


def _report_state(state: str | None) -> ReportState | None:
    """None for every state ("all" or nothing given)."""
    if state in (None, "", "all"):
        return None
    try:
        return ReportState(state)
    except ValueError:
        raise ValidationFailed(
            "state is open, resolved, dismissed or all", {"field": "state"}
        ) from None


class OperatorActions:
    """Domain blocks and local suspensions, shared by the moderation service (after its role
    check) and the `fedipoly` command line (an operator; the audit log says "command line")."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        urls: Urls,
        clock: Clock,
        *,
        documents: DocumentCache | None = None,
        badge_actors: BadgeActorService | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._urls = urls
        self._own_domain = urls.domain
        self._clock = clock
        self._documents = documents
        self._badge_actors = badge_actors

    async def block_domain(
        self, domain: str, reason: str | None = None, *, by: Account | None = None
    ) -> DomainBlock:
        host = clean_domain(domain)
        if host in domain_candidates(self._own_domain):
            raise ValidationFailed("this server cannot block itself", {"field": "domain"})
        block = DomainBlock(host, _reason(reason), by.id if by else None, self._clock())
        if not await self._store.put_domain_block(block):
            raise Conflict(f"{host} is blocked already")
        # The block covers subdomains (and ports), so purge every known host under it too.
        known = await self._store.known_remote_domains(limit=MAX_PURGED_HOSTS)
        for covered in sorted({host, *(d for d in known if host in domain_candidates(d))}):
            await self._store.purge_domain(covered)
        await self._audit.record(by, "domain.block", host, block.reason)
        return block

    async def unblock_domain(
        self, domain: str, reason: str | None = None, *, by: Account | None = None
    ) -> None:
        host = clean_domain(domain)
        if not await self._store.delete_domain_block(host):
            raise NotFound(f"{host} is not blocked")
        await self._audit.record(by, "domain.unblock", host, _reason(reason))

    async def domain_blocks(self) -> list[DomainBlock]:
        return await self._store.list_domain_blocks()

    async def set_suspended(
        self,
        username: str,
        suspended: bool,
        reason: str | None = None,
        *,
        by: Account | None = None,
    ) -> Account:
        """Suspend or restore a member. A moderator may not suspend themselves or an admin
        (unless an admin); the operator may do anything."""
        text = _reason(reason)
        account = await self._store.get_account_by_username(str(username).lower())
        if account is None:
            raise NotFound("no such account")
        if by is not None and account.id == by.id:
            raise ValidationFailed("you cannot suspend yourself", {"field": "username"})
        if by is not None and account.role is Role.ADMIN and by.role is not Role.ADMIN:
            raise Forbidden("only admins can suspend an admin")
        changed = await self._store.set_account_suspended(account.id, suspended)
        assert changed is not None
        if self._documents is not None:  # its actor and JRD answer 410 (or come back) now
            self._documents.forget(account.username)
        # Their posts leave (and come back to) every timeline, thread and post page others
        # read, at read time: nothing about the posts themselves is rewritten.
        await self._store.set_author_hidden(
            self._urls.actor(account.username), RestrictionLevel.SUSPENDED if suspended else None
        )
        if suspended and self._badge_actors is not None:
            # Other servers hold badge boosts of posts that now answer 404: withdraw them.
            # Lifting the suspension announces nothing again (as approving a badge does not):
            # old posts would flood followers' timelines; later posts are announced as usual.
            await self._badge_actors.author_withdrawn(changed)
        action = "account.suspend" if suspended else "account.unsuspend"
        await self._audit.record(by, action, f"account:{account.username}", text)
        return changed


class ModerationService:
    def __init__(
        self,
        store: Store,
        *,
        actors: RemoteActors,
        deliverer: Deliverer,
        posts: PostService,
        badges: BadgeService,
        notifications: NotificationService,
        urls: Urls,
        clock: Clock,
        documents: DocumentCache | None = None,
        audit: AuditLog | None = None,
        badge_actors: BadgeActorService | None = None,
    ) -> None:
        """`audit` is the instance's one audit log (other services with admin actions write
        to it too); `badge_actors` withdraws a suspended member's badge announces."""
        self._store = store
        self._actors = actors
        self._deliverer = deliverer
        self._posts = posts
        self._badges = badges
        self._notifications = notifications
        self._urls = urls
        self._clock = clock
        self.audit = audit or AuditLog(store, clock)
        self.operator = OperatorActions(
            store, self.audit, urls, clock, documents=documents, badge_actors=badge_actors
        )

    # --- reports from members ------------------------------------------------------------

    async def report(
        self, reporter: Account, kind: str, target: str, comment: str | None = None
    ) -> Report:
        """A member reports a post (id or URI), a badge (slug) or an account (username,
        user@domain or actor URI). They must be able to see what they report."""
        try:
            target_kind = ReportTarget(kind)
        except ValueError:
            raise ValidationFailed(
                "report a post, a badge or an account", {"field": "kind"}
            ) from None
        if not isinstance(target, str) or not target.strip():
            raise ValidationFailed("say what you report", {"field": "target"})
        target = target.strip()
        text = _comment(comment)
        if target_kind is ReportTarget.POST:
            post = await self._store.get_post(target) or await self._store.get_post_by_uri(target)
            if post is None or post.deleted_at or not await self._posts.may_see(reporter, post):
                raise NotFound("no such post")
            ref, owner = post.uri, post.author
        elif target_kind is ReportTarget.BADGE:
            badge = await self._badges.get_badge(target, reporter)
            ref, owner = badge.slug, None
        else:
            ref = owner = await self._account_uri(target)
        if owner is not None and owner == self._urls.actor(reporter.username):
            raise ValidationFailed("you cannot report yourself", {"field": "target"})
        now = self._clock()
        report = Report(
            id=new_id(now),
            target_kind=target_kind,
            target=ref,
            target_actor=owner,
            comment=text,
            state=ReportState.OPEN,
            created_at=now,
            reporter_account_id=reporter.id,
        )
        await self._store.create_report(report)
        return report

    async def _account_uri(self, target: str) -> str:
        """The actor URI of a local username, a user@domain handle or an actor URI we know."""
        if target.startswith(("http://", "https://")):
            username = self._urls.local_username(target)
            if username is not None:
                account = await self._store.get_account_by_username(username)
                if account is not None:
                    return self._urls.actor(account.username)
            elif await self._store.get_remote_actor(target) is not None:
                return target
            raise NotFound("no such account")
        handle = target.lstrip("@")
        if "@" in handle:
            username, domain = handle.split("@", 1)
            if domain.lower() != self._urls.domain:
                actor = await self._store.get_remote_actor_by_handle(username, domain)
                if actor is None:
                    raise NotFound("no such account")
                return actor.uri
            handle = username
        account = await self._store.get_account_by_username(handle)
        if account is None:
            raise NotFound("no such account")
        return self._urls.actor(account.username)

    # --- Flags from other servers --------------------------------------------------------

    async def receive_flag(self, activity: dict[str, Any], sender: RemoteActor) -> int:
        """Store an incoming `Flag` as reports: one per local post it names, else one for the
        local account (or badge) it names. Mastodon sends it from its instance actor with the
        account and statuses in `object` and the comment in `content`
        (app/serializers/activitypub/flag_serializer.rb). Returns reports created."""
        if await refused_actor(self._store, sender.uri):
            # Queued before its server was blocked (or the sender suspended): the inbox
            # refuses such senders now, and their reports are not wanted either.
            return 0
        flag_id = id_of(activity) or ""
        comment = activity.get("content")
        text = _remote_comment(comment) if isinstance(comment, str) else ""
        targets = await self._flag_targets(as_list(activity.get("object")))
        now = self._clock()
        created = 0
        for index, (kind, ref, owner) in enumerate(targets):
            report = Report(
                id=new_id(now),
                target_kind=kind,
                target=ref,
                target_actor=owner,
                comment=text,
                state=ReportState.OPEN,
                created_at=now,
                reporter_actor=sender.uri,
                flag_id=f"{flag_id}#{index}" if flag_id else None,
            )
            created += await self._store.create_report(report)
        return created

    async def _flag_targets(self, objects: list[Any]) -> list[tuple[ReportTarget, str, str | None]]:
        accounts: list[tuple[ReportTarget, str, str | None]] = []
        posts: list[tuple[ReportTarget, str, str | None]] = []
        for value in objects[: MAX_FLAG_TARGETS * 2]:
            uri = id_of(value)
            if not uri or not self._urls.is_local(uri):
                continue
            username = self._urls.local_username(uri)
            if username is not None and uri == self._urls.actor(username):
                if await self._store.get_account_by_username(username) is not None:
                    accounts.append((ReportTarget.ACCOUNT, uri, uri))
                continue
            post = await self._store.get_post_by_uri(uri)
            if post is not None and post.is_local:
                posts.append((ReportTarget.POST, post.uri, post.author))
                continue
            badge_id = self._urls.local_badge_id(uri)  # a Flag aimed at a badge's actor
            badge = await self._store.get_badge(badge_id) if badge_id else None
            slug = badge.slug if badge else self._badge_slug(uri)
            if slug is not None and await self._store.get_badge_by_slug(slug) is not None:
                accounts.append((ReportTarget.BADGE, slug, None))
        chosen = posts or accounts
        return chosen[:MAX_FLAG_TARGETS]

    def _badge_slug(self, uri: str) -> str | None:
        prefix = self._urls.badge_page("")
        rest = uri[len(prefix) :] if uri.startswith(prefix) else ""
        slug = rest.split("/", 1)[0].split("#", 1)[0]
        try:
            return clean_slug(slug)
        except ValidationFailed:
            return None

    # --- handling reports ----------------------------------------------------------------

    async def reports(
        self,
        moderator: Account,
        *,
        state: str | None = "open",
        cursor: str | None = None,
        limit: int | None = None,
    ) -> ReportPage:
        require_moderator(moderator)
        wanted = _report_state(state)
        size = clean_limit(limit)
        items = await self._store.list_reports(wanted, before=decode_cursor(cursor), limit=size)
        next_cursor = (
            encode_cursor(items[-1].created_at, items[-1].id) if len(items) == size else None
        )
        return ReportPage(items, next_cursor)

    async def badge_reports(
        self,
        account: Account,
        slug: str,
        *,
        state: str | None = "open",
        cursor: str | None = None,
        limit: int | None = None,
    ) -> ReportPage:
        """Reports about one badge: for moderators and that badge's stewards."""
        badge = await self._store.get_badge_by_slug(clean_slug(slug))
        steward = badge is not None and await self._store.is_steward(badge.id, account.id)
        if not account.role.can_moderate and not steward:
            raise Forbidden("only moderators and this badge's stewards can do this")
        if badge is None:
            raise NotFound("no such badge")
        size = clean_limit(limit)
        items = await self._store.list_reports_about(
            ReportTarget.BADGE,
            badge.slug,
            _report_state(state),
            before=decode_cursor(cursor),
            limit=size,
        )
        next_cursor = (
            encode_cursor(items[-1].created_at, items[-1].id) if len(items) == size else None
        )
        return ReportPage(items, next_cursor)

    async def get_report(self, moderator: Account, report_id: str) -> Report:
        report = await self._store.get_report(report_id) if isinstance(report_id, str) else None
        if not await self._may_handle(moderator, report):
            raise Forbidden("only moderators can do this")
        if report is None:
            raise NotFound("no such report")
        return report

    async def reported_post(self, moderator: Account, report: Report) -> ReportedPost | None:
        """The post a report is about, as moderators must see it: whatever its audience and
        even when its author is suspended (it answers 404 to everyone else then), and still
        after its removal (`deleted_at` says so). None for reports about badges or accounts,
        or a post this server never had or has purged."""
        if not await self._may_handle(moderator, report):
            raise Forbidden("only moderators can do this")
        if report.target_kind is not ReportTarget.POST:
            return None
        post = await self._store.get_post_by_uri(report.target)
        if post is None:
            return None
        hidden = await self._store.author_hidden(post.author)
        return ReportedPost(post, author_suspended=hidden is RestrictionLevel.SUSPENDED)

    async def _may_handle(self, account: Account, report: Report | None) -> bool:
        """Moderators handle every report; a badge's stewards handle reports about it."""
        if account.role.can_moderate:
            return True
        if report is None or report.target_kind is not ReportTarget.BADGE:
            return False
        badge = await self._store.get_badge_by_slug(report.target)
        return badge is not None and await self._store.is_steward(badge.id, account.id)

    async def resolve_report(
        self,
        moderator: Account,
        report_id: str,
        *,
        action: str,
        note: str | None = None,
        forward: bool = False,
        remove: bool = False,
    ) -> Report:
        """Close a report as `resolve`d (acted upon) or `dismiss`ed; with `forward`, a report
        about a remote account or post also goes to its server as a `Flag` from this
        instance, as Mastodon does (the reporter stays anonymous). With `remove`, a reported
        post is deleted: a local one everywhere (its author's Delete is sent), a remote one
        here; the local author is told why."""
        report = await self.get_report(moderator, report_id)
        states = {"resolve": ReportState.RESOLVED, "dismiss": ReportState.DISMISSED}
        if not isinstance(action, str) or action not in states:
            raise ValidationFailed("the action is resolve or dismiss", {"field": "action"})
        text = _reason(note, "note")
        remote_target = report.target_actor is not None and not self._urls.is_local(
            report.target_actor
        )
        if forward and (not remote_target or report.reporter_account_id is None):
            raise ValidationFailed(
                "only members' reports about remote accounts or posts can be forwarded",
                {"field": "forward"},
            )
        if remove and (action != "resolve" or report.target_kind is not ReportTarget.POST):
            raise ValidationFailed(
                "only a report about a post, resolved, can remove the post", {"field": "remove"}
            )
        closed = await self._store.close_report(
            report.id,
            states[action],
            by=moderator.id,
            resolution=text,
            forwarded=forward,
            now=self._clock(),
        )
        if closed is None:
            raise Conflict("this report was handled already")
        if forward:
            await self._send_flag(closed)
        if remove:
            await self._remove_post(moderator, closed.target, text)
        await self.audit.record(moderator, f"report.{action}", f"report:{report.id}", text)
        if closed.reporter_account_id is not None:
            verdict = "acted upon" if action == "resolve" else "closed without action"
            await self._notifications.notify(
                closed.reporter_account_id,
                "report_handled",
                f"Your report was {verdict}. Thank you for helping."
                + (f" Moderator's note: {text}" if text else ""),
            )
        return closed

    async def _remove_post(self, moderator: Account, uri: str, reason: str) -> None:
        post = await self._store.get_post_by_uri(uri)
        if post is None or post.deleted_at is not None:
            return  # gone already
        author = (
            await self._store.get_account(post.local_account_id) if post.local_account_id else None
        )
        if author is not None:
            await self._posts.delete(author, post.id)  # tombstone, and Delete to its audience
            await self._notifications.notify(
                author.id,
                "post_removed",
                "A moderator removed one of your posts." + (f" Reason: {reason}" if reason else ""),
            )
        else:
            await self._store.mark_post_deleted(uri, self._clock())  # our copy only
        await self.audit.record(moderator, "post.remove", uri, reason)

    async def _send_flag(self, report: Report) -> None:
        assert report.target_actor is not None
        actor = await self._actors.get(report.target_actor)
        objects = [actor.uri]
        if report.target_kind is ReportTarget.POST:
            objects.append(report.target)
        flag = {
            "@context": AS_CONTEXT,
            "id": f"{self._urls.base}/reports/{report.id}/flag",
            "type": "Flag",
            "actor": self._urls.instance_actor,
            "content": report.comment,
            "object": objects,
        }
        # Mastodon sends Flags from its instance actor to the account's own inbox
        # (app/services/report_service.rb, forward_to_origin!).
        await self._deliverer.publish(flag, signer_account_id=None, inboxes=[actor.inbox])

    # --- local accounts ------------------------------------------------------------------

    async def suspend_account(
        self, moderator: Account, username: str, reason: str | None = None
    ) -> Account:
        """The member can no longer sign in or post; their actor answers 410 Gone."""
        return await self._set_suspended(moderator, username, True, reason)

    async def unsuspend_account(
        self, moderator: Account, username: str, reason: str | None = None
    ) -> Account:
        return await self._set_suspended(moderator, username, False, reason)

    async def _set_suspended(
        self, moderator: Account, username: str, suspended: bool, reason: str | None
    ) -> Account:
        require_moderator(moderator)
        return await self.operator.set_suspended(username, suspended, reason, by=moderator)

    # --- remote accounts -----------------------------------------------------------------

    async def restrict_remote(
        self, moderator: Account, actor: str, level: str, reason: str | None = None
    ) -> RemoteRestriction:
        """Silence (posts kept off public timelines and badge pages) or suspend (content
        purged, inbox refused) a remote account given by actor URI or user@domain."""
        require_moderator(moderator)
        try:
            chosen = RestrictionLevel(level)
        except ValueError:
            raise ValidationFailed(
                "the level is silenced or suspended", {"field": "level"}
            ) from None
        text = _reason(reason)
        uri = await self._remote_uri(actor)
        restriction = RemoteRestriction(uri, chosen, text, moderator.id, self._clock())
        await self._store.put_remote_restriction(restriction)
        # Hidden at read time, so lifting a silence lists the posts again.
        await self._store.set_author_hidden(uri, chosen)
        if chosen is RestrictionLevel.SUSPENDED:
            await self._store.delete_remote_actor(uri)
        await self.audit.record(moderator, f"remote.{chosen.value}", uri, text)
        return restriction

    async def lift_remote(self, moderator: Account, actor: str, reason: str | None = None) -> None:
        require_moderator(moderator)
        text = _reason(reason)
        uri = actor.strip() if isinstance(actor, str) else ""
        if not await self._store.delete_remote_restriction(uri):
            raise NotFound("that account is not silenced or suspended")
        await self._store.set_author_hidden(uri, None)
        await self.audit.record(moderator, "remote.lift", uri, text)

    async def remote_restrictions(self, moderator: Account) -> list[RemoteRestriction]:
        require_moderator(moderator)
        return await self._store.list_remote_restrictions()

    async def _remote_uri(self, actor: str) -> str:
        if not isinstance(actor, str) or not actor.strip():
            raise ValidationFailed("give an actor URI or user@domain", {"field": "actor"})
        text = actor.strip()
        if text.startswith(("http://", "https://")):
            if self._urls.is_local(text):
                raise ValidationFailed(
                    "that is an account of this server; suspend it instead", {"field": "actor"}
                )
            return text
        handle = text.lstrip("@")
        if "@" not in handle:
            raise ValidationFailed("give an actor URI or user@domain", {"field": "actor"})
        username, domain = handle.split("@", 1)
        known = await self._store.get_remote_actor_by_handle(username, domain)
        if known is None:
            raise NotFound("no such remote account is known here")
        return known.uri

    # --- domain blocks -------------------------------------------------------------------

    async def block_domain(
        self, admin: Account, domain: str, reason: str | None = None
    ) -> DomainBlock:
        """Refuse the domain's traffic both ways and purge what is cached from it."""
        require_admin(admin)
        return await self.operator.block_domain(domain, reason, by=admin)

    async def unblock_domain(self, admin: Account, domain: str, reason: str | None = None) -> None:
        require_admin(admin)
        await self.operator.unblock_domain(domain, reason, by=admin)

    async def domain_blocks(self, moderator: Account) -> list[DomainBlock]:
        require_moderator(moderator)
        return await self._store.list_domain_blocks()

    # --- the federation hooks ------------------------------------------------------------

    async def inbound_refusal(self, actor_uri: str) -> str | None:
        """Why a signed activity from this actor must be refused (403), or None."""
        return await refused_actor(self._store, actor_uri)

    # --- the audit log -------------------------------------------------------------------

    async def audit_log(
        self, moderator: Account, *, cursor: str | None = None, limit: int | None = None
    ) -> AuditPage:
        require_moderator(moderator)
        size = clean_limit(limit)
        entries = await self._store.list_audit_entries(before=decode_cursor(cursor), limit=size)
        next_cursor = (
            encode_cursor(entries[-1].created_at, entries[-1].id) if len(entries) == size else None
        )
        names: dict[str, str] = {}
        for moderator_id in {entry.moderator_id for entry in entries if entry.moderator_id}:
            account = await self._store.get_account(moderator_id)
            names[moderator_id] = account.username if account else moderator_id
        return AuditPage(entries, next_cursor, names)
