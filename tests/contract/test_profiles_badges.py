"""Profiles, the badge catalogue, members' badges and activity tags, run against every adapter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fedipoly.errors import BadgeTaken, Conflict, NotFound
from fedipoly.models import (
    Account,
    Badge,
    BadgeStatus,
    MemberBadgeEntry,
    Profile,
    ProfileLink,
    new_id,
    utc_now,
)
from fedipoly.store import Store
from fedipoly.store.seed import DEFAULT_ACTIVITY_TAGS, DEFAULT_BADGES
from tests.contract.test_accounts import new_account


async def member(store: Store, username: str) -> Account:
    return await store.create_account(new_account(username), invite_code=None, now=utc_now())


def badge(
    slug: str,
    name: str | None = None,
    status: BadgeStatus = BadgeStatus.APPROVED,
    created_by: str | None = None,
) -> Badge:
    now = utc_now()
    return Badge(
        id=new_id(now),
        slug=slug,
        display_name=name or slug.replace("_", " ").title(),
        color="#123abc",
        icon="⭐",
        status=status,
        created_by=created_by,
        created_at=now,
    )


# --- the seeded catalogue ------------------------------------------------------------------


async def test_a_new_store_has_the_default_catalogue_once(store: Store) -> None:
    approved = await store.list_badges(BadgeStatus.APPROVED, limit=100)
    assert {slug for slug, *_ in DEFAULT_BADGES} <= {b.slug for b in approved}
    python = await store.get_badge_by_slug("python")
    assert python is not None and python.created_by is None and python.is_public
    tags = await store.list_activity_tag_catalogue()
    assert [(t.phrase, t.badge.slug) for t in tags] == sorted(
        DEFAULT_ACTIVITY_TAGS, key=lambda pair: pair[0].casefold()
    )
    await store.open()  # opening again (another process, a restart) seeds nothing twice
    assert len(await store.list_badges(None, limit=100)) == len(approved)
    assert len(await store.list_activity_tag_catalogue()) == len(tags)
    assert await store.schema_version() >= 4


# --- profiles ------------------------------------------------------------------------------


async def test_a_profile_never_saved_reads_as_defaults(store: Store) -> None:
    alice = await member(store, "alice")
    assert await store.get_profile(alice.id) == Profile(account_id=alice.id)
    assert (await store.get_profile(alice.id)).discoverable is True


async def test_a_saved_profile_reads_back_and_saving_again_replaces_it(store: Store) -> None:
    alice = await member(store, "alice")
    profile = Profile(
        account_id=alice.id,
        headline="Streams chess, writes Python",
        bio="Hello\n\nhttps://example.test",
        bio_html="<p>Hello</p>",
        positions=("Engineer at Acme", "Chess coach"),
        links=(ProfileLink("Blog", "https://blog.example"), ProfileLink("Code", "https://c.ex")),
        discoverable=False,
        updated_at=utc_now(),
    )
    assert await store.save_profile(profile) == profile
    assert await store.get_profile(alice.id) == profile
    shorter = Profile(account_id=alice.id, headline="Only this", updated_at=utc_now())
    assert await store.save_profile(shorter) == shorter
    assert await store.get_profile(alice.id) == shorter


async def test_the_avatar_is_set_apart_from_the_other_fields(store: Store) -> None:
    alice = await member(store, "alice")
    with_avatar = await store.set_avatar(alice.id, "media-1")
    assert with_avatar == Profile(account_id=alice.id, avatar_media_id="media-1")
    saved = await store.save_profile(Profile(account_id=alice.id, headline="Hi"))
    assert saved.avatar_media_id == "media-1" and saved.headline == "Hi"
    cleared = await store.set_avatar(alice.id, None)
    assert cleared.avatar_media_id is None and cleared.headline == "Hi"


# --- the catalogue -------------------------------------------------------------------------


async def test_a_created_badge_reads_back_by_id_and_slug(store: Store) -> None:
    alice = await member(store, "alice")
    new = badge("knitting", "Knitting", BadgeStatus.PENDING, alice.id)
    created = await store.create_badge(new)
    assert created == new
    assert await store.get_badge(new.id) == new
    assert await store.get_badge_by_slug("knitting") == new
    assert await store.get_badge_by_slug("nope") is None
    found = await store.get_badges_by_slugs(["knitting", "python", "nope"])
    assert {b.slug for b in found} == {"knitting", "python"}
    assert await store.get_badges_by_slugs([]) == []


async def test_slugs_are_unique_whatever_the_status(store: Store) -> None:
    await store.create_badge(badge("knitting", status=BadgeStatus.REJECTED))
    with pytest.raises(BadgeTaken) as caught:
        await store.create_badge(badge("knitting", "Another knitting"))
    assert isinstance(caught.value, Conflict)
    with pytest.raises(BadgeTaken):
        await store.create_badge(badge("python"))  # a seeded one
    assert len(await store.list_badges(None, prefix="knitting", limit=10)) == 1


async def test_badges_list_by_status_and_creator_in_slug_pages(store: Store) -> None:
    alice, bob = await member(store, "alice"), await member(store, "bob")
    for slug in ("zz_a", "zz_b", "zz_c"):
        await store.create_badge(badge(slug, status=BadgeStatus.PENDING, created_by=alice.id))
    await store.create_badge(badge("zz_d", status=BadgeStatus.PENDING, created_by=bob.id))
    await store.create_badge(badge("zz_e", status=BadgeStatus.REJECTED, created_by=alice.id))
    pending = await store.list_badges(BadgeStatus.PENDING, limit=10)
    assert [b.slug for b in pending] == ["zz_a", "zz_b", "zz_c", "zz_d"]
    mine = await store.list_badges(BadgeStatus.PENDING, created_by=alice.id, limit=10)
    assert [b.slug for b in mine] == ["zz_a", "zz_b", "zz_c"]
    # keyset pages over everything: each badge exactly once, in slug order
    seen: list[str] = []
    after = None
    while page := await store.list_badges(None, after=after, limit=4):
        seen += [b.slug for b in page]
        after = page[-1].slug
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(DEFAULT_BADGES) + 5


async def test_a_prefix_matches_the_start_of_any_word_of_name_or_slug(store: Store) -> None:
    await store.create_badge(badge("rust_lang", "Rust programming language"))

    async def slugs(prefix: str) -> list[str]:
        return [
            b.slug for b in await store.list_badges(BadgeStatus.APPROVED, prefix=prefix, limit=50)
        ]

    assert await slugs("speak") == ["public_speaking"]
    assert await slugs("public sp") == ["public_speaking"]
    assert await slugs("source") == ["open_source"]
    assert await slugs("lang") == ["rust_lang"]
    assert await slugs("programming lang") == ["rust_lang"]
    assert await slugs("prog") == ["programming", "rust_lang"]
    assert await slugs("peaking") == []  # not at the start of a word
    assert await slugs("xylophone") == []


async def test_search_candidates_share_the_first_letters_of_a_query_word(store: Store) -> None:
    alice = await member(store, "alice")
    await store.create_badge(badge("pyramids", "Pyramids", BadgeStatus.PENDING, alice.id))
    approved = await store.search_badges("pyhton", status=BadgeStatus.APPROVED, limit=50)
    assert [b.slug for b in approved] == ["python"]  # misspelt after two letters: still there
    both = await store.search_badges("pyhton", status=None, limit=50)
    assert [b.slug for b in both] == ["pyramids", "python"]
    mine = await store.search_badges(
        "pyhton", status=BadgeStatus.PENDING, created_by=alice.id, limit=50
    )
    assert [b.slug for b in mine] == ["pyramids"]
    several = await store.search_badges("publc speking", status=BadgeStatus.APPROVED, limit=50)
    assert [b.slug for b in several] == ["public_speaking"]
    two_words = await store.search_badges("chss musc", status=BadgeStatus.APPROVED, limit=50)
    assert [b.slug for b in two_words] == ["chess", "music"]
    assert len(await store.search_badges("p", status=None, limit=2)) == 2
    assert await store.search_badges("  ", status=None, limit=50) == []


async def test_a_review_changes_status_once(store: Store) -> None:
    alice, mod = await member(store, "alice"), await member(store, "mod")
    await store.create_badge(badge("knitting", status=BadgeStatus.PENDING, created_by=alice.id))
    now = utc_now()
    approved = await store.set_badge_status(
        "knitting",
        BadgeStatus.APPROVED,
        reviewer=mod.id,
        reason=None,
        now=now,
        expected=BadgeStatus.PENDING,
    )
    assert approved is not None and approved.status is BadgeStatus.APPROVED
    assert approved.reviewed_by == mod.id and approved.reviewed_at == now
    again = await store.set_badge_status(
        "knitting",
        BadgeStatus.REJECTED,
        reviewer=mod.id,
        reason="spam",
        now=now,
        expected=BadgeStatus.PENDING,
    )
    assert again is None
    assert (await store.get_badge_by_slug("knitting")).status is BadgeStatus.APPROVED  # type: ignore[union-attr]
    forced = await store.set_badge_status(
        "knitting", BadgeStatus.REJECTED, reviewer=mod.id, reason="spam", now=now
    )
    assert forced is not None and forced.reject_reason == "spam"
    missing = await store.set_badge_status(
        "nope", BadgeStatus.APPROVED, reviewer=None, reason=None, now=now
    )
    assert missing is None


# --- members' badges -----------------------------------------------------------------------


async def ids(store: Store, *slugs: str) -> list[str]:
    found = {b.slug: b.id for b in await store.get_badges_by_slugs(list(slugs))}
    return [found[slug] for slug in slugs]


async def test_a_members_badges_keep_their_order_and_featured_marks(store: Store) -> None:
    alice = await member(store, "alice")
    python, chess, music = await ids(store, "python", "chess", "music")
    now = utc_now()
    entries = [
        MemberBadgeEntry(chess, featured=True),
        MemberBadgeEntry(python),
        MemberBadgeEntry(music, featured=True),
    ]
    held = await store.set_member_badges(alice.id, entries, now=now)
    assert [(h.badge.slug, h.position, h.featured) for h in held] == [
        ("chess", 0, True),
        ("python", 1, False),
        ("music", 2, True),
    ]
    assert await store.member_badges(alice.id) == held
    assert await store.member_badges("nobody") == []


async def test_setting_badges_replaces_the_list_and_keeps_added_times(store: Store) -> None:
    alice = await member(store, "alice")
    python, chess, music = await ids(store, "python", "chess", "music")
    first = utc_now() - timedelta(days=1)
    await store.set_member_badges(
        alice.id, [MemberBadgeEntry(python), MemberBadgeEntry(chess)], now=first
    )
    later = utc_now()
    held = await store.set_member_badges(
        alice.id, [MemberBadgeEntry(music), MemberBadgeEntry(python, featured=True)], now=later
    )
    assert [(h.badge.slug, h.featured) for h in held] == [("music", False), ("python", True)]
    holders = await store.badge_holders(python, discoverable_only=False, before=None, limit=10)
    assert [h.added_at for h in holders] == [first]
    assert await store.count_badge_holders(chess, discoverable_only=False) == 0
    assert await store.set_member_badges(alice.id, [], now=later) == []


async def test_a_bad_badge_list_changes_nothing(store: Store) -> None:
    alice = await member(store, "alice")
    python, chess = await ids(store, "python", "chess")
    before = await store.set_member_badges(alice.id, [MemberBadgeEntry(python)], now=utc_now())
    with pytest.raises(NotFound):
        await store.set_member_badges(
            alice.id, [MemberBadgeEntry(chess), MemberBadgeEntry("missing")], now=utc_now()
        )
    with pytest.raises(ValueError):
        await store.set_member_badges(
            alice.id, [MemberBadgeEntry(chess), MemberBadgeEntry(chess)], now=utc_now()
        )
    assert await store.member_badges(alice.id) == before


async def test_holders_are_newest_first_and_discoverable_ones_when_asked(store: Store) -> None:
    chess = (await ids(store, "chess"))[0]
    start = utc_now()
    accounts = []
    added = {}
    for index in range(5):
        account = await member(store, f"player{index}")
        accounts.append(account)
        # two pairs share an added_at: the account id breaks the tie
        added[account.id] = start + timedelta(seconds=index // 2)
        await store.set_member_badges(account.id, [MemberBadgeEntry(chess)], now=added[account.id])
    hidden = accounts[1]
    await store.save_profile(Profile(account_id=hidden.id, discoverable=False))

    async def walk(discoverable_only: bool) -> list[str]:
        seen: list[str] = []
        before = None
        while page := await store.badge_holders(
            chess, discoverable_only=discoverable_only, before=before, limit=2
        ):
            seen += [h.account.id for h in page]
            before = (page[-1].added_at, page[-1].account.id)
        return seen

    everyone = sorted(added, key=lambda account_id: (added[account_id], account_id), reverse=True)
    assert await walk(False) == everyone
    assert await walk(True) == [i for i in everyone if i != hidden.id]
    assert await store.count_badge_holders(chess, discoverable_only=False) == 5
    assert await store.count_badge_holders(chess, discoverable_only=True) == 4
    first = (await store.badge_holders(chess, discoverable_only=True, before=None, limit=1))[0]
    assert first.account.username.startswith("player") and not first.featured


async def test_discoverability_applies_whenever_it_changes(store: Store) -> None:
    alice = await member(store, "alice")
    chess, music = await ids(store, "chess", "music")
    await store.save_profile(Profile(account_id=alice.id, discoverable=False))
    await store.set_member_badges(alice.id, [MemberBadgeEntry(chess)], now=utc_now())
    assert await store.count_badge_holders(chess, discoverable_only=True) == 0
    await store.save_profile(Profile(account_id=alice.id, discoverable=True))
    assert await store.count_badge_holders(chess, discoverable_only=True) == 1
    await store.set_member_badges(
        alice.id, [MemberBadgeEntry(chess), MemberBadgeEntry(music)], now=utc_now()
    )
    await store.save_profile(Profile(account_id=alice.id, discoverable=False))
    for badge_id in (chess, music):
        assert await store.count_badge_holders(badge_id, discoverable_only=True) == 0
        assert (
            await store.badge_holders(badge_id, discoverable_only=True, before=None, limit=5) == []
        )
        assert await store.count_badge_holders(badge_id, discoverable_only=False) == 1


# --- activity tags -------------------------------------------------------------------------


async def test_activity_tags_are_unique_by_phrase_and_point_at_a_badge(store: Store) -> None:
    knitting = await store.create_badge(badge("knitting"))
    added = await store.add_activity_tag("Knitted a scarf", knitting.id, now=utc_now())
    assert added.phrase == "Knitted a scarf" and added.badge == knitting
    with pytest.raises(Conflict):
        await store.add_activity_tag("knitted  A SCARF", knitting.id, now=utc_now())
    with pytest.raises(Conflict):
        await store.add_activity_tag("Gave a talk", knitting.id, now=utc_now())  # seeded
    with pytest.raises(NotFound):
        await store.add_activity_tag("Did nothing", "missing", now=utc_now())
    catalogue = await store.list_activity_tag_catalogue()
    assert [t.phrase.casefold() for t in catalogue] == sorted(
        t.phrase.casefold() for t in catalogue
    )
    assert ("Knitted a scarf", "knitting") in [(t.phrase, t.badge.slug) for t in catalogue]
    assert len(catalogue) == len(DEFAULT_ACTIVITY_TAGS) + 1
