"""Server-rendered social pages: home timeline with the compose box, profiles, single posts,
editing, and follows. They work without JavaScript; every successful POST answers 303 and every
failed one re-renders the page with the message and the visitor's input.

No counts of followers, likes or anything else are shown (product rule 1).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from yarl import URL

from fedipoly import appkeys
from fedipoly.errors import FedipolyError, Gone, NotFound, ValidationFailed
from fedipoly.models import Account, FollowState, Post, Visibility
from fedipoly.services.posts import KEEP, MAX_POST_CHARACTERS, PAGE_SIZE, decode_cursor
from fedipoly.web.compose import ComposeInput, compose_context, publish
from fedipoly.web.middlewares import current_account
from fedipoly.web.pages import NOTICES as ACCOUNT_NOTICES
from fedipoly.web.pages import render
from fedipoly.web.post_display import thread_tree
from fedipoly.web.post_input import parse_date
from fedipoly.web.profile_pages import profile_extras
from fedipoly.web.social_api import PostView, follows_next, parse_visibility, post_views

routes = web.RouteTableDef()

NOTICES = ACCOUNT_NOTICES | {
    "posted": "Your post is published.",
    "replied": "Your reply is published.",
    "edited": "Your post has been updated.",
    "deleted": "Your post has been deleted.",
    "followed": "You are now following them.",
    "requested": "Follow request sent. You will see their posts once they accept.",
    "unfollowed": "You no longer follow them.",
    "approved": "Follow request approved.",
    "rejected": "Follow request declined.",
    "removed": "They no longer follow you.",
}

VISIBILITY_OPTIONS = (
    (Visibility.PUBLIC.value, "Public: anyone"),
    (Visibility.FOLLOWERS.value, "Followers only"),
    (Visibility.DIRECT.value, "Direct: only people you mention"),
)
VISIBILITY_LABELS = {
    Visibility.PUBLIC.value: "Public",
    Visibility.FOLLOWERS.value: "Followers only",
    Visibility.DIRECT.value: "Direct",
}


def form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def safe_path(path: str, default: str) -> str:
    """Only same-site paths, so a form's `next` field can't make an open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def member_or_login(request: web.Request, back_to: str) -> Account:
    account = current_account(request)
    if account is None:
        raise web.HTTPSeeOther(str(URL("/login").with_query(next=back_to)))
    return account


