"""Text to safe HTML: local plain text is escaped and linked; remote HTML is sanitised."""

from __future__ import annotations

import html
import re

import nh3

URL_PATTERN = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")

# The subset Mastodon's own sanitiser keeps (docs: spec/activitypub.md "HTML sanitization");
# anything else would be stripped by peers anyway, and scripts or styles never pass.
ALLOWED_TAGS = {
    "p",
    "br",
    "span",
    "a",
    "del",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "class"},
    "span": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
ALLOWED_SCHEMES = {"http", "https"}
ALLOWED_CLASSES = {"mention", "hashtag", "ellipsis", "invisible", "h-card", "u-url"}


def _keep_class(tag: str, attribute: str, value: str) -> str | None:
    if attribute != "class":
        return value
    kept = [name for name in value.split() if name in ALLOWED_CLASSES]
    return " ".join(kept) or None


# Built once: nh3.clean builds its sanitiser from these settings on every call, which cost
# several times the cleaning of a typical note (the inbox worker cleans every incoming one).
_REMOTE_HTML = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=ALLOWED_SCHEMES,
    attribute_filter=_keep_class,
    link_rel="nofollow noopener noreferrer",
    strip_comments=True,
)
_NO_TAGS = nh3.Cleaner(tags=set())


def sanitize_html(untrusted: str) -> str:
    """Remote or stored HTML made safe to embed in our pages and to send to peers."""
    return _REMOTE_HTML.clean(untrusted)


# rel values our own generated HTML may carry: rel="tag" marks hashtag links (Mastodon's own
# output), the others keep referrers and SEO out of links members post.
LOCAL_LINK_RELS = {"tag", "nofollow", "noopener", "noreferrer"}


def _keep_local(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "rel":
        kept = [name for name in value.split() if name in LOCAL_LINK_RELS]
        return " ".join(kept) or None
    return _keep_class(tag, attribute, value)


def sanitize_local_html(generated: str) -> str:
    """HTML we built from a member's escaped plain text, sanitised all the same.

    Like `sanitize_html`, but `rel` is filtered rather than overwritten, so hashtag links keep
    rel="tag" as Mastodon writes them (spec/activitypub.md, "Hashtags").
    """
    return nh3.clean(
        generated,
        tags=ALLOWED_TAGS,
        attributes={**ALLOWED_ATTRIBUTES, "a": {"href", "class", "rel"}},
        url_schemes=ALLOWED_SCHEMES,
        attribute_filter=_keep_local,
        link_rel=None,
        strip_comments=True,
    )


def _link_urls(escaped_line: str) -> str:
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        return f'<a href="{url}" rel="nofollow noopener noreferrer">{url}</a>'

    return URL_PATTERN.sub(link, escaped_line)


def plain_text_to_html(text: str) -> str:
    """Paragraphs on blank lines, <br> on single newlines, http(s) URLs linked."""
    paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    rendered = []
    for paragraph in paragraphs:
        lines = [_link_urls(html.escape(line, quote=True)) for line in paragraph.splitlines()]
        rendered.append("<p>" + "<br>".join(lines) + "</p>")
    return sanitize_html("".join(rendered))


def html_to_text(fragment: str) -> str:
    """A plain-text rendering of sanitised HTML, for previews and search."""
    with_breaks = re.sub(r"<br\s*/?>|</p>", "\n", fragment)
    return html.unescape(_NO_TAGS.clean(with_breaks)).strip()
