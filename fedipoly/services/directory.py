"""Who an actor is (local member or cached remote actor), for lists and posts in the UI and API."""

from __future__ import annotations

from dataclasses import dataclass

from fedipoly.store.base import Store
from fedipoly.urls import Urls


@dataclass(frozen=True)
class ActorSummary:
    """Who an actor is, for showing next to a post or in a follow list."""

    uri: str
    handle: str  # name@domain, without the leading @
    display_name: str
    url: str  # absolute: the profile page (ours) or the remote profile
    path: str  # for links in our own HTML: a site path for local members, else `url`
    local: bool


def web_url(value: str | None) -> str | None:
    """Only http(s) URLs become links; anything else from a remote document is dropped."""
    return value if value and value.startswith(("https://", "http://")) else None


class ActorDirectory:
    """Describes actors; create one per request so repeated authors are looked up once."""

    def __init__(self, store: Store, urls: Urls) -> None:
        self._store = store
        self._urls = urls
        self._cache: dict[str, ActorSummary] = {}

    async def describe(self, uri: str) -> ActorSummary:
        if uri not in self._cache:
            self._cache[uri] = await self._lookup(uri)
        return self._cache[uri]

    async def _lookup(self, uri: str) -> ActorSummary:
        urls = self._urls
        username = urls.local_username(uri)
        if username is not None:
            account = await self._store.get_account_by_username(username)
            return ActorSummary(
                uri=uri,
                handle=f"{username}@{urls.domain}",
                display_name=account.display_name if account and account.display_name else username,
                url=urls.profile(username),
                path=f"/@{username}",
                local=True,
            )
        remote = await self._store.get_remote_actor(uri)
        link = web_url(remote.profile_url if remote else None) or web_url(uri) or ""
        return ActorSummary(
            uri=uri,
            handle=remote.handle if remote else uri,
            display_name=(remote.display_name or remote.username) if remote else uri,
            url=link,
            path=link,
            local=False,
        )
