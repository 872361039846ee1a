"""WebFinger (RFC 7033) and host-meta, in the shape Mastodon serves and expects.

Serving: :func:`parse_acct` for the ``resource`` parameter, :func:`build_jrd` for the answer,
:func:`host_meta_xml` / :func:`host_meta_json` for ``/.well-known/host-meta`` (Mastodon falls
back to its lrdd template only when WebFinger answers 404, ``app/lib/webfinger.rb``).

Looking up: :func:`lookup` turns ``user@host`` into an actor URL. It does not authenticate
the actor: the caller must fetch the actor from that URL and check the reverse mapping
(``acct:<preferredUsername>@<host of actor id>`` resolves back to the same id), as Mastodon's
``FetchRemoteActorService#check_webfinger!`` does -- the fix for WebFinger subject spoofing
(mastodon#2414, security-anchors §1.2 B13).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeGuard
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from federation.client import JRD_ACCEPT, FederationClient
from federation.errors import FederationError, FetchError, WebFingerError
from federation.vocab import ACTIVITY_JSON, is_activitypub_media_type, origin_of

__all__ = [
    "JRD_CONTENT_TYPE",
    "PROFILE_PAGE_REL",
    "SUBSCRIBE_REL",
    "XRD_CONTENT_TYPE",
    "build_jrd",
    "host_meta_json",
    "host_meta_xml",
    "lookup",
    "parse_acct",
]

JRD_CONTENT_TYPE = "application/jrd+json"
XRD_CONTENT_TYPE = "application/xrd+xml"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"

# User part: RFC 3986 unreserved characters. Mastodon's own names are [a-z0-9_] with inner
# dots and dashes, its instance actor is named after the domain (dots), others allow "~" or
# "+"; "%", "/", "?", "#" and whitespace never belong in an account name.
_USER = re.compile(r"[A-Za-z0-9_.~+-]{1,256}")
# Host part: a DNS name or IPv4 literal, optionally with a port, or a bracketed IPv6 literal.
# Anything else ("host/path", "host?x", "user@host@other") is refused: webfinger.js
# GHSA-8xq3-w9fx-74rv split "user@host/any/path" and fetched whatever followed.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def _valid_user(user: str, host: str) -> bool:
    """An account name, or the host itself: an instance actor is named after its domain
    (mastodon-interop.md §1, ``instance_actor_serializer.rb``), and on a server with a port
    that domain holds the port (``acct:host:8080@host:8080``). A ':' is allowed only in
    that exact form, so member names stay as strict as before."""
    if _USER.fullmatch(user):
        return True
    return ":" in user and user.lower() == host.lower()


def parse_acct(resource: str) -> tuple[str, str]:
    """Split ``acct:user@host``, ``user@host`` or ``@user@host`` into (user, host).

    The host is lowercased (DNS is case-insensitive); the user keeps its case, since
    matching it is the server's business (Mastodon compares case-insensitively). The user
    may be the host with its port (an instance actor's name). Raises
    :class:`WebFingerError` with status 400 for anything else.
    """
    text = resource.strip()
    if text[:5].lower() == "acct:":
        text = text[5:]
    elif text.startswith("@"):
        text = text[1:]
    user, sep, host = text.partition("@")
    if not sep or not _HOST.fullmatch(host) or not _valid_user(user, host):
        raise WebFingerError(f"not an account address: {resource!r}", status=400)
    port = host.rpartition(":")[2] if not host.endswith("]") and ":" in host else None
    if port is not None and not 0 < int(port) < 65536:
        raise WebFingerError(f"invalid port in account address: {resource!r}", status=400)
    return user, host.lower()


def build_jrd(
    *,
    subject: str,
    actor_url: str,
    profile_url: str | None,
    aliases: Sequence[str] = (),
    subscribe_template: str | None = None,
) -> dict[str, Any]:
    """The JRD for one local account, in Mastodon's shape (``MD:content/en/spec/webfinger.md``).

    ``subject`` is ``acct:user@host`` (the prefix is added when missing). The ``self`` link's
    ``href`` is ``actor_url`` byte for byte: Mastodon compares it with the actor's ``id``
    using ``!=`` ("does not loop back"). Exactly one ``self`` link is emitted (SWICG
    "ActivityPub and WebFinger"; older Mastodon kept only the last one).
    """
    if not subject.startswith("acct:") and "://" not in subject:
        subject = f"acct:{subject}"
    links: list[dict[str, str]] = []
    if profile_url is not None:
        links.append({"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url})
    links.append({"rel": "self", "type": ACTIVITY_JSON, "href": actor_url})
    if subscribe_template is not None:
        links.append({"rel": SUBSCRIBE_REL, "template": subscribe_template})
    jrd: dict[str, Any] = {"subject": subject}
    if aliases:
        jrd["aliases"] = list(aliases)
    jrd["links"] = links
    return jrd


def _lrdd_template(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/.well-known/webfinger?resource={{uri}}"


def host_meta_xml(base_url: str) -> str:
    """``/.well-known/host-meta`` as XRD (serve as ``application/xrd+xml``)."""
    template = quoteattr(_lrdd_template(base_url))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={template}/>\n'
        "</XRD>\n"
    )


def host_meta_json(base_url: str) -> dict[str, Any]:
    """``/.well-known/host-meta.json``, the JSON form Mastodon also serves."""
    return {"links": [{"rel": "lrdd", "template": _lrdd_template(base_url)}]}


def _is_http_url(value: object) -> TypeGuard[str]:
    if not isinstance(value, str):
        return False
    try:
        origin_of(value)
    except ValueError:
        return False
    return True


async def lookup(client: FederationClient, handle: str, *, scheme: str = "https") -> str:
    """Resolve ``user@host`` (any :func:`parse_acct` form) to the actor URL its JRD names.

    GETs ``{scheme}://{host}/.well-known/webfinger?resource=acct:user@host`` unsigned, as
    Mastodon does. The JRD's ``subject`` must be the requested account (compared
    case-insensitively, like Mastodon's ``casecmp``), or list it among its ``aliases``; no
    second lookup is made. Returns the ``href`` of the first ``rel="self"`` link with an
    ActivityStreams type, which must be an http(s) URL. Raises :class:`WebFingerError`
    (``status`` is the remote HTTP status when there was one). Cross-origin redirects (a
    WebFinger on ``example.com`` handing over to ``social.example.com``) are refused by the
    client, like every other cross-origin redirect.
    """
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, not {scheme!r}")
    user, host = parse_acct(handle)
    acct = f"acct:{user}@{host}"
    url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(acct, safe=':@')}"
    try:
        result = await client.get_json(url, accept=JRD_ACCEPT)
    except FetchError as exc:
        raise WebFingerError(f"WebFinger for {acct} failed: {exc}", status=exc.status) from exc
    except FederationError as exc:
        raise WebFingerError(f"WebFinger for {acct} failed: {exc}") from exc
    jrd = result.data
    if jrd is None:
        raise WebFingerError(f"WebFinger for {acct} returned no document", status=result.status)

    subject = jrd.get("subject")
    if not isinstance(subject, str) or not subject:
        raise WebFingerError(f"WebFinger for {acct}: missing subject")
    aliases = jrd.get("aliases")
    names = [subject] + (list(aliases) if isinstance(aliases, list) else [])
    wanted = acct.casefold()
    if not any(isinstance(name, str) and name.casefold() == wanted for name in names):
        raise WebFingerError(f"WebFinger for {acct} answered for {subject!r}")

    links = jrd.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        link_type = link.get("type")
        if not isinstance(link_type, str) or not is_activitypub_media_type(link_type):
            continue
        href = link.get("href")
        if not _is_http_url(href):
            raise WebFingerError(f"WebFinger for {acct}: self link {href!r} is not http(s)")
        return href
    raise WebFingerError(f"WebFinger for {acct}: no ActivityPub self link")
