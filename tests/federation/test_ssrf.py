"""The outbound address policy, as a table: what the client may and may not dial."""

from __future__ import annotations

import ipaddress

import pytest

from federation.ssrf import HostPolicy, is_forbidden_address, normalize_host

FORBIDDEN = [
    # IPv4 special-purpose ranges
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",  # shared address space: ipaddress says neither private nor global
    "100.127.255.254",
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",  # cloud metadata
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",  # ipaddress calls this global
    "192.0.0.9",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",  # ipaddress calls multicast "global"
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6 outside global unicast
    "::",
    "::1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::8.8.8.8",
    "100::1",  # discard-only
    "fc00::1",
    "fd12:3456:789a::1",
    "fe80::1",
    "fe80::1%1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    # IPv4-mapped: judged by the IPv4 address inside
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    # 6to4 embedding a forbidden IPv4
    "2002:7f00:1::",
    "2002:7f00:1::1",
    "2002:a00:1::1",
    "2002:a9fe:a9fe::",
    # NAT64 embedding a forbidden IPv4
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::a00:1",
    "64:ff9b:1::7f00:1",
    "64:ff9b:1:2::808:808",  # local-use NAT64 with an unknown layout: refused
    # Teredo and the rest of the IETF protocol assignments block
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:2::1",
    # documentation
    "2001:db8::1",
    "3fff::1",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "2606:4700::1",
    "2a00:1450:4001:81c::200e",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # DNS64-synthesised address of a public IPv4 peer
    "64:ff9b:1::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("[::1]", "::1"),
        ("[0:0::1]", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("LOCALHOST", "localhost"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


LOOPBACK = ipaddress.ip_address("127.0.0.1")
V6_LOOPBACK = ipaddress.ip_address("::1")


def test_policy_permits_public_addresses_for_any_host() -> None:
    policy = HostPolicy()
    assert policy.permits("example.com", 443, ipaddress.ip_address("93.184.216.34"))
    assert policy.permits("example.com", 8080, ipaddress.ip_address("2606:4700::1"))


def test_empty_policy_refuses_loopback() -> None:
    policy = HostPolicy()
    assert not policy.permits("localhost", 80, LOOPBACK)
    assert not policy.permits("127.0.0.1", 80, LOOPBACK)


def test_policy_allows_named_host_and_port_only() -> None:
    policy = HostPolicy(frozenset({"localhost:8002"}))
    assert policy.permits("localhost", 8002, LOOPBACK)
    assert policy.permits("LocalHost.", 8002, V6_LOOPBACK)
    assert not policy.permits("localhost", 8003, LOOPBACK)
    assert not policy.permits("evil.example", 8002, LOOPBACK)
    assert not policy.permits("127.0.0.1", 8002, LOOPBACK)


def test_policy_allows_literal_address_and_port() -> None:
    policy = HostPolicy(frozenset({"127.0.0.1:8001", "[::1]:8003"}))
    assert policy.permits("127.0.0.1", 8001, LOOPBACK)
    # Any name that resolves to the listed address:port, as with Mastodon's
    # ALLOWED_PRIVATE_ADDRESSES.
    assert policy.permits("localhost", 8001, LOOPBACK)
    assert policy.permits("::1", 8003, V6_LOOPBACK)
    assert not policy.permits("127.0.0.1", 8002, LOOPBACK)
    assert not policy.permits("127.0.0.2", 8001, ipaddress.ip_address("127.0.0.2"))
    # The mapped form is a different literal: not implicitly allowed.
    assert not policy.permits("::ffff:127.0.0.1", 8001, ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not policy.permits("::1", 8001, V6_LOOPBACK)


@pytest.mark.parametrize(
    "entry",
    ["localhost", "localhost:", ":80", "localhost:http", "localhost:0", "host:70000", "::1:80"],
)
def test_policy_rejects_malformed_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed private host"):
        HostPolicy(frozenset({entry}))


def test_policy_is_frozen_and_comparable() -> None:
    a = HostPolicy(frozenset({"localhost:1"}))
    b = HostPolicy(frozenset({"localhost:1"}))
    assert a == b
    with pytest.raises(AttributeError):
        a.allowed_private_hosts = frozenset()  # type: ignore[misc]
