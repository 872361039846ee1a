"""The social JSON API under /api/v1/: follows, follow requests, posts and the home timeline.

Bearer tokens only (see middlewares.identity_middleware); errors are JSON {"error", "detail"}.
Lists are cursor-paginated: `?before=<cursor>&limit=<1..40>` in, `{"items", "next"}` out.
No like, favourite, boost or follower counts appear anywhere (product rule 1).

The read-side helpers here (who an actor is, who may see a post) are shared with the HTML pages
in social_pages.py so both answer the same question the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import Gone, ValidationFailed
from fedipoly.models import Account, FollowState, Post, TimelinePage, Visibility
from fedipoly.services.directory import ActorSummary, web_url
from fedipoly.services.follows import FollowView
from fedipoly.services.posts import clamp_limit, decode_cursor, encode_cursor, page_of
from fedipoly.web.api import read_json, require_account, text_field
from fedipoly.web.middlewares import current_account

routes = web.RouteTableDef()

VISIBILITY_CHOICES = tuple(visibility.value for visibility in Visibility)


# --- read-side views shared with the HTML pages -------------------------------------------


@dataclass(frozen=True)
class PostView:
    post: Post
    author: ActorSummary
    url: str  # absolute page URL
    path: str  # link target in our HTML (site path for local posts)
    own: bool  # the reader wrote it: may edit and delete

    @property
    def published_label(self) -> str:
        return self.post.published.strftime("%Y-%m-%d %H:%M UTC")

    @property
    def updated_label(self) -> str:
        return self.post.updated.strftime("%Y-%m-%d %H:%M UTC") if self.post.updated else ""


async def post_views(
    request: web.Request, reader: Account | None, posts: list[Post]
) -> list[PostView]:
    urls = request.app[appkeys.URLS]
    directory = request.app[appkeys.POSTS].directory()
    views = []
    for post in posts:
        author = await directory.describe(post.author)
        username = urls.local_username(post.author) if post.is_local else None
        if username is not None:
            url, path = urls.note_page(username, post.id), f"/@{username}/{post.id}"
        else:
            url = web_url(post.url) or web_url(post.uri) or ""
            path = url
        own = reader is not None and post.is_local and post.local_account_id == reader.id
        views.append(PostView(post=post, author=author, url=url, path=path, own=own))
    return views


# --- JSON shapes ---------------------------------------------------------------------------


def actor_json(actor: ActorSummary) -> dict[str, Any]:
    return {
        "uri": actor.uri,
        "handle": actor.handle,
        "display_name": actor.display_name,
        "url": actor.url,
        "local": actor.local,
    }


def post_json(view: PostView) -> dict[str, Any]:
    post = view.post
    data: dict[str, Any] = {
        "id": post.id,
        "uri": post.uri,
        "url": view.url,
        "author": actor_json(view.author),
        "content_html": post.content_html,
        "visibility": post.visibility.value,
        "in_reply_to": post.in_reply_to,
        "published": post.published.isoformat(),
        "updated": post.updated.isoformat() if post.updated else None,
    }
    if view.own:
        data["text"] = post.source_text  # the source, for editing; only to its author
    return data


def follow_json(view: FollowView) -> dict[str, Any]:
    return {
        "actor": view.actor_uri,
        "handle": view.handle,
        "display_name": view.display_name,
        "url": view.profile_url,
        "state": view.follow.state.value,
        "created_at": view.follow.created_at.isoformat(),
    }


def page_json(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next": next_cursor}


def query_limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None or raw == "":
        return clamp_limit(None)
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed("limit must be an integer", {"field": "limit"}) from None
    return clamp_limit(value)


def follows_next(views: list[FollowView], limit: int) -> str | None:
    if len(views) < limit:
        return None
    last = views[-1].follow
    return encode_cursor(last.created_at, last.id)


def parse_visibility(raw: str) -> Visibility:
    try:
        return Visibility(raw)
    except ValueError:
        raise ValidationFailed(
            f"visibility is one of {', '.join(VISIBILITY_CHOICES)}", {"field": "visibility"}
        ) from None


# --- follows -------------------------------------------------------------------------------


@routes.post("/api/v1/follows")
async def follow(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    handle = text_field(body, "handle").strip()
    if not handle:
        raise ValidationFailed("handle is required, like name@server.example", {"field": "handle"})
    made = await request.app[appkeys.FOLLOWS].follow(account, handle)
    actor = await request.app[appkeys.POSTS].directory().describe(made.followed)
    status = 201 if made.state is FollowState.ACCEPTED else 202
    return web.json_response(
        {
            "actor": made.followed,
            "handle": actor.handle,
            "display_name": actor.display_name,
            "url": actor.url,
            "state": made.state.value,
            "created_at": made.created_at.isoformat(),
        },
        status=status,
    )


@routes.delete("/api/v1/follows/{handle}")
async def unfollow(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.FOLLOWS].unfollow(account, request.match_info["handle"])
    return web.Response(status=204)


async def _follow_list(
    request: web.Request, *, following: bool, state: FollowState
) -> web.Response:
    account = require_account(request)
    before, limit = decode_cursor(request.query.get("before")), query_limit(request)
    follows = request.app[appkeys.FOLLOWS]
    if following:
        views = await follows.following(account, before=before, limit=limit, state=state)
    else:
        views = await follows.followers(account, state, before=before, limit=limit)
    return web.json_response(
        page_json([follow_json(view) for view in views], follows_next(views, limit))
    )


@routes.get("/api/v1/following")
async def list_following(request: web.Request) -> web.Response:
    return await _follow_list(request, following=True, state=FollowState.ACCEPTED)


@routes.get("/api/v1/followers")
async def list_followers(request: web.Request) -> web.Response:
    return await _follow_list(request, following=False, state=FollowState.ACCEPTED)


@routes.get("/api/v1/follow_requests")
async def list_follow_requests(request: web.Request) -> web.Response:
    return await _follow_list(request, following=False, state=FollowState.PENDING)


async def _actor_field(request: web.Request) -> str:
    body = await read_json(request)
    actor = text_field(body, "actor").strip()
    if not actor:
        raise ValidationFailed("actor is required (the follower's actor URI)", {"field": "actor"})
    return actor


@routes.post("/api/v1/follow_requests/approve")
async def approve_follow_request(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.FOLLOWS].approve(account, await _actor_field(request))
    return web.Response(status=204)


@routes.post("/api/v1/follow_requests/reject")
async def reject_follow_request(request: web.Request) -> web.Response:
    account = require_account(request)
    await request.app[appkeys.FOLLOWS].reject(account, await _actor_field(request))
    return web.Response(status=204)


# --- posts ---------------------------------------------------------------------------------


async def _one(request: web.Request, reader: Account | None, post: Post) -> dict[str, Any]:
    return post_json((await post_views(request, reader, [post]))[0])


@routes.post("/api/v1/posts")
async def create_post(request: web.Request) -> web.Response:
    account = require_account(request)
    body = await read_json(request)
    text = text_field(body, "text")
    raw_visibility = body.get("visibility", Visibility.PUBLIC.value)
    if not isinstance(raw_visibility, str):
        raise ValidationFailed("visibility must be a string", {"field": "visibility"})
    visibility = parse_visibility(raw_visibility)
    post = await request.app[appkeys.POSTS].create(account, text, visibility)
    return web.json_response(await _one(request, account, post), status=201)


@routes.get("/api/v1/posts/{post_id}")
async def get_post(request: web.Request) -> web.Response:
    reader = current_account(request)
    post = await request.app[appkeys.POSTS].visible_post(reader, request.match_info["post_id"])
    return web.json_response(await _one(request, reader, post))


@routes.put("/api/v1/posts/{post_id}")
async def update_post(request: web.Request) -> web.Response:
    account = require_account(request)
    post_id = request.match_info["post_id"]
    await request.app[appkeys.POSTS].visible_post(
        account, post_id
    )  # 404 for posts the member cannot see
    body = await read_json(request)
    post = await request.app[appkeys.POSTS].update(account, post_id, text_field(body, "text"))
    return web.json_response(await _one(request, account, post))


@routes.delete("/api/v1/posts/{post_id}")
async def delete_post(request: web.Request) -> web.Response:
    account = require_account(request)
    post_id = request.match_info["post_id"]
    await request.app[appkeys.POSTS].visible_post(account, post_id)
    await request.app[appkeys.POSTS].delete(account, post_id)
    return web.Response(status=204)


@routes.get("/api/v1/accounts/{username}/posts")
async def account_posts(request: web.Request) -> web.Response:
    """A member's public posts, newest first: what their profile page lists."""
    reader = current_account(request)
    author = await request.app[appkeys.ACCOUNTS].get_by_username(request.match_info["username"])
    if author.suspended:
        raise Gone("this account is suspended")
    before, limit = decode_cursor(request.query.get("before")), query_limit(request)
    posts = await request.app[appkeys.POSTS].public_posts(author, before=before, limit=limit)
    page = page_of(posts, limit)
    views = await post_views(request, reader, page.posts)
    return web.json_response(page_json([post_json(view) for view in views], page.next_cursor))


# --- timelines -----------------------------------------------------------------------------


@routes.get("/api/v1/timelines/home")
async def home_timeline(request: web.Request) -> web.Response:
    account = require_account(request)
    page: TimelinePage = await request.app[appkeys.POSTS].home_timeline(
        account, before=request.query.get("before") or None, limit=query_limit(request)
    )
    views = await post_views(request, account, page.posts)
    return web.json_response(page_json([post_json(view) for view in views], page.next_cursor))
