"""The refresher over real Azurite and real local feed servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.feeds import batch as feed_batch
from shared.feeds import slots
from shared.feeds import sources as feed_sources
from shared.feeds import updates as feed_updates
from shared.feeds.fetch import make_client
from shared.feeds.messages import DueSource, FetchBatch, ScanPage, parse_feed_message
from shared.formats import utc_timestamp
from shared.jobs.record import new_job_id
from shared.settings import Settings
from shared.storage import Storage
from shared.storage.aio import AsyncStorage
from shared.storage.names import FEED_CONTAINER, FEED_TABLE
from tests.feeds.servers import RSS, FeedServer
from tests.support import Azurite


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer().start()
    yield feed_server
    feed_server.stop()


@pytest.fixture
def storage(azurite: Azurite) -> Storage:
    return Storage(azurite.connection_string)


@contextlib.asynccontextmanager
async def refreshing(
    azurite: Azurite, resolver: Any = None, storage: AsyncStorage | None = None
) -> AsyncIterator[tuple[Any, AsyncStorage]]:
    """What a worker's fetch batches share: the feed client and the asyncio storage, on this loop."""
    aio = storage or AsyncStorage(azurite.connection_string)
    try:
        async with make_client(True, resolver=resolver) as client:
            yield client, aio
    finally:
        await aio.close()


def news(storage: Storage, book: str) -> list[dict[str, Any]]:
    """The book's news as GET /api/books/{id}/updates serves it."""
    body, _ = feed_updates.book_news(feed_sources.list_sources(storage, book), 50)
    return list(json.loads(body)["items"])


def settings(azurite: Azurite) -> Settings:
    return Settings.from_env(
        {"AzureWebJobsStorage": azurite.connection_string, "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true"}
    )


def scan_through(storage: Storage, pending: list[str], now: datetime) -> list[FetchBatch]:
    """Every fetch batch that scanning from these messages sends, as the queue would run the scans."""
    fetches = []
    while pending:
        message = parse_feed_message(pending.pop(0))
        if isinstance(message, ScanPage):
            pending.extend(slots.scan(storage, message.slot, message.continuation, now))
        else:
            assert isinstance(message, FetchBatch), message
            fetches.append(message)
    return fetches


def run_all(storage: Storage, azurite: Azurite, slot: str, now: datetime) -> list[dict[str, int]]:
    """Run a refresh the way the queue would: the scan pages, then every fetch batch."""
    pending = slots.start_refresh(storage, slot)
    counts = []

    async def batches(batch_list: list[FetchBatch]) -> None:
        async with refreshing(azurite) as (client, aio):
            for batch in batch_list:
                counts.append(await feed_batch.fetch_batch(aio, client, batch, settings(azurite), now))

    asyncio.run(batches(scan_through(storage, pending, now)))
    return counts


def test_two_firings_for_one_slot_start_one_refresh(storage: Storage) -> None:
    slot = f"2026-11-21T10:{new_job_id()}"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: slots.start_refresh(storage, slot), range(2)))
    assert sorted(len(r) for r in results) == [0, 1]


