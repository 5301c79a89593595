"""Fetching over real local HTTP servers: conditional GET, deadlines, caps, redirects, and the SSRF corpus."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.feeds.fetch import fetch_feed, make_client
from shared.feeds.guard import FetchPolicy
from tests.feeds.servers import FeedServer

LOCAL = FetchPolicy(allow_private=True)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer().start()
    yield feed_server
    feed_server.stop()


def fetch(url: str, policy: FetchPolicy = LOCAL, resolver=None, **kwargs):
    async def go():
        async with make_client(policy, resolver) as client:
            return await fetch_feed(client, url, policy=policy, **kwargs)

    return asyncio.run(go())


def test_conditional_get_costs_no_body_the_second_time(server: FeedServer) -> None:
    first = fetch(server.url("/rss"))
    assert first.status == "ok" and b"Author News" in first.body
    assert first.etag == '"v1"' and first.last_modified
    sent = server.bytes_sent
    again = fetch(server.url("/rss"), etag=first.etag)
    assert again.status == "not_modified" and again.body == b""
    by_date = fetch(server.url("/rss"), last_modified=first.last_modified)
    assert by_date.status == "not_modified"
    assert server.bytes_sent == sent


def test_total_deadline_stops_a_slow_drip(server: FeedServer) -> None:
    started = time.monotonic()
    result = fetch(server.url("/slow"), deadline=1.5)
    assert result.status == "error" and "1.5 s" in result.error
    assert time.monotonic() - started < 3


def test_decoded_size_cap_stops_huge_feeds_and_gzip_bombs(server: FeedServer) -> None:
    huge = fetch(server.url("/huge"))
    assert huge.status == "error" and "larger than" in huge.error
    bomb = fetch(server.url("/gzip-bomb"))
    assert bomb.status == "error" and "larger than" in bomb.error


def test_redirect_chains_are_followed_by_hand_and_bounded(server: FeedServer) -> None:
    ok = fetch(server.url("/redirect/3"))
    assert ok.status == "ok" and ok.url.endswith("/rss")
    assert fetch(server.url("/redirect/9")).error == "more than 5 redirects"
    assert "redirects" in fetch(server.url("/loop")).error


def test_errors_and_retry_after(server: FeedServer) -> None:
    busy = fetch(server.url("/busy"))
    assert (busy.status, busy.http_status, busy.retry_after) == ("error", 429, 3600.0)
    assert fetch(server.url("/broken")).http_status == 500
    assert "ConnectError" in fetch("http://127.0.0.1:9/feed").error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://2130706433/feed",  # 127.0.0.1 as a decimal number
        "http://0x7f.1/feed",  # and in hex
        "http://017700000001/feed",  # and in octal
        "http://localhost/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://168.63.129.16/machine",
        "http://100.64.0.1/feed",
        "http://10.0.0.1/feed",
        "http://172.16.0.1/feed",
        "http://192.168.1.1/feed",
        "http://0.0.0.0/feed",
        "http://224.0.0.1/feed",
        "http://[fe80::1]/feed",
        "http://[64:ff9b::7f00:1]/feed",
        "http://internal.test/feed",  # resolves to loopback
        "http://rebind.test/feed",  # one public and one private answer
        "http://metadata.test/feed",  # resolves to the metadata address
        "http://8.8.8.8:8080/feed",  # a public address on another port
        "http://\u2460\u2461\u2466.0.0.1/feed",  # circled digits: the client's IDNA mapping reads 127.0.0.1
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/feed",  # fullwidth digits, likewise
        "http://169\u3002254\u3002169\u3002254/latest/",  # ideographic full stops map to dots
        "https://user:secret@example.com/feed",
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/feed.xml",
    ],
)
def test_ssrf_corpus_is_refused_before_any_connection(url: str) -> None:
    answers = {
        "internal.test": ["127.0.0.1"],
        "rebind.test": ["93.184.216.34", "127.0.0.1"],
        "metadata.test": ["169.254.169.254"],
        "localhost": ["127.0.0.1", "::1"],
    }

    async def resolver(host: str, port: int) -> list[str]:
        return answers.get(host, ["93.184.216.34"])

    loop = RecordingLoop()

    async def go() -> Any:
        async with make_client(FetchPolicy(), resolver) as client:  # the production policy
            return await fetch_feed(client, url, policy=FetchPolicy())

    result = asyncio.run(go(), loop_factory=lambda: loop)
    assert result.status == "error"
    assert result.error.startswith("refused:"), result.error
    assert loop.connections == []  # whatever address it named, no socket was ever connected


class RecordingLoop(asyncio.SelectorEventLoop):
    """An event loop that records every connection asked of it and makes none."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: list[tuple[str, int]] = []

    async def sock_connect(self, sock: Any, address: Any) -> None:
        self.connections.append((address[0], address[1]))
        raise ConnectionRefusedError("the test's network makes no connection")


