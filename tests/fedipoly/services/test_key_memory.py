"""Remote keys are remembered in memory in front of the store (fedipoly/services/key_memory.py):
bounded, least recently used first out, each entry valid for a TTL, replaced when the actor or
its key is fetched again."""

from __future__ import annotations

from datetime import datetime, timedelta

from federation.client import FederationClient
from federation.ports import ActorKey
from federation.ssrf import HostPolicy
from fedipoly.models import utc_now
from fedipoly.services.actors import RemoteActors
from fedipoly.services.key_memory import KEY_MEMORY_TTL, KeyMemory
from fedipoly.services.keys import make_signer
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.contract.test_federation_store import remote_actor


class SteppedClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


def key(name: str, owner: str = "https://remote.example/users/bob") -> ActorKey:
    return ActorKey(key_id=f"{owner}#{name}", owner=owner, public_key_pem=f"PEM {name}")


def test_the_least_recently_used_key_leaves_first_when_full() -> None:
    memory = KeyMemory(utc_now, size=2)
    first, second, third = key("a"), key("b"), key("c")
    memory.put(first)
    memory.put(second)
    assert memory.get(first.key_id) == first  # now the most recently used
    memory.put(third)
    assert len(memory) == 2
    assert memory.get(second.key_id) is None
    assert memory.get(first.key_id) == first and memory.get(third.key_id) == third


def test_a_key_is_forgotten_once_older_than_the_ttl() -> None:
    clock = SteppedClock()
    memory = KeyMemory(clock)
    memory.put(key("a"))
    clock.now += KEY_MEMORY_TTL - timedelta(seconds=1)
    assert memory.get(key("a").key_id) == key("a")
    clock.now += timedelta(seconds=1)
    assert memory.get(key("a").key_id) is None
    assert len(memory) == 0


def test_forgetting_an_owner_drops_all_its_keys_only() -> None:
    memory = KeyMemory(utc_now)
    carol = key("main", owner="https://remote.example/users/carol")
    memory.put(key("old"))
    memory.put(key("new"))
    memory.put(carol)
    memory.forget_owner("https://remote.example/users/bob")
    assert memory.get(key("old").key_id) is None and memory.get(key("new").key_id) is None
    assert memory.get(carol.key_id) == carol


async def test_remote_actors_answer_keys_from_memory_until_the_ttl_then_from_the_store(
    store: Store,
) -> None:
    clock = SteppedClock()
    client = FederationClient(HostPolicy(), "Fedipoly-tests")  # never started: nothing is fetched
    actors = RemoteActors(
        store, client, Urls("https://fedipoly.test"), make_signer("k", "x", clock), clock
    )
    bob = remote_actor("bob")
    await store.upsert_remote_actor(bob)
    assert (await actors.get_key(bob.key_id)) == ActorKey(bob.key_id, bob.uri, bob.public_key_pem)

    # Another process deletes the actor: this one keeps using the key it read, within the TTL.
    await store.delete_remote_actor(bob.uri)
    assert (await actors.get_key(bob.key_id)) is not None
    clock.now += KEY_MEMORY_TTL
    assert await actors.get_key(bob.key_id) is None

    # A key fetched again (rotated) replaces the remembered one at once.
    await store.upsert_remote_actor(bob)
    assert (await actors.get_key(bob.key_id)).public_key_pem == bob.public_key_pem  # type: ignore[union-attr]
    rotated = ActorKey(bob.key_id, bob.uri, "PEM rotated")
    await actors.put_key(rotated)
    assert await actors.get_key(bob.key_id) == rotated
    assert (await store.get_remote_actor_by_key(bob.key_id)).public_key_pem == "PEM rotated"  # type: ignore[union-attr]
