"""The SSRF guard. Author-supplied URLs must never reach inside the network Quire runs in.

Only http and https on ports 80 and 443, no credentials in the URL. Every address a name resolves
to is checked when the connection is made, and the connection goes to the address that was
checked, so DNS rebinding cannot swap it. Refused: loopback, private, link-local, CGNAT,
multicast, reserved, unspecified, cloud metadata (169.254.169.254, 168.63.129.16), IPv4-mapped
IPv6, NAT64 and 6to4. A name with any refused answer is refused as a whole.

`allow_private=True` (FEEDS_ALLOW_PRIVATE_ADDRESSES) lifts the address and port rules for local
development and tests; it is off by default.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from yarl import URL

ALLOWED_SCHEMES = {"http", "https"}
ALLOWED_PORTS = frozenset({80, 443})
MAX_URL_LENGTH = 2048
_ALWAYS_BLOCKED = [
    ipaddress.ip_network("168.63.129.16/32"),  # Azure wireserver / DNS: a public address
    ipaddress.ip_network("169.254.169.254/32"),  # cloud instance metadata
    ipaddress.ip_network("100.64.0.0/10"),  # CGNAT: neither private nor global to Python
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 reaches IPv4 space behind it
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("2002::/16"),  # 6to4 embeds IPv4 addresses
]

_IPV4_CHARACTERS = frozenset("0123456789abcdefABCDEFxX.")
# The authority as written, user information included (the parser drops an empty one).
_AUTHORITY = re.compile(r"[^:/?#]*://([^/?#]*)")

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class FetchPolicy:
    """What may be fetched: the rules above, or (`allow_private`) any address and port."""

    allow_private: bool = False


class BlockedURL(ValueError):
    """A URL or an address the feed refresher must not fetch. The message says why."""


_PUBLIC_ONLY, _ANY_ADDRESS = FetchPolicy(allow_private=False), FetchPolicy(allow_private=True)


def as_policy(policy: FetchPolicy | bool) -> FetchPolicy:
    if isinstance(policy, FetchPolicy):
        return policy
    return _ANY_ADDRESS if policy else _PUBLIC_ONLY  # two values: made once, not once a fetch


def checked_url(url: str, policy: FetchPolicy | bool = False) -> URL:
    """The URL as the client reads it, if its form is acceptable (scheme, port, no credentials),
    else BlockedURL. Read by yarl, the client's own parser, and requested as read here: a host
    another parser read differently (IDNA maps fullwidth and circled digits, and ideographic full
    stops, so "①②⑦.0.0.1" is 127.0.0.1 to the client) cannot slip past the check."""
    policy = as_policy(policy)
    if len(url) > MAX_URL_LENGTH:
        raise BlockedURL("the address is too long")
    stripped = url.strip()
    # Every whitespace or control character but the ASCII space is unprintable.
    if " " in stripped or not stripped.isprintable():
        raise BlockedURL("the address contains spaces or control characters (write a space as %20)")
    try:
        parsed = URL(stripped)
        port = parsed.port
    except ValueError:
        raise BlockedURL("the address is malformed") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(f"only http and https feeds are fetched, not '{parsed.scheme or 'none'}'")
    host = parsed.raw_host  # as connected to: IDNA-encoded, literals normalised
    if not host:
        raise BlockedURL("the address has no host")
    if "@" in stripped:  # user information, even an empty one (the parser drops that)
        written = _AUTHORITY.match(stripped)
        if written is None or "@" in written.group(1):
            raise BlockedURL("addresses with a user name or password are not fetched")
    effective = port or (443 if parsed.scheme == "https" else 80)
    if not policy.allow_private and effective not in ALLOWED_PORTS:
        raise BlockedURL(f"only ports 80 and 443 are fetched, not {effective}")
    literal = literal_address(host)
    if literal is not None:  # no resolver sees a literal: it is checked here, under either policy
        check_address(literal, policy)
    return parsed


def check_url(url: str, policy: FetchPolicy | bool = False) -> str:
    """The URL as written (stripped), if `checked_url` accepts it, else BlockedURL."""
    checked_url(url, policy)
    return url.strip()


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP literal in any of the forms a resolver accepts (dotted, decimal, octal, hex)."""
    host = host.strip("[]")
    if ":" in host:  # only IPv6 has a colon (and may carry a zone)
        try:
            return ipaddress.ip_address(host)
        except ValueError:
            return None
    if not _IPV4_CHARACTERS.issuperset(host):
        return None  # a name: no IPv4 form has other characters
    try:
        # inet_aton takes '2130706433', '0x7f.1', '017700000001' and the like, as curl and browsers do
        # (and plain dotted quads, read as ipaddress reads them).
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | str, policy: FetchPolicy | bool = False
) -> None:
    policy = as_policy(policy)
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        raise BlockedURL(f"{ip} is an IPv4-mapped IPv6 address")
    if policy.allow_private:
        return
    if any(ip in network for network in _ALWAYS_BLOCKED):
        raise BlockedURL(f"{ip} is a reserved or cloud-internal address")
    if not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        raise BlockedURL(f"{ip} is not a public internet address")