def test_refresh_fetches_merges_dedupes_and_backs_off(storage: Storage, azurite: Azurite, server: FeedServer) -> None:
    book = new_job_id()
    now = datetime.now(UTC)
    urls = [server.url(p) for p in ("/rss", "/atom", "/json", "/malformed", "/broken")]
    feed_sources.set_sources(storage, book, urls, now, replace=True)
    run_all(storage, azurite, f"slot-a-{book}", now)

    updates = news(storage, book)
    titles = [i["title"] for i in updates]
    assert titles[:2] == ["Signed copies", "Tour dates"]  # newest first, across three formats
    assert len([t for t in titles if t.startswith("Errata")]) == 1  # same link in RSS and Atom: once
    assert "Come along" in [i["summary"] for i in updates]
    sources = {p["url"]: p for p in feed_sources.list_sources(storage, book)}
    assert sources[server.url("/rss")]["etag"] == '"v1"'
    for bad in ("/malformed", "/broken"):
        state = sources[server.url(bad)]
        assert state["failures"] == 1 and state["last_status"] == "error" and state["last_error"]

    # Fifteen minutes later: conditional GETs cost nothing, failing feeds back off, items are not repeated.
    sent = server.bytes_sent
    later = now + timedelta(minutes=15)
    counts = run_all(storage, azurite, f"slot-b-{book}", later)
    # Only the malformed feed (whose ETag was never kept, since it failed) sends its body again.
    assert server.bytes_sent - sent == len(b"<rss><channel><title>broken")
    assert sum(c["not_modified"] for c in counts) == 3
    assert [i["key"] for i in news(storage, book)] == [i["key"] for i in updates]
    rows = {p["url"]: p for p in feed_sources.list_sources(storage, book)}
    rss = rows[server.url("/rss")]  # a 304 merges only what changed: the row keeps its URL and validators
    assert (rss["etag"], rss["last_status"], rss["last_success"]) == ('"v1"', "not_modified", later)
    broken = rows[server.url("/broken")]
    assert broken["failures"] == 2
    assert broken["next_due"] - later == timedelta(
        seconds=2 * Settings.from_env({"AzureWebJobsStorage": "x"}).feeds_interval_seconds
    )


def test_a_slow_feed_does_not_hold_up_the_others(storage: Storage, azurite: Azurite, server: FeedServer) -> None:
    book = new_job_id()
    now = datetime.now(UTC)
    feed_sources.set_sources(storage, book, [server.url("/slow"), server.url("/rss")], now, replace=True)

    quick = Settings.from_env(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true",
            "FEEDS_FETCH_DEADLINE_SECONDS": "2",
        }
    )

    async def go() -> float:
        started = time.monotonic()
        sources = [s for b in scan_through(storage, [ScanPage(f"slow-{book}").to_message()], now) for s in b.sources]
        batch = FetchBatch(f"slow-{book}", "0", [s for s in sources if s["book"] == book])
        async with refreshing(azurite) as (client, aio):
            await feed_batch.fetch_batch(aio, client, batch, quick, now)
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    states = {p["url"]: p for p in feed_sources.list_sources(storage, book)}
    assert states[server.url("/rss")]["last_status"] == "ok"
    assert states[server.url("/slow")]["last_status"] == "error"
    # The slow feed drips for minutes; its 2 s deadline cut it (a bound far from both).
    assert len(RSS) * 0.2 > 60 and elapsed < 30


def test_scan_pages_through_many_sources(storage: Storage) -> None:
    now = datetime.now(UTC)
    book = new_job_id()
    entities = [
        feed_sources.new_source(book, f"https://example.com/{i}", now - timedelta(minutes=1))
        for i in range(slots.SCAN_PAGE + 100)
    ]
    for entity in entities:
        storage.upsert_entity(FEED_TABLE, entity)
    pending = [ScanPage(f"scan-{book}").to_message()]
    seen: list[str] = []
    scans = 0
    while pending:
        message = parse_feed_message(pending.pop())
        if isinstance(message, ScanPage):
            scans += 1
            pending.extend(slots.scan(storage, message.slot, message.continuation, now))
        else:
            assert isinstance(message, FetchBatch), message
            assert len(message.sources) <= slots.FETCH_BATCH
            seen.extend(s["key"] for s in message.sources if s["book"] == book)
    assert sorted(seen) == sorted(e["RowKey"] for e in entities)
    assert scans >= 2  # one page per scan: no single run does unbounded work


def due_batches(
    storage: Storage, slot: str, book: str, now: datetime, books: set[str] | None = None
) -> list[FetchBatch]:
    """Every fetch message a whole scan of `slot` sends, narrowed to one book's sources (or these books')."""
    books = books or {book}
    batches = []
    for batch in scan_through(storage, [ScanPage(slot).to_message()], now):
        mine = [s for s in batch.sources if s["book"] in books]
        if mine:
            batches.append(FetchBatch(batch.slot, batch.batch, mine))
    return batches


