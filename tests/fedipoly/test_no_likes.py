"""No likes, anywhere (product rule 1): no like, favourite, boost or reblog action or count, no
follower or post counts, nothing "popular", "trending" or ranked.

Every GET route of a populated instance (posts, replies, images, badges, local and remote
follows, a remote author) is rendered as the public, a member, a moderator and the author, and
the pages, the API's JSON and the OpenAPI document (paths, operation ids, parameter and schema
property names, descriptions) are searched for such actions, words and figures. Then a remote
actor sends signed Like, EmojiReact, Dislike, Announce (a boost) and Undo{Like} activities: each
is answered 202, the database is unchanged but for the processed inbox rows, and every page and
API answer is byte for byte what it was before.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from PIL import Image

from fedipoly import appkeys
from fedipoly.models import PostActivityTag, Role, Visibility
from fedipoly.services.post_parts import NewAttachment
from tests.fedipoly.collab_support import start_conversation
from tests.fedipoly.surfaces import (
    ANONYMOUS,
    Fetched,
    Viewer,
    assert_no_server_errors,
    expand,
    fetch_all,
    member_viewer,
)
from tests.fedipoly.test_inbox_attacks import INBOXES, World, encode, open_world, signed
from tests.fedipoly.web.profile_badges_support import make_person
from tests.fedipoly.web.social_support import Member

# Engagement in words (a negation just before, as in "there are no likes", is fine).
POPULARITY_WORDS = re.compile(
    r"\b(likes|liked|liking|favou?rites?|favou?rited|faves?|boost(?:s|ed|ing)?|"
    r"reblog(?:s|ged)?|reshare[sd]?|repost(?:s|ed)?|upvote[sd]?|hearts|reactions?|"
    r"popular(?:ity)?|trending|trends|leaderboard|top posts|most (?:liked|popular|followed))\b",
    re.IGNORECASE,
)
NEGATION = re.compile(r"\b(no|not|never|without|nor)\b[^.]{0,20}$", re.IGNORECASE)
# Counted things: "12 followers", "Followers: 12", "Posts (3)".
COUNTED = (
    r"followers?|following|posts?|statuses|likes?|favou?rites?|boosts?|reblogs?|reposts?|"
    r"replies|comments|views|stars|hearts|reactions|subscribers|shares|members"
)
COUNT_PHRASE = re.compile(
    rf"(\b\d[\d,.]*\s*[km]?\s+({COUNTED})\b)|(\b({COUNTED})\s*[:(]\s*\d)", re.IGNORECASE
)
NUMBER_ONLY = re.compile(r"^\s*\d[\d,.]*\s*[kKmM]?\s*$")
COUNT_WORD_ONLY = re.compile(rf"^\s*({COUNTED})\s*$", re.IGNORECASE)
# Identifier tokens (class names, form actions, API keys, OpenAPI names) that mean a like or
# reshare action, or a count or ranking.
ACTION_TOKENS = frozenset(
    {
        "like",
        "likes",
        "liked",
        "unlike",
        "favourite",
        "favorite",
        "favourites",
        "favorites",
        "favourited",
        "favorited",
        "fav",
        "fave",
        "boost",
        "boosts",
        "boosted",
        "unboost",
        "reblog",
        "reblogs",
        "reblogged",
        "unreblog",
        "repost",
        "reposts",
        "reshare",
        "upvote",
        "downvote",
        "heart",
        "hearts",
        "react",
        "reaction",
        "reactions",
        "emojireact",
    }
)
FIGURE_TOKENS = frozenset(
    {
        "count",
        "counts",
        "counter",
        "total",
        "totals",
        "score",
        "scores",
        "rank",
        "ranking",
        "popular",
        "popularity",
        "trending",
        "trends",
        "leaderboard",
        "stats",
        "statistics",
    }
)
INTERACTIVE = frozenset({"a", "button", "input", "form", "label", "select", "option", "summary"})
IDENTIFYING_ATTRIBUTES = ("action", "href", "name", "value", "class", "id", "aria-label", "title")


def tokens(identifier: str) -> set[str]:
    """Words of an identifier: split on non-letters and camelCase (favouritesCount -> ...)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", identifier)
    return {part.lower() for part in re.split(r"[^A-Za-z]+", spaced) if part}


def text_problems(text: str) -> list[str]:
    found = []
    for match in POPULARITY_WORDS.finditer(text):
        if not NEGATION.search(text[max(0, match.start() - 40) : match.start()]):
            found.append(f"popularity word {match.group(0)!r} in {text.strip()[:80]!r}")
    for match in COUNT_PHRASE.finditer(text):
        found.append(f"a count {match.group(0)!r} in {text.strip()[:80]!r}")
    return found