class PublicServerLoop(asyncio.SelectorEventLoop):
    """The network under the guard, for a test: an event loop whose connections to the public
    address PUBLIC:80 reach a local server instead. Every connection is recorded as asked."""

    PUBLIC = "93.184.216.34"

    def __init__(self, public_server: FeedServer) -> None:
        super().__init__()
        self.public_server = public_server
        self.connections: list[tuple[str, int]] = []

    async def sock_connect(self, sock: Any, address: Any) -> None:
        self.connections.append((address[0], address[1]))
        if (address[0], address[1]) == (self.PUBLIC, 80):
            address = (self.public_server.host, self.public_server.port)
        await super().sock_connect(sock, address)


def test_a_public_to_internal_redirect_is_refused_at_the_second_hop() -> None:
    """A public server redirects to a name that resolves inside the network: the guard lets the
    first hop connect and refuses the second when it resolves, before any connection."""
    internal = FeedServer("127.0.0.1").start()
    public = FeedServer("127.0.0.2").redirect("/feed", "http://internal.test/rss").start()
    loop = PublicServerLoop(public)

    async def resolver(host: str, port: int) -> list[str]:
        return [PublicServerLoop.PUBLIC] if host == "public.test" else ["127.0.0.1"]

    async def go() -> Any:
        async with make_client(FetchPolicy(), resolver) as client:  # the production policy
            return await fetch_feed(client, "http://public.test/feed", policy=FetchPolicy())

    try:
        result = asyncio.run(go(), loop_factory=lambda: loop)
        assert public.hits["/feed"] == 1  # the first hop was allowed and made
        assert result.status == "error" and result.error.startswith("refused:"), result.error
        assert loop.connections == [(PublicServerLoop.PUBLIC, 80)]  # the second hop never connected
        assert internal.hits["/rss"] == 0
    finally:
        public.stop()
        internal.stop()


def test_one_client_runs_its_whole_concurrency_over_pooled_connections() -> None:
    """The client runs `concurrency` requests at once, never more, and reuses its connections."""
    slow = FeedServer(latency=0.3).start()
    try:

        async def go() -> list[str]:
            async with make_client(LOCAL, concurrency=45) as client:
                results = await asyncio.gather(
                    *(fetch_feed(client, slow.url(f"/rss?n={i}"), policy=LOCAL) for i in range(135))
                )
                return [r.status for r in results]

        assert asyncio.run(go()) == ["ok"] * 135
        assert slow.most_in_flight == 45
        assert len(slow.connections) <= 45  # three rounds over the same connections
    finally:
        slow.stop()


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """A kept-alive connection the server has closed is not used for the next fetch."""
    closing = FeedServer(keepalive_timeout=0.1).start()
    try:

        async def go() -> list[str]:
            async with make_client(LOCAL, concurrency=4) as client:
                first = await fetch_feed(client, closing.url("/rss"), policy=LOCAL)
                await asyncio.sleep(0.5)  # the server has closed the idle connection by now
                second = await fetch_feed(client, closing.url("/rss"), policy=LOCAL)
                return [first.status, second.status]

        assert asyncio.run(go()) == ["ok", "ok"]
        assert len(closing.connections) == 2
    finally:
        closing.stop()


def test_cookies_a_feed_sets_are_never_kept_or_sent(server: FeedServer) -> None:
    async def go() -> int:
        async with make_client(LOCAL) as client:
            for _ in range(2):
                assert (await fetch_feed(client, server.url("/cookie"), policy=LOCAL)).status == "ok"
            return len(client.cookie_jar)

    assert asyncio.run(go()) == 0
    assert server.cookies_received[-2:] == ["", ""]


@pytest.mark.parametrize(
    "url",
    ["http://exa mple.com/feed", "http://example.com/\tfeed", "http://example.com/f\reed", "http://example.com/\x00",
     "http://example.com/\u00a0feed", "http://example.com/\u200bfeed", "http://example.com/\u2028feed"],
)  # fmt: skip
def test_addresses_with_whitespace_or_control_characters_are_refused(url: str) -> None:
    from shared.feeds.guard import BlockedURL, check_url

    with pytest.raises(BlockedURL, match="spaces or control characters"):
        check_url(url)
    assert check_url("  https://example.com/feed?q=a%20b \n") == "https://example.com/feed?q=a%20b"
