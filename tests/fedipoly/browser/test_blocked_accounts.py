"""Blocked accounts, through the real UI in headless Chromium: a member blocks the sender of a
request, finds them on the Blocked accounts page (linked from Settings) and unblocks them.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from fedipoly import appkeys
from fedipoly.collab_models import OpenToEntry
from tests.fedipoly.browser.support import LiveServer, sign_in, unlabelled_inputs, unnamed_controls

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]


async def test_block_a_sender_then_see_and_lift_the_block(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    app = live_server.app
    bob, alice = await live_server.member("bob"), await live_server.member("alice")
    await app[appkeys.OPEN_TO].set_answers(bob, [OpenToEntry("mentoring", True)])
    await app[appkeys.COLLAB].send(alice, "bob", "mentoring", "Buy my course!")
    alice_uri = app[appkeys.URLS].actor("alice")
    await app[appkeys.STORE].update_account_profile(
        alice.id, display_name="Alice Liddell", manually_approves_followers=False
    )
    page = await (await live_server.new_context(browser)).new_page()

    await sign_in(page, "bob")
    await page.goto("/requests")
    await page.get_by_role("button", name=re.compile(r"^Block @alice@")).click()
    await expect(page.get_by_role("status")).to_contain_text("Blocked.")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="Blocked accounts").click()
    await expect(page.get_by_role("heading", name="Blocked accounts", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="@alice@")
    await expect(
        row.get_by_role("link", name=re.compile(r"^Alice Liddell @alice@"))
    ).to_have_attribute("href", "/@alice")
    await expect(row.locator("time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    await page.screenshot(path=screenshots / "blocked-accounts.png", full_page=True)
    found = await unnamed_controls(page) + await unlabelled_inputs(page)
    assert not found, f"controls without an accessible name: {found}"
    assert await app[appkeys.STORE].is_blocked(bob.id, alice_uri)

    await row.get_by_role("button", name=re.compile(r"^Unblock @alice@")).click()
    await expect(page).to_have_url(re.compile(r"/settings/blocks\?notice=unblocked$"))
    await expect(page.get_by_role("status")).to_have_text(
        "Unblocked. Their requests and messages reach you again."
    )
    await expect(page.get_by_text("You have not blocked anyone.")).to_be_visible()
    assert not await app[appkeys.STORE].is_blocked(bob.id, alice_uri)
    await page.context.close()