class Popularity(HTMLParser):
    """Collects like/boost controls, counts and popularity words from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = {name: value or "" for name, value in attrs}
        for name in values:
            if name.startswith("data-") and tokens(name) & (ACTION_TOKENS | FIGURE_TOKENS):
                self.found.append(f"<{tag} {name}>")
        if tag in INTERACTIVE or values.get("role") == "button" or "class" in values:
            for name in IDENTIFYING_ATTRIBUTES:
                if name in ("class", "id"):
                    bad = tokens(values.get(name, "")) & (ACTION_TOKENS | FIGURE_TOKENS)
                elif tag in INTERACTIVE:
                    bad = tokens(values.get(name, "")) & ACTION_TOKENS
                else:
                    bad = set()
                if bad:
                    self.found.append(f"<{tag} {name}={values[name][:60]!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip or not data.strip():
            return
        self.found += text_problems(data)
        if self.nodes and (
            (NUMBER_ONLY.match(data) and COUNT_WORD_ONLY.match(self.nodes[-1]))
            or (COUNT_WORD_ONLY.match(data) and NUMBER_ONLY.match(self.nodes[-1]))
        ):
            self.found.append(f"a count {self.nodes[-1].strip()!r} {data.strip()!r}")
        self.nodes.append(data)


def page_problems(html: str) -> list[str]:
    parser = Popularity()
    parser.feed(html)
    parser.close()
    return parser.found


def json_keys(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from json_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_keys(item)


def response_problems(item: Fetched) -> list[str]:
    if item.is_html:
        return page_problems(item.body)
    if item.is_json and item.path.startswith("/api/"):
        keys = set(json_keys(item.json()))
        return [
            f"API field {key!r}" for key in keys if tokens(key) & (ACTION_TOKENS | FIGURE_TOKENS)
        ]
    return []


def openapi_problems(document: dict[str, Any]) -> list[str]:
    """Names (paths, operation ids, tags, parameters, schema properties, enum values) and texts
    (summaries, descriptions) of the OpenAPI document."""
    problems: list[str] = []

    def name(value: str, where: str) -> None:
        bad = tokens(value) & (ACTION_TOKENS | FIGURE_TOKENS)
        if bad:
            problems.append(f"{where} {value!r} ({sorted(bad)})")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if where.rsplit(".", 1)[-1] in ("properties", "schemas"):
                    name(str(key), f"{where} name")
                if key in ("summary", "description", "title") and isinstance(item, str):
                    problems.extend(f"{where}.{key}: {p}" for p in text_problems(item))
                elif key in ("operationId", "name") and isinstance(item, str):
                    name(item, f"{where}.{key}")
                elif key in ("enum", "tags") and isinstance(item, list):
                    for value in item:
                        if isinstance(value, str):
                            name(value, f"{where}.{key}")
                walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for path in document.get("paths", {}):
        name(path, "path")
    walk(document, "")
    return problems


# --- a populated instance -------------------------------------------------------------------


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


async def as_member(w: World) -> Member:
    accounts = w.inst.app[appkeys.ACCOUNTS]
    token = await accounts.issue_token(w.alice, "tests")
    session = await accounts.start_session(w.alice)
    return Member(account=w.alice, token=token.secret, session=session.cookie_value)


async def populate(w: World) -> tuple[list[Viewer], dict[str, list[str]], list[dict[str, str]]]:
    app = w.inst.app
    posts, badges, follows = app[appkeys.POSTS], app[appkeys.BADGES], app[appkeys.FOLLOWS]
    alice, bob = await as_member(w), await make_person(app, "bob")
    mod = await make_person(app, "mod", Role.MODERATOR)
    await follows.follow(bob.account, "alice")
    await w.send(w.mallory, w.act(w.mallory, "Follow", w.alice_uri))
    await w.alice_follows(w.mallory)
    image = await app[appkeys.MEDIA_LIBRARY].upload(w.alice, png())
    public = await posts.create(
        w.alice,
        "Wrote a parser today #python",
        Visibility.PUBLIC,
        activity_tags=[PostActivityTag("Wrote some code", "")],
        attachments=[NewAttachment(image.id, "A screenshot of the parser")],
    )
    private = await posts.create(w.alice, "For my followers only", Visibility.FOLLOWERS)
    reply = await posts.reply(bob.account, public.id, "Nice one!", Visibility.PUBLIC)
    note = w.note(w.mallory, "Hello from afar", inReplyTo=public.uri)
    await w.send(w.mallory, w.act(w.mallory, "Create", note))
    await badges.create_badge(
        bob.account, slug="knitting", display_name="Knitting", color="#aa3366", icon="🧶"
    )
    await badges.create_badge(
        mod.account, slug="chess_club", display_name="Chess club", color="#112233", icon="♞"
    )
    await badges.approve(mod.account, "chess_club")
    await badges.add_badges(bob.account, ["chess_club", "python"])
    await w.settle()
    remote = await w.store.get_post_by_uri(note["id"])
    assert remote is not None
    conversations = await start_conversation(app, bob.account, w.alice, reply="Sure!")
    report = await app[appkeys.MODERATION].report(bob.account, "post", public.id, "Off topic")
    values = {
        "report_id": [report.id],
        "conversation_id": list(conversations),
        "username": ["alice", "bob", "mod"],
        "post_id": [public.id, private.id, reply.id, remote.id],
        "slug": ["python", "programming", "chess_club", "knitting"],
        "badge_id": [(await app[appkeys.BADGES].get_badge("chess_club", None)).id],
        "media_id": [image.id],
        "tag": ["python", "WroteSomeCode"],
    }
    linked = [
        {"username": "alice", "post_id": public.id},
        {"username": "alice", "post_id": private.id},
        {"username": "bob", "post_id": reply.id},
    ]
    viewers = [ANONYMOUS, member_viewer(bob), member_viewer(mod), member_viewer(alice)]
    return viewers, values, linked


def engagement(w: World, public_uri: str, remote_uri: str) -> list[dict[str, Any]]:
    like = w.act(w.mallory, "Like", public_uri)
    return [
        like,
        w.act(w.mallory, "Like", w.alice_uri),
        w.act(w.mallory, "Like", remote_uri),
        w.act(w.mallory, "EmojiReact", public_uri, content="\u2b50"),
        w.act(w.mallory, "Dislike", public_uri),
        w.act(
            w.mallory, "Announce", public_uri, to=["https://www.w3.org/ns/activitystreams#Public"]
        ),
        w.act(w.mallory, "Undo", {k: v for k, v in like.items() if k != "@context"}),
    ]


def snapshot(fetched: Sequence[Fetched]) -> dict[tuple[str, str, str], tuple[int, str]]:
    return {(item.viewer, item.path, item.accept): (item.status, item.body) for item in fetched}


async def test_no_likes_counts_or_ranking_anywhere_and_likes_change_nothing(
    tmp_path: Path, backend: str, mongo_url: str | None
) -> None:
    async with open_world(tmp_path, backend, mongo_url) as w:
        app, client = w.inst.app, w.inst.client
        viewers, values, linked = await populate(w)
        paths = expand(app, values, linked)
        before = await fetch_all(client, paths, viewers)
        assert_no_server_errors(before)
        problems: dict[str, list[str]] = {}
        for item in before:
            for problem in response_problems(item):
                problems.setdefault(problem, []).append(item.label)
        assert not problems, "\n".join(
            f"{problem}: {where[:3]}" for problem, where in list(problems.items())[:30]
        )
        pages = [item for item in before if item.is_html and item.status == 200]
        assert {item.viewer for item in pages} == {viewer.name for viewer in viewers}
        assert any("Wrote a parser today" in item.body for item in pages)

        openapi = await client.get("/api/openapi.json")
        assert openapi.status == 200
        document = await openapi.json()
        assert document["paths"], "the OpenAPI document lists no paths"
        assert openapi_problems(document) == []

        # Likes, reactions and a boost of alice's post: answered 202 and dropped.
        public_uri = w.inst.actor("alice") + f"/statuses/{values['post_id'][0]}"
        remote = await w.store.get_post(values["post_id"][3])
        assert remote is not None
        dump = await w.dump()
        stored = 0
        for path in INBOXES:
            for activity in engagement(w, public_uri, remote.uri):
                body = encode(activity)
                headers = signed(w.url(path), body, w.mallory.key_id, w.mallory.keys)
                await w.expect(activity["type"], 202, path, body, headers)
                stored += activity["type"] in ("Announce", "Undo")
        await w.assert_unchanged(dump, new_inbox=stored)
        after = await fetch_all(client, paths, viewers)
        changed = [
            key for key, seen in snapshot(after).items() if snapshot(before).get(key) != seen
        ]
        assert changed == [], changed[:10]


def test_the_checks_catch_what_they_look_for() -> None:
    """The detectors themselves: what a like button, a count or a ranking looks like."""
    assert page_problems("<p>Timelines are chronological, and there are no likes.</p>") == []
    assert page_problems("<p>Follow someone, like name@server.example</p>") == []
    assert page_problems('<form action="/posts/1/like"><button>Like</button></form>')
    assert page_problems('<button class="favourite-button">★</button>')
    assert page_problems("<p>12 followers</p>")
    assert page_problems("<dl><dt>Followers</dt><dd>12</dd></dl>")
    assert page_problems("<p><strong>3</strong> <span>posts</span></p>")
    assert page_problems("<h2>Trending badges</h2>")
    assert page_problems('<span class="reblogs-count">4</span>')
    assert page_problems("<p>@alice@127.0.0.1:40123</p><h2>Posts</h2>") == []
    assert openapi_problems({"paths": {"/api/v1/posts/{id}/favourite": {}}})
    assert openapi_problems(
        {"paths": {}, "components": {"schemas": {"Post": {"properties": {"favouritesCount": {}}}}}}
    )
    assert openapi_problems({"paths": {}, "info": {"description": "Popular posts first"}})
    assert openapi_problems({"paths": {}, "info": {"description": "never ranked, no counts"}}) == []
