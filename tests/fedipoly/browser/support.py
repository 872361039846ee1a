"""What the browser tests share: the running server's handle and a few person-like steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect

from fedipoly import appkeys
from fedipoly.models import Account

PASSWORD = "correct horse battery"
REPO_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
# Fail fast: a missing label or button should not cost Playwright's default 30 s per step.
STEP_TIMEOUT_MS = 10_000

# Roles of things a person operates; each needs an accessible name.
CONTROL_ROLES = frozenset(
    {
        "button",
        "checkbox",
        "combobox",
        "link",
        "listbox",
        "radio",
        "searchbox",
        "slider",
        "spinbutton",
        "switch",
        "textbox",
        "ColorWell",
    }
)


@dataclass
class LiveServer:
    """A real Fedipoly (workers running) on a loopback port, with a moderator and an invite."""

    app: web.Application
    base_url: str
    moderator: Account
    invite_code: str

    async def member(self, username: str) -> Account:
        """A member the operator made (no invite needed); password `PASSWORD`."""
        return await self.app[appkeys.ACCOUNTS].register(
            username=username,
            email=f"{username}@example.test",
            password=PASSWORD,
            invite_code=None,
            bypass_registration_mode=True,
        )

    async def new_context(self, browser: Browser) -> BrowserContext:
        """A fresh browser profile (own cookies): one per person in a test."""
        context = await browser.new_context(
            base_url=self.base_url, viewport={"width": 1100, "height": 900}
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        return context


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Through the sign-in form, as a person would."""
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def unnamed_controls(page: Page) -> list[str]:
    """Controls on the page whose computed accessible name is empty, from Chromium's own
    accessibility tree (what a screen reader is given), described for a failure message."""
    cdp = await page.context.new_cdp_session(page)
    try:
        tree: dict[str, Any] = await cdp.send("Accessibility.getFullAXTree")
        found = []
        for node in tree["nodes"]:
            if node.get("ignored"):
                continue
            role = node.get("role", {}).get("value")
            name = str(node.get("name", {}).get("value", "")).strip()
            if role in CONTROL_ROLES and not name:
                found.append(f"{role} {await _describe(cdp, node.get('backendDOMNodeId'))}")
        return found
    finally:
        await cdp.detach()


async def _describe(cdp: Any, backend_id: int | None) -> str:
    """`<tag attr=value ...>` for a DOM node Chromium's accessibility tree points at."""
    if backend_id is None:
        return "(no DOM node)"
    described = await cdp.send("DOM.describeNode", {"backendNodeId": backend_id})
    node = described["node"]
    flat = node.get("attributes", [])
    attributes = " ".join(
        f'{key}="{value}"' for key, value in zip(flat[::2], flat[1::2], strict=True)
    )
    return f"<{node.get('localName', '?')} {attributes}>".replace(" >", ">")


async def unlabelled_inputs(page: Page) -> list[str]:
    """Form fields with neither a <label>, aria-label nor aria-labelledby, from the DOM."""
    fields = page.locator(
        "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea"
    )
    missing = []
    for index in range(await fields.count()):
        field = fields.nth(index)
        labelled = await field.evaluate(
            "el => el.labels.length > 0 || !!el.getAttribute('aria-label')"
            " || !!el.getAttribute('aria-labelledby')"
        )
        if not labelled:
            missing.append(await field.evaluate("el => el.outerHTML"))
    return missing
