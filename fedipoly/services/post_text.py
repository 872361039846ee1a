"""A member's plain text to Mastodon-shaped HTML: links, @mentions and #hashtags (no I/O here).

The shapes are Mastodon's own (spec/activitypub.md "Mentions" and "Hashtags"):
    <span class="h-card"><a href="…" class="u-url mention">@<span>bob</span></a></span>
    <a href="https://our.host/tags/python" class="mention hashtag" rel="tag">#<span>python</span></a>
Everything else is escaped, and the result still goes through the sanitiser. A mention that
does not resolve to an actor stays plain text; so does a "hashtag" without a letter (#1).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fedipoly.services.text import URL_PATTERN, sanitize_local_html

MAX_MENTIONS = 20  # each remote one may cost a WebFinger lookup
MAX_HASHTAGS = 30
MAX_HASHTAG_LENGTH = 100

# Mastodon's MENTION_RE, plus an optional port on the host (peers on loopback in tests):
# not after a word character, '@' or '/', so e-mail addresses and URL paths are left alone.
_MENTION = (
    r"(?<![\w@/])@(?P<user>[A-Za-z0-9_]{1,64})"
    r"(?:@(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::\d{1,5})?))?"
)
# Mastodon's HASHTAG_RE in spirit: word characters, not after a word character, '&' or '/'.
_HASHTAG = rf"(?<![\w&/#])#(?P<tag>\w{{1,{MAX_HASHTAG_LENGTH}}})(?!\w)"
_TOKEN = re.compile(f"(?P<url>{URL_PATTERN.pattern})|{_MENTION}|{_HASHTAG}")


@dataclass(frozen=True)
class MentionTarget:
    """Whom a written handle names: their actor id, the page to link and the name to show."""

    uri: str
    url: str
    username: str


def mention_key(username: str, host: str | None) -> str:
    return f"{username}@{host}".lower() if host else username.lower()


def _is_hashtag(tag: str) -> bool:
    return any(char.isalpha() for char in tag)


def find_mentions(text: str) -> list[tuple[str, str | None]]:
    """(username, host or None) of each handle written, first spelling kept, at most 20."""
    found: dict[str, tuple[str, str | None]] = {}
    for match in _TOKEN.finditer(text):
        if match.group("user") and len(found) < MAX_MENTIONS:
            key = mention_key(match.group("user"), match.group("host"))
            found.setdefault(key, (match.group("user"), match.group("host")))
    return list(found.values())


def find_hashtags(text: str) -> list[str]:
    """The hashtags written (without '#'), first spelling kept, case-insensitively unique."""
    found: dict[str, str] = {}
    for match in _TOKEN.finditer(text):
        tag = match.group("tag")
        if tag and _is_hashtag(tag) and len(found) < MAX_HASHTAGS:
            found.setdefault(tag.casefold(), tag)
    return list(found.values())


def _render_line(
    line: str, mentions: Mapping[str, MentionTarget], tag_url: Callable[[str], str]
) -> str:
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(line):
        out.append(html.escape(line[position : match.start()], quote=True))
        position = match.end()
        written = match.group(0)
        if match.group("url"):
            href = html.escape(written, quote=True)
            out.append(f'<a href="{href}" rel="nofollow noopener noreferrer">{href}</a>')
        elif match.group("user"):
            target = mentions.get(mention_key(match.group("user"), match.group("host")))
            if target is None:
                out.append(html.escape(written, quote=True))
                continue
            out.append(
                f'<span class="h-card"><a href="{html.escape(target.url, quote=True)}"'
                f' class="u-url mention">@<span>{html.escape(target.username)}</span></a></span>'
            )
        else:
            tag = match.group("tag")
            if not _is_hashtag(tag):
                out.append(html.escape(written, quote=True))
                continue
            out.append(
                f'<a href="{html.escape(tag_url(tag), quote=True)}" class="mention hashtag"'
                f' rel="tag">#<span>{html.escape(tag)}</span></a>'
            )
    out.append(html.escape(line[position:], quote=True))
    return "".join(out)


def render_post_html(
    text: str, *, mentions: Mapping[str, MentionTarget], tag_url: Callable[[str], str]
) -> str:
    """Paragraphs on blank lines, <br> on single newlines; links, mentions, hashtags linked."""
    paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    rendered = [
        "<p>"
        + "<br>".join(_render_line(line, mentions, tag_url) for line in paragraph.splitlines())
        + "</p>"
        for paragraph in paragraphs
    ]
    return sanitize_local_html("".join(rendered))
