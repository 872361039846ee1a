"""ProfileService: validation, saving, the Person actor it renders and the Update it sends."""

from __future__ import annotations

from typing import Any

import pytest

from fedipoly import render
from fedipoly.errors import ValidationFailed
from fedipoly.media_models import MediaRecord
from fedipoly.models import Profile, ProfileLink, utc_now
from fedipoly.services.badges import BadgeService
from fedipoly.services.profiles import ProfileService
from fedipoly.store import Store
from fedipoly.urls import Urls
from tests.fedipoly.services.conftest import BASE, add_remote_follower, make_member, sent_activities


async def test_a_new_member_has_an_empty_discoverable_profile(
    store: Store, profiles: ProfileService
) -> None:
    alice = await make_member(store, "alice")
    assert await profiles.get(alice) == Profile(account_id=alice.id)


async def test_updating_the_profile_saves_clean_values_and_renders_the_bio(
    store: Store, profiles: ProfileService
) -> None:
    alice = await make_member(store, "alice")
    saved = await profiles.update_profile(
        alice,
        headline="  Streams   chess,\twrites Python ",
        bio="I <3 chess.\r\n\r\nMore at https://alice.example",
        positions=["Engineer at Acme", "", "  Chess coach  "],
        links=[ProfileLink(" My blog ", " https://blog.example/alice ")],
        discoverable=False,
    )
    assert saved.headline == "Streams chess, writes Python"
    assert saved.bio == "I <3 chess.\n\nMore at https://alice.example"
    assert saved.bio_html == (
        '<p>I &lt;3 chess.</p><p>More at <a href="https://alice.example"'
        ' rel="nofollow noopener noreferrer">https://alice.example</a></p>'
    )
    assert saved.positions == ("Engineer at Acme", "Chess coach")
    assert saved.links == (ProfileLink("My blog", "https://blog.example/alice"),)
    assert saved.discoverable is False and saved.updated_at is not None
    assert await profiles.get(alice) == saved


async def test_fields_left_out_stay_as_they_were(store: Store, profiles: ProfileService) -> None:
    alice = await make_member(store, "alice")
    await profiles.update_profile(alice, headline="Chess", bio="Hi", positions=["Coach"])
    changed = await profiles.update_profile(alice, discoverable=False)
    assert (changed.headline, changed.bio, changed.positions) == ("Chess", "Hi", ("Coach",))
    cleared = await profiles.update_profile(alice, bio="", positions=[], links=[])
    assert (cleared.bio, cleared.bio_html, cleared.positions) == ("", "", ())
    assert cleared.headline == "Chess" and cleared.discoverable is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"headline": "x" * 101}, "headline"),
        ({"headline": "evil\u202eoverride"}, "headline"),
        ({"bio": "y" * 2001}, "bio"),
        ({"bio": "bell\x07"}, "bio"),
        ({"positions": ["one", "two", "three"]}, "positions"),
        ({"positions": ["p" * 81]}, "positions"),
        ({"positions": "a single string"}, "positions"),
        ({"links": [ProfileLink(f"l{i}", f"https://e.example/{i}") for i in range(7)]}, "links"),
        ({"links": [ProfileLink("", "https://e.example")]}, "links[0].label"),
        ({"links": [ProfileLink("l" * 41, "https://e.example")]}, "links[0].label"),
        ({"links": [ProfileLink("ok", "javascript:alert(1)")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "data:text/html,<b>")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "ftp://e.example")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "https://")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "https://user:pw@e.example")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "https://e.example/a b")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "https://e.example:99999/")]}, "links[0].url"),
        ({"links": [ProfileLink("ok", "https://e.example/" + "a" * 300)]}, "links[0].url"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    store: Store, profiles: ProfileService, changes: dict[str, Any], field: str
) -> None:
    alice = await make_member(store, "alice")
    before = await profiles.update_profile(alice, headline="Before", bio="Kept")
    with pytest.raises(ValidationFailed) as caught:
        await profiles.update_profile(alice, **({"discoverable": False} | changes))
    assert caught.value.detail == {"field": field}
    assert await profiles.get(alice) == before


