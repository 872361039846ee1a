"""The newcomer's journey through the real UI in headless Chromium (issue 4): sign up with an
invite, fill in the profile, pick badges and create one, post a one-line update, find it on the
profile, the badge page it is tagged for and the home timeline; a moderator approves the new
badge and a
signed-out visitor finds it in the catalogue. Screenshots go to test-artifacts/screenshots/.

Every step uses what a person sees: labels, roles and accessible names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.fedipoly.browser.support import LiveServer, sign_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(60)]

POST_TEXT = "Fixed the flaky login test and wrote up why it was flaky."


async def test_newcomer_journey(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    newcomer = await live_server.new_context(browser)
    page = await newcomer.new_page()

    # --- sign up with the invite code ----------------------------------------------------
    await page.goto("/")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    await expect(page.get_by_role("heading", name="Sign up", level=1)).to_be_visible()
    await page.get_by_label("Username").fill("ada")
    await page.get_by_label("Email").fill("ada@example.test")
    await page.get_by_label("Password", exact=True).fill("analytical engine 1843")
    await page.get_by_label("Invite code").fill(live_server.invite_code)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("status")).to_have_text("Welcome to Fedipoly!")
    await expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()

    # --- fill in the profile -------------------------------------------------------------
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="Edit profile").click()
    await expect(page.get_by_role("heading", name="Edit profile")).to_be_visible()
    await page.get_by_label("Display name").fill("Ada Lovelace")
    await page.get_by_label("Headline").fill("Programs for engines that do not exist yet")
    await page.get_by_label("Position 1").fill("Analyst at Babbage & Co")
    await page.get_by_label("Bio").fill("I annotate, translate and write programs.")
    await page.get_by_label("Link 1 label").fill("Notes")
    await page.get_by_label("Link 1 address").fill("https://ada.example/notes")
    await expect(
        page.get_by_label("List me on the pages of my badges and in search")
    ).to_be_checked()
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_role("status")).to_contain_text("Your profile has been saved.")

    # --- add two existing badges ---------------------------------------------------------
    await page.goto("/settings/badges")
    await page.get_by_role("checkbox", name="Programming").check()
    await page.get_by_role("checkbox", name="Python", exact=True).check()
    await page.get_by_role("button", name="Add badges").click()
    await expect(page.get_by_role("status")).to_have_text("Your badges have been updated.")
    mine = page.get_by_role("region", name="On your profile")
    await expect(mine.get_by_role("link", name="Programming")).to_be_visible()
    await expect(mine.get_by_role("link", name="Python", exact=True)).to_be_visible()

    # --- create a new badge: usable at once, pending for everyone else ---------------------
    await page.get_by_role("link", name="Create a new badge").click()
    await page.get_by_label("Name", exact=True).fill("Bird watching")
    await page.get_by_label("Short name (slug)").fill("bird_watching")
    await page.get_by_label("Colour").fill("#2a9d8f")
    await page.get_by_label("Icon").fill("🐦")
    await page.get_by_role("button", name="Create badge").click()
    await expect(page).to_have_url(re.compile(r"/badges/bird_watching\?notice=badge_created$"))
    await expect(page.get_by_role("heading", name="Bird watching", level=1)).to_be_visible()
    await expect(
        page.get_by_text("This badge is waiting for a moderator's review.")
    ).to_be_visible()
    await page.goto("/settings/badges")
    pending = (
        page.get_by_role("region", name="On your profile")
        .get_by_role("listitem")
        .filter(has_text="Bird watching")
    )
    await expect(pending).to_contain_text("waiting for review")

    # --- post a one-line update from the home page, tagged with what Ada did -------------
    await page.get_by_role("link", name="Fedipoly", exact=True).click()
    compose = page.get_by_role("region", name="New post")
    await compose.get_by_label("What did you do?").fill(POST_TEXT)
    await compose.get_by_label("Activity", exact=True).select_option(label="Wrote some code")
    await compose.get_by_role("button", name="Post").click()
    await expect(page.get_by_role("status")).to_have_text("Your post is published.")
    timeline = page.get_by_role("region", name="Your timeline")
    posted = timeline.get_by_role("article").filter(has_text=POST_TEXT)
    await expect(posted).to_be_visible()
    activities = posted.get_by_role("list", name="Activities")
    await expect(
        activities.get_by_role("link", name=re.compile("^Wrote some code"))
    ).to_have_attribute("href", "/badges/programming")
    await page.screenshot(path=screenshots / "home-timeline.png", full_page=True)

    # --- the profile page ------------------------------------------------------------------
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="@ada").click()
    await expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    await expect(page.get_by_text("Programs for engines that do not exist yet")).to_be_visible()
    await expect(page.get_by_role("list", name="Positions")).to_have_text("Analyst at Babbage & Co")
    about = page.get_by_role("region", name="About")
    await expect(about).to_contain_text("I annotate, translate and write programs.")
    await expect(about.get_by_role("link", name="ada.example/notes")).to_have_attribute(
        "href", "https://ada.example/notes"
    )
    badges = page.get_by_role("region", name="Badges")
    await expect(badges.get_by_role("link", name="Programming")).to_be_visible()
    await expect(badges.get_by_role("link", name="Python", exact=True)).to_be_visible()
    await expect(badges.get_by_role("link", name="Bird watching")).to_have_count(0)  # pending
    posts = page.get_by_role("region", name="Posts")
    await expect(posts.get_by_role("article").filter(has_text=POST_TEXT)).to_be_visible()
    await page.screenshot(path=screenshots / "profile.png", full_page=True)

    # --- the badge page of the tagged badge lists the post ---------------------------------
    await badges.get_by_role("link", name="Programming").click()
    await expect(page.get_by_role("heading", name="Programming", level=1)).to_be_visible()
    holders = page.get_by_role("region", name="People with this badge")
    await expect(holders.get_by_role("link", name=re.compile("Ada Lovelace"))).to_be_visible()
    badge_posts = page.get_by_role("region", name="Posts")
    await expect(badge_posts.get_by_role("article").filter(has_text=POST_TEXT)).to_be_visible()
    await page.screenshot(path=screenshots / "badge-page.png", full_page=True)

    # --- a moderator approves the new badge (their own browser profile) --------------------
    moderator = await live_server.new_context(browser)
    mod_page = await moderator.new_page()
    await sign_in(mod_page, live_server.moderator.username)
    await (
        mod_page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Moderation")
        .click()
    )
    await expect(mod_page.get_by_role("heading", name="Badges to review")).to_be_visible()
    entry = mod_page.get_by_role("article", name="Bird watching")
    await expect(entry).to_contain_text("bird_watching")
    await entry.get_by_role("button", name="Approve Bird watching").click()
    await expect(mod_page.get_by_role("status")).to_have_text(
        "The badge is approved and now public."
    )
    await expect(mod_page.get_by_text("Nothing to review.")).to_be_visible()

    # --- a signed-out visitor finds it in the public catalogue -----------------------------
    visitor = await live_server.new_context(browser)
    visit = await visitor.new_page()
    await visit.goto("/badges")
    catalogue = visit.get_by_role("region", name="All badges")
    await catalogue.get_by_role("link", name="Bird watching").click()
    await expect(visit.get_by_role("heading", name="Bird watching", level=1)).to_be_visible()
    await expect(visit.get_by_text("waiting for a moderator's review")).to_have_count(0)
    await visit.goto("/@ada")
    await expect(
        visit.get_by_role("region", name="Badges").get_by_role("link", name="Bird watching")
    ).to_be_visible()

    for context in (newcomer, moderator, visitor):
        await context.close()
