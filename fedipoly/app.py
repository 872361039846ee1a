"""create_app(config): the one place that wires the application together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from federation.client import FederationClient
from federation.inbox import InboxLimits, InboxVerifier
from federation.keyresolver import KeyResolver
from federation.ssrf import HostPolicy
from fedipoly import __version__, appkeys
from fedipoly.config import Config
from fedipoly.models import Clock, utc_now
from fedipoly.services.accounts import AccountService
from fedipoly.services.actors import RemoteActors
from fedipoly.services.audit import AuditLog
from fedipoly.services.badge_actors import AnnounceLimits, BadgeActorService
from fedipoly.services.badge_directory import BadgeDirectoryService
from fedipoly.services.badge_moderation import BadgeModeration
from fedipoly.services.badges import BadgeService
from fedipoly.services.collab import CollabService
from fedipoly.services.conversations import ConversationService
from fedipoly.services.delivery import Deliverer, DeliverySettings
from fedipoly.services.discovery import DiscoveryDocuments
from fedipoly.services.document_cache import DocumentCache
from fedipoly.services.follows import FollowService
from fedipoly.services.health import HealthService
from fedipoly.services.inbox import InboxService
from fedipoly.services.keys import load_instance_keys, make_signer
from fedipoly.services.media import MediaService
from fedipoly.services.media_library import MediaLibrary
from fedipoly.services.moderation import ModerationService
from fedipoly.services.notifications import NotificationService
from fedipoly.services.open_to import OpenToService
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.services.space_station import SpaceStation
from fedipoly.store import Store, create_store
from fedipoly.urls import Urls
from fedipoly.web import (
    activitypub,
    api,
    badge_federation,
    badges_api,
    badges_pages,
    collab_api,
    collab_pages,
    health,
    media,
    moderation_api,
    moderation_pages,
    openapi,
    pages,
    profile_api,
    profile_pages,
    social_api,
    social_pages,
    timeline_pages,
)
from fedipoly.web.middlewares import (
    csrf_middleware,
    error_middleware,
    identity_middleware,
    security_headers_middleware,
)
from fedipoly.web.moderation_pages import badge_alias_middleware
from fedipoly.workers import WorkerPool

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
SESSION_PURGE_SECONDS = 3600.0
MEDIA_PURGE_SECONDS = 600.0
# Big enough for forms with a few images; ActivityPub inboxes apply their own, smaller cap.
MAX_REQUEST_BYTES = 20 * 1024 * 1024


def build_services(app: web.Application, store: Store) -> None:
    config, clock = app[appkeys.CONFIG], app[appkeys.CLOCK]
    app[appkeys.STORE] = store
    app[appkeys.URLS] = Urls(config.server.base_url)
    app[appkeys.ACCOUNTS] = AccountService(store, config.registration, config.security, clock)
    app[appkeys.HEALTH] = HealthService(store)


def new_client(config: Config) -> FederationClient:
    federation = config.federation
    return FederationClient(
        HostPolicy(frozenset(federation.allowed_private_hosts)),
        f"Fedipoly/{__version__} (+{config.server.base_url}/)",
        connect_timeout=federation.connect_timeout_seconds,
        total_timeout=federation.total_timeout_seconds,
        max_body_bytes=federation.max_response_bytes,
    )


async def build_federation(app: web.Application, client: FederationClient) -> None:
    """The protocol services; they need the instance key, which lives in the store."""
    config, clock, store = app[appkeys.CONFIG], app[appkeys.CLOCK], app[appkeys.STORE]
    urls = app[appkeys.URLS]
    keys = await load_instance_keys(store)
    instance_signer = make_signer(urls.instance_key_id, keys.private_pem, clock)
    actors = RemoteActors(store, client, urls, instance_signer, clock)
    deliverer = Deliverer(
        store,
        client,
        urls,
        clock,
        keys.private_pem,
        settings=DeliverySettings(
            concurrency=config.workers.delivery_concurrency,
            lease_seconds=config.workers.delivery_lease_seconds,
        ),
    )
    media_store = MediaService(
        config.media.directory,
        max_upload_bytes=config.media.max_upload_bytes,
        max_pixels=config.media.max_pixels,
    )
    badge_actors = BadgeActorService(
        store,
        deliverer,
        urls,
        clock,
        limits=AnnounceLimits(
            per_author_per_hour=config.federation.badge_announces_per_author_per_hour,
            per_badge_per_hour=config.federation.badge_announces_per_badge_per_hour,
        ),
    )
    app[appkeys.BADGE_ACTORS] = badge_actors
    audit = AuditLog(store, clock)  # the one audit log every moderator and admin action writes
    posts = PostService(
        store,
        deliverer,
        urls,
        clock,
        actors=actors,
        media=media_store,
        badge_peers=frozenset(config.federation.badge_peers),
        badge_actors=badge_actors,
    )
    badge_directory = BadgeDirectoryService(
        store,
        client,
        urls,
        clock,
        instance_signer=instance_signer,
        actors=actors,
        deliverer=deliverer,
        badge_actors=badge_actors,
        posts=posts,
        audit=audit,
        config_peers=frozenset(config.federation.badge_peers),
        refresh_seconds=config.federation.badge_directory_refresh_seconds,
    )
    app[appkeys.BADGE_DIRECTORY] = badge_directory
    app[appkeys.MEDIA] = media_store
    app[appkeys.MEDIA_LIBRARY] = MediaLibrary(
        store,
        media_store,
        clock,
        unattached_retention=timedelta(hours=config.media.unattached_retention_hours),
    )
    follows = FollowService(store, actors, deliverer, urls, clock)
    app[appkeys.CLIENT] = client
    app[appkeys.INSTANCE_KEYS] = keys
    app[appkeys.ACTORS] = actors
    app[appkeys.DELIVERER] = deliverer
    app[appkeys.POSTS] = posts
    app[appkeys.FOLLOWS] = follows
    documents = DocumentCache(config.server.document_cache_seconds)
    profiles = ProfileService(store, deliverer, urls, clock, documents=documents)
    app[appkeys.PROFILES] = profiles
    app[appkeys.DISCOVERY] = DiscoveryDocuments(
        documents, app[appkeys.ACCOUNTS], profiles, badge_actors, urls
    )
    app[appkeys.BADGES] = BadgeService(
        store, profiles, clock, audit=audit, badge_actors=badge_actors
    )
    moderation = build_moderation(app, store, actors, deliverer, posts, documents, audit)
    app[appkeys.VERIFIER] = InboxVerifier(
        KeyResolver(client, actors, instance_signer),
        local_origin=urls.base,
        scheme=urls.scheme,
        limits=InboxLimits(max_body_bytes=config.federation.max_inbox_bytes),
        clock=clock,
        refuse_actor=moderation.inbound_refusal,
    )
    app[appkeys.INBOX] = InboxService(
        store,
        actors,
        follows,
        posts,
        client,
        instance_signer,
        urls,
        clock,
        lease_seconds=config.workers.inbox_lease_seconds,
        badge_actors=badge_actors,
        badge_directory=badge_directory,
        moderation=moderation,
        collab=build_collab(app, store, actors, deliverer, posts, moderation),
    )


def build_collab(
    app: web.Application,
    store: Store,
    actors: RemoteActors,
    deliverer: Deliverer,
    posts: PostService,
    moderation: ModerationService,
) -> CollabService:
    """The open-to catalogue, collaboration requests, direct conversations, Space Station."""
    config, urls, clock = app[appkeys.CONFIG], app[appkeys.URLS], app[appkeys.CLOCK]
    profiles = app[appkeys.PROFILES]
    open_to = OpenToService(
        store,
        clock,
        profiles.announce_update,
        audit=moderation.audit,
        catalogue_changed=profiles.forget_all_documents,
    )
    conversations = ConversationService(store, posts, urls, clock)
    space_station = SpaceStation(
        store,
        open_to,
        actors,
        urls,
        clock,
        refresh_after=timedelta(seconds=config.collaboration.remote_profile_refresh_seconds),
    )
    actors.observe(space_station.record)
    collab = CollabService(
        store,
        open_to,
        conversations,
        actors,
        deliverer,
        urls,
        clock,
        requests_per_day=config.collaboration.requests_per_day,
        reporter=moderation.report,
    )
    app[appkeys.OPEN_TO] = open_to
    app[appkeys.CONVERSATIONS] = conversations
    app[appkeys.SPACE_STATION] = space_station
    app[appkeys.COLLAB] = collab
    return collab


def build_moderation(
    app: web.Application,
    store: Store,
    actors: RemoteActors,
    deliverer: Deliverer,
    posts: PostService,
    documents: DocumentCache,
    audit: AuditLog,
) -> ModerationService:
    """Reports, blocks and suspensions; badge moderation; members' notifications."""
    urls, clock = app[appkeys.URLS], app[appkeys.CLOCK]
    notifications = NotificationService(store, clock)
    moderation = ModerationService(
        store,
        actors=actors,
        deliverer=deliverer,
        posts=posts,
        badges=app[appkeys.BADGES],
        notifications=notifications,
        urls=urls,
        clock=clock,
        documents=documents,
        audit=audit,
        badge_actors=app[appkeys.BADGE_ACTORS],
    )
    app[appkeys.NOTIFICATIONS] = notifications
    app[appkeys.MODERATION] = moderation
    app[appkeys.BADGE_MODERATION] = BadgeModeration(
        store,
        app[appkeys.BADGES],
        notifications,
        moderation.audit,
        clock,
        profiles=app[appkeys.PROFILES],
        badge_actors=app[appkeys.BADGE_ACTORS],
    )
    return moderation