async def test_two_positions_six_links_and_limits_exactly_are_fine(
    store: Store, profiles: ProfileService
) -> None:
    alice = await make_member(store, "alice")
    links = [ProfileLink("l" * 40, f"http://e.example/{i}") for i in range(6)]
    saved = await profiles.update_profile(
        alice, headline="h" * 100, bio="b" * 2000, positions=["p" * 80, "q" * 80], links=links
    )
    assert len(saved.links) == 6 and len(saved.positions) == 2


async def test_a_profile_change_sends_update_person_with_fields_and_badges(
    store: Store, urls: Urls, profiles: ProfileService, badges: BadgeService
) -> None:
    alice = await make_member(store, "alice")
    inbox = await add_remote_follower(store, urls, alice)
    await badges.add_badges(alice, ["open_source", "chess", "python"])
    await badges.set_featured(alice, ["chess", "open_source"])
    await badges.create_badge(
        alice, slug="secret_club", display_name="Secret club", color="#000000", icon="🤫"
    )
    await sent_activities(store)  # forget the badge announcements
    await profiles.update_profile(
        alice,
        bio="Hello <b>world</b>",
        positions=["Engineer"],
        links=[ProfileLink("Blog", "https://blog.example/?a=1&b=<2>")],
        headline="Chess & code",
    )
    [update] = await sent_activities(store)
    assert update["type"] == "Update" and update["actor"] == f"{BASE}/users/alice"
    actor = update["object"]
    assert actor["type"] == "Person"
    assert actor["summary"] == "<p>Hello &lt;b&gt;world&lt;/b&gt;</p>"
    assert actor["attachment"] == [
        {"type": "PropertyValue", "name": "Position", "value": "Engineer"},
        {
            "type": "PropertyValue",
            "name": "Blog",
            "value": '<a href="https://blog.example/?a=1&amp;b=&lt;2&gt;"'
            ' rel="me nofollow noopener noreferrer" target="_blank">'
            "blog.example/?a=1&amp;b=&lt;2&gt;</a>",
        },
    ]
    assert actor["tag"] == [
        {"type": "Hashtag", "href": f"{BASE}/badges/open_source", "name": "#OpenSource"},
        {"type": "Hashtag", "href": f"{BASE}/badges/chess", "name": "#Chess"},
    ]
    assert actor["discoverable"] is True
    assert actor["fedipoly:headline"] == "Chess & code"
    badge_list = actor["fedipoly:badges"]
    assert [b["fedipoly:slug"] for b in badge_list] == ["open_source", "chess", "python"]
    assert badge_list[0] == {
        "type": "fedipoly:Badge",
        "href": f"{BASE}/badges/open_source",
        "name": "Open source",
        "fedipoly:slug": "open_source",
        "fedipoly:hashtag": "OpenSource",
        "fedipoly:color": "#2f855a",
        "fedipoly:icon": "🌱",
        "fedipoly:featured": True,
        "fedipoly:position": 0,
    }
    assert "secret_club" not in str(actor)  # pending badges never leave the server
    assert {"fedipoly": render.FEDIPOLY_NS}.items() <= update["@context"][2].items()
    assert inbox.startswith("https://remote.example/")


async def test_person_without_a_profile_keeps_its_old_shape(store: Store, urls: Urls) -> None:
    alice = await make_member(store, "alice")
    actor = render.person(alice, urls)
    assert actor["summary"] == "" and actor["attachment"] == [] and actor["tag"] == []
    assert actor["discoverable"] is True and actor["fedipoly:badges"] == []


async def test_setting_the_avatar_keeps_the_rest_and_announces(
    store: Store, urls: Urls, profiles: ProfileService
) -> None:
    alice = await make_member(store, "alice")
    await add_remote_follower(store, urls, alice)
    await profiles.update_profile(alice, headline="Kept")
    await sent_activities(store)
    await store.insert_media(MediaRecord("media-42", alice.id, "avatar", utc_now()))
    profile = await profiles.set_avatar(alice, "media-42")
    assert profile.avatar_media_id == "media-42" and profile.headline == "Kept"
    assert len(await sent_activities(store)) == 1
    assert (await profiles.set_avatar(alice, None)).avatar_media_id is None
    with pytest.raises(ValidationFailed):
        await profiles.set_avatar(alice, "")
