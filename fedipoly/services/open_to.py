""" "Open to": the instance's catalogue of collaboration reasons and each member's answers.

Product rule 5, consent before contact: a member says beforehand what they may be contacted
about (guest lecture: yes, angel investing: no), optionally until an end date after which the
answer lapses. The answers go out on the actor twice: as the `PropertyValue` fields Mastodon
shows ("Open to", "Not open to") and as structured `fedipoly:openTo` data that other Fedipoly
instances read for the Space Station and to check incoming requests.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federation.vocab import as_list
from fedipoly.collab_models import OpenToEntry, OpenToReason
from fedipoly.errors import Forbidden, NotFound, ValidationFailed
from fedipoly.models import Account, Clock, Role
from fedipoly.services.audit import AuditLog
from fedipoly.services.text import html_to_text
from fedipoly.store.base import Store

REASON_SLUG = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_REASON_LABEL = 60
MAX_REMOTE_ENTRIES = 100
OPEN_TO_FIELD = "Open to"
NOT_OPEN_TO_FIELD = "Not open to"
# Mastodon keeps a profile field's value up to 2047 characters (FEDERATION.md, "Size limits");
# a long catalogue is cut short there with "…" (the structured data keeps every answer).
MAX_FIELD_VALUE = 2047


@dataclass(frozen=True)
class OpenToLine:
    """One catalogue reason with the member's answer (None when they said nothing, or when
    their answer lapsed)."""

    reason: OpenToReason
    entry: OpenToEntry | None

    @property
    def state(self) -> str:
        """ "yes", "no" or "" (not said)."""
        if self.entry is None:
            return ""
        return "yes" if self.entry.open else "no"


def clean_reason_slug(slug: Any, field: str = "reason") -> str:
    if not isinstance(slug, str) or not REASON_SLUG.match(slug.strip()):
        raise ValidationFailed(
            "a reason is named by a slug of 1 to 64 lower-case letters, digits or _",
            {"field": field},
        )
    return slug.strip()


def clean_reason_label(label: Any) -> str:
    if not isinstance(label, str):
        raise ValidationFailed("label must be a string", {"field": "label"})
    cleaned = " ".join(label.split())
    if not 1 <= len(cleaned) <= MAX_REASON_LABEL:
        raise ValidationFailed(
            f"a reason's label has 1 to {MAX_REASON_LABEL} characters", {"field": "label"}
        )
    return cleaned


def current_lines(
    catalogue: Sequence[OpenToReason], entries: Sequence[OpenToEntry], now: datetime
) -> list[OpenToLine]:
    """Every catalogue reason in catalogue order with the member's live answer."""
    answers = {entry.reason_slug: entry for entry in entries if not entry.lapsed_at(now)}
    return [OpenToLine(reason, answers.get(reason.slug)) for reason in catalogue]


def _until_text(entry: OpenToEntry) -> str:
    return f" (until {entry.until.date().isoformat()})" if entry.until else ""


def _field_value(items: list[str]) -> str:
    """The items comma-separated, as many as fit in MAX_FIELD_VALUE, then "…"."""
    value = ", ".join(items)
    if len(value) <= MAX_FIELD_VALUE:
        return value
    kept = ""
    for item in items:
        longer = f"{kept}, {item}" if kept else item
        if len(longer) + len(", …") > MAX_FIELD_VALUE:
            break
        kept = longer
    return f"{kept}, …" if kept else "…"


