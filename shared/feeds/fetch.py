"""Fetching feeds: one shared httpx.AsyncClient over the guarded network backend.

Conditional GET (If-None-Match, If-Modified-Since: a 304 costs no body), a total deadline per
request (httpx's own timeout only measures inactivity, so a server dripping a byte a second would
never time out), a cap on decoded bytes (a gzip bomb stops at the cap), redirects followed by hand
with every hop checked again, a descriptive User-Agent, and Retry-After read.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx

from shared.feeds.guard import (
    ALLOWED_PORTS,
    BlockedURL,
    FetchPolicy,
    Resolver,
    as_policy,
    check_address,
    check_url,
    literal_address,
)
from shared.settings import DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS

USER_AGENT = "QuireFeedRefresher/1.0 (+https://github.com/quire-books; refreshes book news feeds every 15 minutes)"
TOTAL_DEADLINE_SECONDS = float(DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS)  # FEEDS_FETCH_DEADLINE_SECONDS
MAX_DECODED_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
ACCEPT = "application/feed+json, application/atom+xml, application/rss+xml, application/json;q=0.9, application/xml;q=0.8, */*;q=0.1"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


READABLE_CHECK_SECONDS = 0.002


class _SocketCachingStream(httpcore.AsyncNetworkStream):
    """A network stream that answers the pool's "is this idle connection readable?" cheaply.

    httpcore's pool asks every connection whether it expired each time any request starts or ends.
    The anyio stream rebuilt its attribute table (a getpeername call) for every question, then polled
    the socket: with a hundred connections that was over half the refresher's CPU. Here the socket
    is kept, and one answer serves the burst of questions of the next two milliseconds, far less
    than the race between any such check and the next write. Everything else goes to the inner stream.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        self.socket: socket.socket | None = inner.get_extra_info("socket")
        self._readable = False
        self._checked_at = -1.0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _SocketCachingStream(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self.socket
        if info == "is_readable":
            return self._is_readable()
        return self.inner.get_extra_info(info)

    def _is_readable(self) -> bool:
        """Readable while idle means the server closed it (or sent what nobody asked for)."""
        if self.socket is None or self.socket.fileno() < 0:
            return True
        now = time.monotonic()
        if now - self._checked_at > READABLE_CHECK_SECONDS:
            ready, _, _ = select.select([self.socket], [], [], 0)
            self._readable, self._checked_at = bool(ready), now
        return self._readable


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend (httpcore's own by default) with every resolved address checked before
    connecting. The resolver and the network under the guard can be given, as httpx lets a
    transport be given: the guard's checks stay the same whatever answers the names and carries
    the bytes."""

    def __init__(
        self,
        policy: FetchPolicy | bool = False,
        resolver: Resolver | None = None,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = as_policy(policy)
        self.resolver = resolver or system_resolver
        self.inner = network or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not self.policy.allow_private and port not in ALLOWED_PORTS:
            raise BlockedURL(f"only ports 80 and 443 are fetched, not {port}")
        literal = literal_address(host)
        try:
            addresses = [str(literal)] if literal is not None else await self.resolver(host, port)
        except OSError as error:  # httpcore maps only its own errors: a raw one would escape the fetch
            raise httpcore.ConnectError(f"{host} does not resolve: {error.strerror or error}") from error
        if not addresses:
            raise BlockedURL(f"{host} does not resolve")
        for address in addresses:
            check_address(address, self.policy)  # one bad answer refuses the name
        # Connect to the address that was checked; TLS still verifies the original host name.
        stream = await self.inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _SocketCachingStream(stream)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise BlockedURL("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@dataclass(frozen=True)
class FetchResult:
    url: str  # the final URL after redirects
    status: str  # "ok", "not_modified", "error"
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    retry_after: float | None = None
    error: str = ""
    http_status: int = 0


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on the guarded backend.

    httpx 0.28 takes no network backend, so the pool it built is replaced; tests fail loudly if
    httpx's internals change (tests/feeds/test_fetch.py, test_the_guarded_transport_still_uses_the_guard).
    """

    def __init__(self, backend: GuardedBackend, max_connections: int) -> None:
        super().__init__(retries=0, limits=httpx.Limits(max_connections=max_connections))
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


POOL_SHARD_CONNECTIONS = 20


class _CountedStream(httpx.AsyncByteStream):
    """A response body that tells its shard when it is done with the connection."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self.inner, self.done = inner, done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.done()
            self.done = lambda: None  # a second close must not count twice


class _ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools behind one transport, each request to the least busy.

    httpcore's pool walks all its connections (and, for each idle one, all of them again) whenever
    a request starts or ends, so its CPU grows with the square of its size: one pool of a hundred
    connections spent more CPU than the fetches themselves. Pools of twenty keep that small while
    the client as a whole still runs `concurrency` requests at once.
    """

    def __init__(self, backend: GuardedBackend, concurrency: int) -> None:
        count = max(1, -(-concurrency // POOL_SHARD_CONNECTIONS))
        self.shards = [_GuardedTransport(backend, -(-concurrency // count)) for _ in range(count)]
        self.busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self.busy.index(min(self.busy))
        self.busy[index] += 1

        def done() -> None:
            self.busy[index] -= 1

        try:
            response = await self.shards[index].handle_async_request(request)
        except BaseException:
            done()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(response.stream, done)
        return response

    async def aclose(self) -> None:
        for shard in self.shards:
            await shard.aclose()


def make_client(
    policy: FetchPolicy | bool = False,
    resolver: Resolver | None = None,
    concurrency: int = 100,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=_ShardedTransport(GuardedBackend(policy, resolver, network), concurrency),
        # Feeds need no cookies; a shared jar would carry one site's cookies between fetches and
        # grow with every site that sets one.
        cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
        trust_env=False,  # HTTP(S)_PROXY must not re-route author URLs
        follow_redirects=False,
        timeout=httpx.Timeout(10.0, connect=5.0),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
    )


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


async def fetch_feed(
    client: httpx.AsyncClient,
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
    try:
        async with asyncio.timeout(deadline):
            return await _fetch(client, url, etag, last_modified, policy, max_bytes, now)
    except TimeoutError:
        return FetchResult(url=url, status="error", error=f"no complete answer within {deadline:g} s")
    except BlockedURL as error:
        return FetchResult(url=url, status="error", error=f"refused: {error}")
    except httpx.HTTPError as error:
        return FetchResult(url=url, status="error", error=f"{type(error).__name__}: {error}"[:300])
    except OSError as error:  # DNS, sockets and TLS below the HTTP client: still this feed's fault
        return FetchResult(url=url, status="error", error=f"{type(error).__name__}: {error}"[:300])


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    etag: str,
    last_modified: str,
    policy: FetchPolicy | bool,
    max_bytes: int,
    now: datetime,
) -> FetchResult:
    current = check_url(url, policy)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _hop in range(MAX_REDIRECTS + 1):
        async with client.stream("GET", current, headers=headers) as response:
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                current = check_url(urljoin(current, response.headers["location"]), policy)  # every hop
                continue
            retry_after = _retry_after(response.headers.get("retry-after"), now)
            if response.status_code == 304:
                return FetchResult(url=current, status="not_modified", etag=etag, last_modified=last_modified,
                                   http_status=304, retry_after=retry_after)  # fmt: skip
            if response.status_code != 200:
                return FetchResult(url=current, status="error", error=f"the server answered {response.status_code}",
                                   http_status=response.status_code, retry_after=retry_after)  # fmt: skip
            chunks = []
            size = 0
            async for chunk in response.aiter_bytes():  # decoded bytes: a gzip bomb is counted inflated
                size += len(chunk)
                if size > max_bytes:
                    return FetchResult(url=current, status="error", http_status=200,
                                       error=f"the feed is larger than {max_bytes // 1024} KiB")  # fmt: skip
                chunks.append(chunk)
            return FetchResult(
                url=current,
                status="ok",
                body=b"".join(chunks),
                etag=response.headers.get("etag", ""),
                last_modified=response.headers.get("last-modified", ""),
                http_status=200,
                retry_after=retry_after,
            )
    return FetchResult(url=current, status="error", error=f"more than {MAX_REDIRECTS} redirects")
