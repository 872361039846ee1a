"""The badge pages: catalogue and search, creating, a badge's page, your badges (add, remove,
reorder, feature) and the moderators' review queue, on both backends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Role
from tests.fedipoly.web.profile_badges_support import (
    POPULARITY_WORDS,
    SEEDED,
    XSS,
    approved_badge,
    assert_safe_html,
    make_person,
    open_app,
    visible_text,
)
from tests.fedipoly.web.social_support import CSRF, Member, browse, submit


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


@pytest.fixture
async def mod(app: web.Application) -> Member:
    return await make_person(app, "mod", Role.MODERATOR)


@pytest.fixture
async def alice(app: web.Application) -> Member:
    return await make_person(app, "alice")


@pytest.fixture
async def bob(app: web.Application) -> Member:
    return await make_person(app, "bob")


def location(response: object) -> str:
    return str(response.headers["Location"])  # type: ignore[attr-defined]


def assert_page_hygiene(html: str) -> None:
    """CSRF on every POST form, no inline styles (the CSP forbids them), every input
    labelled, nothing active from user input, and no popularity words."""
    for form in re.findall(r"<form\b.*?</form>", html, re.DOTALL):
        if 'method="post"' in form:
            assert f'name="csrf_token" value="{CSRF}"' in form, form
    assert 'style="' not in html
    for input_id in re.findall(r'<(?:input|textarea|select)\b[^>]*\bid="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert_safe_html(html)
    found = POPULARITY_WORDS.search(visible_text(html))
    assert found is None, found


def badge_links(html: str) -> list[str]:
    return [slug for slug in re.findall(r'href="/badges/(\w+)"', html) if slug != "new"]


def holder_names(html: str) -> list[str]:
    found = re.search(r'<ul class="people">(.*?)</ul>', html, re.DOTALL)
    return re.findall(r'href="/@(\w+)"', found.group(1)) if found else []


async def my_slugs(app: web.Application, who: Member) -> list[tuple[str, bool]]:
    held = await app[appkeys.BADGES].member_badges(who.account, who.account)
    return [(item.badge.slug, item.featured) for item in held]


# --- catalogue -----------------------------------------------------------------------------


async def test_catalogue_shows_approved_badges_and_only_your_own_pending(
    client: TestClient, app: web.Application, alice: Member, bob: Member
) -> None:
    await app[appkeys.BADGES].create_badge(
        alice.account, slug="knitting", display_name="Knitting", color="#aa3300", icon="*"
    )
    for who in (None, bob):
        status, html = await browse(client, "/badges", who)
        assert status == 200
        assert badge_links(html) == SEEDED
        assert "Knitting" not in html
        assert '<label for="q">Search badges</label>' in html and 'href="/badges/new"' in html
        assert_page_hygiene(html)
    status, html = await browse(client, "/badges", alice)
    assert badge_links(html) == sorted([*SEEDED, "knitting"])
    assert "waiting for review" in html


async def test_catalogue_search_and_pages(
    client: TestClient, app: web.Application, mod: Member
) -> None:
    status, html = await browse(client, "/badges?q=pyhton")
    assert status == 200 and badge_links(html) == ["python"]
    assert 'value="pyhton"' in html
    status, html = await browse(client, "/badges?q=zzzzqqq")
    assert status == 200 and badge_links(html) == [] and "No badge matches" in html
    status, html = await browse(client, "/badges?q=" + "x" * 101)
    assert status == 400 and 'role="alert"' in html
    for index in range(10):
        await approved_badge(app, mod, f"zz{index}", f"Zed {index}")
    status, html = await browse(client, "/badges")
    assert len(badge_links(html)) == 20
    cursor = re.search(r'href="/badges\?cursor=([^"]+)" rel="next"', html)
    assert cursor is not None
    status, html = await browse(client, f"/badges?cursor={cursor.group(1)}")
    assert status == 200 and badge_links(html) == ["zz7", "zz8", "zz9"]


# --- creating ------------------------------------------------------------------------------


async def test_create_a_badge_through_the_form(
    client: TestClient, app: web.Application, alice: Member, bob: Member
) -> None:
    status, _ = await browse(client, "/badges/new")
    assert status == 303
    status, html = await browse(client, "/badges/new", alice)
    assert status == 200 and 'type="color"' in html
    assert_page_hygiene(html)
    fields = {"slug": "knitting", "display_name": "Knitting", "color": "#AA3300", "icon": "🧶"}
    answer = await submit(client, "/badges/new", fields, alice, csrf=None)
    assert answer.status == 403
    answer = await submit(client, "/badges/new", fields, alice)
    assert answer.status == 303
    assert location(answer) == "/badges/knitting?notice=badge_created"
    assert await my_slugs(app, alice) == [("knitting", False)]

    status, html = await browse(client, "/badges/knitting?notice=badge_created", alice)
    assert status == 200 and "waiting for a moderator" in html
    assert 'fill="#aa3300"' in html  # the colour, as an SVG attribute, never a style
    assert_page_hygiene(html)
    for who in (None, bob):
        status, html = await browse(client, "/badges/knitting", who)
        assert status == 404 and "Knitting" not in html
        status, html = await browse(client, "/badges?q=knitting", who)
        assert "Knitting" not in html


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Not OK"}, "slug"),
        ({"slug": "python"}, None),  # taken
        ({"color": "red"}, "color"),
        ({"icon": "a b"}, "icon"),
        ({"display_name": ""}, "display_name"),
    ],
)
async def test_bad_badge_input_is_shown_back(
    client: TestClient,
    app: web.Application,
    alice: Member,
    change: dict[str, str],
    field: str | None,
) -> None:
    fields = {"slug": "knitting", "display_name": "Knitting", "color": "#aa3300", "icon": "*"}
    answer = await submit(client, "/badges/new", fields | change, alice)
    html = await answer.text()
    assert answer.status in (400, 409)
    assert 'role="alert"' in html
    if field is not None:
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html), html
    assert await my_slugs(app, alice) == []


# --- a badge's page ------------------------------------------------------------------------


async def test_badge_page_lists_discoverable_holders_and_no_fake_posts(
    client: TestClient, app: web.Application, alice: Member, bob: Member
) -> None:
    profiles, badges = app[appkeys.PROFILES], app[appkeys.BADGES]
    carol = await make_person(app, "carol")
    for who in (alice, bob, carol):
        await badges.add_badges(who.account, ["chess"])
    await profiles.update_profile(bob.account, discoverable=False)
    status, html = await browse(client, "/badges/chess")
    assert status == 200
    assert "<h1>" in html and "Chess" in html and "#Chess" in html
    assert holder_names(html) == ["carol", "alice"]  # most recently added first; bob opted out
    assert "No posts under this badge yet." in visible_text(html)  # and no fake ones
    assert 'fill="#1a202c"' in html
    assert_page_hygiene(html)
    status, _ = await browse(client, "/badges/Not-A-Slug")
    assert status == 404
    status, _ = await browse(client, "/badges/no_such_badge")
    assert status == 404


async def test_add_and_remove_from_the_badge_page(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    status, html = await browse(client, "/badges/chess", alice)
    assert status == 200 and "Add to my badges" in html
    answer = await submit(
        client, "/settings/badges/add", {"slug": "chess", "next": "/badges/chess"}, alice
    )
    assert answer.status == 303 and location(answer) == "/badges/chess?notice=badges_added"
    _, html = await browse(client, "/badges/chess", alice)
    assert "Remove from my badges" in html and holder_names(html) == ["alice"]
    answer = await submit(
        client, "/settings/badges/remove", {"slug": "chess", "next": "//evil.example/"}, alice
    )
    assert answer.status == 303 and location(answer) == "/settings/badges?notice=badge_removed"
    assert await my_slugs(app, alice) == []


# --- your badges ---------------------------------------------------------------------------


async def test_my_badges_add_in_bulk_reorder_feature_and_remove(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    status, _ = await browse(client, "/settings/badges")
    assert status == 303
    status, html = await browse(client, "/settings/badges?q=pyhton", alice)
    assert status == 200 and 'id="add-python"' in html
    assert_page_hygiene(html)

    # Checkboxes and typed short names, in one go.
    answer = await client.post(
        "/settings/badges/add",
        data=[
            ("csrf_token", CSRF),
            ("slug", "python"),
            ("slug", "chess"),
            ("slugs", "music, #Writing"),
        ],
        cookies=alice.cookies,
        allow_redirects=False,
    )
    assert answer.status == 303
    assert await my_slugs(app, alice) == [
        ("python", False),
        ("chess", False),
        ("music", False),
        ("writing", False),
    ]
    answer = await submit(
        client, "/settings/badges/move", {"slug": "music", "direction": "up"}, alice
    )
    assert answer.status == 303 and location(answer).endswith("#badge-music")
    await submit(client, "/settings/badges/move", {"slug": "python", "direction": "down"}, alice)
    await submit(client, "/settings/badges/move", {"slug": "writing", "direction": "down"}, alice)
    assert [slug for slug, _ in await my_slugs(app, alice)] == [
        "music",
        "python",
        "chess",
        "writing",
    ]
    await submit(client, "/settings/badges/feature", {"slug": "chess", "featured": "yes"}, alice)
    await submit(client, "/settings/badges/feature", {"slug": "music", "featured": "yes"}, alice)
    await submit(client, "/settings/badges/feature", {"slug": "music", "featured": "no"}, alice)
    assert await my_slugs(app, alice) == [
        ("music", False),
        ("python", False),
        ("chess", True),
        ("writing", False),
    ]
    status, html = await browse(client, "/settings/badges", alice)
    assert html.count('class="featured-mark">Featured<') == 1
    assert re.search(r"disabled>Up<span", html)  # the first one can't go up
    assert_page_hygiene(html)
    answer = await submit(client, "/settings/badges/remove", {"slug": "python"}, alice)
    assert answer.status == 303
    assert [slug for slug, _ in await my_slugs(app, alice)] == ["music", "chess", "writing"]

    for path, fields in (
        ("/settings/badges/add", {"slugs": "no_such_badge"}),
        ("/settings/badges/add", {}),
        ("/settings/badges/move", {"slug": "python", "direction": "up"}),
        ("/settings/badges/move", {"slug": "chess", "direction": "sideways"}),
        ("/settings/badges/feature", {"slug": "python", "featured": "yes"}),
    ):
        answer = await submit(client, path, fields, alice)
        assert answer.status in (400, 404), path
        assert 'role="alert"' in await answer.text()
    assert [slug for slug, _ in await my_slugs(app, alice)] == ["music", "chess", "writing"]


async def test_featuring_an_eleventh_badge_is_refused(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    badges = app[appkeys.BADGES]
    await badges.add_badges(alice.account, SEEDED[:11])
    await badges.set_featured(alice.account, SEEDED[:10])
    answer = await submit(
        client, "/settings/badges/feature", {"slug": SEEDED[10], "featured": "yes"}, alice
    )
    assert answer.status == 400
    assert "at most 10" in await answer.text()
    assert sum(featured for _, featured in await my_slugs(app, alice)) == 10


# --- moderation ----------------------------------------------------------------------------


async def test_review_queue_is_for_moderators_only(
    client: TestClient, app: web.Application, alice: Member, bob: Member
) -> None:
    await app[appkeys.BADGES].create_badge(
        alice.account, slug="knitting", display_name="Knitting", color="#aa3300", icon="*"
    )
    status, _ = await browse(client, "/moderation/badges")
    assert status == 303
    for who in (alice, bob):
        status, html = await browse(client, "/moderation/badges", who)
        assert status == 403 and "<h1>" in html and "Knitting" not in html
        for action in ("approve", "reject"):
            answer = await submit(client, f"/moderation/badges/knitting/{action}", {}, who)
            assert answer.status == 403
    badge = await app[appkeys.BADGES].get_badge("knitting", alice.account)
    assert badge.status.value == "pending"


async def test_moderators_approve_and_reject_from_the_queue(
    client: TestClient, app: web.Application, mod: Member, alice: Member, bob: Member
) -> None:
    badges = app[appkeys.BADGES]
    for slug, name in (("knitting", "Knitting"), ("spam", "Cheap watches")):
        await badges.create_badge(
            alice.account, slug=slug, display_name=name, color="#aa3300", icon="*"
        )
    status, html = await browse(client, "/moderation/badges", mod)
    assert status == 200 and "Knitting" in html and "Cheap watches" in html
    assert '<label for="reason-spam">' in html
    assert_page_hygiene(html)
    status, html = await browse(client, "/badges/knitting", mod)
    assert status == 200 and "waiting for a moderator" in html
    assert 'href="/moderation/badges"' in html and "Add to my badges" not in html

    answer = await submit(client, "/moderation/badges/knitting/approve", {}, mod)
    assert answer.status == 303
    assert location(answer) == "/moderation/badges?notice=badge_approved"
    status, html = await browse(client, "/badges", bob)
    assert "knitting" in badge_links(html)
    status, html = await browse(client, "/badges/knitting", bob)
    assert status == 200

    answer = await submit(
        client, "/moderation/badges/spam/reject", {"reason": "Advertising, not a badge"}, mod
    )
    assert answer.status == 303
    status, html = await browse(client, "/badges/spam", alice)
    assert status == 200 and "Advertising, not a badge" in html
    assert await my_slugs(app, alice) == [("knitting", False)]
    status, html = await browse(client, "/moderation/badges", mod)
    assert "Knitting" not in html and "Nothing to review" in html

    answer = await submit(client, "/moderation/badges/knitting/approve", {}, mod)
    assert answer.status == 409 and "reviewed already" in await answer.text()


# --- injection -----------------------------------------------------------------------------


async def test_xss_payloads_in_badge_names_are_escaped_everywhere(
    client: TestClient, app: web.Application, mod: Member, alice: Member
) -> None:
    badges = app[appkeys.BADGES]
    for index, payload in enumerate(XSS):
        slug = f"evil{index}"
        await badges.create_badge(
            alice.account, slug=slug, display_name=payload[:64], color="#aa3300", icon="<script>"
        )
        status, html = await browse(client, "/moderation/badges", mod)
        assert status == 200
        assert_page_hygiene(html)
        await badges.approve(mod.account, slug)
    await badges.set_featured(alice.account, ["evil0", "evil1"])
    await app[appkeys.PROFILES].update_profile(alice.account, headline=XSS[1])
    for path in (
        "/badges",
        "/badges?q=script",
        "/badges/evil0",
        "/badges/evil1",
        "/settings/badges",
        "/@alice",
    ):
        status, html = await browse(client, path, alice)
        assert status == 200, path
        assert_page_hygiene(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
