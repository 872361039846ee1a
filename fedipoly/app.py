"""create_app(config): the one place that wires the application together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from fedipoly import appkeys
from fedipoly.config import Config
from fedipoly.models import Clock, utc_now
from fedipoly.services.accounts import AccountService
from fedipoly.store import Store, create_store
from fedipoly.web import api, health, openapi, pages
from fedipoly.web.middlewares import (
    csrf_middleware,
    error_middleware,
    identity_middleware,
    security_headers_middleware,
)
from fedipoly.web.pages import base_template_context
from fedipoly.workers import WorkerPool

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
SESSION_PURGE_SECONDS = 3600.0
# Big enough for forms with a few images; ActivityPub inboxes apply their own, smaller cap.
MAX_REQUEST_BYTES = 20 * 1024 * 1024


def build_services(app: web.Application, store: Store) -> None:
    config, clock = app[appkeys.CONFIG], app[appkeys.CLOCK]
    app[appkeys.STORE] = store
    app[appkeys.ACCOUNTS] = AccountService(store, config.registration, config.security, clock)


def register_jobs(app: web.Application, pool: WorkerPool) -> None:
    accounts = app[appkeys.ACCOUNTS]

    async def purge_sessions() -> bool:
        await accounts.purge_expired_sessions()
        return False  # periodic: always wait for the next round

    pool.add("purge-expired-sessions", purge_sessions, idle_seconds=SESSION_PURGE_SECONDS)


def create_app(
    config: Config, *, clock: Clock = utc_now, run_workers: bool = True, store: Store | None = None
) -> web.Application:
    """The web application; background workers run inside it unless `run_workers` is False."""
    app = web.Application(
        middlewares=[
            error_middleware,
            security_headers_middleware,
            identity_middleware,
            csrf_middleware,
        ],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[appkeys.CONFIG] = config
    app[appkeys.CLOCK] = clock
    app[appkeys.WORKERS] = WorkerPool()
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("fedipoly", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        context_processors=[base_template_context],
    )

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        opened = store or create_store(config.storage)
        await opened.open()
        build_services(app, opened)
        yield
        await opened.close()

    async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = app[appkeys.WORKERS]
        if run_workers:
            register_jobs(app, pool)
            pool.start()
        yield
        await pool.stop(config.server.shutdown_timeout_seconds)

    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(workers_ctx)
    for table in (health.routes, openapi.routes, api.routes, pages.routes):
        app.router.add_routes(table)
    app.router.add_static("/static/", PACKAGE_DIR / "static", name="static")
    return app
