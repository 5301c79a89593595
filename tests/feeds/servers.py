"""Real local HTTP servers serving real feeds (and hostile ones), each counting the requests it got."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Author News</title><link>https://example.com/</link>
<item><title>Launch party</title><link>https://example.com/launch</link><guid>launch</guid>
<pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Come &lt;b&gt;along&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&lt;/p&gt;</description></item>
<item><title>Errata</title><link>https://example.com/errata</link><guid>errata</guid>
<pubDate>Sat, 21 Nov 2026 08:00:00 GMT</pubDate><description>Page 12.</description></item>
<item><title>Sneaky</title><link>javascript:alert(3)</link><guid>sneaky</guid>
<pubDate>Thu, 19 Nov 2026 08:00:00 GMT</pubDate><description>x</description></item>
</channel></rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Notes</title><id>urn:x</id><updated>2026-11-21T00:00:00Z</updated>
<entry><title>Tour dates</title><id>urn:tour</id><link href="https://example.com/tour"/>
<updated>2026-11-21T09:00:00Z</updated><summary type="html">&lt;em&gt;Three&lt;/em&gt; cities</summary></entry>
<entry><title>Errata (again)</title><id>urn:errata</id><link href="https://example.com/errata"/>
<updated>2026-11-21T08:00:00Z</updated><summary>Same link as the RSS errata</summary></entry>
</feed>
"""

JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "JSON Updates",
 "items": [{"id": "1", "url": "https://example.com/json-1", "title": "Signed copies",
            "content_html": "<p>Ask <a href='https://example.com'>here</a></p>", "date_published": "2026-11-21T10:00:00Z"}]}"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title></channel></rss>"""

LAST_MODIFIED = format_datetime(datetime(2026, 11, 21, 8, 0, tzinfo=UTC), usegmt=True)


def gzip_bomb(size: int = 64 * 1024 * 1024) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


class FeedServer:
    """An aiohttp server on its own thread and loop; `hits` counts requests per path."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0, keepalive_timeout: float = 75.0
    ) -> None:
        self.host, self.requested_port, self.latency = host, port, latency
        self.keepalive_timeout = keepalive_timeout  # how long the server keeps an idle connection open
        self.hits: Counter[str] = Counter()
        self.hits_with_query: Counter[str] = Counter()
        self.cookies_received: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.connections: set[tuple[str, int]] = set()  # the client ends of every connection seen
        self.bytes_sent = 0
        self.routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._bomb = b""
        self._standard_routes()

    def _standard_routes(self) -> None:
        async def feed(request: web.Request, body: bytes, content_type: str) -> web.Response:
            etag = '"v1"'
            if (
                request.headers.get("If-None-Match") == etag
                or request.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                return web.Response(status=304, headers={"ETag": etag})
            self.bytes_sent += len(body)
            return web.Response(
                body=body, content_type=content_type, headers={"ETag": etag, "Last-Modified": LAST_MODIFIED}
            )

        async def slow(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await response.prepare(request)
            for byte in RSS:  # one byte every 0.2 s: never idle long enough for an idle timeout
                await response.write(bytes([byte]))
                await asyncio.sleep(0.2)
            return response

        async def bomb(request: web.Request) -> web.Response:
            if not self._bomb:
                self._bomb = gzip_bomb()
            return web.Response(
                body=self._bomb, headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}
            )

        async def redirect(request: web.Request) -> web.Response:
            hops = int(request.match_info["n"])
            target = "/rss" if hops == 0 else f"/redirect/{hops - 1}"
            raise web.HTTPFound(target)

        async def cookie(request: web.Request) -> web.Response:
            self.cookies_received.append(request.headers.get("Cookie", ""))
            response = await feed(request, RSS, "application/rss+xml")
            response.set_cookie("session", "abc", path="/")
            return response

        async def loop(request: web.Request) -> web.Response:
            raise web.HTTPFound("/loop")

        def serving(body: bytes, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handler(request: web.Request) -> web.Response:
                return await feed(request, body, content_type)

            return handler

        def answering(
            status: int, headers: dict[str, str] | None = None
        ) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handler(request: web.Request) -> web.Response:
                return web.Response(status=status, headers=headers)

            return handler

        huge = RSS[:-20] + b"<!--" + b"x" * (5 * 1024 * 1024) + b"-->" + RSS[-20:]
        self.routes.update(
            {
                "/rss": serving(RSS, "application/rss+xml"),
                "/atom": serving(ATOM, "application/atom+xml"),
                "/json": serving(JSON_FEED, "application/feed+json"),
                "/malformed": serving(b"<rss><channel><title>broken", "application/rss+xml"),
                "/html": serving(b"<html><body>not a feed</body></html>", "text/html"),
                "/laughs": serving(BILLION_LAUGHS, "application/rss+xml"),
                "/huge": serving(huge, "application/rss+xml"),
                "/slow": slow,
                "/gzip-bomb": bomb,
                "/redirect/{n}": redirect,
                "/loop": loop,
                "/cookie": cookie,
                "/busy": answering(429, {"Retry-After": "3600"}),
                "/broken": answering(500),
            }
        )

    def redirect(self, path: str, target: str) -> FeedServer:
        """Serve `path` as a redirect to `target` (call before start)."""

        async def handler(request: web.Request) -> web.Response:
            raise web.HTTPFound(target)

        self.routes[path] = handler
        return self

    def start(self) -> FeedServer:
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        @web.middleware
        async def count(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self.hits[request.path] += 1
            self.hits_with_query[request.path_qs] += 1
            if request.transport is not None:
                self.connections.add(request.transport.get_extra_info("peername"))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                if self.latency:
                    await asyncio.sleep(self.latency)
                return await handler(request)
            finally:
                self.in_flight -= 1

        app = web.Application(middlewares=[count])
        for path, handler in self.routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=self.keepalive_timeout)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, self.host, self.requested_port, backlog=1024)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        self._ready.set()
        self._loop.run_forever()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
