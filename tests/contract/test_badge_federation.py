"""Badge actors' announces and preferences, badge peers and their directories, on every adapter."""

from __future__ import annotations

from datetime import timedelta

from fedipoly.badge_federation_models import BadgeAnnounce, BadgePeer, PeerBadge
from fedipoly.models import utc_now
from fedipoly.store import Store
from tests.contract.test_federation_store import post, remote_actor

CHESS, PYTHON = "badge-chess", "badge-python"
POST_A, POST_B = (
    "https://local.test/users/alice/statuses/a",
    "https://local.test/users/alice/statuses/b",
)


def announce(
    badge_id: str, post_uri: str, *, author: str = "alice-id", seconds: int = 0
) -> BadgeAnnounce:
    moment = utc_now() + timedelta(seconds=seconds)
    return BadgeAnnounce(
        badge_id=badge_id,
        post_uri=post_uri,
        post_id=post_uri.rsplit("/", 1)[-1],
        author_account_id=author,
        announce_id=f"https://local.test/badge-actors/{badge_id}#announces/{post_uri[-1]}{seconds}",
        created_at=moment,
    )


def peer_badge(host: str, slug: str, name: str, holders: int = 3) -> PeerBadge:
    return PeerBadge(
        host=host,
        slug=slug,
        name=name,
        normalized_name=name.casefold(),
        icon="♟",
        holder_count=holders,
        actor_uri=f"https://{host}/badge-actors/{slug}",
        url=f"https://{host}/badges/{slug}",
        updated=utc_now(),
        fetched_at=utc_now(),
    )


async def test_an_announce_is_recorded_once_and_listed_newest_first(store: Store) -> None:
    assert await store.record_badge_announce(announce(CHESS, POST_A))
    assert not await store.record_badge_announce(announce(CHESS, POST_A, seconds=1))
    assert await store.record_badge_announce(announce(CHESS, POST_B, seconds=2))
    assert await store.record_badge_announce(announce(PYTHON, POST_A, seconds=3))

    listed = await store.list_badge_announces(CHESS, before=None, limit=10)
    assert [item.post_uri for item in listed] == [POST_B, POST_A]
    assert await store.count_badge_announces(CHESS) == 2
    first_page = await store.list_badge_announces(CHESS, before=None, limit=1)
    cursor = (first_page[0].created_at, first_page[0].announce_id)
    rest = await store.list_badge_announces(CHESS, before=cursor, limit=10)
    assert [item.post_uri for item in rest] == [POST_A]
    assert {item.badge_id for item in await store.badge_announces_of_post(POST_A)} == {
        CHESS,
        PYTHON,
    }
    assert [item.post_uri for item in await store.badge_announces_of_author("alice-id", CHESS)] == [
        POST_A,
        POST_B,
    ]


async def test_a_withdrawn_announce_leaves_the_lists_but_counts_for_rate_limits(
    store: Store,
) -> None:
    since = utc_now() - timedelta(minutes=1)
    await store.record_badge_announce(announce(CHESS, POST_A))
    withdrawn = await store.withdraw_badge_announce(CHESS, POST_A, utc_now())
    assert withdrawn is not None and not withdrawn.active
    assert await store.withdraw_badge_announce(CHESS, POST_A, utc_now()) is None
    assert await store.badge_announces_of_post(POST_A) == []
    assert await store.count_badge_announces(CHESS) == 0
    assert await store.count_recent_badge_announces(since, badge_id=CHESS) == 1
    assert await store.count_recent_badge_announces(since, author_account_id="alice-id") == 1
    assert await store.count_recent_badge_announces(since, author_account_id="bob-id") == 0
    later = utc_now() + timedelta(hours=2)
    assert await store.count_recent_badge_announces(later, badge_id=CHESS) == 0

    # Announced again (the badge came back in an edit): active, with the new id.
    again = announce(CHESS, POST_A, seconds=5)
    assert await store.record_badge_announce(again)
    [active] = await store.badge_announces_of_post(POST_A)
    assert active.announce_id == again.announce_id and active.active


async def test_the_announce_preference_is_unset_until_chosen(store: Store) -> None:
    assert await store.get_badge_announce_preference("alice-id") is None
    await store.set_badge_announce_preference("alice-id", False)
    assert await store.get_badge_announce_preference("alice-id") is False
    await store.set_badge_announce_preference("alice-id", True)
    assert await store.get_badge_announce_preference("alice-id") is True


