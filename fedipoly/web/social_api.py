"""The social JSON API under /api/v1/: follows, follow requests, posts and the home timeline.

Bearer tokens only (see middlewares.identity_middleware); errors are JSON {"error", "detail"}.
Lists are cursor-paginated: `?before=<cursor>&limit=<1..40>` in, `{"items", "next"}` out.
No like, favourite, boost or follower counts appear anywhere (product rule 1).

The read-side helpers here (who an actor is, who may see a post) are shared with the HTML pages
in social_pages.py so both answer the same question the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from fedipoly import appkeys
from fedipoly.errors import Gone, ValidationFailed
from fedipoly.models import (
    Account,
    FollowState,
    Post,
    PostActivityTag,
    TimelinePage,
    Visibility,
)
from fedipoly.services.directory import ActorSummary, web_url
from fedipoly.services.follows import FollowView
from fedipoly.services.post_parts import NewAttachment
from fedipoly.services.posts import clamp_limit, decode_cursor, encode_cursor
from fedipoly.web.api import read_json, require_account, text_field
from fedipoly.web.middlewares import current_account
from fedipoly.web.post_display import (
    BadgeLookup,
    ImageView,
    ReplyContext,
    TagView,
    day_label,
    image_views,
    reply_context,
    tag_views,
)
from fedipoly.web.post_input import (
    json_activity_tags,
    json_attachments,
    json_happened_on,
    media_json,
    parse_date,
    read_upload,
    save_post_image,
)

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
    tags: tuple[TagView, ...] = ()  # activity tags, linked to their badge pages
    mentioned: tuple[ActorSummary, ...] = ()
    reply_to: ReplyContext | None = None
    images: tuple[ImageView, ...] = ()
    reply_path: str = ""  # where a signed-in reader answers it ("" for nobody)

    @property
    def published_label(self) -> str:
        return self.post.published.strftime("%Y-%m-%d %H:%M UTC")

    @property
    def happened_on_label(self) -> str:
        return day_label(self.post.happened_on) if self.post.happened_on else ""

    @property
    def updated_label(self) -> str:
        return self.post.updated.strftime("%Y-%m-%d %H:%M UTC") if self.post.updated else ""


async def post_views(
    request: web.Request, reader: Account | None, posts: list[Post]
) -> list[PostView]:
    urls = request.app[appkeys.URLS]
    directory = request.app[appkeys.POSTS].directory()
    badges = BadgeLookup(request, reader)
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
        views.append(
            PostView(
                post=post,
                author=author,
                url=url,
                path=path,
                own=own,
                tags=await tag_views(request, post, badges),
                mentioned=tuple([await directory.describe(uri) for uri in post.mentions]),
                reply_to=await reply_context(request, post, directory),
                images=image_views(post.attachments),
                reply_path=(path if username else f"/posts/{post.id}") if reader else "",
            )
        )
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
        "happened_on": post.happened_on.isoformat() if post.happened_on else None,
        "activity_tags": [
            {"phrase": tag.phrase, "badge": tag.badge_slug} for tag in post.activity_tags
        ],
        "badges": list(post.badges),
        "hashtags": list(post.hashtags),
        "mentions": [actor_json(actor) for actor in view.mentioned],
        "attachments": [
            {
                "url": image.url,
                "media_type": image.media_type,
                "alt": image.alt,
                "width": image.width,
                "height": image.height,
            }
            for image in post.attachments
        ],
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


@dataclass(frozen=True)
class NewPostBody:
    """A JSON body for a new post or reply, its shape checked."""

    text: str
    visibility: Visibility
    activity_tags: list[PostActivityTag]
    attachments: list[NewAttachment]
    happened_on: date | None


def new_post_body(body: dict[str, Any]) -> NewPostBody:
    raw_visibility = body.get("visibility", Visibility.PUBLIC.value)
    if not isinstance(raw_visibility, str):
        raise ValidationFailed("visibility must be a string", {"field": "visibility"})
    return NewPostBody(
        text=text_field(body, "text", required="attachments" not in body),
        visibility=parse_visibility(raw_visibility),
        activity_tags=json_activity_tags(body) or [],
        attachments=json_attachments(body) or [],
        happened_on=parse_date(body.get("happened_on")),
    )


@routes.post("/api/v1/posts")
async def create_post(request: web.Request) -> web.Response:
    """A post; with `in_reply_to` (the id or the URI of a post you may see) a reply."""
    account = require_account(request)
    body = await read_json(request)
    new = new_post_body(body)
    posts = request.app[appkeys.POSTS]
    in_reply_to = body.get("in_reply_to")
    if in_reply_to is not None and not isinstance(in_reply_to, str):
        raise ValidationFailed("in_reply_to is a post id or URI", {"field": "in_reply_to"})
    extras: dict[str, Any] = {
        "activity_tags": new.activity_tags,
        "attachments": new.attachments,
        "happened_on": new.happened_on,
    }
    if in_reply_to and not in_reply_to.startswith(("https://", "http://")):
        post = await posts.reply(account, in_reply_to, new.text, new.visibility, **extras)
    else:
        post = await posts.create(
            account, new.text, new.visibility, in_reply_to=in_reply_to or None, **extras
        )
    return web.json_response(await _one(request, account, post), status=201)


@routes.post("/api/v1/posts/{post_id}/replies")
async def reply_to_post(request: web.Request) -> web.Response:
    account = require_account(request)
    new = new_post_body(await read_json(request))
    post = await request.app[appkeys.POSTS].reply(
        account,
        request.match_info["post_id"],
        new.text,
        new.visibility,
        activity_tags=new.activity_tags,
        attachments=new.attachments,
        happened_on=new.happened_on,
    )
    return web.json_response(await _one(request, account, post), status=201)


@routes.get("/api/v1/posts/{post_id}/thread")
async def post_thread(request: web.Request) -> web.Response:
    """The post and the replies below it the reader may see, oldest first, with their depth."""
    reader = current_account(request)
    posts = request.app[appkeys.POSTS]
    post = await posts.visible_post(reader, request.match_info["post_id"])
    replies = await posts.thread(post, reader)
    views = await post_views(request, reader, [post] + [reply.post for reply in replies])
    return web.json_response(
        {
            "post": post_json(views[0]),
            "replies": [
                {"depth": reply.depth, "post": post_json(view)}
                for reply, view in zip(replies, views[1:], strict=True)
            ],
        }
    )


@routes.post("/api/v1/media")
async def upload_media(request: web.Request) -> web.Response:
    """An image for a post (multipart/form-data, part `file`); attach it by its id."""
    account = require_account(request)
    data, _filename = await read_upload(request)
    stored = await save_post_image(request, account, data)
    return web.json_response(media_json(stored, request), status=201)


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
    post = await request.app[appkeys.POSTS].update(
        account,
        post_id,
        text_field(body, "text"),
        activity_tags=json_activity_tags(body),
        attachments=json_attachments(body),
        happened_on=json_happened_on(body),
    )
    return web.json_response(await _one(request, account, post))


@routes.delete("/api/v1/posts/{post_id}")
async def delete_post(request: web.Request) -> web.Response:
    account = require_account(request)
    post_id = request.match_info["post_id"]
    await request.app[appkeys.POSTS].visible_post(account, post_id)
    await request.app[appkeys.POSTS].delete(account, post_id)
    return web.Response(status=204)


async def _page_response(
    request: web.Request, reader: Account | None, page: TimelinePage
) -> web.Response:
    views = await post_views(request, reader, page.posts)
    return web.json_response(page_json([post_json(view) for view in views], page.next_cursor))


def _before(request: web.Request) -> str | None:
    return request.query.get("before") or None


@routes.get("/api/v1/accounts/{username}/posts")
async def account_posts(request: web.Request) -> web.Response:
    """A member's posts, newest first, as their profile page lists them: public ones, plus
    followers-only ones for their accepted followers, plus everything for the member."""
    reader = current_account(request)
    author = await request.app[appkeys.ACCOUNTS].get_by_username(request.match_info["username"])
    if author.suspended:
        raise Gone("this account is suspended")
    page = await request.app[appkeys.POSTS].profile_timeline(
        author, reader, before=_before(request), limit=query_limit(request)
    )
    return await _page_response(request, reader, page)


@routes.get("/api/v1/badges/{slug}/posts")
async def badge_posts(request: web.Request) -> web.Response:
    """Public posts filed under the badge by their activity tags, newest first."""
    reader = current_account(request)
    page = await request.app[appkeys.POSTS].badge_timeline(
        request.match_info["slug"], reader, before=_before(request), limit=query_limit(request)
    )
    return await _page_response(request, reader, page)


# --- timelines -----------------------------------------------------------------------------


@routes.get("/api/v1/timelines/home")
async def home_timeline(request: web.Request) -> web.Response:
    account = require_account(request)
    page: TimelinePage = await request.app[appkeys.POSTS].home_timeline(
        account, before=request.query.get("before") or None, limit=query_limit(request)
    )
    return await _page_response(request, account, page)


@routes.get("/api/v1/timelines/local")
async def local_timeline(request: web.Request) -> web.Response:
    """Public posts by this server's members, newest first."""
    page = await request.app[appkeys.POSTS].local_timeline(
        before=_before(request), limit=query_limit(request)
    )
    return await _page_response(request, current_account(request), page)


@routes.get("/api/v1/timelines/federated")
async def federated_timeline(request: web.Request) -> web.Response:
    """Every public post this server knows, local and remote, newest first."""
    page = await request.app[appkeys.POSTS].federated_timeline(
        before=_before(request), limit=query_limit(request)
    )
    return await _page_response(request, current_account(request), page)
