"""Profiles: basics (display name, follower approval), what a member does (headline, bio,
positions, links, discoverability, avatar), and telling followers when any of it changes."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from fedipoly import render
from fedipoly.errors import NotFound, ValidationFailed
from fedipoly.media_models import AVATAR_TARGET
from fedipoly.models import Account, Clock, Profile, ProfileLink, new_id
from fedipoly.services.delivery import Deliverer
from fedipoly.services.document_cache import DocumentCache
from fedipoly.services.media import MediaPurpose
from fedipoly.services.media_library import UNKNOWN_IMAGE, claim, release
from fedipoly.services.open_to import with_open_to
from fedipoly.services.text import plain_text_to_html
from fedipoly.store.base import Store
from fedipoly.urls import Urls

MAX_DISPLAY_NAME = 100
MAX_HEADLINE = 100
MAX_BIO = 2000
MAX_POSITIONS = 2  # product rule: jobs take little space
MAX_POSITION = 80
MAX_LINKS = 6
MAX_LINK_LABEL = 40
MAX_LINK_URL = 300
MAX_MEDIA_ID = 200

# Bidirectional overrides and isolates reorder what a reader sees (spoofing); no field needs them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _refuse_controls(text: str, field: str, allowed: str = "") -> None:
    for char in text:
        if char in allowed:
            continue
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            raise ValidationFailed(
                "control characters are not allowed in this field", {"field": field}
            )


def clean_line(text: str, field: str, maximum: int) -> str:
    """One line of text: whitespace collapsed, control characters refused, 0..maximum long."""
    _refuse_controls(text, field, allowed="\t\n\r")
    line = " ".join(text.split())
    if len(line) > maximum:
        raise ValidationFailed(f"{field} has at most {maximum} characters", {"field": field})
    return line


def clean_bio(text: str) -> str:
    bio = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    _refuse_controls(bio, "bio", allowed="\t\n")
    if len(bio) > MAX_BIO:
        raise ValidationFailed(f"a bio has at most {MAX_BIO} characters", {"field": "bio"})
    return bio


def clean_positions(positions: Sequence[str]) -> tuple[str, ...]:
    if isinstance(positions, str):
        raise ValidationFailed("positions are a list of lines", {"field": "positions"})
    lines = [clean_line(text, "positions", MAX_POSITION) for text in positions]
    kept = tuple(line for line in lines if line)
    if len(kept) > MAX_POSITIONS:
        raise ValidationFailed(
            f"a profile has at most {MAX_POSITIONS} position lines", {"field": "positions"}
        )
    return kept


def clean_url(url: str, field: str) -> str:
    """An absolute http(s) URL with a host and no credentials, at most MAX_LINK_URL long."""
    url = url.strip()
    problem = None
    if not url or len(url) > MAX_LINK_URL:
        problem = f"a link URL has 1 to {MAX_LINK_URL} characters"
    elif any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        problem = "a link URL cannot contain spaces or control characters"
    else:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            problem = "this link URL is not valid"
        else:
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                problem = "a link must be an http:// or https:// URL with a host name"
            elif parts.username is not None or parts.password is not None:
                problem = "a link URL cannot contain a user name or password"
    if problem:
        raise ValidationFailed(problem, {"field": field})
    return url


def clean_links(links: Sequence[ProfileLink]) -> tuple[ProfileLink, ...]:
    if len(links) > MAX_LINKS:
        raise ValidationFailed(f"a profile has at most {MAX_LINKS} links", {"field": "links"})
    cleaned = []
    for index, link in enumerate(links):
        label = clean_line(link.label, f"links[{index}].label", MAX_LINK_LABEL)
        if not label:
            raise ValidationFailed("every link needs a label", {"field": f"links[{index}].label"})
        cleaned.append(ProfileLink(label=label, url=clean_url(link.url, f"links[{index}].url")))
    return tuple(cleaned)


class ProfileService:
    def __init__(
        self,
        store: Store,
        deliverer: Deliverer,
        urls: Urls,
        clock: Clock,
        *,
        documents: DocumentCache | None = None,
    ) -> None:
        self._store = store
        self._deliverer = deliverer
        self._urls = urls
        self._clock = clock
        self._documents = documents

    async def update_basics(
        self, account: Account, *, display_name: str, manually_approves_followers: bool
    ) -> Account:
        name = " ".join(display_name.split())
        if not 1 <= len(name) <= MAX_DISPLAY_NAME:
            raise ValidationFailed(
                f"a display name has 1 to {MAX_DISPLAY_NAME} characters",
                {"field": "display_name"},
            )
        updated = await self._store.update_account_profile(
            account.id, display_name=name, manually_approves_followers=manually_approves_followers
        )
        if updated is None:
            raise NotFound("no such account")
        await self.announce_update(updated)
        return updated

    async def get(self, account: Account) -> Profile:
        """The member's profile (defaults when they never saved one)."""
        return await self._store.get_profile(account.id)

    async def update_profile(
        self,
        account: Account,
        *,
        headline: str | None = None,
        bio: str | None = None,
        positions: Sequence[str] | None = None,
        links: Sequence[ProfileLink] | None = None,
        discoverable: bool | None = None,
    ) -> Profile:
        """Change the given fields (None keeps one as it is), then tell followers.

        Everything is validated before anything is written: bad input changes nothing.
        """
        new_headline = None if headline is None else clean_line(headline, "headline", MAX_HEADLINE)
        new_bio = None if bio is None else clean_bio(bio)
        new_positions = None if positions is None else clean_positions(positions)
        new_links = None if links is None else clean_links(links)
        current = await self._store.get_profile(account.id)
        updated = replace(
            current,
            headline=current.headline if new_headline is None else new_headline,
            positions=current.positions if new_positions is None else new_positions,
            links=current.links if new_links is None else new_links,
            discoverable=current.discoverable if discoverable is None else bool(discoverable),
            updated_at=self._clock(),
        )
        if new_bio is not None:
            updated = replace(
                updated, bio=new_bio, bio_html=plain_text_to_html(new_bio) if new_bio else ""
            )
        saved = await self._store.save_profile(updated)
        await self.announce_update(account)
        return saved

    async def set_avatar(self, account: Account, media_id: str | None) -> Profile:
        """Point the profile at an avatar the member uploaded (None removes it). Another
        member's upload is refused like an unknown one; the avatar it replaces becomes an
        unattached upload, deleted by the media purge after the retention."""
        if media_id is not None and not 1 <= len(media_id) <= MAX_MEDIA_ID:
            raise ValidationFailed("this media reference is not valid", {"field": "avatar"})
        current = (await self._store.get_profile(account.id)).avatar_media_id
        if media_id is not None and media_id != current:
            refusal = ValidationFailed(UNKNOWN_IMAGE, {"field": "avatar"})
            await claim(
                self._store, account, [media_id], MediaPurpose.AVATAR, AVATAR_TARGET, refusal
            )
        profile = await self._store.set_avatar(account.id, media_id)
        if current is not None and current != media_id:
            await release(self._store, [current], AVATAR_TARGET)
        await self.announce_update(account)
        return profile

    async def actor_document(self, account: Account) -> render.JsonObject:
        """The member's Person actor with profile fields and badges (approved ones only)."""
        profile = await self._store.get_profile(account.id)
        badges = await self._store.member_badges(account.id)
        document = render.person(account, self._urls, profile, badges)
        # "Open to" fields follow the position lines (collaboration reasons, services/open_to.py).
        return with_open_to(
            document,
            await self._store.list_open_to_reasons(),
            await self._store.member_open_to(account.id),
            self._clock(),
            after_fields=len(profile.positions),
        )

    def forget_all_documents(self) -> None:
        """Something every member's actor may show changed (a badge's or an open-to reason's
        name): this process renders them afresh."""
        if self._documents is not None:
            self._documents.clear()

    async def announce_update(self, account: Account) -> None:
        """Send Update{Person} to followers so peers refresh now, not after a day (interop §4.5).

        Every change to what the actor shows comes through here, so this process's cached
        actor document is forgotten here too (services/discovery.py)."""
        if self._documents is not None:
            self._documents.forget(account.username)
        actor_uri = self._urls.actor(account.username)
        update_id = self._urls.activity(account.username, "updates", new_id(self._clock()))
        await self._deliverer.publish(
            render.update_actor(await self.actor_document(account), update_id),
            signer_account_id=account.id,
            inboxes=await self._store.follower_inboxes(actor_uri),
        )