def test_a_fetch_message_delivered_twice_fetches_each_feed_once(
    storage: Storage, azurite: Azurite, server: FeedServer
) -> None:
    """R9: the same batch handled by two workers at once, and again later: one fetch per feed per slot."""
    book = new_job_id()
    now = datetime.now(UTC)
    path = f"/rss?twice={book}"
    feed_sources.set_sources(storage, book, [server.url(path)], now, replace=True)
    slot = f"twice-{book}"
    (batch,) = due_batches(storage, slot, book, now)

    async def deliver(times: int) -> list[dict[str, int]]:
        async with refreshing(azurite) as (client, aio):
            return list(
                await asyncio.gather(
                    *(feed_batch.fetch_batch(aio, client, batch, settings(azurite), now) for _ in range(times))
                )
            )

    counts = asyncio.run(deliver(2)) + asyncio.run(deliver(1))
    assert server.hits_with_query[path] == 1
    assert sorted(c["fetched"] for c in counts) == [0, 0, 1]
    assert [i["title"] for i in news(storage, book)]


def test_a_scan_delivered_twice_answers_the_same_batches(storage: Storage) -> None:
    """Even after its first batches ran and moved their sources' next_due, a repeated scan answers
    what it answered first, so the batch claims still hold."""
    book = new_job_id()
    now = datetime.now(UTC)
    feed_sources.set_sources(storage, book, [f"https://example.com/{i}.xml" for i in range(5)], now, replace=True)
    slot = f"rescan-{book}"
    first = slots.scan(storage, slot, None, now)
    for source in feed_sources.list_sources(storage, book)[:2]:  # as if a batch had recorded them
        storage.merge_entity(FEED_TABLE, {**source, "next_due": now + timedelta(minutes=15)})
    assert slots.scan(storage, slot, None, now) == first
    assert sum(len(b.sources) for b in due_batches(storage, f"{slot}-next", book, now)) == 3


def test_a_feed_the_author_replaced_during_the_fetch_keeps_the_authors_row(
    storage: Storage, azurite: Azurite, server: FeedServer
) -> None:
    book = new_job_id()
    now = datetime.now(UTC)
    kept, dropped = server.url(f"/rss?kept={book}"), server.url(f"/atom?dropped={book}")
    feed_sources.set_sources(storage, book, [kept, dropped], now, replace=True)
    (batch,) = due_batches(storage, f"edit-{book}", book, now)
    feed_sources.set_sources(storage, book, [kept], now, replace=True)  # the author drops one meanwhile
    feed_sources.set_sources(storage, book, [dropped], now, replace=False)  # ... and adds it back: a new row

    async def go() -> dict[str, int]:
        async with refreshing(azurite) as (client, aio):
            return await feed_batch.fetch_batch(aio, client, batch, settings(azurite), now)

    assert asyncio.run(go())["fetched"] == 1  # the re-added feed's stale fetch is not recorded
    rows = {p["url"]: p for p in feed_sources.list_sources(storage, book)}
    assert rows[kept]["last_status"] == "ok"
    assert rows[dropped]["last_status"] == "new"  # the author's row, due at once
    titles = [i["title"] for i in news(storage, book)]
    assert "Launch party" in titles
    assert "Tour dates" not in titles  # the Atom feed's items came from the unrecorded fetch


def test_records_of_old_slots_are_pruned(storage: Storage) -> None:
    now = datetime.now(UTC)
    old, recent = "2001-01-01T00:00:00Z", utc_timestamp(now.replace(microsecond=0) - timedelta(hours=1))
    for slot in (old, recent):
        storage.create_blob(FEED_CONTAINER, f"slots/{slot}", b"", content_type="text/plain")
        storage.create_blob(FEED_CONTAINER, f"claims/{slot}/a-0", b"", content_type="text/plain")
        storage.create_blob(FEED_CONTAINER, f"scans/{slot}/a.json", b"[]", content_type="application/json")
    assert slots.start_refresh(storage, f"manual-{utc_timestamp(now.replace(microsecond=0))}", now)
    names = set(storage.list_blob_names(FEED_CONTAINER))
    assert not any(old in name for name in names)
    assert {f"slots/{recent}", f"claims/{recent}/a-0", f"scans/{recent}/a.json"} <= names


