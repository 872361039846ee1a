"""Signing in and out, and the account settings a member uses: an API token shown once, and an
invite code. Driven through the real UI in headless Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.fedipoly.browser.support import LiveServer, sign_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]


async def test_sign_in_out_and_settings(browser: Browser, live_server: LiveServer) -> None:
    await live_server.member("sam")
    context = await live_server.new_context(browser)
    page = await context.new_page()

    # A wrong password is refused with a message, and the form keeps the username.
    await page.goto("/login")
    await page.get_by_label("Username").fill("sam")
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page.get_by_label("Username")).to_have_value("sam")

    await sign_in(page, "sam")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()

    # --- an API token: its secret is shown once, then only its label --------------------
    tokens = page.get_by_role("region", name="API tokens")
    await expect(tokens.get_by_text("You have no API tokens.")).to_be_visible()
    await tokens.get_by_label("Token label").fill("Backup script")
    await tokens.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("region", name="API tokens").get_by_role("status")
    await expect(shown).to_contain_text("Copy it now; it will not be shown again.")
    secret = (await shown.locator(".secret").inner_text()).strip()
    assert re.fullmatch(r"\S{20,}", secret), secret
    await expect(tokens.get_by_role("button", name="Revoke token Backup script")).to_be_visible()

    # Coming back later (a fresh GET, not a reload that would re-send the form): only the label.
    await page.goto("/settings")
    await expect(
        page.get_by_role("region", name="API tokens").get_by_role(
            "cell", name="Backup script", exact=True
        )
    ).to_be_visible()
    assert secret not in await page.content()

    # --- an invite code ------------------------------------------------------------------
    invites = page.get_by_role("region", name="Invite codes")
    await expect(invites.get_by_text("You have no invite codes.")).to_be_visible()
    await invites.get_by_role("button", name="Create an invite code").click()
    await expect(page.get_by_role("status")).to_have_text("A new invite code is ready.")
    code = (await invites.locator("code.invite-code").inner_text()).strip()
    assert code
    await expect(invites.get_by_role("button", name=f"Delete invite {code}")).to_be_visible()
    await expect(invites.get_by_role("cell", name="1 of 1")).to_be_visible()

    # --- sign out: the session is gone ---------------------------------------------------
    await page.get_by_role("button", name="Sign out").click()
    main_nav = page.get_by_role("navigation", name="Main")
    await expect(main_nav.get_by_role("link", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    await page.goto("/settings")
    await expect(page).to_have_url(re.compile(r"/login\?next=/settings$"))
    await expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()

    await context.close()
