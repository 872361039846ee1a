"""ActivityPub and discovery endpoints: WebFinger, host-meta, NodeInfo, actors, inboxes,
outboxes, follower collections and notes. Thin: verification and work live in the services."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from federation.errors import WebFingerError
from federation.inbox import InboxRejected, SkipActivity
from federation.nodeinfo import (
    NODEINFO_VERSIONS,
    nodeinfo_content_type,
    nodeinfo_document,
    nodeinfo_links,
)
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, is_activitypub_media_type
from federation.webfinger import (
    JRD_CONTENT_TYPE,
    XRD_CONTENT_TYPE,
    build_jrd,
    host_meta_json,
    host_meta_xml,
    parse_acct,
)
from fedipoly import __version__, appkeys, render
from fedipoly.errors import Gone, NotFound, PayloadTooLarge, ValidationFailed
from fedipoly.models import Account
from fedipoly.services.posts import decode_cursor, encode_cursor
from fedipoly.store.base import Cursor

routes = web.RouteTableDef()

AS_JSON_TYPE = f"{ACTIVITY_JSON}; charset=utf-8"
COLLECTION_PAGE_SIZE = 20
CORS = {"Access-Control-Allow-Origin": "*"}
ACTIVITY_JSON_HEADERS = {"Content-Type": AS_JSON_TYPE, "Vary": "Accept"}
JRD_HEADERS = {**CORS, "Content-Type": f"{JRD_CONTENT_TYPE}; charset=utf-8"}


def activity_json(document: dict[str, Any], status: int = 200) -> web.Response:
    """AS2 with the content type Mastodon insists on (jsonld_helper.rb, since 4.2.5)."""
    return web.Response(
        body=json.dumps(document, separators=(",", ":")).encode(),
        status=status,
        content_type=ACTIVITY_JSON,
        charset="utf-8",
        headers={"Vary": "Accept"},
    )


def wants_activitypub(request: web.Request) -> bool:
    return _accepts_activitypub(request.headers.get("Accept", ""))


# Peers send a handful of distinct Accept headers, and parsing one was ~8% of an actor GET.
@functools.lru_cache(maxsize=256)
def _accepts_activitypub(accept: str) -> bool:
    return is_activitypub_media_type(accept)


async def member(request: web.Request) -> Account:
    account = await request.app[appkeys.ACCOUNTS].get_by_username(request.match_info["username"])
    if account.suspended:
        raise Gone("this account is suspended")
    return account


# --- discovery ---------------------------------------------------------------------------


@routes.get("/.well-known/webfinger")
async def webfinger(request: web.Request) -> web.Response:
    urls = request.app[appkeys.URLS]
    resource = request.query.get("resource", "").strip()
    if not resource:
        return web.json_response(
            {"error": "the resource parameter is required"}, status=400, headers=CORS
        )
    discovery = request.app[appkeys.DISCOVERY]
    if (cached := discovery.cached_jrd(resource)) is not None:  # services/discovery.py
        return web.Response(body=cached, headers=JRD_HEADERS)
    badge_directory = request.app[appkeys.BADGE_DIRECTORY]
    if badge_directory.is_server_resource(resource):  # FEP-d556: the server's own actor
        jrd = badge_directory.server_jrd(resource)
        return web.json_response(jrd, content_type=JRD_CONTENT_TYPE, headers=CORS)
    try:
        badge_jrd = await request.app[appkeys.BADGE_ACTORS].webfinger(resource)
    except NotFound:
        return web.json_response({"error": "no such badge actor"}, status=404, headers=CORS)
    if badge_jrd is not None:
        return web.json_response(badge_jrd, content_type=JRD_CONTENT_TYPE, headers=CORS)
    username: str | None
    if resource.startswith(("http://", "https://")):
        username = urls.local_username(resource) or _profile_username(urls.base, resource)
        if resource == urls.instance_actor:
            username = urls.domain
    else:
        try:
            username, host = parse_acct(resource)
        except WebFingerError as error:
            return web.json_response({"error": str(error)}, status=400, headers=CORS)
        if host != urls.domain:
            return web.json_response(
                {"error": "not a resource of this server"}, status=404, headers=CORS
            )
    if username is None:
        return web.json_response({"error": "no such resource"}, status=404, headers=CORS)
    if username.lower() == urls.domain:
        jrd = build_jrd(
            subject=f"acct:{urls.domain}@{urls.domain}",
            actor_url=urls.instance_actor,
            profile_url=f"{urls.base}/",
        )
        return web.json_response(jrd, content_type=JRD_CONTENT_TYPE, headers=CORS)
    try:
        body = await discovery.jrd(username, resource=resource)
    except NotFound:
        return web.json_response({"error": "no such account"}, status=404, headers=CORS)
    except Gone:
        return web.json_response({"error": "this account is gone"}, status=410, headers=CORS)
    return web.Response(body=body, headers=JRD_HEADERS)


def _profile_username(base: str, url: str) -> str | None:
    prefix = f"{base}/@"
    rest = url[len(prefix) :] if url.startswith(prefix) else ""
    return rest if rest and "/" not in rest else None


@routes.get("/.well-known/host-meta")
async def host_meta(request: web.Request) -> web.Response:
    base = request.app[appkeys.URLS].base
    if "json" in request.headers.get("Accept", ""):
        return web.json_response(host_meta_json(base), headers=CORS)
    return web.Response(text=host_meta_xml(base), content_type=XRD_CONTENT_TYPE, headers=CORS)


@routes.get("/.well-known/host-meta.json")
async def host_meta_as_json(request: web.Request) -> web.Response:
    return web.json_response(host_meta_json(request.app[appkeys.URLS].base), headers=CORS)


@routes.get("/.well-known/nodeinfo")
async def nodeinfo_discovery(request: web.Request) -> web.Response:
    urls = request.app[appkeys.URLS]
    return web.json_response(nodeinfo_links(urls.base, urls.instance_actor), headers=CORS)


@routes.get("/nodeinfo/{version}")
async def nodeinfo(request: web.Request) -> web.Response:
    version = request.match_info["version"]
    if version not in NODEINFO_VERSIONS:
        raise NotFound("unknown NodeInfo version")
    config = request.app[appkeys.CONFIG]
    # Activity is not tracked, so the active-user figures repeat the member count.
    users = await request.app[appkeys.ACCOUNTS].count_members()
    document = nodeinfo_document(
        version=version,
        software_name="fedipoly",
        software_version=__version__,
        repository=None,
        open_registrations=config.registration.mode == "open",
        users_total=users,
        users_active_month=users,
        users_active_halfyear=users,
        local_posts=await request.app[appkeys.POSTS].count_local_posts(),
        metadata={"nodeName": config.server.domain}
        | request.app[appkeys.BADGE_DIRECTORY].nodeinfo_metadata(),
    )
    # The profile parameter goes in the header itself: aiohttp refuses a Content-Type header
    # together with content_type=, which made every NodeInfo request a 500.
    return web.Response(
        body=json.dumps(document).encode(),
        headers={**CORS, "Content-Type": nodeinfo_content_type(version)},
    )


# --- actors ------------------------------------------------------------------------------


@routes.get("/users/{username}")
async def actor(request: web.Request) -> web.StreamResponse:
    if wants_activitypub(request):
        # Rendered once and served from memory (services/discovery.py): peers fetch it often.
        body = await request.app[appkeys.DISCOVERY].actor(request.match_info["username"])
        return web.Response(body=body, headers=ACTIVITY_JSON_HEADERS)
    account = await member(request)
    urls = request.app[appkeys.URLS]
    raise web.HTTPSeeOther(urls.profile(account.username), headers={"Vary": "Accept"})


@routes.get("/actor")
async def instance_actor(request: web.Request) -> web.Response:
    keys = request.app[appkeys.INSTANCE_KEYS]
    directory = request.app[appkeys.BADGE_DIRECTORY]
    return activity_json(directory.instance_actor_document(keys.public_pem))


# --- inboxes -----------------------------------------------------------------------------


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The body, refusing (413) anything larger than `limit` before reading it all."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        # The HTTP parser ends the body at Content-Length: one read, no wait for EOF.
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as cut:  # the sender hung up mid-body
            return cut.partial
    # StreamReader.read(n) returns what has arrived so far (at most n bytes), not n bytes: a
    # body sent in several chunks or TCP segments must be read until EOF, or it is truncated.
    body = bytearray()
    while chunk := await request.content.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


async def _receive(request: web.Request) -> web.Response:
    config = request.app[appkeys.CONFIG]
    body = await read_capped(request, config.federation.max_inbox_bytes)
    try:
        verified = await request.app[appkeys.VERIFIER].verify(
            method=request.method, target=request.raw_path, headers=request.headers, body=body
        )
    except SkipActivity:
        return web.Response(status=202)
    except InboxRejected as rejected:
        return web.json_response({"error": str(rejected), "detail": None}, status=rejected.status)
    await request.app[appkeys.INBOX].accept(verified)
    return web.Response(status=202)


@routes.post("/users/{username}/inbox")
async def member_inbox(request: web.Request) -> web.Response:
    await member(request)
    return await _receive(request)


@routes.post("/inbox")
async def shared_inbox(request: web.Request) -> web.Response:
    return await _receive(request)


@routes.post("/actor/inbox")
async def instance_inbox(request: web.Request) -> web.Response:
    return await _receive(request)


# --- collections -------------------------------------------------------------------------


def _page_url(collection: str, before: str | None) -> str:
    query = {"page": "true"} | ({"before": before} if before else {})
    return f"{collection}?{urlencode(query)}"


async def paged_collection(
    request: web.Request,
    collection: str,
    total: Callable[[], Awaitable[int]],
    page: Callable[[Cursor | None], Awaitable[tuple[list[Any], Cursor | None]]],
) -> web.Response:
    """An OrderedCollection, or with `?page=true` one newest-first page of it.

    `page(before)` returns the page's items and the keyset cursor of the next page (None on
    the last one).
    """
    if request.query.get("page") != "true":
        return activity_json(
            render.ordered_collection(collection, await total(), _page_url(collection, None))
        )
    before = request.query.get("before")
    items, next_cursor = await page(decode_cursor(before))
    next_page = _page_url(collection, encode_cursor(*next_cursor)) if next_cursor else None
    return activity_json(
        render.ordered_page(_page_url(collection, before), collection, items, next_page)
    )


def next_cursor_of(
    rows: list[Any], cursor: Callable[[Any], Cursor], page_size: int = COLLECTION_PAGE_SIZE
) -> Cursor | None:
    """A full page may have more after it; a short one is the last."""
    return cursor(rows[-1]) if len(rows) == page_size else None


@routes.get("/users/{username}/outbox")
async def outbox(request: web.Request) -> web.Response:
    account = await member(request)
    urls, posts = request.app[appkeys.URLS], request.app[appkeys.POSTS]

    async def page(before: Cursor | None) -> tuple[list[Any], Cursor | None]:
        rows = await posts.public_posts(account, before=before, limit=COLLECTION_PAGE_SIZE)
        items = [await posts.create_document(post, account) for post in rows]
        for item in items:
            item.pop("@context", None)
        return items, next_cursor_of(rows, lambda post: (post.published, post.id))

    return await paged_collection(
        request,
        urls.outbox(account.username),
        lambda: posts.count_public_posts(account),
        page,
    )


async def _follow_collection(request: web.Request, *, followers: bool) -> web.Response:
    account = await member(request)
    urls, follows_service = request.app[appkeys.URLS], request.app[appkeys.FOLLOWS]
    collection = urls.followers(account.username) if followers else urls.following(account.username)

    async def total() -> int:
        follower_total, following_total = await follows_service.counts(account)
        return follower_total if followers else following_total

    async def page(before: Cursor | None) -> tuple[list[Any], Cursor | None]:
        follows = await follows_service.collection_page(
            account, followers=followers, before=before, limit=COLLECTION_PAGE_SIZE
        )
        items = [follow.follower if followers else follow.followed for follow in follows]
        return items, next_cursor_of(follows, lambda follow: (follow.created_at, follow.id))

    return await paged_collection(request, collection, total, page)


@routes.get("/users/{username}/followers")
async def followers_collection(request: web.Request) -> web.Response:
    return await _follow_collection(request, followers=True)


@routes.get("/users/{username}/following")
async def following_collection(request: web.Request) -> web.Response:
    return await _follow_collection(request, followers=False)


@routes.get("/users/{username}/collections/featured")
async def featured(request: web.Request) -> web.Response:
    account = await member(request)
    urls = request.app[appkeys.URLS]
    document = render.ordered_collection(urls.featured(account.username), 0, None)
    document["orderedItems"] = []
    return activity_json(document)


@routes.get("/users/{username}/collections/tags")
async def featured_tags(request: web.Request) -> web.Response:
    account = await member(request)
    urls = request.app[appkeys.URLS]
    return activity_json(
        {
            "@context": AS_CONTEXT,
            "id": urls.featured_tags(account.username),
            "type": "Collection",
            "totalItems": 0,
            "items": [],
        }
    )


# --- notes -------------------------------------------------------------------------------


async def _public_note(request: web.Request) -> tuple[Account, Any]:
    username, post_id = request.match_info["username"], request.match_info["post_id"]
    try:
        return await request.app[appkeys.POSTS].local_post(username.lower(), post_id)
    except ValidationFailed:
        raise NotFound("no such post") from None


@routes.get("/users/{username}/statuses/{post_id}")
async def note(request: web.Request) -> web.StreamResponse:
    urls = request.app[appkeys.URLS]
    try:
        account, post = await _public_note(request)
    except Gone:
        uri = urls.note(request.match_info["username"], request.match_info["post_id"])
        deleted_at = await request.app[appkeys.POSTS].deleted_at(uri)
        return activity_json(render.tombstone(uri, deleted_at), status=410)
    if post.visibility.value != "public":
        raise NotFound("no such post")  # only the audience may see it; never leak existence
    if not wants_activitypub(request):
        raise web.HTTPSeeOther(urls.note_page(account.username, post.id))
    return activity_json(await request.app[appkeys.POSTS].note_document(post, account))


@routes.get("/users/{username}/statuses/{post_id}/activity")
async def note_activity(request: web.Request) -> web.Response:
    account, post = await _public_note(request)
    if post.visibility.value != "public":
        raise NotFound("no such post")
    return activity_json(await request.app[appkeys.POSTS].create_document(post, account))
