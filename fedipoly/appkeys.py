"""Every web.AppKey: the one place where shared objects of a running app are declared."""

from __future__ import annotations

from aiohttp import web

from fedipoly.config import Config
from fedipoly.models import Clock
from fedipoly.services.accounts import AccountService
from fedipoly.store.base import Store
from fedipoly.workers import WorkerPool

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", AccountService)
WORKERS = web.AppKey("workers", WorkerPool)