def actor_open_to(
    catalogue: Sequence[OpenToReason], entries: Sequence[OpenToEntry], now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The "Open to" / "Not open to" PropertyValue fields, and the `fedipoly:openTo` extension.

    Lapsed answers are left out of both: past its end date an answer counts as not said.
    """
    lines = [line for line in current_lines(catalogue, entries, now) if line.entry is not None]
    fields = []
    yes = [line for line in lines if line.entry is not None and line.entry.open]
    no = [line for line in lines if line.entry is not None and not line.entry.open]
    for name, chosen in ((OPEN_TO_FIELD, yes), (NOT_OPEN_TO_FIELD, no)):
        if chosen:
            value = _field_value(
                [
                    html.escape(line.reason.label) + _until_text(line.entry)
                    for line in chosen
                    if line.entry is not None
                ]
            )
            fields.append({"type": "PropertyValue", "name": name, "value": value})
    extension = {
        "fedipoly:openTo": [
            {
                "type": "fedipoly:OpenTo",
                "name": line.reason.label,
                "fedipoly:reason": line.reason.slug,
                "fedipoly:open": line.entry.open,
                "fedipoly:until": line.entry.until.strftime("%Y-%m-%dT%H:%M:%SZ")
                if line.entry.until
                else None,
            }
            for line in lines
            if line.entry is not None
        ]
    }
    return fields, extension


def with_open_to(
    document: dict[str, Any],
    catalogue: Sequence[OpenToReason],
    entries: Sequence[OpenToEntry],
    now: datetime,
    *,
    after_fields: int,
) -> dict[str, Any]:
    """The actor document with the open-to fields placed after the first `after_fields`
    fields (the position lines) and the extension data added."""
    fields, extension = actor_open_to(catalogue, entries, now)
    attachment = list(document.get("attachment", []))
    attachment[after_fields:after_fields] = fields
    return document | {"attachment": attachment} | extension


def _remote_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def remote_open_to(
    document: dict[str, Any], catalogue: Sequence[OpenToReason]
) -> tuple[bool, tuple[OpenToEntry, ...]]:
    """(is it a Fedipoly actor, its answers) from a remote actor document.

    A Fedipoly actor carries `fedipoly:openTo`. Any other actor (Mastodon, ...) may still say
    what it is open to in a profile field named "Open to"; its comma-separated labels count
    when they name a reason of our catalogue.
    """
    # JSON-LD compaction turns a one-item array into the item itself (Fedify does).
    structured = as_list(document.get("fedipoly:openTo"))
    is_fedipoly = "fedipoly:openTo" in document or "fedipoly:badges" in document
    entries: dict[str, OpenToEntry] = {}
    if "fedipoly:openTo" in document:
        for item in structured[:MAX_REMOTE_ENTRIES]:
            if not isinstance(item, dict):
                continue
            slug = item.get("fedipoly:reason")
            answer = item.get("fedipoly:open")
            if isinstance(slug, str) and REASON_SLUG.match(slug) and isinstance(answer, bool):
                until = _remote_time(item.get("fedipoly:until"))
                entries.setdefault(slug, OpenToEntry(slug, answer, until))
        return is_fedipoly, tuple(entries.values())
    by_label = {reason.label.casefold(): reason.slug for reason in catalogue}
    for field in as_list(document.get("attachment"))[:MAX_REMOTE_ENTRIES]:
        if (
            isinstance(field, dict)
            and field.get("type") == "PropertyValue"
            and isinstance(field.get("name"), str)
            and field["name"].strip().casefold() == OPEN_TO_FIELD.casefold()
            and isinstance(field.get("value"), str)
        ):
            for label in html_to_text(field["value"]).split(","):
                slug = by_label.get(" ".join(label.split()).casefold())
                if slug:
                    entries.setdefault(slug, OpenToEntry(slug, True))
    return is_fedipoly, tuple(entries.values())


Announce = Callable[[Account], Awaitable[None]]


class OpenToService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        announce: Announce,
        *,
        audit: AuditLog,
        catalogue_changed: Callable[[], None] | None = None,
    ) -> None:
        """`announce` tells the member's followers their actor changed (Update{Person});
        `audit` records the admins' catalogue changes; `catalogue_changed` hears of a reason
        renamed or removed (every actor showing it changes: cached ones are dropped)."""
        self._store = store
        self._clock = clock
        self._announce = announce
        self._audit = audit
        self._catalogue_changed = catalogue_changed

    # --- catalogue -----------------------------------------------------------------------

    async def catalogue(self) -> list[OpenToReason]:
        return await self._store.list_open_to_reasons()

    async def reason(self, slug: str) -> OpenToReason:
        found = await self._store.get_open_to_reason(clean_reason_slug(slug))
        if found is None:
            raise NotFound("no such reason in this server's catalogue", {"field": "reason"})
        return found

    async def add_reason(self, admin: Account, slug: str, label: str) -> OpenToReason:
        _require_admin(admin)
        reason = OpenToReason(
            slug=clean_reason_slug(slug, "slug"),
            label=clean_reason_label(label),
            position=len(await self._store.list_open_to_reasons()),
            created_at=self._clock(),
        )
        created = await self._store.create_open_to_reason(reason)
        await self._audit.record(admin, "open_to.add", f"open_to:{created.slug}", created.label)
        return created

    async def rename_reason(self, admin: Account, slug: str, label: str) -> OpenToReason:
        _require_admin(admin)
        cleaned = clean_reason_label(label)
        renamed = await self._store.rename_open_to_reason(clean_reason_slug(slug, "slug"), cleaned)
        if renamed is None:
            raise NotFound("no such reason")
        if self._catalogue_changed is not None:
            self._catalogue_changed()
        await self._audit.record(admin, "open_to.rename", f"open_to:{renamed.slug}", renamed.label)
        return renamed

    async def remove_reason(self, admin: Account, slug: str) -> None:
        """Members' answers for it go too; the reason stops matching anywhere."""
        _require_admin(admin)
        cleaned = clean_reason_slug(slug, "slug")
        if not await self._store.delete_open_to_reason(cleaned):
            raise NotFound("no such reason")
        if self._catalogue_changed is not None:
            self._catalogue_changed()
        await self._audit.record(admin, "open_to.remove", f"open_to:{cleaned}")

    # --- members' answers ----------------------------------------------------------------

    async def lines(self, member: Account) -> list[OpenToLine]:
        """Every reason with the member's live answer, in catalogue order."""
        return current_lines(
            await self._store.list_open_to_reasons(),
            await self._store.member_open_to(member.id),
            self._clock(),
        )

    async def open_reasons(self, member: Account) -> list[OpenToReason]:
        """The reasons the member is open to now: what a request to them may name."""
        return [
            line.reason
            for line in await self.lines(member)
            if line.entry is not None and line.entry.open
        ]

    async def set_answers(
        self, member: Account, answers: Sequence[OpenToEntry]
    ) -> list[OpenToLine]:
        """Replace the member's answers. Every reason must be in the catalogue, once; an end
        date must be in the future. Bad input changes nothing."""
        now = self._clock()
        known = {reason.slug for reason in await self._store.list_open_to_reasons()}
        seen: set[str] = set()
        for index, entry in enumerate(answers):
            slug = clean_reason_slug(entry.reason_slug, f"open_to[{index}].reason")
            if slug not in known:
                raise ValidationFailed(
                    f"{slug!r} is not a reason of this server's catalogue",
                    {"field": f"open_to[{index}].reason"},
                )
            if slug in seen:
                raise ValidationFailed(
                    f"{slug!r} is answered twice", {"field": f"open_to[{index}].reason"}
                )
            seen.add(slug)
            if entry.until is not None and (entry.until.tzinfo is None or entry.until <= now):
                raise ValidationFailed(
                    "an end date must be in the future", {"field": f"open_to[{index}].until"}
                )
        await self._store.set_member_open_to(member.id, list(answers))
        await self._announce(member)
        return await self.lines(member)


def _require_admin(account: Account) -> None:
    if account.role is not Role.ADMIN:
        raise Forbidden("only admins edit the open-to catalogue")
