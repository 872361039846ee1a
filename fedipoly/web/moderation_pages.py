"""Server-rendered moderation pages under /moderation (reports, a badge's moderation page
with rename, merge and stewards, merges and their revert, accounts, domain blocks, the audit
log), the member's notifications and the report form, and the redirect from a merged
badge's old URLs.

Thin like every page module: the services enforce roles (403 for members on every
/moderation route, before anything is looked up), each action is one small form that
answers 303 on success and re-renders its page with the message on failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from fedipoly import appkeys
from fedipoly.errors import FedipolyError
from fedipoly.models import Account
from fedipoly.moderation_models import ReportTarget
from fedipoly.web.badges_api import badge_view
from fedipoly.web.pages import render
from fedipoly.web.profile_pages import form_text, member_or_login, see_other

routes = web.RouteTableDef()

MODERATION_PAGES_PREFIX = "/moderation"
# Only the public badge URLs redirect; moderation routes act on the merged badge itself.
BADGE_URL_PREFIXES = ("/badges/", "/api/v1/badges/")

NOTICES = {
    "report_resolved": "The report is closed.",
    "badge_renamed": "The badge has a new name.",
    "badge_merged": "The badges are merged; the old short name now redirects.",
    "merge_reverted": "The merge is reverted: both badges are back.",
    "steward_appointed": "The member is now a steward of this badge.",
    "steward_dismissed": "The member is no longer a steward of this badge.",
    "account_suspended": "The account is suspended.",
    "account_unsuspended": "The account is no longer suspended.",
    "remote_restricted": "The remote account is restricted.",
    "remote_lifted": "The restriction is lifted.",
    "domain_blocked": "The domain is blocked and its cached content purged.",
    "domain_unblocked": "The domain is no longer blocked.",
    "reported": "Thank you: the moderators will look at your report.",
    "notifications_read": "All notifications are marked as read.",
}


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("notice", ""))


async def _attempt_or_page(
    request: web.Request,
    page: Callable[[FedipolyError], Awaitable[web.Response]],
    action: Awaitable[object],
    success: web.HTTPSeeOther,
) -> web.StreamResponse:
    """Run the action; a refusal other than 403 re-renders the page with its message."""
    try:
        await action
    except FedipolyError as error:
        if error.status == 403:
            raise
        return await page(error)
    raise success


# --- the redirect of merged badges --------------------------------------------------------


@web.middleware
async def badge_alias_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A merged badge's URLs (HTML and API) redirect to the badge it was merged into: 301
    for reads, 308 for anything else (so the method and body are kept)."""
    slug = request.match_info.get("slug")
    prefix = next(
        (start for start in BADGE_URL_PREFIXES if slug and request.path.startswith(start + slug)),
        None,
    )
    if slug and prefix is not None:
        target = await request.app[appkeys.BADGE_MODERATION].alias_target(slug)
        if target is not None:
            rest = request.path[len(prefix) + len(slug) :]
            location = str(URL(prefix + target + rest).with_query(request.query))
            status = 301 if request.method in ("GET", "HEAD") else 308
            return web.Response(status=status, headers={"Location": location})
    return await handler(request)


# --- the dashboard and reports ------------------------------------------------------------


@routes.get("/moderation", name="moderation")
async def dashboard(request: web.Request) -> web.Response:
    account = member_or_login(request, "/moderation")
    page = await request.app[appkeys.MODERATION].reports(account, state="open", limit=10)
    return render(request, "moderation_home.html", {"reports": page.reports})


@routes.get("/moderation/reports", name="moderation_reports")
async def reports(request: web.Request) -> web.Response:
    account = member_or_login(request, "/moderation/reports")
    state = request.query.get("state", "open")
    page = await request.app[appkeys.MODERATION].reports(
        account, state=state, cursor=request.query.get("cursor") or None
    )
    return render(
        request,
        "moderation_reports.html",
        {
            "reports": page.reports,
            "state": state,
            "next_cursor": page.next_cursor,
            "notice": _notice(request),
        },
    )


async def _report_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    moderation = request.app[appkeys.MODERATION]
    report = await moderation.get_report(account, request.match_info["report_id"])
    context = {
        "report": report,
        "reported": await moderation.reported_post(account, report),
        "remote": report.target_actor is not None
        and not request.app[appkeys.URLS].is_local(report.target_actor),
        "error": error.message if error else None,
    }
    return render(request, "moderation_report.html", context, status=error.status if error else 200)


@routes.get("/moderation/reports/{report_id}")
async def report_detail(request: web.Request) -> web.Response:
    account = member_or_login(request, request.path)
    return await _report_page(request, account)