def register_jobs(app: web.Application, pool: WorkerPool) -> None:
    accounts, idle = app[appkeys.ACCOUNTS], app[appkeys.CONFIG].workers.poll_interval_seconds

    async def purge_sessions() -> bool:
        await accounts.purge_expired_sessions()
        return False  # periodic: always wait for the next round

    pool.add("purge-expired-sessions", purge_sessions, idle_seconds=SESSION_PURGE_SECONDS)
    media_library = app[appkeys.MEDIA_LIBRARY]

    async def purge_unattached_media() -> bool:
        return await media_library.purge_unattached() > 0  # more may wait: go again at once

    pool.add("purge-unattached-media", purge_unattached_media, idle_seconds=MEDIA_PURGE_SECONDS)
    pool.add("inbox", app[appkeys.INBOX].process_once, idle_seconds=idle)
    pool.add("delivery", app[appkeys.DELIVERER].run_once, idle_seconds=idle)
    pool.add("remote-profiles", app[appkeys.SPACE_STATION].refresh_once, idle_seconds=idle)
    badge_directory = app[appkeys.BADGE_DIRECTORY]

    seeded: list[bool] = []

    async def read_badge_directories() -> bool:
        if not seeded:  # configured peers become approved peers once per process
            await badge_directory.ensure_config_peers()
            seeded.append(True)
        return await badge_directory.refresh_once()

    pool.add("badge-directories", read_badge_directories, idle_seconds=idle)


