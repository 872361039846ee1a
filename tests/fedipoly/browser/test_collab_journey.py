"""Consent before contact, through the real UI in headless Chromium: a member says what they are
open to, another finds them in the Space Station and sends a request, the first is interested,
and they exchange messages in their conversation. Screenshots go to test-artifacts/screenshots/.

Every step uses what a person sees: labels, roles and accessible names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.fedipoly.browser.support import LiveServer, sign_in, unlabelled_inputs, unnamed_controls

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]


async def assert_named(page: Page) -> None:
    """Every control and input on the page has an accessible name."""
    found = await unnamed_controls(page) + await unlabelled_inputs(page)
    assert not found, f"{page.url}: controls without an accessible name: {found}"


async def test_open_to_request_interested_and_messages(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    await live_server.member("bob")
    await live_server.member("alice")
    bob = await (await live_server.new_context(browser)).new_page()
    alice = await (await live_server.new_context(browser)).new_page()

    # --- bob says what he is open to -----------------------------------------------------
    await sign_in(bob, "bob")
    await bob.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await bob.get_by_role("link", name="Open to", exact=True).click()
    await expect(bob.get_by_role("heading", name="Open to", level=1)).to_be_visible()
    await bob.get_by_role("combobox", name="Mentoring", exact=True).select_option("Yes")
    await bob.get_by_role("combobox", name="Angel investing", exact=True).select_option("No")
    await bob.get_by_label("Until, for Mentoring").fill("2099-06-30")
    await bob.get_by_role("button", name="Save").click()
    await expect(bob.get_by_role("status")).to_have_text("Your answers are saved.")
    await bob.screenshot(path=screenshots / "open-to-settings.png", full_page=True)
    await assert_named(bob)

    # --- alice finds him in the Space Station and sends a request -------------------------
    await sign_in(alice, "alice")
    main = alice.get_by_role("navigation", name="Main")
    await main.get_by_role("link", name="Space Station").click()
    await alice.get_by_label("Open to").select_option("Mentoring")
    await alice.get_by_role("button", name="Search").click()
    results = alice.get_by_role("region", name="People open to Mentoring")
    await expect(results.get_by_text("@bob@")).to_be_visible()
    await alice.screenshot(path=screenshots / "space-station.png", full_page=True)
    await assert_named(alice)
    await results.get_by_role("link", name="Collaborate with bob").click()
    await expect(
        alice.get_by_role("heading", name="Collaborate with @bob", exact=False)
    ).to_be_visible()
    await expect(alice.get_by_label("Reason")).to_have_value("mentoring")
    await assert_named(alice)
    await alice.get_by_label("Message").fill("Could you mentor me on compilers?")
    await alice.get_by_role("button", name="Send request").click()
    await expect(alice.get_by_role("status")).to_contain_text("Your request is sent.")

    # --- bob is interested: a conversation opens --------------------------------------------
    await bob.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    await expect(bob.get_by_text("Could you mentor me on compilers?")).to_be_visible()
    await bob.screenshot(path=screenshots / "requests-inbox.png", full_page=True)
    await assert_named(bob)
    await bob.get_by_role(
        "button", name="Interested in the request from @alice@", exact=False
    ).click()
    await expect(bob.get_by_role("status")).to_have_text("You are now in a conversation with them.")
    await expect(bob.get_by_text("Interested in your request about Mentoring")).to_be_visible()

    # --- they exchange messages ------------------------------------------------------------
    await main.get_by_role("link", name="Conversations").click()
    await alice.get_by_role("link", name="bob", exact=False).first.click()
    await expect(alice.get_by_text("Interested in your request about Mentoring")).to_be_visible()
    await alice.get_by_label("Message to @bob", exact=False).fill("Wonderful! Is Tuesday good?")
    await alice.get_by_role("button", name="Send").click()
    await expect(alice.get_by_role("status")).to_have_text("Message sent.")

    await bob.reload()
    await expect(bob.get_by_text("Wonderful! Is Tuesday good?")).to_be_visible()
    await bob.get_by_label("Message to @alice", exact=False).fill("Tuesday works.")
    await bob.get_by_role("button", name="Send").click()
    await alice.reload()
    await expect(alice.get_by_text("Tuesday works.")).to_be_visible()
    await alice.screenshot(path=screenshots / "conversation.png", full_page=True)
    await assert_named(alice)
