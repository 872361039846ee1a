"""Outbound address policy: which IP addresses the federation client may connect to.

Pure functions and data, no I/O. The client (``federation.client``) applies this policy at
*connect time*, to the address actually dialled; this module only answers "may we?".

Why an explicit table instead of ``ipaddress``'s ``is_private`` / ``is_global``:

* those flags change between Python releases and have gaps that matter here
  (``100.64.0.1.is_private`` is False, ``224.0.0.1.is_global`` is True,
  ``64:ff9b::7f00:1`` and ``2002:7f00:1::`` count as global) -- the class of bug behind
  Fedify CVE-2026-50131 and Mastodon CVE-2026-22245;
* several IPv6 forms *embed* an IPv4 address that the kernel or a translator on the path
  turns back into an IPv4 connection (IPv4-mapped, NAT64, 6to4). Those must be judged by the
  IPv4 address they carry (Mastodon CVE-2026-47389 was exactly a missed ``::ffff:127.0.0.1``).

For IPv6 we follow GoToSocial's approach: only global unicast (``2000::/3``) is acceptable,
minus the special-purpose blocks inside it, after unwrapping the embedded-IPv4 forms.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

__all__ = ["HostPolicy", "IPAddress", "is_forbidden_address", "normalize_host"]

IPAddress = IPv4Address | IPv6Address

# IANA IPv4 special-purpose registry entries that are not ordinary public unicast.
_FORBIDDEN_V4: tuple[IPv4Network, ...] = tuple(
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, including cloud metadata 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments (DS-Lite, NAT64 discovery, ...)
        "192.0.2.0/24",  # documentation TEST-NET-1
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation TEST-NET-2
        "203.0.113.0/24",  # documentation TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, including limited broadcast 255.255.255.255
    )
)

_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")
# Special-purpose blocks inside 2000::/3.
_FORBIDDEN_V6: tuple[IPv6Network, ...] = tuple(
    IPv6Network(n)
    for n in (
        # IETF protocol assignments: Teredo (2001::/32), benchmarking (2001:2::/48),
        # ORCHID, AMT, AS112... none of them is a place a fediverse server lives. Teredo in
        # particular tunnels to an IPv4 address we cannot vet (the client part is obfuscated).
        "2001::/23",
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_SIX_TO_FOUR = IPv6Network("2002::/16")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = IPv6Network("64:ff9b:1::/48")  # RFC 8215
# The local-use NAT64 block lets each operator pick its own prefix length, so the position of
# the embedded IPv4 address is unknown in general. Only the common layout, a /96 at the start
# of the block (64:ff9b:1::a.b.c.d), is judged by its IPv4 address; any other address in the
# /48 is refused, failing closed.
_NAT64_LOCAL_USE_96 = IPv6Network("64:ff9b:1::/96")


def _forbidden_v4(ip: IPv4Address) -> bool:
    if any(ip in net for net in _FORBIDDEN_V4):
        return True
    # Belt and braces: whatever this Python's ipaddress considers special is refused too,
    # so a range added to the stdlib later is covered without touching the table.
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _embedded_v4(ip: IPv6Address) -> IPv4Address:
    return IPv4Address(int(ip) & 0xFFFFFFFF)


def _forbidden_v6(ip: IPv6Address) -> bool:
    # Forms that carry an IPv4 address: judge the IPv4 address, because that is where the
    # packets end up (the kernel for ::ffff:0:0/96, a translator or relay for the others).
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return _forbidden_v4(mapped)
    if ip in _NAT64_WELL_KNOWN or ip in _NAT64_LOCAL_USE_96:
        # On an IPv6-only host with DNS64 every public IPv4 peer appears here, so refusing
        # the whole prefix would break federation; refusing by the embedded address does not.
        return _forbidden_v4(_embedded_v4(ip))
    if ip in _NAT64_LOCAL_USE:
        return True
    sixtofour = ip.sixtofour
    if sixtofour is not None:
        return _forbidden_v4(sixtofour)
    # Everything outside global unicast: ::, ::1, IPv4-compatible ::a.b.c.d, discard-only
    # 100::/64, unique-local fc00::/7, link-local fe80::/10, site-local, multicast ff00::/8...
    if ip not in _GLOBAL_UNICAST_V6:
        return True
    if any(ip in net for net in _FORBIDDEN_V6):
        return True
    return (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_site_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or ip.is_private
    )


def is_forbidden_address(ip: IPAddress) -> bool:
    """True unless ``ip`` is ordinary public unicast that a federation peer may live on."""
    if isinstance(ip, IPv4Address):
        return _forbidden_v4(ip)
    return _forbidden_v6(ip)


def normalize_host(host: str) -> str:
    """Canonical form of a URL host for comparisons.

    Lower-case, without the brackets of an IPv6 literal and without a trailing dot
    (``Example.COM.`` and ``example.com`` name the same host); IP literals in their
    compressed form (``[0:0::1]`` and ``::1`` are the same address).
    """
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    h = h.rstrip(".")
    try:
        return str(ipaddress.ip_address(h))
    except ValueError:
        return h


def _parse_entry(entry: str) -> tuple[str, int]:
    host, sep, port_text = entry.strip().rpartition(":")
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"allowed private host {entry!r} must be 'host:port'")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ValueError(f"allowed private host {entry!r}: write IPv6 addresses as '[addr]:port'")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"allowed private host {entry!r}: port out of range")
    return normalize_host(host), port


@dataclass(frozen=True)
class HostPolicy:
    """Which non-public endpoints the client may reach anyway.

    ``allowed_private_hosts`` holds ``"host:port"`` strings (``"127.0.0.1:8001"``,
    ``"localhost:8002"``, ``"[::1]:8003"``): test peers on loopback, or a peer on a private
    network the operator trusts. The exception is per host *and port*, so allowing one test
    peer does not open the rest of loopback (admin panels, databases, metadata services).
    """

    allowed_private_hosts: frozenset[str] = frozenset()
    _entries: frozenset[tuple[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = frozenset(_parse_entry(e) for e in self.allowed_private_hosts)
        object.__setattr__(self, "_entries", entries)

    def permits(self, host: str, port: int, ip: IPAddress) -> bool:
        """May we connect to ``ip``:``port`` for a URL that named ``host``:``port``?

        Public addresses always. A forbidden address only when the named host:port is
        allow-listed, or when the literal address:port is (as with Mastodon's
        ``ALLOWED_PRIVATE_ADDRESSES``).
        """
        if not is_forbidden_address(ip):
            return True
        return (normalize_host(host), port) in self._entries or (
            normalize_host(str(ip)),
            port,
        ) in self._entries