def create_app(
    config: Config, *, clock: Clock = utc_now, run_workers: bool = True, store: Store | None = None
) -> web.Application:
    """The web application; background workers run inside it unless `run_workers` is False."""
    app = web.Application(
        middlewares=[
            security_headers_middleware,
            error_middleware,
            identity_middleware,
            csrf_middleware,
            badge_alias_middleware,
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
    )

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        opened = store or create_store(config.storage)
        await opened.open()
        build_services(app, opened)
        yield
        await opened.close()

    async def federation_ctx(app: web.Application) -> AsyncIterator[None]:
        async with new_client(config) as client:
            await build_federation(app, client)
            yield

    async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = app[appkeys.WORKERS]
        if run_workers:
            register_jobs(app, pool)
            pool.start()
        yield
        await pool.stop(config.server.shutdown_timeout_seconds)

    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(federation_ctx)
    app.cleanup_ctx.append(workers_ctx)
    for table in (
        health.routes,
        activitypub.routes,
        media.routes,
        openapi.routes,
        api.routes,
        social_api.routes,
        profile_api.routes,
        badges_api.routes,
        collab_api.routes,
        social_pages.routes,
        timeline_pages.routes,
        profile_pages.routes,
        badges_pages.routes,
        collab_pages.routes,
        badge_federation.routes,
        moderation_api.routes,
        moderation_pages.routes,
        pages.routes,
    ):
        app.router.add_routes(table)
    app.router.add_static("/static/", PACKAGE_DIR / "static", name="static")
    return app
