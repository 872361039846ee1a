"""Helpers for the rich-post tests (activity tags, images, dates, replies, the five timelines):
real images built with Pillow, multipart uploads through the API and the compose form, and
remote posts ingested as if they came from Mastodon."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, FormData, web
from aiohttp.test_utils import TestClient
from PIL import Image

from fedipoly import appkeys
from fedipoly.models import Post, RemoteActor
from tests.contract.test_federation_store import remote_actor
from tests.fedipoly.web.social_support import CSRF, Member

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)
FAKE_PNG = b"this is not an image, whatever its name says\n" * 20
# Popularity in any form: a count next to a like/boost word, or such a button or key.
POPULARITY_KEY = re.compile(r"like|favou?rite|boost|reblog|count|score|rank", re.IGNORECASE)
METRICS = re.compile(
    r"\d[\d,.]*[ \t]+(followers?|following|likes?|favou?rites?|boosts?|reblogs?|repl(y|ies))\b",
    re.IGNORECASE,
)
METRIC_CONTROLS = re.compile(r">\s*(likes?|favou?rites?|boosts?|reblogs?)\s*<", re.IGNORECASE)


def png_bytes(
    width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def noisy_png(edge: int) -> bytes:
    """A real PNG that does not compress: about edge * edge * 3 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (edge, edge), os.urandom(edge * edge * 3)).save(out, "PNG")
    return out.getvalue()


def stored_media(app: web.Application) -> list[Path]:
    """Every image file in the media store (there is one directory per test)."""
    directory = app[appkeys.MEDIA].directory
    return (
        sorted(path for path in directory.rglob("*") if path.is_file())
        if directory.exists()
        else []
    )


async def upload(
    client: TestClient,
    who: Member | None,
    data: bytes,
    *,
    filename: str = "photo.png",
    content_type: str = "image/png",
    field: str = "file",
) -> tuple[int, Any]:
    form = FormData()
    form.add_field(field, data, filename=filename, content_type=content_type)
    response = await client.post("/api/v1/media", data=form, headers=who.auth if who else {})
    return response.status, await response.json()


async def submit_form(
    client: TestClient,
    path: str,
    fields: dict[str, str],
    who: Member,
    *,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    csrf: str | None = CSRF,
) -> ClientResponse:
    """A browser's multipart/form-data POST (as the compose form sends it): every file input
    is sent, an empty one with an empty file name, as browsers do."""
    form = FormData(default_to_multipart=True)
    for name, value in fields.items():
        form.add_field(name, value)
    if csrf is not None:
        form.add_field("csrf_token", csrf)
    chosen = files or {}
    for slot in range(1, 5):
        name = f"image_{slot}"
        filename, data, content_type = chosen.get(name, ("", b"", "application/octet-stream"))
        form.add_field(name, data, filename=filename, content_type=content_type)
    response = await client.post(
        path,
        data=form,
        headers={"Accept": "text/html"},
        cookies=who.cookies,
        allow_redirects=False,
    )
    await response.read()
    return response


async def remote_author(app: web.Application, username: str = "carol") -> RemoteActor:
    actor = remote_actor(username, "mastodon.example", shared_inbox=None)
    await app[appkeys.STORE].upsert_remote_actor(actor)
    return actor


async def remote_post(
    app: web.Application,
    author: RemoteActor,
    number: int,
    text: str,
    *,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Post:
    note = {
        "id": f"{author.uri}/statuses/{number}",
        "type": "Note",
        "attributedTo": author.uri,
        "content": f"<p>{text}</p>",
        "to": [PUBLIC] if to is None else to,
        "cc": [author.followers_url] if cc is None else cc,
    } | (extra or {})
    post = await app[appkeys.POSTS].ingest_remote(note, author)
    assert post is not None
    return post


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_of(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_of(item)}
    return set()


def assert_no_metrics(html: str) -> None:
    text = re.sub(r"<[^>]+>", " ", html)
    assert not METRICS.search(text), METRICS.search(text)
    assert not METRIC_CONTROLS.search(html), METRIC_CONTROLS.search(html)


def post_texts(html: str, marker: str) -> list[str]:
    """The `<p>{marker} ...</p>` paragraphs of posts on a page, in page order."""
    return re.findall(rf"<p>({re.escape(marker)}[^<]*)</p>", html)
