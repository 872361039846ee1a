"""BadgeService: creating, visibility of pending badges, member lists, moderation and search."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fedipoly.errors import (
    BadgeTaken,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from fedipoly.models import Account, Badge, BadgeStatus, MemberBadge, Role
from fedipoly.names import badge_hashtag
from fedipoly.services.badges import MAX_PENDING_PER_MEMBER, BadgeService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.fedipoly.services.conftest import add_remote_follower, make_member, sent_activities


async def create(badges: BadgeService, creator: Account, slug: str, name: str = "") -> Badge:
    return await badges.create_badge(
        creator,
        slug=slug,
        display_name=name or slug.replace("_", " ").title(),
        color="#AA00ff",
        icon="🧶",
    )


def slugs(items: Sequence[Badge | MemberBadge]) -> list[str]:
    return [item.badge.slug if isinstance(item, MemberBadge) else item.slug for item in items]


# --- hashtags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug", "hashtag"),
    [
        ("Open source", "open_source", "OpenSource"),
        ("public speaking", "public_speaking", "PublicSpeaking"),
        ("JavaScript", "javascript", "JavaScript"),
        ("Node.js", "nodejs", "NodeJs"),
        ("C++", "cpp", "Cpp"),
        ("C#", "csharp", "CSharp"),
        ("R&D", "r_and_d", "RAndD"),
        ("Sci-fi writing", "scifi", "SciFiWriting"),
        ("Web3", "web3", "Web3"),
        ("Café racers", "cafe_racers", "CaféRacers"),
        ("🎲🎲", "board_games", "board_games"),
        ("2024", "y2024", "y2024"),
        ("1999", "1999", "Badge1999"),
    ],
)
def test_hashtags_are_camel_case_without_hyphens(name: str, slug: str, hashtag: str) -> None:
    assert badge_hashtag(name, slug) == hashtag
    assert "-" not in hashtag and " " not in hashtag


# --- creating ------------------------------------------------------------------------------


async def test_a_new_badge_is_pending_and_its_creator_holds_it_at_once(
    store: Store, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    created = await create(badges, alice, "knitting", "  Knitting   socks ")
    assert created.status is BadgeStatus.PENDING and created.created_by == alice.id
    assert created.display_name == "Knitting socks" and created.color == "#aa00ff"
    assert created.hashtag == "KnittingSocks"
    assert slugs(await badges.member_badges(alice, alice)) == ["knitting"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"slug": "Knitting"}, "slug"),
        ({"slug": "knit-ting"}, "slug"),
        ({"slug": ""}, "slug"),
        ({"slug": "k" * 65}, "slug"),
        ({"slug": "knitting\n"}, "slug"),
        ({"display_name": " "}, "display_name"),
        ({"display_name": "n" * 65}, "display_name"),
        ({"color": "red"}, "color"),
        ({"color": "#12345"}, "color"),
        ({"icon": ""}, "icon"),
        ({"icon": "123456789"}, "icon"),
        ({"icon": "a b"}, "icon"),
    ],
)
async def test_bad_badge_fields_are_refused_and_create_nothing(
    store: Store, badges: BadgeService, fields: dict[str, str], field: str
) -> None:
    alice = await make_member(store, "alice")
    values = {"slug": "knitting", "display_name": "Knitting", "color": "#aa00ff", "icon": "🧶"}
    with pytest.raises(ValidationFailed) as caught:
        await badges.create_badge(alice, **(values | fields))
    assert caught.value.detail == {"field": field}
    assert await store.get_badge_by_slug("knitting") is None
    assert await badges.member_badges(alice, alice) == []


async def test_a_taken_slug_is_a_conflict(store: Store, badges: BadgeService) -> None:
    alice = await make_member(store, "alice")
    with pytest.raises(BadgeTaken):
        await create(badges, alice, "python")
    assert await badges.member_badges(alice, alice) == []


async def test_a_member_can_only_have_a_few_badges_waiting(
    store: Store, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    for index in range(MAX_PENDING_PER_MEMBER):
        await create(badges, alice, f"hobby_{index}")
    with pytest.raises(RateLimited):
        await create(badges, alice, "one_more")


# --- visibility of pending badges ----------------------------------------------------------


async def test_pending_badges_are_visible_only_to_their_creator_and_moderators(
    store: Store, badges: BadgeService
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    moderator = await make_member(store, "mod", Role.MODERATOR)
    await create(badges, alice, "knitting")
    assert (await badges.get_badge("knitting", alice)).slug == "knitting"
    assert (await badges.get_badge("knitting", moderator)).slug == "knitting"
    for viewer in (bob, None):
        with pytest.raises(NotFound):
            await badges.get_badge("knitting", viewer)
        with pytest.raises(NotFound):
            await badges.holders("knitting", viewer)
        with pytest.raises(NotFound):
            await badges.count_holders("knitting", viewer)
        page = await badges.catalogue(viewer, limit=100)
        assert "knitting" not in slugs(page.badges) and "python" in slugs(page.badges)
        assert "knitting" not in slugs(await badges.search(viewer, "knitting"))
        assert slugs(await badges.member_badges(alice, viewer)) == []
    with pytest.raises(NotFound):
        await badges.add_badges(bob, ["knitting"])
    assert "knitting" in slugs((await badges.catalogue(alice, limit=100)).badges)
    assert slugs(await badges.search(alice, "knitting")) == ["knitting"]
    assert "knitting" not in slugs((await badges.catalogue(moderator, limit=100)).badges)
    holders = await badges.holders("knitting", alice)
    assert [h.account.id for h in holders.holders] == [alice.id]


async def test_a_moderator_sees_but_cannot_wear_someone_elses_pending_badge(
    store: Store, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    moderator = await make_member(store, "mod", Role.MODERATOR)
    await create(badges, alice, "knitting")
    with pytest.raises(ValidationFailed):
        await badges.add_badges(moderator, ["knitting"])


async def test_the_catalogue_pages_through_approved_and_own_pending_badges(
    store: Store, badges: BadgeService
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    await create(badges, alice, "aaa_mine")
    await create(badges, bob, "aab_bobs")
    await create(badges, alice, "zzz_mine")
    seen: list[str] = []
    cursor = None
    while True:
        page = await badges.catalogue(alice, cursor=cursor, limit=4)
        seen += slugs(page.badges)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen[0] == "aaa_mine" and seen[-1] == "zzz_mine" and "aab_bobs" not in seen
    assert seen == sorted(set(seen)) and "python" in seen
    with pytest.raises(ValidationFailed):
        await badges.catalogue(alice, cursor="Not A Slug")
    with pytest.raises(ValidationFailed):
        await badges.catalogue(alice, limit=0)


# --- members' badge lists ------------------------------------------------------------------


async def test_members_add_remove_and_reorder_badges_in_bulk(
    store: Store, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    held = await badges.add_badges(alice, ["chess", "python", "chess", "music"])
    assert slugs(held) == ["chess", "python", "music"]
    held = await badges.add_badges(alice, ["python", "writing"])  # held ones stay put
    assert slugs(held) == ["chess", "python", "music", "writing"]
    held = await badges.reorder(alice, ["writing", "music", "chess", "python"])
    assert slugs(held) == ["writing", "music", "chess", "python"]
    assert [item.position for item in held] == [0, 1, 2, 3]
    held = await badges.remove_badges(alice, ["music", "python", "design"])
    assert slugs(held) == ["writing", "chess"]


async def test_bad_badge_list_changes_are_refused_and_change_nothing(
    store: Store, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    before = await badges.add_badges(alice, ["chess", "python"])
    with pytest.raises(NotFound):
        await badges.add_badges(alice, ["music", "no_such_badge"])
    with pytest.raises(ValidationFailed):
        await badges.add_badges(alice, ["Music"])
    with pytest.raises(ValidationFailed):
        await badges.add_badges(alice, "chess")  # a string, not a list of slugs
    for order in (["chess"], ["chess", "python", "music"], ["chess", "chess"]):
        with pytest.raises(ValidationFailed):
            await badges.reorder(alice, order)
    assert await badges.member_badges(alice, alice) == before


async def test_at_most_ten_badges_are_featured(store: Store, badges: BadgeService) -> None:
    alice = await make_member(store, "alice")
    everything = [badge.slug for badge in (await badges.catalogue(None, limit=100)).badges]
    assert len(everything) > 10
    await badges.add_badges(alice, everything)
    with pytest.raises(ValidationFailed) as caught:
        await badges.set_featured(alice, everything[:11])
    assert caught.value.status == 400
    held = await badges.set_featured(alice, everything[:10])
    assert [item.badge.slug for item in held if item.featured] == everything[:10]
    held = await badges.set_featured(alice, [everything[-1]])
    assert [item.badge.slug for item in held if item.featured] == [everything[-1]]
    assert slugs(held) == everything  # featuring does not reorder
    with pytest.raises(ValidationFailed):
        await badges.set_featured(alice, ["knitting"])  # not held
    reordered = await badges.reorder(alice, list(reversed(everything)))
    assert [item.badge.slug for item in reordered if item.featured] == [everything[-1]]


async def test_public_badge_changes_tell_followers_pending_ones_do_not(
    store: Store, urls: Urls, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    await add_remote_follower(store, urls, alice)
    await badges.add_badges(alice, ["chess"])
    assert len(await sent_activities(store)) == 1
    await badges.add_badges(alice, ["chess"])  # nothing changed
    await create(badges, alice, "knitting")  # not public yet
    await badges.set_featured(alice, ["knitting"])  # still invisible to followers
    assert await sent_activities(store) == []
    await badges.set_featured(alice, ["chess"])
    [update] = await sent_activities(store)
    assert update["object"]["tag"][0]["name"] == "#Chess"


# --- moderation ----------------------------------------------------------------------------


async def test_only_moderators_review_badges(store: Store, badges: BadgeService) -> None:
    alice = await make_member(store, "alice")
    await create(badges, alice, "knitting")
    with pytest.raises(Forbidden):
        await badges.pending_badges(alice)
    with pytest.raises(Forbidden):
        await badges.approve(alice, "knitting")
    with pytest.raises(Forbidden):
        await badges.reject(alice, "knitting", "no")
    with pytest.raises(Forbidden):
        await badges.add_activity_tag(alice, "Knitted a scarf", "python")
    assert (await store.get_badge_by_slug("knitting")).status is BadgeStatus.PENDING  # type: ignore[union-attr]


async def test_an_approved_badge_goes_public_and_followers_hear_of_it(
    store: Store, urls: Urls, badges: BadgeService
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    admin = await make_member(store, "root", Role.ADMIN)
    await add_remote_follower(store, urls, alice)
    await create(badges, alice, "knitting")
    await create(badges, bob, "juggling")
    queue = await badges.pending_badges(admin)
    assert slugs(queue.badges) == ["juggling", "knitting"] and queue.next_cursor is None
    approved = await badges.approve(admin, "knitting")
    assert approved.status is BadgeStatus.APPROVED and approved.reviewed_by == admin.id
    [update] = await sent_activities(store)
    assert "#Knitting" not in str(update["object"]["tag"])  # held, not featured
    assert [b["fedipoly:slug"] for b in update["object"]["fedipoly:badges"]] == ["knitting"]
    assert (await badges.get_badge("knitting", None)).is_public
    assert "knitting" in slugs((await badges.catalogue(None, limit=100)).badges)
    assert slugs(await badges.add_badges(bob, ["knitting"])) == ["juggling", "knitting"]
    assert await badges.count_holders("knitting", None) == 2
    with pytest.raises(Conflict):
        await badges.reject(admin, "knitting", "too late")
    assert slugs((await badges.pending_badges(admin)).badges) == ["juggling"]


async def test_a_rejected_badge_leaves_its_creators_list_and_stays_hidden(
    store: Store, badges: BadgeService
) -> None:
    alice, bob = await make_member(store, "alice"), await make_member(store, "bob")
    moderator = await make_member(store, "mod", Role.MODERATOR)
    await badges.add_badges(alice, ["chess"])
    await create(badges, alice, "spam_badge")
    rejected = await badges.reject(moderator, "spam_badge", "  Advertising \n ")
    assert rejected.status is BadgeStatus.REJECTED and rejected.reject_reason == "Advertising"
    assert slugs(await badges.member_badges(alice, alice)) == ["chess"]
    with pytest.raises(NotFound):
        await badges.get_badge("spam_badge", bob)
    assert (await badges.get_badge("spam_badge", alice)).reject_reason == "Advertising"
    with pytest.raises(ValidationFailed):
        await badges.add_badges(alice, ["spam_badge"])
    with pytest.raises(Conflict):
        await badges.approve(moderator, "spam_badge")
    with pytest.raises(BadgeTaken):
        await create(badges, alice, "spam_badge")  # the slug stays taken
    with pytest.raises(NotFound):
        await badges.approve(moderator, "never_was")


# --- holders -------------------------------------------------------------------------------


async def test_holders_are_the_discoverable_ones_paged_newest_first(
    store: Store, badges: BadgeService, profiles: ProfileService
) -> None:
    members = [await make_member(store, f"player{index}") for index in range(5)]
    for account in members:
        await badges.add_badges(account, ["chess"])
    await profiles.update_profile(members[2], discoverable=False)
    seen: list[str] = []
    cursor = None
    while True:
        page = await badges.holders("chess", None, cursor=cursor, limit=2)
        seen += [holder.account.username for holder in page.holders]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == ["player0", "player1", "player3", "player4"]
    assert len(seen) == len(set(seen))
    assert await badges.count_holders("chess", None) == 4
    with pytest.raises(ValidationFailed):
        await badges.holders("chess", None, cursor="garbage!")


# --- search --------------------------------------------------------------------------------


async def test_search_finds_by_name_prefix_and_close_spelling(
    store: Store, badges: BadgeService
) -> None:
    assert slugs(await badges.search(None, "pyhton"))[0] == "python"
    assert slugs(await badges.search(None, "Python"))[0] == "python"
    assert slugs(await badges.search(None, "pyt")) == ["python"]
    assert slugs(await badges.search(None, "speaking")) == ["public_speaking"]
    assert slugs(await badges.search(None, "open sauce"))[0] == "open_source"
    assert slugs(await badges.search(None, "photgraphy")) == ["photography"]
    assert slugs(await badges.search(None, "javscript")) == ["javascript"]
    assert await badges.search(None, "xylophone") == []
    assert await badges.search(None, "   ") == []
    with pytest.raises(ValidationFailed):
        await badges.search(None, "x" * 101)
    page = await badges.catalogue(None, query="chss")
    assert slugs(page.badges) == ["chess"] and page.next_cursor is None


async def test_exact_matches_come_before_prefixes_and_close_spellings(
    store: Store, badges: BadgeService
) -> None:
    moderator = await make_member(store, "mod", Role.MODERATOR)
    for slug, name in (("go", "Go"), ("gold", "Gold"), ("golf", "Golf")):
        await create(badges, moderator, slug, name)
        await badges.approve(moderator, slug)
    assert slugs(await badges.search(None, "go")) == ["go", "gold", "golf"]
    assert slugs(await badges.search(None, "gol"))[:2] == ["gold", "golf"]


# --- activity tags -------------------------------------------------------------------------


async def test_activity_tags_point_at_public_badges(store: Store, badges: BadgeService) -> None:
    alice = await make_member(store, "alice")
    moderator = await make_member(store, "mod", Role.MODERATOR)
    tags = {tag.phrase: tag.badge.slug for tag in await badges.activity_tags()}
    assert tags["Gave a talk"] == "public_speaking"
    assert tags["Streamed on Twitch"] == "streaming"
    assert tags["Wrote some code"] == "programming"
    added = await badges.add_activity_tag(moderator, "  Solved a   puzzle ", "chess")
    assert added.phrase == "Solved a puzzle" and added.badge.slug == "chess"
    with pytest.raises(Conflict):
        await badges.add_activity_tag(moderator, "solved a puzzle", "chess")
    await create(badges, alice, "knitting")
    with pytest.raises(ValidationFailed):
        await badges.add_activity_tag(moderator, "Knitted a scarf", "knitting")
    with pytest.raises(ValidationFailed):
        await badges.add_activity_tag(moderator, " ", "chess")
    assert len(await badges.activity_tags()) == len(tags) + 1
