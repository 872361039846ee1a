"""A moderator's journey through the real UI in headless Chromium (issue 6): review the queue
of new badges, merge a misspelt badge into the one it duplicates (its old address then
redirects), handle a member's report, and find every action in the audit log; the badge's
creator reads what happened in their notifications. Screenshots go to
test-artifacts/screenshots/.

Every step uses what a person sees: labels, roles and accessible names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from fedipoly import appkeys
from fedipoly.models import Visibility
from tests.fedipoly.browser.support import LiveServer, sign_in, unnamed_controls

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]


async def test_moderator_reviews_merges_and_handles_a_report(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    app = live_server.app
    sam, rita = await live_server.member("sam"), await live_server.member("rita")
    for slug, name in (("pyhton", "Pyhton"), ("knitting", "Knitting")):
        await app[appkeys.BADGES].create_badge(
            sam, slug=slug, display_name=name, color="#2a9d8f", icon="🧶"
        )
    spam = await app[appkeys.POSTS].create(sam, "Buy followers here", Visibility.PUBLIC)
    await app[appkeys.MODERATION].report(rita, "post", spam.id, "Selling followers")

    context = await live_server.new_context(browser)
    page = await context.new_page()
    await sign_in(page, "mod")

    # --- review the queue ----------------------------------------------------------------
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
    await expect(page.get_by_role("heading", name="Badges to review", level=1)).to_be_visible()
    subnav = page.get_by_role("navigation", name="Moderation")
    await subnav.get_by_role("link", name="Overview").click()
    await expect(page.get_by_role("heading", name="Moderation", level=1)).to_be_visible()
    await expect(page.get_by_text("Selling followers")).to_be_visible()  # an open report
    await subnav.get_by_role("link", name="Badges to review").click()
    await expect(page.get_by_role("heading", name="Pyhton")).to_be_visible()
    await page.get_by_role("button", name="Approve Knitting").click()
    await expect(page.get_by_role("status")).to_have_text("The badge is approved and now public.")
    await expect(page.get_by_role("heading", name="Knitting")).to_have_count(0)
    await page.screenshot(path=str(screenshots / "moderation-queue.png"), full_page=True)

    # --- merge the misspelt badge into Python ----------------------------------------------
    await page.get_by_role("link", name="Rename or merge Pyhton").click()
    await expect(page.get_by_role("heading", name=re.compile("Moderate"), level=1)).to_be_visible()
    assert await unnamed_controls(page) == []
    await page.get_by_label("Short name of the badge to merge into").fill("python")
    await page.get_by_label("Reason (for the audit log)").last.fill("Misspelt duplicate")
    await page.get_by_role("button", name="Merge pyhton").click()
    await expect(page.get_by_role("status")).to_have_text(
        "The badges are merged; the old short name now redirects."
    )
    await expect(page.get_by_role("button", name=re.compile("Revert"))).to_be_visible()
    await page.screenshot(path=str(screenshots / "moderation-merges.png"), full_page=True)
    await page.goto("/badges/pyhton")
    await expect(page).to_have_url(re.compile(r"/badges/python$"))
    await expect(page.get_by_role("heading", name="Python", level=1)).to_be_visible()

    # --- handle the report ---------------------------------------------------------------
    await page.goto("/moderation")
    await (
        page.get_by_role("navigation", name="Moderation")
        .get_by_role("link", name="Reports")
        .click()
    )
    await page.get_by_role("link", name="Report about a post").click()
    # The moderator reads what was reported, not just its address.
    await expect(page.get_by_role("region", name="The reported post")).to_contain_text(
        "Buy followers"
    )
    await page.get_by_role("radio", name=re.compile("Resolved")).check()
    await page.get_by_label("Note for the reporter (optional)").fill("The post is gone.")
    assert await unnamed_controls(page) == []
    await page.get_by_role("button", name="Close the report").click()
    await expect(page.get_by_role("status")).to_have_text("The report is closed.")
    await expect(page.get_by_text("No reports here.")).to_be_visible()

    # --- every action is in the audit log --------------------------------------------------
    await (
        page.get_by_role("navigation", name="Moderation")
        .get_by_role("link", name="Audit log")
        .click()
    )
    log = page.get_by_role("table")
    for action in ("badge.approve", "badge.merge", "report.resolve"):
        await expect(log.get_by_role("cell", name=action, exact=True)).to_be_visible()
    await expect(log.get_by_role("cell", name="Misspelt duplicate")).to_be_visible()
    await expect(log.get_by_role("cell", name="@mod").first).to_be_visible()
    await page.screenshot(path=str(screenshots / "moderation-audit.png"), full_page=True)

    # --- the creator and the reporter are told ---------------------------------------------
    for username, text in (("sam", "was merged into"), ("rita", "The post is gone.")):
        other = await live_server.new_context(browser)
        their_page = await other.new_page()
        await sign_in(their_page, username)
        await (
            their_page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="Notifications")
            .click()
        )
        await expect(their_page.get_by_text(text, exact=False)).to_be_visible()
        await other.close()
    await context.close()
