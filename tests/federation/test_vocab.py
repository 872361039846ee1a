"""Tests for federation.vocab: media types, origins, ids, and the hardened JSON parser."""

from __future__ import annotations

import json
import time

import pytest

from federation.errors import FederationError, MalformedActivity, PayloadTooLarge
from federation.vocab import (
    ACTIVITY_JSON,
    LD_JSON_PROFILE,
    PUBLIC,
    as_list,
    audience,
    id_of,
    is_activitypub_media_type,
    is_on_origin,
    is_public_address,
    origin_of,
    parse_json_object,
    same_origin,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (PUBLIC, True),
        ("as:Public", True),
        ("Public", True),
        ("https://www.w3.org/ns/activitystreams#public", False),
        ("http://www.w3.org/ns/activitystreams#Public", False),
        ("https://example.test/users/bob/followers", False),
        ("", False),
    ],
)
def test_is_public_address(value: str, expected: bool) -> None:
    assert is_public_address(value) is expected


@pytest.mark.parametrize(
    ("value", "lenient", "strict"),
    [
        (ACTIVITY_JSON, True, True),
        ("Application/Activity+JSON; charset=utf-8", True, True),
        (LD_JSON_PROFILE, True, True),
        ('application/ld+json;profile="https://www.w3.org/ns/activitystreams"', True, True),
        (
            'application/ld+json; profile="https://example.test/x https://www.w3.org/ns/activitystreams"',
            True,
            True,
        ),
        ("application/ld+json", True, False),
        ('application/ld+json; profile="https://example.test/other"', False, False),
        ("application/json", False, False),
        ("text/html", False, False),
        ("*/*", False, False),
        ("", False, False),
        ("garbage", False, False),
        # Accept headers: any acceptable range qualifies, q=0 means "not acceptable".
        (f"text/html, {ACTIVITY_JSON}", True, True),
        (f"application/activity+json, {LD_JSON_PROFILE}", True, True),
        (f"{ACTIVITY_JSON};q=0, text/html", False, False),
        # A comma inside a quoted profile does not split the range.
        ('application/ld+json; profile="a,b https://www.w3.org/ns/activitystreams"', True, True),
    ],
)
def test_is_activitypub_media_type(value: str, lenient: bool, strict: bool) -> None:
    assert is_activitypub_media_type(value) is lenient
    assert is_activitypub_media_type(value, strict=True) is strict


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Example.COM/users/bob", "https://example.com"),
        ("https://example.com:443/x", "https://example.com"),
        ("http://example.com:80/x", "http://example.com"),
        ("http://example.com:8080/x", "http://example.com:8080"),
        ("HTTPS://example.com./x#frag", "https://example.com"),
        ("http://127.0.0.1:8001/users/x", "http://127.0.0.1:8001"),
        ("https://[0:0::1]:8443/", "https://[::1]:8443"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example"),
        # The plain shape (lower-case name, no port) and its near misses.
        ("https://social.example/users/bob/statuses/1", "https://social.example"),
        ("https://social.example", "https://social.example"),
        ("https://social.example?x=1", "https://social.example"),
        ("https://social.example#main-key", "https://social.example"),
        ("https://social.example./x", "https://social.example"),
        ("https://127.0.0.1/x", "https://127.0.0.1"),
        ("https://my-host-1.example/x", "https://my-host-1.example"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


ORIGINS = ["https://social.example", "http://127.0.0.1:8001", "https://[::1]:8443"]
NEAR_ORIGINS = [
    f"{origin}{tail}"
    for origin in ORIGINS
    for tail in ("/x", "", "/", ".evil.example/x", ":443/x", "/a b", "/a\\b", "/\n", "?q", "#k")
]


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("url", [*NEAR_ORIGINS, "https://SOCIAL.example/x", "/users/bob"])
def test_is_on_origin_answers_what_origin_of_answers(url: str, origin: str) -> None:
    try:
        expected: bool | None = origin_of(url) == origin
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            is_on_origin(url, origin)
    else:
        assert is_on_origin(url, origin) is expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/users/bob",
        "ftp://example.com/x",
        "javascript:alert(1)",
        "https://",
        "https://user@example.com/x",
        "https://victim.example\\@evil.example/",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://exa mple.com/",
        "https://example.com/\n",
        "https://example.com/a b",
        "https://example.com/a\\b",
        "https://example.com/\x00",
    ],
)
def test_origin_of_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        origin_of(url)