class CountingStorage(AsyncStorage):
    """The real asyncio storage adapter, counting the table transactions it sends."""

    def __init__(self, connection_string: str) -> None:
        super().__init__(connection_string)
        self.transactions = 0

    async def merge_entities(self, table: str, merges: list[tuple[dict[str, Any], str | None]]) -> None:
        self.transactions += 1
        await super().merge_entities(table, merges)


def one_batch(storage: Storage, slot: str, books: list[str], now: datetime) -> FetchBatch:
    """These books' due sources, as one fetch batch (other tests' sources left out)."""
    sources = [s for message in due_batches(storage, slot, "", now, books=set(books)) for s in message.sources]
    return FetchBatch(slot, "0", sources)


def test_a_batch_of_books_is_recorded_in_one_transaction_per_partition(azurite: Azurite, server: FeedServer) -> None:
    """Most books follow one feed: their states go out together, not one transaction per book."""
    storage = Storage(azurite.connection_string)
    counting = CountingStorage(azurite.connection_string)
    now = datetime.now(UTC)
    books = [new_job_id() for _ in range(24)]
    for book in books:
        feed_sources.set_sources(storage, book, [server.url(f"/rss?one={book}")], now, replace=True)
    gone = books[0]
    batch = one_batch(storage, f"group-{gone}", books, now)
    feed_sources.set_sources(storage, gone, [], now, replace=True)  # one author drops the feed meanwhile

    async def go() -> dict[str, int]:
        async with refreshing(azurite, storage=counting) as (client, aio):
            return await feed_batch.fetch_batch(aio, client, batch, settings(azurite), now)

    counts = asyncio.run(go())
    partitions = {feed_sources.source_partition(book) for book in books}
    assert len(partitions) < len(books)
    # One per partition; the partition whose row vanished falls back to one merge at a time.
    assert counting.transactions == len(partitions)
    assert counts["fetched"] == len(books) - 1
    assert feed_sources.list_sources(storage, gone) == []  # the dropped feed is not brought back
    assert news(storage, gone) == []  # nor its news
    for book in books[1:]:
        (row,) = feed_sources.list_sources(storage, book)
        assert row["last_status"] == "ok" and row["etag"] == '"v1"'
        assert news(storage, book)


def test_storage_trouble_while_recording_counts_errors_and_leaves_the_feeds_due(
    storage: Storage, azurite: Azurite, server: FeedServer
) -> None:
    """The batch is claimed and fetched, then its table is unreachable: no exception leaves the
    batch, its feeds count as errors, and their rows are as they were, due for the next slot."""
    now = datetime.now(UTC)
    books = [new_job_id() for _ in range(3)]
    for book in books:
        feed_sources.set_sources(storage, book, [server.url(f"/rss?trouble={book}")], now, replace=True)
    batch = one_batch(storage, f"trouble-{books[0]}", books, now)
    no_table = azurite.connection_string.replace(f":{azurite.table_port}/", ":9/")  # nothing listens on 9

    async def go() -> dict[str, int]:
        async with refreshing(azurite, storage=AsyncStorage(no_table)) as (client, aio):
            return await feed_batch.fetch_batch(aio, client, batch, settings(azurite), now)

    assert asyncio.run(go()) == {"fetched": 0, "not_modified": 0, "errors": 3}
    for book in books:
        (row,) = feed_sources.list_sources(storage, book)
        assert row["last_status"] == "new" and row["next_due"] <= now