async def test_peers_are_saved_claimed_when_due_and_keep_their_directory(store: Store) -> None:
    now = utc_now()
    saved = await store.save_badge_peer(
        BadgePeer(host="b.example", approved=False, added_at=now, next_fetch_at=now)
    )
    assert saved.host == "b.example" and not saved.approved and saved.fetched_at is None
    await store.save_badge_peer(
        BadgePeer(
            host="a.example", approved=True, added_at=now, next_fetch_at=now + timedelta(hours=1)
        )
    )
    approved = await store.save_badge_peer(
        BadgePeer(
            host="b.example", approved=True, added_at=now + timedelta(days=1), next_fetch_at=now
        )
    )
    assert approved.approved and approved.added_at == saved.added_at  # first listing kept
    assert [peer.host for peer in await store.list_badge_peers()] == ["a.example", "b.example"]

    claimed = await store.claim_due_badge_peer(now, lease_seconds=60)
    assert claimed is not None and claimed.host == "b.example"
    assert await store.claim_due_badge_peer(now, lease_seconds=60) is None  # leased, a is not due

    badges = [peer_badge("b.example", "chess", "Chess"), peer_badge("b.example", "go", "Go", 1)]
    await store.record_badge_peer_fetch(
        "b.example",
        fetched_at=now,
        next_fetch_at=now + timedelta(hours=1),
        error=None,
        badges=badges,
    )
    peer = await store.get_badge_peer("b.example")
    assert peer is not None and peer.badge_count == 2 and peer.fetched_at == now
    [chess] = await store.peer_badges_named("chess")
    assert (chess.host, chess.slug, chess.holder_count) == ("b.example", "chess", 3)
    assert await store.get_peer_badge_by_actor("https://b.example/badge-actors/go") is not None
    assert [badge.slug for badge in await store.list_peer_badges("b.example")] == ["chess", "go"]
    assert await store.list_peer_badges("a.example") == []

    # A later read replaces the whole directory; a failed one keeps it and records the error.
    await store.record_badge_peer_fetch(
        "b.example",
        fetched_at=now,
        next_fetch_at=now,
        error=None,
        badges=[peer_badge("b.example", "go", "Go", 7)],
    )
    assert await store.peer_badges_named("chess") == []
    await store.record_badge_peer_fetch(
        "b.example", fetched_at=None, next_fetch_at=now, error="timeout", badges=None
    )
    peer = await store.get_badge_peer("b.example")
    assert peer is not None and peer.last_error == "timeout" and peer.badge_count == 1
    [go] = await store.peer_badges_named("go")
    assert go.holder_count == 7

    assert await store.delete_badge_peer("b.example")
    assert not await store.delete_badge_peer("b.example")
    assert await store.peer_badges_named("go") == []


async def test_known_remote_domains_are_the_instances_met(store: Store) -> None:
    await store.upsert_remote_actor(remote_actor("carol", "zeta.example"))
    await store.upsert_remote_actor(remote_actor("dave", "alpha.example"))
    await store.upsert_remote_actor(remote_actor("erin", "alpha.example"))
    assert await store.known_remote_domains(limit=10) == ["alpha.example", "zeta.example"]
    assert await store.known_remote_domains(limit=1) == ["alpha.example"]


async def test_badge_entries_are_added_and_removed_per_badge(store: Store) -> None:
    peer_post = post("https://peer.example/users/carol", published=utc_now())
    await store.insert_post(peer_post)

    async def on_page(badge_id: str) -> bool:
        return [p.id for p in await store.badge_timeline(badge_id, before=None, limit=5)] == [
            peer_post.id
        ]

    await store.add_badge_entries(peer_post, [CHESS])
    await store.add_badge_entries(peer_post, [PYTHON, CHESS])  # adds, keeps, no duplicates
    assert await on_page(CHESS) and await on_page(PYTHON)
    await store.remove_badge_entries(peer_post.id, [CHESS])
    assert not await on_page(CHESS) and await on_page(PYTHON)
    await store.remove_badge_entries(peer_post.id, [CHESS])  # already off: nothing changes
    assert await on_page(PYTHON)