def test_same_origin() -> None:
    assert same_origin("https://a.example/x", "https://A.example:443/y")
    assert not same_origin("https://a.example/x", "http://a.example/x")
    assert not same_origin("https://a.example/x", "https://a.example:8443/x")
    assert not same_origin("https://a.example/x", "https://b.example/x")
    # The CVE-2023-42451 shape: a host that only looks like another after sloppy cleanup.
    assert not same_origin("https://mastodon.so/cial", "https://mastodon.social/")
    assert not same_origin("not a url", "not a url")


def test_id_of() -> None:
    assert id_of("https://a.example/1") == "https://a.example/1"
    assert id_of({"id": "https://a.example/1", "type": "Note"}) == "https://a.example/1"
    assert id_of({"type": "Note"}) is None
    assert id_of({"id": 5}) is None
    assert id_of({"id": {"$ne": None}}) is None  # never a query operator
    assert id_of("") is None
    assert id_of(None) is None
    assert id_of(["https://a.example/1"]) is None


def test_as_list() -> None:
    assert as_list(None) == []
    assert as_list("x") == ["x"]
    assert as_list({"a": 1}) == [{"a": 1}]
    original = [1, 2]
    copy = as_list(original)
    assert copy == original and copy is not original


def test_audience() -> None:
    obj = {
        "to": [PUBLIC],
        "cc": "https://a.example/users/bob/followers",
        "bto": [{"id": "https://b.example/users/c"}, 5, None],
        "bcc": None,
        "audience": {"id": "https://a.example/groups/g"},
        "attributedTo": "https://a.example/users/bob",
    }
    assert audience(obj) == {
        PUBLIC,
        "https://a.example/users/bob/followers",
        "https://b.example/users/c",
        "https://a.example/groups/g",
    }


def test_parse_json_object() -> None:
    doc = {"type": "Note", "content": '[[[{{{ brackets in strings do not count \\" ]]]', "n": 1}
    assert parse_json_object(json.dumps(doc).encode(), max_bytes=1000) == doc


def test_depth_limit_is_exact() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)

    assert parse_json_object(nested(32), max_bytes=10_000)
    with pytest.raises(MalformedActivity, match="nested"):
        parse_json_object(nested(33), max_bytes=10_000)
    assert parse_json_object(b'{"a": [[1]]}', max_depth=3, max_bytes=100)
    with pytest.raises(MalformedActivity):
        parse_json_object(b'{"a": [[[1]]]}', max_depth=3, max_bytes=100)


def test_huge_nesting_is_refused_quickly_without_recursion_error() -> None:
    body = b"[" * 1_000_000 + b"]" * 1_000_000
    started = time.perf_counter()
    with pytest.raises(MalformedActivity):
        parse_json_object(body, max_bytes=len(body))
    assert time.perf_counter() - started < 2


def test_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_json_object(b"{}" + b" " * 100, max_bytes=100)
    assert issubclass(PayloadTooLarge, MalformedActivity)
    assert issubclass(MalformedActivity, FederationError)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"nope",
        b"[]",
        b"null",
        b'"s"',
        b"12",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xef\xbb\xbf{}",  # UTF-8 BOM
        '{"a": 1}'.encode("utf-16"),
        b'{"a": "\xff"}',
        b'{"a": "\\ud800"}',  # an escaped lone surrogate: no UTF-8 text can hold it
        b'{"a": 1',
        b'{"a": "unterminated}',
        b'{"n": ' + b"9" * 5000 + b"}",  # CPython's int digit limit raises ValueError
    ],
)
def test_malformed(body: bytes) -> None:
    with pytest.raises(MalformedActivity):
        parse_json_object(body, max_bytes=100_000)


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        parse_json_object(b"{}", max_depth=0, max_bytes=10)
