"""Which servers this one refuses: domain-block matching shared by the moderation service,
the inbox check and outbound delivery (kept apart so delivery need not import moderation)."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

from fedipoly.errors import ValidationFailed
from fedipoly.moderation_models import DomainBlock, RestrictionLevel
from fedipoly.store.base import Store

DOMAIN_PATTERN = re.compile(
    r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?"
)


def clean_domain(raw: str) -> str:
    """A host[:port], lower-cased; a pasted URL is reduced to its host."""
    if not isinstance(raw, str):
        raise ValidationFailed("give a domain, e.g. spam.example", {"field": "domain"})
    text = raw.strip().lower()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.rstrip(".").split("@")[-1]
    if not DOMAIN_PATTERN.fullmatch(text) or len(text) > 253:
        raise ValidationFailed("give a domain, e.g. spam.example", {"field": "domain"})
    return text


def domain_candidates(netloc: str) -> list[str]:
    """The host[:port] itself, then the host and each parent domain (not for IP addresses)."""
    netloc = netloc.lower()
    host = urlsplit(f"//{netloc}").hostname or netloc
    candidates = [netloc]
    try:
        ipaddress.ip_address(host)
        return list(dict.fromkeys([netloc, host]))
    except ValueError:
        pass
    parts = host.split(".")
    candidates += [".".join(parts[index:]) for index in range(len(parts) - 1)]
    return list(dict.fromkeys(candidates))


async def blocked_domain(store: Store, url_or_host: str) -> DomainBlock | None:
    """The block that covers this URL's (or host's) server, if any."""
    candidates = _server_candidates(url_or_host)
    if not candidates:
        return None
    blocks = await store.find_domain_blocks(list(candidates))
    return blocks[0] if blocks else None


# Every inbox POST and every delivery asks about its peer's server, and peers repeat; the
# parse is pure (~50 us), so it is remembered per actor or inbox URL (bench/README.md).
@lru_cache(maxsize=4096)
def _server_candidates(url_or_host: str) -> tuple[str, ...]:
    netloc = urlsplit(url_or_host).netloc if "://" in url_or_host else url_or_host
    return tuple(domain_candidates(netloc)) if netloc else ()


async def blocked_hosts(store: Store, urls: list[str]) -> set[str]:
    """The host[:port]s among these URLs that a block covers, in one store query (a fan-out
    may name thousands of inboxes on a few hundred servers)."""
    netlocs = {urlsplit(url).netloc.lower() for url in urls} - {""}
    candidates = {netloc: domain_candidates(netloc) for netloc in netlocs}
    wanted = sorted({domain for names in candidates.values() for domain in names})
    blocked = (
        {block.domain for block in await store.find_domain_blocks(wanted)} if wanted else set()
    )
    return {netloc for netloc, names in candidates.items() if blocked.intersection(names)}


async def refused_actor(store: Store, actor_uri: str) -> str | None:
    """Why this server will have nothing to do with that remote actor (its domain is blocked,
    or the account is suspended here), or None."""
    if await blocked_domain(store, actor_uri) is not None:
        return f"{urlsplit(actor_uri).netloc} is blocked by this server"
    restriction = await store.get_remote_restriction(actor_uri)
    if restriction is not None and restriction.level is RestrictionLevel.SUSPENDED:
        return f"{actor_uri} is suspended on this server"
    return None
