"""Helpers for tests that need a direct conversation: one started the only way one can be,
by a collaboration request the other side is interested in."""

from __future__ import annotations

from aiohttp import web

from fedipoly import appkeys
from fedipoly.collab_models import OpenToEntry
from fedipoly.models import Account


async def start_conversation(
    app: web.Application,
    asker: Account,
    answerer: Account,
    *,
    message: str = "Could we work together?",
    reply: str | None = None,
) -> tuple[str, str]:
    """`answerer` opens up to mentoring, `asker` asks, `answerer` is interested (with `reply`
    as the first message). Returns the two conversation ids: the asker's, the answerer's."""
    await app[appkeys.OPEN_TO].set_answers(answerer, [OpenToEntry("mentoring", True)])
    request = await app[appkeys.COLLAB].send(asker, answerer.username, "mentoring", message)
    theirs = await app[appkeys.COLLAB].interested(answerer, request.id, reply)
    urls = app[appkeys.URLS]
    mine = await app[appkeys.STORE].find_conversation(asker.id, urls.actor(answerer.username))
    assert mine is not None
    return mine.id, theirs.id