def see_other(path: str, notice: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(str(URL(path).update_query(notice=notice)))


def common(request: web.Request) -> dict[str, Any]:
    return {
        "notice": NOTICES.get(request.query.get("notice", "")),
        "visibility_labels": VISIBILITY_LABELS,
    }


# --- home: the timeline and the compose box ------------------------------------------------


async def _timeline_page(
    request: web.Request,
    account: Account,
    compose: ComposeInput | None = None,
    error: FedipolyError | None = None,
) -> web.Response:
    before = (request.query.get("before") or None) if request.method == "GET" else None
    page = await request.app[appkeys.POSTS].home_timeline(account, before=before)
    context = common(request) | {
        "views": await post_views(request, account, page.posts),
        "next_cursor": page.next_cursor,
        "paged": before is not None,
        "visibility_options": VISIBILITY_OPTIONS,
        "next_path": "/",
    }
    context |= await compose_context(request, account, compose, error)
    return render(request, "timeline.html", context, status=error.status if error else 200)


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    account = current_account(request)
    if account is None:
        return render(request, "home.html", {"notice": common(request)["notice"]})
    return await _timeline_page(request, account)


@routes.post("/posts")
async def create_post(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/")
    values = ComposeInput.from_form(await request.post())
    try:
        await publish(request, account, values)
    except FedipolyError as error:
        return await _timeline_page(request, account, values, error)
    raise see_other("/", "posted")


# --- editing and deleting ------------------------------------------------------------------


async def _edit_page(
    request: web.Request,
    account: Account,
    post: Post,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    view = (await post_views(request, account, [post]))[0]
    context = common(request) | {
        "view": view,
        "text": post.source_text,
        "happened_on": post.happened_on.isoformat() if post.happened_on else "",
        "happened_on_max": (request.app[appkeys.CLOCK]().date() + timedelta(days=1)).isoformat(),
        "error": None,
        "max_characters": MAX_POST_CHARACTERS,
    }
    return render(request, "post_edit.html", context | (extra or {}), status=status)


@routes.get("/posts/{post_id}/edit")
async def edit_form(request: web.Request) -> web.Response:
    post_id = request.match_info["post_id"]
    account = member_or_login(request, f"/posts/{post_id}/edit")
    await request.app[appkeys.POSTS].visible_post(
        account, post_id
    )  # 404, never 403, for posts you can't see
    post = await request.app[appkeys.POSTS].get_own(account, post_id)
    return await _edit_page(request, account, post)


@routes.post("/posts/{post_id}/edit")
async def edit(request: web.Request) -> web.StreamResponse:
    post_id = request.match_info["post_id"]
    account = member_or_login(request, f"/posts/{post_id}/edit")
    posts = request.app[appkeys.POSTS]
    await request.app[appkeys.POSTS].visible_post(account, post_id)
    post = await posts.get_own(account, post_id)
    form = await request.post()
    text = form_text(form, "text")
    raw_date = form.get("happened_on")  # absent (an older form): the date stays as it is
    try:
        happened_on = parse_date(raw_date) if isinstance(raw_date, str) else KEEP
        await posts.update(account, post_id, text, happened_on=happened_on)
    except FedipolyError as error:
        kept = {"error": error.message, "text": text}
        if isinstance(raw_date, str):
            kept["happened_on"] = raw_date
        return await _edit_page(request, account, post, kept, status=error.status)
    raise see_other(f"/@{account.username}/{post_id}", "edited")


@routes.post("/posts/{post_id}/delete")
async def delete(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/")
    post_id = request.match_info["post_id"]
    await request.app[appkeys.POSTS].visible_post(account, post_id)
    await request.app[appkeys.POSTS].delete(account, post_id)
    raise see_other("/", "deleted")


# --- profiles and single posts -------------------------------------------------------------


async def _profile_member(request: web.Request) -> Account:
    member = await request.app[appkeys.ACCOUNTS].get_by_username(request.match_info["username"])
    if member.suspended:
        raise Gone("this account is suspended")
    return member


@routes.get("/@{username}")
async def profile(request: web.Request) -> web.Response:
    member = await _profile_member(request)
    reader = current_account(request)
    urls = request.app[appkeys.URLS]
    before = request.query.get("before") or None
    # Public posts; followers-only ones too for an accepted follower; everything for the member.
    page = await request.app[appkeys.POSTS].profile_timeline(member, reader, before=before)
    relationship: str | None = None  # None: no follow button (signed out, or your own page)
    if reader is not None and reader.id != member.id:
        state = await request.app[appkeys.FOLLOWS].relationship(reader, urls.actor(member.username))
        relationship = state.value if state else "none"
    context = common(request) | {
        "member": member,
        "handle": f"{member.username}@{urls.domain}",
        "relationship": relationship,
        "views": await post_views(request, reader, page.posts),
        "next_cursor": page.next_cursor,
        "paged": before is not None,
        "profile_path": f"/@{member.username}",
    }
    context |= await profile_extras(request, member)  # headline, positions, bio, links, badges
    return render(request, "profile.html", context)


@routes.get("/@{username}/{post_id}")
async def post_page(request: web.Request) -> web.Response:
    reader = current_account(request)
    username = request.match_info["username"].strip().lower()
    post = await request.app[appkeys.POSTS].visible_post(
        reader, request.match_info["post_id"], author_username=username
    )
    if not post.is_local:
        raise NotFound("no such post")
    return await _post_page(request, reader, post)


async def _post_page(
    request: web.Request,
    reader: Account | None,
    post: Post,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    """A post, the replies below it as nested lists, and (signed in) the reply form."""
    replies = await request.app[appkeys.POSTS].thread(post, reader)
    views = await post_views(request, reader, [post] + [reply.post for reply in replies])
    view: PostView = views[0]
    context = common(request) | {
        "view": view,
        "thread": thread_tree(post.uri, replies, views[1:]),
        "visibility_options": VISIBILITY_OPTIONS,
        "max_characters": MAX_POST_CHARACTERS,
        "reply_text": "",
        # A reply is as private as what it answers unless the member chooses otherwise.
        "reply_visibility": post.visibility.value,
        "reply_error": None,
    }
    return render(request, "post.html", context | (extra or {}), status=status)


@routes.get("/posts/{post_id}")
async def any_post_page(request: web.Request) -> web.StreamResponse:
    """Any post the reader may see, with its thread: local ones redirect to their own page;
    remote ones are shown here so they can be answered too."""
    reader = current_account(request)
    post = await request.app[appkeys.POSTS].visible_post(reader, request.match_info["post_id"])
    username = request.app[appkeys.URLS].local_username(post.author) if post.is_local else None
    if username is not None:
        raise web.HTTPSeeOther(f"/@{username}/{post.id}")
    return await _post_page(request, reader, post)


@routes.post("/posts/{post_id}/reply")
async def reply(request: web.Request) -> web.StreamResponse:
    post_id = request.match_info["post_id"]
    account = member_or_login(request, f"/posts/{post_id}")
    posts = request.app[appkeys.POSTS]
    parent = await posts.visible_post(account, post_id)  # 404 / 410 before anything else
    form = await request.post()
    text, raw_visibility = form_text(form, "text"), form_text(form, "visibility")
    try:
        visibility = parse_visibility(raw_visibility or parent.visibility.value)
        answer = await posts.reply(account, post_id, text, visibility)
    except FedipolyError as error:
        extra = {"reply_error": error.message, "reply_text": text}
        if raw_visibility:
            extra["reply_visibility"] = raw_visibility
        return await _post_page(request, account, parent, extra, status=error.status)
    urls = request.app[appkeys.URLS]
    username = urls.local_username(parent.author) if parent.is_local else None
    page = f"/@{username}/{parent.id}" if username else f"/posts/{parent.id}"
    location = URL(page).with_query(notice="replied").with_fragment(f"post-{answer.id}")
    raise web.HTTPSeeOther(str(location))


# --- follows -------------------------------------------------------------------------------


async def _follows_page(
    request: web.Request, account: Account, extra: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    follows = request.app[appkeys.FOLLOWS]
    query = request.query if request.method == "GET" else {}
    lists: dict[str, Any] = {}
    for name, following, state in (
        ("following", True, FollowState.ACCEPTED),
        ("sent", True, FollowState.PENDING),
        ("requests", False, FollowState.PENDING),
        ("followers", False, FollowState.ACCEPTED),
    ):
        before = decode_cursor(query.get(f"{name}_before"))
        if following:
            views = await follows.following(account, before=before, limit=PAGE_SIZE, state=state)
        else:
            views = await follows.followers(account, state, before=before, limit=PAGE_SIZE)
        lists[name] = {
            "views": views,
            "next": follows_next(views, PAGE_SIZE),
            "paged": before is not None,
        }
    context = common(request) | {
        "lists": lists,
        "handle_value": "",
        "follow_error": None,
        "list_error": None,
        "own_handle": f"{account.username}@{request.app[appkeys.URLS].domain}",
    }
    return render(request, "follows.html", context | (extra or {}), status=status)


@routes.get("/follows")
async def follows_page(request: web.Request) -> web.Response:
    return await _follows_page(request, member_or_login(request, "/follows"))


@routes.post("/follows")
async def follow(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/follows")
    form = await request.post()
    handle = form_text(form, "handle").strip()
    next_path = safe_path(form_text(form, "next"), "/follows")
    try:
        if not handle:
            raise ValidationFailed("enter a handle like name@server.example", {"field": "handle"})
        made = await request.app[appkeys.FOLLOWS].follow(account, handle)
    except FedipolyError as error:
        return await _follows_page(
            request,
            account,
            {"follow_error": error.message, "handle_value": handle},
            status=error.status,
        )
    raise see_other(next_path, "followed" if made.state is FollowState.ACCEPTED else "requested")


@routes.post("/follows/unfollow")
async def unfollow(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/follows")
    form = await request.post()
    next_path = safe_path(form_text(form, "next"), "/follows")
    try:
        await request.app[appkeys.FOLLOWS].unfollow(account, form_text(form, "handle"))
    except FedipolyError as error:
        return await _follows_page(
            request, account, {"list_error": error.message}, status=error.status
        )
    raise see_other(next_path, "unfollowed")


async def _answer_follower(request: web.Request, action: str, notice: str) -> web.StreamResponse:
    account = member_or_login(request, "/follows")
    actor = form_text(await request.post(), "actor")
    follows = request.app[appkeys.FOLLOWS]
    try:
        if action == "approve":
            await follows.approve(account, actor)
        else:
            await follows.reject(account, actor)
    except FedipolyError as error:
        return await _follows_page(
            request, account, {"list_error": error.message}, status=error.status
        )
    raise see_other("/follows", notice)


@routes.post("/follows/requests/approve")
async def approve(request: web.Request) -> web.StreamResponse:
    return await _answer_follower(request, "approve", "approved")


@routes.post("/follows/requests/reject")
async def reject(request: web.Request) -> web.StreamResponse:
    return await _answer_follower(request, "reject", "rejected")


@routes.post("/follows/followers/remove")
async def remove_follower(request: web.Request) -> web.StreamResponse:
    return await _answer_follower(request, "reject", "removed")