@routes.post("/moderation/reports/{report_id}/resolve")
async def resolve_report(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/moderation/reports")
    form = await request.post()
    action = request.app[appkeys.MODERATION].resolve_report(
        account,
        request.match_info["report_id"],
        action=form_text(form, "action"),
        note=form_text(form, "note"),
        forward=form_text(form, "forward") == "on",
        remove=form_text(form, "remove") == "on",
    )
    return await _attempt_or_page(
        request,
        lambda error: _report_page(request, account, error),
        action,
        see_other("/moderation/reports", "report_resolved"),
    )


# --- a badge's moderation page ------------------------------------------------------------


async def _badge_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    slug = request.match_info["slug"]
    moderation = request.app[appkeys.BADGE_MODERATION]
    badge = await moderation.authorised_badge(account, slug)
    context = {
        "badge": badge,
        "view": badge_view(badge),
        "stewards": await moderation.stewards(account, slug) if badge.is_public else [],
        "moderator": account.role.can_moderate,
        "reports": (await request.app[appkeys.MODERATION].badge_reports(account, slug)).reports,
        "notice": _notice(request),
        "error": error.message if error else None,
    }
    return render(request, "moderation_badge.html", context, status=error.status if error else 200)


@routes.get("/moderation/badges/{slug}")
async def badge_moderation(request: web.Request) -> web.Response:
    account = member_or_login(request, request.path)
    return await _badge_page(request, account)


async def _badge_action(request: web.Request, make: Any, notice: str) -> web.StreamResponse:
    account = member_or_login(request, request.path)
    form = await request.post()
    slug = request.match_info["slug"]
    target = "/moderation/merges" if notice == "badge_merged" else f"/moderation/badges/{slug}"
    return await _attempt_or_page(
        request,
        lambda error: _badge_page(request, account, error),
        make(request.app[appkeys.BADGE_MODERATION], account, slug, form),
        see_other(target, notice),
    )


@routes.post("/moderation/badges/{slug}/rename")
async def rename_badge(request: web.Request) -> web.StreamResponse:
    return await _badge_action(
        request,
        lambda moderation, account, slug, form: moderation.rename(
            account, slug, form_text(form, "display_name"), form_text(form, "reason")
        ),
        "badge_renamed",
    )


@routes.post("/moderation/badges/{slug}/merge")
async def merge_badge(request: web.Request) -> web.StreamResponse:
    return await _badge_action(
        request,
        lambda moderation, account, slug, form: moderation.merge(
            account, slug, form_text(form, "into").strip(), form_text(form, "reason")
        ),
        "badge_merged",
    )


@routes.post("/moderation/badges/{slug}/stewards")
async def appoint_steward(request: web.Request) -> web.StreamResponse:
    return await _badge_action(
        request,
        lambda moderation, account, slug, form: moderation.appoint_steward(
            account, slug, form_text(form, "username"), form_text(form, "reason")
        ),
        "steward_appointed",
    )


@routes.post("/moderation/badges/{slug}/stewards/{username}/dismiss")
async def dismiss_steward(request: web.Request) -> web.StreamResponse:
    username = request.match_info["username"]
    return await _badge_action(
        request,
        lambda moderation, account, slug, form: moderation.dismiss_steward(
            account, slug, username, form_text(form, "reason")
        ),
        "steward_dismissed",
    )


# --- merges -------------------------------------------------------------------------------


async def _merges_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    merges = await request.app[appkeys.BADGE_MODERATION].merges(account)
    context = {"merges": merges, "notice": _notice(request), "error": error and error.message}
    return render(request, "moderation_merges.html", context, status=error.status if error else 200)


@routes.get("/moderation/merges")
async def merges(request: web.Request) -> web.Response:
    return await _merges_page(request, member_or_login(request, "/moderation/merges"))


@routes.post("/moderation/merges/{merge_id}/revert")
async def revert_merge(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/moderation/merges")
    form = await request.post()
    action = request.app[appkeys.BADGE_MODERATION].revert_merge(
        account, request.match_info["merge_id"], form_text(form, "reason")
    )
    return await _attempt_or_page(
        request,
        lambda error: _merges_page(request, account, error),
        action,
        see_other("/moderation/merges", "merge_reverted"),
    )


# --- accounts and domains -----------------------------------------------------------------


async def _accounts_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    restrictions = await request.app[appkeys.MODERATION].remote_restrictions(account)
    context = {
        "restrictions": restrictions,
        "notice": _notice(request),
        "error": error and error.message,
    }
    return render(
        request, "moderation_accounts.html", context, status=error.status if error else 200
    )


@routes.get("/moderation/accounts")
async def accounts(request: web.Request) -> web.Response:
    return await _accounts_page(request, member_or_login(request, "/moderation/accounts"))


async def _account_action(request: web.Request, make: Any, notice: str) -> web.StreamResponse:
    account = member_or_login(request, "/moderation/accounts")
    form = await request.post()
    return await _attempt_or_page(
        request,
        lambda error: _accounts_page(request, account, error),
        make(request.app[appkeys.MODERATION], account, form),
        see_other("/moderation/accounts", notice),
    )


@routes.post("/moderation/accounts/suspend")
async def suspend_account(request: web.Request) -> web.StreamResponse:
    return await _account_action(
        request,
        lambda moderation, account, form: moderation.suspend_account(
            account, form_text(form, "username").strip(), form_text(form, "reason")
        ),
        "account_suspended",
    )


@routes.post("/moderation/accounts/unsuspend")
async def unsuspend_account(request: web.Request) -> web.StreamResponse:
    return await _account_action(
        request,
        lambda moderation, account, form: moderation.unsuspend_account(
            account, form_text(form, "username").strip(), form_text(form, "reason")
        ),
        "account_unsuspended",
    )


@routes.post("/moderation/remote_accounts")
async def restrict_remote(request: web.Request) -> web.StreamResponse:
    return await _account_action(
        request,
        lambda moderation, account, form: moderation.restrict_remote(
            account, form_text(form, "actor"), form_text(form, "level"), form_text(form, "reason")
        ),
        "remote_restricted",
    )


@routes.post("/moderation/remote_accounts/lift")
async def lift_remote(request: web.Request) -> web.StreamResponse:
    return await _account_action(
        request,
        lambda moderation, account, form: moderation.lift_remote(
            account, form_text(form, "actor"), form_text(form, "reason")
        ),
        "remote_lifted",
    )


async def _domains_page(
    request: web.Request, account: Account, error: FedipolyError | None = None
) -> web.Response:
    blocks = await request.app[appkeys.MODERATION].domain_blocks(account)
    context = {"blocks": blocks, "notice": _notice(request), "error": error and error.message}
    return render(
        request, "moderation_domains.html", context, status=error.status if error else 200
    )


@routes.get("/moderation/domains")
async def domains(request: web.Request) -> web.Response:
    return await _domains_page(request, member_or_login(request, "/moderation/domains"))


@routes.post("/moderation/domains")
async def block_domain(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/moderation/domains")
    form = await request.post()
    action = request.app[appkeys.MODERATION].block_domain(
        account, form_text(form, "domain"), form_text(form, "reason")
    )
    return await _attempt_or_page(
        request,
        lambda error: _domains_page(request, account, error),
        action,
        see_other("/moderation/domains", "domain_blocked"),
    )


@routes.post("/moderation/domains/{domain}/unblock")
async def unblock_domain(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/moderation/domains")
    action = request.app[appkeys.MODERATION].unblock_domain(account, request.match_info["domain"])
    return await _attempt_or_page(
        request,
        lambda error: _domains_page(request, account, error),
        action,
        see_other("/moderation/domains", "domain_unblocked"),
    )


@routes.get("/moderation/audit")
async def audit(request: web.Request) -> web.Response:
    account = member_or_login(request, "/moderation/audit")
    page = await request.app[appkeys.MODERATION].audit_log(
        account, cursor=request.query.get("cursor") or None
    )
    return render(
        request,
        "moderation_audit.html",
        {"entries": page.entries, "next_cursor": page.next_cursor, "names": page.moderators},
    )


# --- members: reporting and notifications --------------------------------------------------


async def _report_form(
    request: web.Request, values: dict[str, str], error: FedipolyError | None = None
) -> web.Response:
    context = {
        "kinds": [kind.value for kind in ReportTarget],
        "form": values,
        "error": error and error.message,
    }
    return render(request, "report.html", context, status=error.status if error else 200)


@routes.get("/report", name="report")
async def report_form(request: web.Request) -> web.Response:
    member_or_login(request, str(request.rel_url))
    values = {name: request.query.get(name, "") for name in ("kind", "target")}
    return await _report_form(request, values | {"comment": ""})


@routes.post("/report")
async def report(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/report")
    form = await request.post()
    values = {name: form_text(form, name) for name in ("kind", "target", "comment")}
    try:
        await request.app[appkeys.MODERATION].report(
            account, values["kind"], values["target"], values["comment"]
        )
    except FedipolyError as error:
        return await _report_form(request, values, error)
    raise see_other("/notifications", "reported")


@routes.get("/notifications", name="notifications")
async def notifications(request: web.Request) -> web.Response:
    account = member_or_login(request, "/notifications")
    page = await request.app[appkeys.NOTIFICATIONS].page(
        account, cursor=request.query.get("cursor") or None
    )
    return render(
        request,
        "notifications.html",
        {
            "notifications": page.notifications,
            "unread": page.unread,
            "next_cursor": page.next_cursor,
            "notice": _notice(request),
        },
    )


@routes.post("/notifications/read")
async def mark_read(request: web.Request) -> web.StreamResponse:
    account = member_or_login(request, "/notifications")
    await request.app[appkeys.NOTIFICATIONS].mark_read(account)
    raise see_other("/notifications", "notifications_read")
