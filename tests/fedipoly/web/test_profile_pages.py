"""The edit-profile page and what the public profile page shows, on both backends."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from markupsafe import escape

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import ProfileLink, Role
from tests.fedipoly.web.profile_badges_support import (
    POPULARITY_WORDS,
    XSS,
    assert_safe_html,
    make_person,
    open_app,
    visible_text,
)
from tests.fedipoly.web.social_support import CSRF, Member, browse, submit

FORM = {
    "display_name": "Alice Liddell",
    "headline": "Maker of small tools, chess coach",
    "bio": "I build things.\r\n\r\nSecond paragraph.",
    "position_0": "Engineer at Acme",
    "position_1": "Coach at the chess club",
    "link_label_0": "Site",
    "link_url_0": "https://alice.example/",
    "link_label_1": "",
    "link_url_1": "",
    "link_label_2": "Code",
    "link_url_2": "https://code.example/alice",
    "manually_approves_followers": "yes",
}


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient]:
    async for test_client in open_app(config):
        yield test_client


@pytest.fixture
def app(client: TestClient) -> web.Application:
    return client.server.app


@pytest.fixture
async def alice(app: web.Application) -> Member:
    return await make_person(app, "alice")


def location(response: object) -> str:
    return str(response.headers["Location"])  # type: ignore[attr-defined]


def assert_page_hygiene(html: str) -> None:
    """Every POST form carries the CSRF token, nothing uses inline styles (the CSP forbids
    them), every input has a label, and no popularity words show."""
    for form in re.findall(r"<form\b.*?</form>", html, re.DOTALL):
        if 'method="post"' in form:
            assert f'name="csrf_token" value="{CSRF}"' in form, form
    assert 'style="' not in html and "<style" not in html
    for input_id in re.findall(r'<(?:input|textarea|select)\b[^>]*\bid="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert not POPULARITY_WORDS.search(visible_text(html)), POPULARITY_WORDS.search(
        visible_text(html)
    )


async def test_edit_page_needs_signing_in(client: TestClient) -> None:
    status, _ = await browse(client, "/settings/profile")
    assert status == 303
    answer = await submit(client, "/settings/profile", FORM)
    assert answer.status == 303 and location(answer).startswith("/login?next=")


async def test_edit_form_has_every_field_labelled(client: TestClient, alice: Member) -> None:
    status, html = await browse(client, "/settings/profile", alice)
    assert status == 200
    for name in (
        "display_name",
        "headline",
        "bio",
        "position_0",
        "position_1",
        "link_label_0",
        "link_url_5",
        "discoverable",
        "manually_approves_followers",
    ):
        assert f'name="{name}"' in html, name
    assert 'name="position_2"' not in html  # two position lines at most
    assert re.search(r'id="discoverable"[^>]*checked', html)
    assert_page_hygiene(html)


async def test_saving_the_profile_through_the_page(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    answer = await submit(client, "/settings/profile", FORM, alice)
    assert answer.status == 303
    assert location(answer) == "/settings/profile?notice=profile_saved"
    account = await app[appkeys.ACCOUNTS].get_by_username("alice")
    assert account.display_name == "Alice Liddell" and account.manually_approves_followers
    profile = await app[appkeys.PROFILES].get(account)
    assert profile.headline == FORM["headline"]
    assert profile.bio == "I build things.\n\nSecond paragraph."
    assert profile.positions == ("Engineer at Acme", "Coach at the chess club")
    assert profile.links == (
        ProfileLink("Site", "https://alice.example/"),
        ProfileLink("Code", "https://code.example/alice"),
    )
    assert profile.discoverable is False  # unchecked boxes are not sent

    status, html = await browse(client, "/settings/profile?notice=profile_saved", alice)
    assert status == 200 and "Your profile has been saved." in html
    assert 'value="Engineer at Acme"' in html and 'value="https://code.example/alice"' in html


async def test_without_the_csrf_token_nothing_changes(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    for csrf in (None, "wrong-token"):
        answer = await submit(client, "/settings/profile", FORM, alice, csrf=csrf)
        assert answer.status == 403
    account = await app[appkeys.ACCOUNTS].get_by_username("alice")
    assert account.display_name == "alice"
    assert (await app[appkeys.PROFILES].get(account)).headline == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"link_url_0": "javascript:alert(1)"}, "http"),
        ({"link_label_0": ""}, "label"),
        ({"display_name": "  "}, "display name"),
        ({"headline": "x" * 101}, "at most 100"),
    ],
)
async def test_bad_input_is_shown_back_and_changes_nothing(
    client: TestClient, app: web.Application, alice: Member, change: dict[str, str], message: str
) -> None:
    answer = await submit(client, "/settings/profile", FORM | change, alice)
    html = await answer.text()
    assert answer.status == 400
    assert 'role="alert"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert 'value="Coach at the chess club"' in html  # the visitor's input is kept
    account = await app[appkeys.ACCOUNTS].get_by_username("alice")
    assert account.display_name == "alice" and not account.manually_approves_followers
    assert (await app[appkeys.PROFILES].get(account)).headline == ""


async def test_profile_page_shows_what_the_member_does(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    await submit(client, "/settings/profile", FORM, alice)
    badges = app[appkeys.BADGES]
    await badges.add_badges(alice.account, ["python", "chess", "music", "writing"])
    await badges.set_featured(alice.account, ["music", "writing"])
    await badges.create_badge(
        alice.account, slug="secret_idea", display_name="Secret idea", color="#000000", icon="?"
    )
    moderator = await make_person(app, "mod", Role.MODERATOR)
    for who in (None, alice, moderator):
        status, html = await browse(client, "/@alice", who)
        assert status == 200
        assert '<p class="headline">Maker of small tools, chess coach</p>' in html
        assert "<li>Engineer at Acme</li><li>Coach at the chess club</li>" in html
        assert "<p>I build things.</p><p>Second paragraph.</p>" in html
        assert (
            '<a href="https://alice.example/" rel="me nofollow noopener noreferrer">'
            "alice.example/</a>" in html
        )
        shown = re.findall(r'href="/badges/(\w+)"', html)
        assert shown == ["music", "writing", "python", "chess"]  # featured first, in order
        assert html.count('class="featured-mark">Featured<') == 2
        assert "Secret idea" not in html  # pending: not public, not even on its owner's page
        assert ("/settings/badges" in html) == (who is alice)
        assert_page_hygiene(html)


async def test_xss_payloads_are_escaped_on_the_pages(
    client: TestClient, app: web.Application, alice: Member
) -> None:
    for payload in XSS:
        fields = FORM | {
            "display_name": payload[:100],
            "headline": payload[:100],
            "bio": payload,
            "position_0": payload[:80],
            "link_label_0": payload[:40],
            "link_url_0": "https://evil.example/" + payload.replace(" ", ""),
        }
        answer = await submit(client, "/settings/profile", fields, alice)
        assert answer.status == 303, await answer.text()
        for path in ("/@alice", "/settings/profile"):
            status, html = await browse(client, path, alice)
            assert status == 200
            assert_safe_html(html)
            assert str(escape(" ".join(payload[:100].split()))) in html  # shown, as text
        # Refused outright: links that are not http(s).
        for url in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>"):
            refused = await submit(client, "/settings/profile", fields | {"link_url_0": url}, alice)
            assert refused.status == 400
            assert_safe_html(await refused.text())
