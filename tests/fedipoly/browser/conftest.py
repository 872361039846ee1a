"""Browser tests: headless Debian Chromium driven by Playwright against a real Fedipoly.

Everything here runs on one session-wide event loop: the browser is session-scoped and the
server is served from the same loop the test awaits on, so every fixture and test in this
folder uses `loop_scope="session"` (the test modules set it with `pytestmark`).

The browser is Debian's /usr/bin/chromium; `playwright install` is never used. If it is
missing the tests fail (never skip): install it with `apt-get install -y chromium`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright

from fedipoly import appkeys
from fedipoly.app import create_app
from fedipoly.models import Role
from tests.fedipoly.browser.support import PASSWORD, SCREENSHOTS, LiveServer
from tests.support import free_port, make_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; its absence fails the tests (they are required in CI, never skipped)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get update && apt-get install -y chromium). Do not run `playwright install`.",
            pytrace=False,
        )
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = make_config(
        tmp_path,
        server={"public_url": base_url, "host": "127.0.0.1", "port": port},
        workers={"poll_interval_seconds": 0.05},
        registration={"mode": "invite"},
    )
    app = create_app(config, run_workers=True)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        accounts = app[appkeys.ACCOUNTS]
        moderator = await accounts.register(
            username="mod",
            email="mod@example.test",
            password=PASSWORD,
            invite_code=None,
            role=Role.MODERATOR,
            bypass_registration_mode=True,
        )
        invite = await accounts.create_operator_invite(max_uses=1, expires_days=7)
        yield LiveServer(app=app, base_url=base_url, moderator=moderator, invite_code=invite.code)
    finally:
        await server.close()