def test_a_slow_feed_does_not_hold_up_the_records_of_other_books(
    storage: Storage, azurite: Azurite, server: FeedServer
) -> None:
    fast, slow = new_job_id(), new_job_id()
    now = datetime.now(UTC)
    feed_sources.set_sources(storage, fast, [server.url(f"/rss?fast={fast}")], now, replace=True)
    feed_sources.set_sources(storage, slow, [server.url(f"/slow?book={slow}")], now, replace=True)
    batch = one_batch(storage, f"linger-{fast}", [fast, slow], now)
    quick = Settings.from_env(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true",
            "FEEDS_FETCH_DEADLINE_SECONDS": "4",
        }
    )

    async def go() -> tuple[str, str]:
        async with refreshing(azurite) as (client, aio):
            running = asyncio.create_task(feed_batch.fetch_batch(aio, client, batch, quick, now))
            # Wait for the fast feed's state to be stored, however long that takes, but not for the batch.
            while not running.done():
                (fast_row,) = await asyncio.to_thread(feed_sources.list_sources, storage, fast)
                if fast_row["last_status"] != "new":
                    break
                await asyncio.sleep(0.1)
            (slow_row,) = await asyncio.to_thread(feed_sources.list_sources, storage, slow)
            assert not running.done()  # the slow feed is still dripping
            await running
            return fast_row["last_status"], slow_row["last_status"]

    assert asyncio.run(go()) == ("ok", "new")
    (slow_row,) = feed_sources.list_sources(storage, slow)
    assert slow_row["last_status"] == "error"


def test_every_kind_of_feed_failure_is_recorded_with_back_off_and_the_books_other_feeds_refresh(
    storage: Storage, azurite: Azurite, server: FeedServer
) -> None:
    import socket

    from shared.feeds.fetch import system_resolver

    async def resolver(host: str, port: int) -> list[str]:
        if host == "quire-no-such-host.invalid":  # what getaddrinfo raises for a name that does not exist
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host == "quire-resolver-bug.test":  # a fault nobody foresaw, below the fetch
            raise RuntimeError("resolver bug")
        return await system_resolver(host, port)

    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/feed.xml"
    port = server.url("/rss").split(":")[2].split("/")[0]
    failing = {
        "http://quire-no-such-host.invalid/feed.xml": "does not resolve",  # DNS
        refused: "ConnectError",  # connect
        f"https://127.0.0.1:{port}/rss": "ConnectError",  # TLS: the server speaks plain HTTP
        server.url("/slow"): "no complete answer within 2 s",  # timeout
        server.url("/html"): "not a feed",  # parse
        server.url("/broken"): "the server answered 500",  # HTTP
        "http://quire-resolver-bug.test/feed.xml": "could not be fetched (RuntimeError)",  # unforeseen
    }
    book = new_job_id()
    now = datetime.now(UTC)
    feed_sources.set_sources(storage, book, [*failing, server.url("/rss")], now, replace=True)
    short_deadline = Settings.from_env(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true",
            "FEEDS_FETCH_DEADLINE_SECONDS": "2",
        }
    )

    async def go() -> set[asyncio.Task[Any]]:
        # Every page of the scan (earlier tests left many sources): this book's.
        scanned = scan_through(storage, [ScanPage(f"failures-{book}").to_message()], now)
        batch = FetchBatch(f"failures-{book}", "0", [s for b in scanned for s in b.sources if s["book"] == book])
        async with refreshing(azurite, resolver=resolver) as (client, aio):
            await feed_batch.fetch_batch(aio, client, batch, short_deadline, now)
        return asyncio.all_tasks() - {asyncio.current_task()}

    assert asyncio.run(go()) == set()  # the batch did not fail, and no fetch outlived it
    assert "Launch party" in [i["title"] for i in news(storage, book)]  # the good feed refreshed
    sources = {p["url"]: p for p in feed_sources.list_sources(storage, book)}
    for url, reason in failing.items():
        state = sources[url]
        assert state["failures"] == 1 and state["last_status"] == "error", state
        assert reason in state["last_error"], (url, state["last_error"])
        assert state["next_due"] > now  # backed off, not retried at once


