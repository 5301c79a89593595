"""Fetching feeds: one shared aiohttp client session whose every connection goes through the guard.

Conditional GET (If-None-Match, If-Modified-Since: a 304 costs no body), a total deadline per
request (a socket timeout only measures inactivity, so a server dripping a byte a second would
never time out), a cap on decoded bytes (a gzip bomb stops at the cap), redirects followed by hand
with every hop checked again, no cookies, no proxies from the environment, a descriptive
User-Agent, and Retry-After read.

The guard sits where names become addresses: the session's resolver checks every address a name
resolves to, and the connection is made to the addresses it checked. A host written as an IP
literal never reaches a resolver, so `checked_url` checks it at each hop, and the URL is requested
as the guard read it (one parser, the client's own).
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.feeds.guard import (
    ALLOWED_PORTS,
    BlockedURL,
    FetchPolicy,
    Resolver,
    as_policy,
    check_address,
    checked_url,
    literal_address,
)
from shared.formats import whole_number
from shared.settings import DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS

USER_AGENT = "QuireFeedRefresher/1.0 (+https://github.com/quire-books; refreshes book news feeds every 15 minutes)"
TOTAL_DEADLINE_SECONDS = float(DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS)  # FEEDS_FETCH_DEADLINE_SECONDS
MAX_DECODED_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_SECONDS = 5.0
READ_CHUNK = 64 * 1024
ACCEPT = "application/feed+json, application/atom+xml, application/rss+xml, application/json;q=0.9, application/xml;q=0.8, */*;q=0.1"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


class GuardedResolver(AbstractResolver):
    """The session's resolver: a name's addresses, each checked by the guard, or BlockedURL.

    The connector connects only to the addresses returned here (TLS still verifies the original
    host name), so a name that answers differently on a second lookup (DNS rebinding) cannot
    swap in an address nobody checked. One refused answer refuses the name.
    """

    def __init__(self, policy: FetchPolicy | bool = False, resolver: Resolver | None = None) -> None:
        self.policy = as_policy(policy)
        self.resolver = resolver or system_resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if not self.policy.allow_private and port not in ALLOWED_PORTS:
            raise BlockedURL(f"only ports 80 and 443 are fetched, not {port}")
        literal = literal_address(host)
        try:
            addresses = [str(literal)] if literal is not None else await self.resolver(host, port)
        except OSError as error:
            raise aiohttp.ClientConnectionError(f"{host} does not resolve: {error.strerror or error}") from error
        if not addresses:
            raise BlockedURL(f"{host} does not resolve")
        for address in addresses:
            check_address(address, self.policy)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def make_client(
    policy: FetchPolicy | bool = False, resolver: Resolver | None = None, concurrency: int = 100
) -> aiohttp.ClientSession:
    """The session every feed fetch of a process shares: `concurrency` connections at most, kept
    alive between slots' batches. Made on the event loop that uses it."""
    connector = aiohttp.TCPConnector(
        limit=concurrency,
        limit_per_host=0,
        resolver=GuardedResolver(policy, resolver),
        keepalive_timeout=30.0,
    )
    return aiohttp.ClientSession(
        connector=connector,
        # Feeds need no cookies; a shared jar would carry one site's cookies between fetches.
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # HTTP(S)_PROXY and .netrc must not re-route or sign author URLs
        # Each request gets what is left of its fetch's deadline as its total (`_fetch`).
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_SECONDS),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        raise_for_status=False,
    )


class FetchResult(NamedTuple):
    """What one fetch gave (a tuple: one is made per feed per slot, at the cost of a tuple)."""

    url: str  # the final URL after redirects
    status: str  # "ok", "not_modified", "error"
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    retry_after: float | None = None
    error: str = ""
    http_status: int = 0


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value)
    if seconds is not None:
        return float(seconds)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


async def fetch_feed(
    client: aiohttp.ClientSession,
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    policy: FetchPolicy | bool = False,
    deadline: float = TOTAL_DEADLINE_SECONDS,
    max_bytes: int = MAX_DECODED_BYTES,
    now: datetime | None = None,
) -> FetchResult:
    """Fetch one feed. Never raises for the feed's own faults: they come back as status "error"."""
    now = now or datetime.now(UTC)
    expires = asyncio.get_running_loop().time() + deadline
    try:
        return await _fetch(client, url, etag, last_modified, as_policy(policy), max_bytes, now, expires)
    except TimeoutError:  # aiohttp's timers raise it (connecting, or the deadline's total)
        return FetchResult(url=url, status="error", error=f"no complete answer within {deadline:g} s")
    except BlockedURL as error:
        return FetchResult(url=url, status="error", error=f"refused: {error}")
    except aiohttp.ClientConnectorError as error:
        return FetchResult(url=url, status="error", error=f"ConnectError: {error}"[:300])
    except (aiohttp.ClientError, OSError) as error:  # HTTP, DNS, sockets and TLS: still this feed's fault
        return FetchResult(url=url, status="error", error=f"{type(error).__name__}: {error}"[:300])


async def _fetch(
    client: aiohttp.ClientSession,
    url: str,
    etag: str,
    last_modified: str,
    policy: FetchPolicy,
    max_bytes: int,
    now: datetime,
    expires: float,
) -> FetchResult:
    """`expires`: the event loop's time by which the whole fetch ends. Each hop's request has what
    is left of it as aiohttp's total timeout, which covers connecting, sending and reading the body
    (one timer per request: an asyncio.timeout around it would be a second)."""
    loop = asyncio.get_running_loop()
    current = checked_url(url, policy)  # requested as the guard read it
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _hop in range(MAX_REDIRECTS + 1):
        remaining = expires - loop.time()
        if remaining <= 0:
            raise TimeoutError
        timeout = aiohttp.ClientTimeout(total=remaining, sock_connect=CONNECT_SECONDS)
        async with client.get(current, headers=headers, allow_redirects=False, timeout=timeout) as response:
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                current = checked_url(urljoin(str(current), response.headers["location"]), policy)  # every hop
                continue
            retry_after = _retry_after(response.headers.get("retry-after"), now)
            if response.status == 304:
                return FetchResult(url=str(current), status="not_modified", etag=etag, last_modified=last_modified,
                                   http_status=304, retry_after=retry_after)  # fmt: skip
            if response.status != 200:
                return FetchResult(url=str(current), status="error", error=f"the server answered {response.status}",
                                   http_status=response.status, retry_after=retry_after)  # fmt: skip
            body = await _read_capped(response, max_bytes)
            if body is None:
                return FetchResult(url=str(current), status="error", http_status=200,
                                   error=f"the feed is larger than {max_bytes // 1024} KiB")  # fmt: skip
            return FetchResult(
                url=str(current),
                status="ok",
                body=body,
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
                http_status=200,
                retry_after=retry_after,
            )
    return FetchResult(url=str(current), status="error", error=f"more than {MAX_REDIRECTS} redirects")


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes | None:
    """The decoded body (a gzip bomb is counted inflated), or None past `max_bytes`."""
    length = response.content_length
    if length is not None and length <= max_bytes and "content-encoding" not in response.headers:
        return await response.read()  # the parser reads no more than the length it declared
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
