"""Discovery documents (members' Person actors and WebFinger JRDs, badges' Group actors)
rendered once and served from memory as ready-to-send bytes.

Remote servers fetch these far more often than they change: every delivery a peer verifies,
every mention it resolves, every profile it refreshes. Rendering one costs three or more
store reads and a JSON encoding; serving cached bytes costs a dictionary look-up.

Freshness: the process that makes a change forgets the member's documents at once (profile,
display name, avatar, badges, open-to answers all pass through `ProfileService.announce_update`;
suspension through the moderation operator; a badge reviewed, renamed, merged or restored and
an open-to reason renamed or removed clear everything). Other processes sharing the database (more
`serve` processes, workers on MongoDB) keep what they rendered for at most `ttl_seconds`
(`server.document_cache_seconds`), so a change shows everywhere within that time. A suspended
member's actor answers 410 at once in the process that suspended them and within the TTL
elsewhere.
"""

from __future__ import annotations

import json

from federation.webfinger import build_jrd
from fedipoly.errors import Gone
from fedipoly.models import Account
from fedipoly.services.accounts import AccountService, normalise_username
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.document_cache import DocumentCache
from fedipoly.services.profiles import ProfileService
from fedipoly.urls import Urls

ACTOR = "actor"
JRD = "jrd"
BADGE_ACTOR = "badge-actor"


def compact_json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class DiscoveryDocuments:
    """Actor documents and JRDs as bytes, from the cache or freshly rendered."""

    def __init__(
        self,
        cache: DocumentCache,
        accounts: AccountService,
        profiles: ProfileService,
        badge_actors: BadgeActorService,
        urls: Urls,
    ) -> None:
        self._cache = cache
        self._accounts = accounts
        self._profiles = profiles
        self._badge_actors = badge_actors
        self._urls = urls

    async def actor(self, username: str) -> bytes:
        """The member's Person actor (AS2 JSON). NotFound for no such member, Gone when
        suspended (never cached, so it shows as soon as this process forgets the member)."""
        name = normalise_username(username)
        cached = self._cache.get(ACTOR, name)
        if cached is not None:
            return cached
        generation = self._cache.generation
        account = await self._member(name)
        body = compact_json(await self._profiles.actor_document(account))
        self._cache.put(ACTOR, name, body, owner=name, generation=generation)
        return body

    async def badge_actor(self, badge_id: str) -> bytes:
        """An approved badge's Group actor (AS2 JSON); NotFound for any other badge. Every
        change to a badge's status or name clears the cache (ProfileService.forget_all_documents).
        """
        cached = self._cache.get(BADGE_ACTOR, badge_id)
        if cached is not None:
            return cached
        generation = self._cache.generation
        badge = await self._badge_actors.by_id(badge_id)
        body = compact_json(await self._badge_actors.actor_document(badge))
        self._cache.put(
            BADGE_ACTOR, badge_id, body, owner=f"badge {badge_id}", generation=generation
        )
        return body

    def cached_jrd(self, resource: str) -> bytes | None:
        """The JRD a `resource` parameter answered recently, without parsing it again: only
        resources that named a member are stored, so any hit is that member's JRD."""
        return self._cache.get(JRD, resource)

    async def jrd(self, username: str, *, resource: str) -> bytes:
        """The member's WebFinger JRD, remembered under the `resource` that asked for it.
        NotFound / Gone as for `actor`."""
        generation = self._cache.generation
        account = await self._member(normalise_username(username))
        urls = self._urls
        jrd = build_jrd(
            subject=f"acct:{account.username}@{urls.domain}",
            actor_url=urls.actor(account.username),
            profile_url=urls.profile(account.username),
            aliases=[urls.profile(account.username), urls.actor(account.username)],
        )
        body = json.dumps(jrd).encode()
        self._cache.put(JRD, resource, body, owner=account.username, generation=generation)
        return body

    async def _member(self, name: str) -> Account:
        account = await self._accounts.get_by_username(name)
        if account.suspended:
            raise Gone("this account is suspended")
        return account