def test_a_fault_making_one_feeds_state_fails_that_feed_only(
    storage: Storage, azurite: Azurite, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round reads its books' feeds together: a fault nobody foresaw with one of them (here in
    working out its next state) fails that feed, which stays due; the round's others are recorded."""
    now = datetime.now(UTC)
    books = [new_job_id() for _ in range(3)]
    for book in books:
        feed_sources.set_sources(storage, book, [server.url(f"/rss?fault={book}")], now, replace=True)
    batch = one_batch(storage, f"fault-{books[0]}", books, now)
    next_state = feed_batch.next_state

    def faulty_next_state(source: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if source["RowKey"].startswith(books[1]):
            raise RuntimeError("a bug")
        return next_state(source, *args, **kwargs)

    monkeypatch.setattr(feed_batch, "next_state", faulty_next_state)

    async def go() -> dict[str, int]:
        async with refreshing(azurite) as (client, aio):
            return await feed_batch.fetch_batch(aio, client, batch, settings(azurite), now)

    assert asyncio.run(go()) == {"fetched": 2, "not_modified": 0, "errors": 1}
    statuses = [feed_sources.list_sources(storage, book)[0]["last_status"] for book in books]
    assert statuses == ["ok", "new", "ok"]


def test_a_round_reading_many_feeds_lets_the_loop_run_between_slices(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Feeds are read one after another (warm caches), but a round's reading gives the loop its
    turn once a slice of CPU time is used up, so fetches and other batches are not starved."""
    from shared.feeds.fetch import FetchResult
    from tests.feeds.servers import RSS

    now = datetime.now(UTC)
    fetched = [
        (
            {"book": f"b{i}", "partition": "s00", "key": f"b{i}:k", "row_etag": "*", "url": f"http://x/{i}",
             "etag": "", "last_modified": "", "failures": 0},
            FetchResult(url=f"http://x/{i}", status="ok", body=RSS, http_status=200),
        )
        for i in range(5)
    ]  # fmt: skip

    async def read(slice_seconds: float) -> list[str]:
        monkeypatch.setattr(feed_batch, "READING_SLICE_SECONDS", slice_seconds)
        commits = feed_batch._StateCommits(AsyncStorage(azurite.connection_string), 5, settings(azurite), now)
        order: list[str] = []
        ticker = asyncio.get_running_loop().call_soon(order.append, "loop ran")
        entries = await commits._read(fetched)  # type: ignore[arg-type]
        order.append("read")
        ticker.cancel()
        assert [state["RowKey"] for _, state, _ in entries] == [f"b{i}:k" for i in range(5)]
        assert all(json.loads(state["items"]) for _, state, _ in entries)
        return order

    assert asyncio.run(read(0.0)) == ["loop ran", "read"]  # every slice used up: a pause each feed
    assert asyncio.run(read(60.0)) == ["read"]  # a small round: read at once, no pause


def test_a_round_starts_early_once_enough_feed_text_waits(azurite: Azurite) -> None:
    """Feeds wait to be read together, but not without bound: once MAX_WAITING_BYTES of them
    wait, the round starts, even with books of the batch still fetching."""
    from shared.feeds.fetch import FetchResult

    half = b"<rss/>".ljust(feed_batch.MAX_WAITING_BYTES // 2)

    def fetched(n: int) -> list[Any]:
        source: DueSource = {"book": f"b{n}", "partition": "s00", "key": f"b{n}:k", "row_etag": "*", "url": f"http://x/{n}",
                  "etag": "", "last_modified": "", "failures": 0}  # fmt: skip
        return [(source, FetchResult(url=source["url"], status="ok", body=half, http_status=200))]

    async def go() -> list[bool]:
        commits = feed_batch._StateCommits(
            AsyncStorage(azurite.connection_string), 3, settings(azurite), datetime.now(UTC)
        )
        readiness = []
        for n in range(2):
            commits.hand_in(fetched(n))  # the committer starts, but has not run yet
            readiness.append(commits._ready())
        assert commits.committer is not None
        commits.committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await commits.committer
        await commits.storage.close()
        return readiness

    assert asyncio.run(go()) == [False, True]  # one book of three still fetching either time
