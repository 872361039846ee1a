"""Keyboard and accessibility smoke test in headless Chromium: every control on the home,
profile and badge pages has an accessible name, and a keyboard user reaches the compose box
and its Post button with Tab and posts without a mouse."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.fedipoly.browser.support import (
    LiveServer,
    sign_in,
    unlabelled_inputs,
    unnamed_controls,
)

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

MAX_TABS = 40


async def focused(locator: Locator) -> bool:
    return bool(await locator.evaluate("el => el === document.activeElement"))


async def tab_to(page: Page, target: Locator, limit: int = MAX_TABS) -> int:
    """Press Tab until `target` has the focus; the number of presses it took."""
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        if await focused(target):
            return presses
    active = await page.evaluate("document.activeElement && document.activeElement.outerHTML")
    raise AssertionError(f"Tab never reached {target} in {limit} presses; focus on {active}")


async def test_keyboard_and_accessible_names(browser: Browser, live_server: LiveServer) -> None:
    await live_server.member("kim")
    context = await live_server.new_context(browser)
    page = await context.new_page()
    await sign_in(page, "kim")

    # --- keyboard only: Tab to the compose box, type, Tab to Post, press Enter -----------
    await page.goto("/")
    compose = page.get_by_role("region", name="New post")
    text_area = compose.get_by_role("textbox", name="What did you do?")
    post_button = compose.get_by_role("button", name="Post")
    await tab_to(page, text_area)
    await page.keyboard.type("Posted this without touching the mouse.")
    # In between: "Activity", "Who can see it" and the closed "Images, a date, ..." summary.
    await tab_to(page, post_button, limit=5)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Your post is published.")
    await expect(
        page.get_by_role("article").filter(has_text="Posted this without touching the mouse.")
    ).to_be_visible()

    # Add a badge so the profile and badge pages show their badge controls too.
    await page.goto("/badges/programming")
    # (Chromium names it "Add to my badges : Programming": the .sr-only span is positioned.)
    await page.get_by_role("button", name=re.compile(r"^Add to my badges\s*: Programming$")).click()
    await expect(page.get_by_text("This badge is on your profile.")).to_be_visible()

    # --- accessible names on the home, profile (own and another's) and badge pages -------
    problems: dict[str, list[str]] = {}
    for path in ("/", "/@kim", f"/@{live_server.moderator.username}", "/badges/programming"):
        await page.goto(path)
        await expect(page.get_by_role("main")).to_be_visible()
        found = await unnamed_controls(page) + await unlabelled_inputs(page)
        if found:
            problems[path] = found
    assert not problems, f"controls without an accessible name: {problems}"

    await context.close()
