"""Every GET surface of a running app, fetched as several viewers, and what no response may hold.

The routes come from the app's own router (``app.router.routes()``), so a page, API route or
ActivityPub collection added later is covered without touching the tests: its path parameters
are filled with real values from the test's data (``{username}``, ``{post_id}``, ``{slug}``...);
a parameter nobody has values for fails loudly, so a new kind of route is never skipped.

Used by the injection, no-likes and privacy tests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from federation.httpsig import sign_request
from fedipoly.web.middlewares import CSRF_COOKIE, SESSION_COOKIE

CSRF = "csrf-token-for-surface-tests-0123"
HTML = "text/html"
AS_JSON = "application/activity+json"
JSON = "application/json"
# Values every app understands, whatever the test's data.
FIXED_VALUES: dict[str, list[str]] = {"version": ["2.0", "2.1"]}


# --- who is asking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Someone fetching pages: anonymous, a member (session cookie for pages, bearer token for
    the API), or a server signing its GETs as Mastodon's authorized fetch does."""

    name: str
    token: str | None = None
    session: str | None = None
    key_id: str | None = None
    private_pem: str | None = None

    def headers(self, url: str, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.key_id and self.private_pem:
            headers |= sign_request(
                method="GET",
                url=url,
                headers=headers,
                body=None,
                key_id=self.key_id,
                private_key_pem=self.private_pem,
                now=datetime.now(UTC),
            )
        return headers

    @property
    def cookies(self) -> dict[str, str]:
        cookies = {CSRF_COOKIE: CSRF}
        if self.session:
            cookies[SESSION_COOKIE] = self.session
        return cookies


ANONYMOUS = Viewer("anonymous")


def member_viewer(member: Any) -> Viewer:
    """A Viewer for a tests.fedipoly.web.social_support.Member."""
    return Viewer(member.username, token=member.token, session=member.session)


# --- the routes ------------------------------------------------------------------------------


PARAMETER = re.compile(r"{(\w+)(?::[^}]*)?}")


def get_routes(app: web.Application) -> list[web.AbstractResource]:
    """Every resource with a GET handler (static files left out), in router order."""
    found: dict[int, web.AbstractResource] = {}
    for route in app.router.routes():
        if route.method != "GET" or isinstance(route.resource, web.StaticResource):
            continue
        if route.resource is not None:
            found.setdefault(id(route.resource), route.resource)
    return list(found.values())


def parameters(resource: web.AbstractResource) -> list[str]:
    return PARAMETER.findall(resource.canonical)


def expand(
    app: web.Application,
    values: Mapping[str, Sequence[str]],
    linked: Sequence[Mapping[str, str]] = (),
    *,
    cross: bool = False,
) -> list[str]:
    """Concrete paths for every GET route.

    A route with one parameter gets each of its `values`. One with several gets each `linked`
    record that has them all (e.g. a post id with its author's username) and, with `cross`,
    every combination of the values too (e.g. someone else's username with a post id).
    """
    known = FIXED_VALUES | dict(values)
    paths: list[str] = []
    for resource in get_routes(app):
        names = parameters(resource)
        missing = [name for name in names if name not in known]
        assert not missing, (
            f"route {resource.canonical} has path parameter(s) {missing} that the surface "
            "tests have no values for: add them to the test's values"
        )
        combos: list[tuple[str, ...]] = []
        if len(names) == 1:
            combos = [(value,) for value in known[names[0]]]
        elif names:
            combos = [
                tuple(record[name] for name in names)
                for record in linked
                if all(name in record for name in names)
            ]
            if cross or not combos:
                combos += list(itertools.product(*(known[name] for name in names)))
        else:
            combos = [()]
        for combo in dict.fromkeys(combos):
            paths.append(str(resource.url_for(**dict(zip(names, combo, strict=True)))))
    return list(dict.fromkeys(paths))


def browser_accepts(path: str) -> list[tuple[str, str]]:
    """How a browser (or an API client, for /api/) asks for a path."""
    return [(path, JSON if path.startswith("/api/") else HTML)]


def server_accepts(path: str) -> list[tuple[str, str]]:
    """How a fediverse server asks (nothing under /api/)."""
    return [] if path.startswith("/api/") else [(path, AS_JSON)]


def default_accepts(path: str) -> list[tuple[str, str]]:
    return browser_accepts(path) + server_accepts(path)


@dataclass(frozen=True)
class Fetched:
    viewer: str
    path: str
    accept: str
    status: int
    content_type: str
    headers: Mapping[str, str]
    body: str

    @property
    def label(self) -> str:
        return f"GET {self.path} [{self.accept}] as {self.viewer} -> {self.status}"

    @property
    def is_html(self) -> bool:
        return self.content_type == HTML

    @property
    def is_json(self) -> bool:
        return self.content_type.endswith("json")

    def json(self) -> Any:
        return json.loads(self.body)


Request = tuple[Viewer, str, str]  # who, path (with query), Accept


def requests_for(
    paths: Iterable[str],
    viewers: Sequence[Viewer],
    accepts: Callable[[str], list[tuple[str, str]]] = default_accepts,
) -> list[Request]:
    return [
        (viewer, target, accept)
        for path in paths
        for target, accept in accepts(path)
        for viewer in viewers
    ]


async def fetch_requests(
    client: TestClient, requests: Sequence[Request], *, concurrency: int = 16
) -> list[Fetched]:
    """GET each request (redirects not followed: their targets are routes too), then the first
    page of every collection answered (an OrderedCollection's `first`), as the same viewer."""
    gate = asyncio.Semaphore(concurrency)
    base = str(client.make_url("/")).rstrip("/")

    async def one(viewer: Viewer, path: str, accept: str) -> Fetched:
        async with gate:
            response = await client.get(
                path,
                headers=viewer.headers(f"{base}{path}", accept),
                cookies=viewer.cookies,
                allow_redirects=False,
            )
            body = await response.read()
            return Fetched(
                viewer=viewer.name,
                path=path,
                accept=accept,
                status=response.status,
                content_type=response.content_type,
                headers=dict(response.headers),
                body=body.decode("utf-8", errors="replace"),
            )

    fetched = list(await asyncio.gather(*(one(*request) for request in requests)))
    viewers = {request[0].name: request[0] for request in requests}
    pages: dict[Request, None] = {}
    for item in fetched:
        document = item.json() if item.is_json and item.status == 200 else None
        first = document.get("first") if isinstance(document, dict) else None
        if isinstance(first, str) and first.startswith(f"{base}/"):
            pages[(viewers[item.viewer], first.removeprefix(base), item.accept)] = None
    seen = {(item.viewer, item.path, item.accept) for item in fetched}
    more = [page for page in pages if (page[0].name, page[1], page[2]) not in seen]
    return fetched + list(await asyncio.gather(*(one(*page) for page in more)))


async def fetch_all(
    client: TestClient,
    paths: Iterable[str],
    viewers: Sequence[Viewer],
    *,
    accepts: Callable[[str], list[tuple[str, str]]] = default_accepts,
) -> list[Fetched]:
    """GET every path as every viewer, as a browser and as a fediverse server asks."""
    return await fetch_requests(client, requests_for(paths, viewers, accepts))


def assert_no_server_errors(fetched: Sequence[Fetched]) -> None:
    broken = [item.label + ": " + item.body[:200] for item in fetched if item.status >= 500]
    assert not broken, "\n".join(broken[:20])


# --- what a page may not contain ---------------------------------------------------------------


ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "xlink:href",
        "poster",
        "background",
        "cite",
        "data",
        "longdesc",
        "lowsrc",
        "dynsrc",
        "ping",
        "manifest",
        "codebase",
    }
)
# Elements that run, load or restyle something, or change how the page's URLs resolve.
FORBIDDEN_TAGS = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "base",
        "foreignobject",
        "animate",
        "set",
        "handler",
        "listener",
        "portal",
        "template",
        "noscript",
        "xmp",
        "plaintext",
        "isindex",
    }
)
# Characters a browser drops from a URL before reading its scheme.
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]+")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see (tabs, newlines and controls removed), or None when the
    URL is relative."""
    found = SCHEME.match(_URL_IGNORED.sub("", value).lower())
    return found.group(1) if found else None


def is_site_asset(value: str) -> bool:
    return value.startswith("/static/") and not value.startswith("//")


class ActiveContent(HTMLParser):
    """Parses a page as a browser would and collects whatever could run or load: scripts (other
    than our own /static/ files), styles, frames, event handlers, style attributes, and URLs
    with any scheme but http(s)/mailto. Also collects the text and attribute values a person
    would see or a form would submit, so a test can prove a payload was shown, escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.texts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script":
            self._in_script = True
            if not is_site_asset(values.get("src", "")):
                self.found.append(f"<script {values}>")
        elif tag == "link":
            if not is_site_asset(values.get("href", "")):
                self.found.append(f"<link {values}>")
        elif tag == "meta" and "http-equiv" in values:
            self.found.append(f"<meta {values}>")
        elif tag in FORBIDDEN_TAGS:
            self.found.append(f"<{tag} {values}>")
        elif tag == "use" and not values.get("href", values.get("xlink:href", "#")).startswith("#"):
            self.found.append(f"<use {values}>")
        for name, value in values.items():
            if name.startswith("on") or name in ("style", "srcdoc"):
                self.found.append(f"<{tag} {name}={value[:60]!r}>")
            elif name in URL_ATTRIBUTES or name == "srcset":
                urls = [part.strip().split(" ")[0] for part in value.split(",")]
                for url in urls if name == "srcset" else [value]:
                    scheme = url_scheme(url)
                    if scheme is not None and scheme not in ALLOWED_SCHEMES:
                        self.found.append(f"<{tag} {name}={value[:60]!r}>")
            self.texts.append(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline script {data[:60]!r}")
        self.texts.append(data)

    def handle_pi(self, data: str) -> None:
        self.found.append(f"processing instruction {data[:60]!r}")


def scan_html(html: str) -> ActiveContent:
    parser = ActiveContent()
    parser.feed(html)
    parser.close()
    return parser


def html_problems(html: str) -> list[str]:
    return scan_html(html).found


# Fields whose JSON value is HTML (ours, or a peer's after sanitising): they must pass the same
# checks as a page. Every other string is plain text.
HTML_KEYS = frozenset({"content", "summary", "value", "content_html", "bio_html", "summary_html"})
HTML_MAP_KEYS = frozenset({"contentMap", "summaryMap"})
RAW_TAG = re.compile(r"<\s*/?\s*([a-zA-Z][\w:-]*)")
URL_KEYS = frozenset({"url", "uri", "href", "icon", "image", "avatar", "inbox", "outbox", "actor"})


def is_html_key(key: str, parent: str) -> bool:
    return key in HTML_KEYS or key.endswith("_html") or parent in HTML_MAP_KEYS


def is_url_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in URL_KEYS or lowered.endswith(("url", "uri", "href"))


def json_fields(value: Any, key: str = "", parent: str = "") -> Iterable[tuple[str, str, str]]:
    """(key, parent key, value) for every string in a JSON document."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from json_fields(item, str(name), key)
    elif isinstance(value, list):
        for item in value:
            yield from json_fields(item, key, parent)
    elif isinstance(value, str):
        yield key, parent, value


def json_strings(value: Any) -> Iterable[str]:
    return (text for _key, _parent, text in json_fields(value))


def csp_problems(item: Fetched) -> list[str]:
    policy = item.headers.get("Content-Security-Policy", "")
    script = next(
        (part.strip() for part in policy.split(";") if part.strip().startswith("script-src")),
        next((part.strip() for part in policy.split(";") if "default-src" in part), ""),
    )
    if not script or "unsafe-inline" in script or "unsafe-eval" in script or "*" in script:
        return [f"page without a script-src/default-src that forbids inline script: {policy!r}"]
    return []


def response_problems(item: Fetched) -> list[str]:
    """Markup that would run: in a page, in an HTML field of any JSON answer, a script URL in
    a JSON URL field, and (for the API, whose JSON clients embed) markup in its raw bytes.
    Also the headers that make a browser refuse what slipped through."""
    problems: list[str] = []
    if (item.is_html or item.is_json) and item.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{item.content_type} answer {item.status} without nosniff")
    if item.is_html:
        problems += html_problems(item.body)
        problems += csp_problems(item)
    elif item.is_json:
        try:
            document = item.json()
        except ValueError:
            return [*problems, f"{item.content_type} answer is not JSON"]
        raw_markup = item.path.startswith("/api/") and "<" in item.body
        for key, parent, text in json_fields(document):
            if is_html_key(key, parent):
                problems += [f"HTML field {key!r}: {found}" for found in html_problems(text)]
            elif raw_markup:
                problems += [
                    f"raw markup <{match.group(1)}> in the API's JSON field {key!r}"
                    for match in RAW_TAG.finditer(text)
                ]
            if is_url_key(key) and url_scheme(text) not in (None, *ALLOWED_SCHEMES):
                problems.append(f"JSON URL field {key!r} = {text[:60]!r}")
    return list(dict.fromkeys(problems))


def shown_texts(fetched: Sequence[Fetched]) -> str:
    """Everything a person could read in the pages and the JSON strings, decoded, joined."""
    parts: list[str] = []
    for item in fetched:
        if item.is_html:
            parts += scan_html(item.body).texts
        elif item.is_json:
            try:
                parts += list(json_strings(item.json()))
            except ValueError:
                continue
    return "\n".join(parts)


@dataclass
class Report:
    """Problems collected over many responses; shown all at once, a few per kind."""

    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, item: Fetched, found: Sequence[str]) -> None:
        for problem in found:
            self.problems.setdefault(problem, []).append(item.label)

    def check(self) -> None:
        lines = [
            f"{problem}\n    seen in {len(where)} responses, e.g. {where[:3]}"
            for problem, where in list(self.problems.items())[:25]
        ]
        assert not lines, f"{len(self.problems)} problems:\n" + "\n".join(lines)
