"""Every web.AppKey: the one place where shared objects of a running app are declared."""

from __future__ import annotations

from aiohttp import web

from federation.client import FederationClient
from federation.inbox import InboxVerifier
from federation.keys import KeyPair
from fedipoly.config import Config
from fedipoly.models import Clock
from fedipoly.services.accounts import AccountService
from fedipoly.services.actors import RemoteActors
from fedipoly.services.badge_actors import BadgeActorService
from fedipoly.services.badge_directory import BadgeDirectoryService
from fedipoly.services.badge_moderation import BadgeModeration
from fedipoly.services.badges import BadgeService
from fedipoly.services.collab import CollabService
from fedipoly.services.conversations import ConversationService
from fedipoly.services.delivery import Deliverer
from fedipoly.services.discovery import DiscoveryDocuments
from fedipoly.services.follows import FollowService
from fedipoly.services.health import HealthService
from fedipoly.services.inbox import InboxService
from fedipoly.services.media import MediaService
from fedipoly.services.media_library import MediaLibrary
from fedipoly.services.moderation import ModerationService
from fedipoly.services.notifications import NotificationService
from fedipoly.services.open_to import OpenToService
from fedipoly.services.posts import PostService
from fedipoly.services.profiles import ProfileService
from fedipoly.services.space_station import SpaceStation
from fedipoly.store.base import Store
from fedipoly.urls import Urls
from fedipoly.workers import WorkerPool

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", AccountService)
WORKERS = web.AppKey("workers", WorkerPool)

URLS = web.AppKey("urls", Urls)
CLIENT = web.AppKey("federation_client", FederationClient)
INSTANCE_KEYS = web.AppKey("instance_keys", KeyPair)
ACTORS = web.AppKey("remote_actors", RemoteActors)
VERIFIER = web.AppKey("inbox_verifier", InboxVerifier)
DELIVERER = web.AppKey("deliverer", Deliverer)
FOLLOWS = web.AppKey("follows", FollowService)
POSTS = web.AppKey("posts", PostService)
INBOX = web.AppKey("inbox", InboxService)
PROFILES = web.AppKey("profiles", ProfileService)
DISCOVERY = web.AppKey("discovery_documents", DiscoveryDocuments)
HEALTH = web.AppKey("health", HealthService)
BADGES = web.AppKey("badges", BadgeService)
MEDIA = web.AppKey("media", MediaService)
MEDIA_LIBRARY = web.AppKey("media_library", MediaLibrary)
BADGE_ACTORS = web.AppKey("badge_actors", BadgeActorService)
BADGE_DIRECTORY = web.AppKey("badge_directory", BadgeDirectoryService)
MODERATION = web.AppKey("moderation", ModerationService)
BADGE_MODERATION = web.AppKey("badge_moderation", BadgeModeration)
NOTIFICATIONS = web.AppKey("notifications", NotificationService)
OPEN_TO = web.AppKey("open_to", OpenToService)
COLLAB = web.AppKey("collab", CollabService)
CONVERSATIONS = web.AppKey("conversations", ConversationService)
SPACE_STATION = web.AppKey("space_station", SpaceStation)
