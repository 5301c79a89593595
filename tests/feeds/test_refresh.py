"""The refresher over real Azurite and real local feed servers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.feeds import refresh
from shared.feeds.fetch import make_client
from shared.jobs import new_job_id
from shared.settings import BOOK_CONTAINER, FEED_TABLE, Settings
from shared.storage import Storage
from tests.feeds.servers import FeedServer
from tests.support import Azurite


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer().start()
    yield feed_server
    feed_server.stop()


@pytest.fixture
def storage(azurite: Azurite) -> Storage:
    return Storage(azurite.connection_string)


def settings(azurite: Azurite) -> Settings:
    return Settings.from_env(
        {"AzureWebJobsStorage": azurite.connection_string, "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true"}
    )


def run_all(storage: Storage, azurite: Azurite, slot: str, now: datetime) -> list[dict[str, int]]:
    """Run a refresh the way the queue would: the scan pages, then every fetch batch."""
    pending = refresh.start_refresh(storage, slot)
    counts = []

    async def batches(sources_list: list[list[list[str]]]) -> None:
        async with make_client(True) as client:
            for sources in sources_list:
                counts.append(await refresh.fetch_batch(storage, client, sources, settings(azurite), now))

    fetches = []
    while pending:
        message = json.loads(pending.pop(0))
        if message["kind"] == "scan":
            pending.extend(refresh.scan(storage, message["slot"], message["continuation"], now))
        else:
            fetches.append(message["sources"])
    asyncio.run(batches(fetches))
    return counts


def test_two_firings_for_one_slot_start_one_refresh(storage: Storage) -> None:
    slot = f"2026-11-21T10:{new_job_id()}"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: refresh.start_refresh(storage, slot), range(2)))
    assert sorted(len(r) for r in results) == [0, 1]


def test_refresh_fetches_merges_dedupes_and_backs_off(storage: Storage, azurite: Azurite, server: FeedServer) -> None:
    book = new_job_id()
    now = datetime.now(UTC)
    urls = [server.url(p) for p in ("/rss", "/atom", "/json", "/malformed", "/broken")]
    refresh.set_sources(storage, book, urls, now, replace=True)
    run_all(storage, azurite, f"slot-a-{book}", now)

    updates = json.loads(storage.read_blob(BOOK_CONTAINER, refresh.updates_blob(book)))
    titles = [i["title"] for i in updates["items"]]
    assert titles[:2] == ["Signed copies", "Tour dates"]  # newest first, across three formats
    assert len([t for t in titles if t.startswith("Errata")]) == 1  # same link in RSS and Atom: once
    assert "Come along" in [i["summary"] for i in updates["items"]]
    sources = {p["url"]: p for p in refresh.list_sources(storage, book)}
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
    again = json.loads(storage.read_blob(BOOK_CONTAINER, refresh.updates_blob(book)))
    assert [i["key"] for i in again["items"]] == [i["key"] for i in updates["items"]]
    broken = {p["url"]: p for p in refresh.list_sources(storage, book)}[server.url("/broken")]
    assert broken["failures"] == 2
    assert broken["next_due"] - later == timedelta(
        seconds=2 * Settings.from_env({"AzureWebJobsStorage": "x"}).feeds_interval_seconds
    )


def test_a_slow_feed_does_not_hold_up_the_others(storage: Storage, azurite: Azurite, server: FeedServer) -> None:
    book = new_job_id()
    now = datetime.now(UTC)
    refresh.set_sources(storage, book, [server.url("/slow"), server.url("/rss")], now, replace=True)

    quick = Settings.from_env(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true",
            "FEEDS_FETCH_DEADLINE_SECONDS": "2",
        }
    )

    async def go() -> float:
        started = time.monotonic()
        sources = [
            s for m in refresh.scan(storage, "slow", None, now) for s in json.loads(m)["sources"] if s["book"] == book
        ]
        async with make_client(True) as client:
            await refresh.fetch_batch(storage, client, sources, quick, now)
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    states = {p["url"]: p for p in refresh.list_sources(storage, book)}
    assert states[server.url("/rss")]["last_status"] == "ok"
    assert states[server.url("/slow")]["last_status"] == "error"
    assert elapsed < 6


def test_scan_pages_through_many_sources(storage: Storage) -> None:
    now = datetime.now(UTC)
    book = new_job_id()
    entities = [
        {
            "PartitionKey": book,
            "RowKey": f"{i:032d}",
            "url": f"https://example.com/{i}",
            "next_due": now - timedelta(minutes=1),
        }
        for i in range(1100)
    ]
    for entity in entities:
        storage.upsert_entity(FEED_TABLE, entity)
    pending = [refresh.scan_message(f"scan-{book}")]
    seen: list[str] = []
    scans = 0
    while pending:
        message = json.loads(pending.pop())
        if message["kind"] == "scan":
            scans += 1
            pending.extend(refresh.scan(storage, message["slot"], message["continuation"], now))
        else:
            assert len(message["sources"]) <= refresh.FETCH_BATCH
            seen.extend(s["key"] for s in message["sources"] if s["book"] == book)
    assert sorted(seen) == sorted(e["RowKey"] for e in entities)
    assert scans >= 3  # one page per scan: no single run does unbounded work
