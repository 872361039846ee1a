"""The discovery document cache: changes made by another process (straight to the store) show
once the TTL has passed; the cache stays bounded; a render that raced a change is not kept."""

from __future__ import annotations

import json

import pytest

from federation.client import FederationClient
from federation.ssrf import HostPolicy
from fedipoly.config import RegistrationConfig, SecurityConfig
from fedipoly.errors import Gone, NotFound
from fedipoly.models import utc_now
from fedipoly.services.accounts import AccountService
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.discovery import DiscoveryDocuments
from fedipoly.services.document_cache import DocumentCache
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.fedipoly.services.conftest import make_member

TTL = 5.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def documents_over(
    store: Store, profiles: ProfileService, urls: Urls, cache: DocumentCache
) -> DiscoveryDocuments:
    accounts = AccountService(store, RegistrationConfig(), SecurityConfig(), utc_now)
    client = FederationClient(HostPolicy(), "Fedipoly-tests")  # never started
    deliverer = Deliverer(store, client, urls, utc_now, "unused instance key")
    badge_actors = BadgeActorService(store, deliverer, urls, utc_now)
    return DiscoveryDocuments(cache, accounts, profiles, badge_actors, urls)


async def test_another_process_changes_show_once_the_ttl_has_passed(
    store: Store, profiles: ProfileService, urls: Urls
) -> None:
    clock = FakeMonotonic()
    documents = documents_over(store, profiles, urls, DocumentCache(TTL, monotonic=clock))
    alice = await make_member(store, "alice")
    resource = f"acct:alice@{urls.domain}"
    assert json.loads(await documents.actor("alice"))["preferredUsername"] == "alice"
    assert documents.cached_jrd(resource) is None
    await documents.jrd("alice", resource=resource)
    assert documents.cached_jrd(resource) is not None

    # Another process suspends alice and renames her: this process does not hear of it.
    await store.update_account_profile(
        alice.id, display_name="Renamed", manually_approves_followers=False
    )
    await store.set_account_suspended(alice.id, True)
    clock.now += TTL - 0.1
    assert json.loads(await documents.actor("alice"))["name"] != "Renamed"
    assert documents.cached_jrd(resource) is not None

    clock.now += 0.2  # past the TTL: read afresh, and she is gone
    with pytest.raises(Gone):
        await documents.actor("alice")
    assert documents.cached_jrd(resource) is None
    with pytest.raises(Gone):
        await documents.jrd("alice", resource=resource)
    with pytest.raises(NotFound):
        await documents.actor("nobody")


async def test_a_ttl_of_zero_renders_every_time(
    store: Store, profiles: ProfileService, urls: Urls
) -> None:
    documents = documents_over(store, profiles, urls, DocumentCache(0))
    alice = await make_member(store, "alice")
    await documents.actor("alice")
    await store.update_account_profile(
        alice.id, display_name="Renamed", manually_approves_followers=False
    )
    assert json.loads(await documents.actor("alice"))["name"] == "Renamed"


def test_forgetting_a_member_drops_all_their_documents_and_no_one_elses() -> None:
    cache = DocumentCache(TTL, monotonic=FakeMonotonic())
    generation = cache.generation
    cache.put("actor", "alice", b"a", owner="alice", generation=generation)
    cache.put("jrd", "acct:ALICE@x", b"j", owner="alice", generation=generation)
    cache.put("actor", "bob", b"b", owner="bob", generation=generation)
    cache.forget("Alice")
    assert cache.get("actor", "alice") is None and cache.get("jrd", "acct:ALICE@x") is None
    assert cache.get("actor", "bob") == b"b"
    cache.clear()
    assert len(cache) == 0


def test_a_document_rendered_before_a_change_is_not_kept() -> None:
    cache = DocumentCache(TTL, monotonic=FakeMonotonic())
    before_render = cache.generation
    cache.forget("alice")  # the change lands while the old data is being rendered
    cache.put("actor", "alice", b"stale", owner="alice", generation=before_render)
    assert cache.get("actor", "alice") is None
    cache.put("actor", "alice", b"fresh", owner="alice", generation=cache.generation)
    assert cache.get("actor", "alice") == b"fresh"


def test_the_cache_keeps_at_most_max_entries() -> None:
    cache = DocumentCache(TTL, monotonic=FakeMonotonic(), max_entries=3)
    for serial in range(5):
        cache.put("jrd", f"r{serial}", b"x", owner="alice", generation=cache.generation)
    assert len(cache) == 3
    assert cache.get("jrd", "r0") is None and cache.get("jrd", "r4") == b"x"
