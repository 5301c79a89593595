"""One fetch batch: claim it, fetch its sources all at once over the shared client, record each
source's state and fresh items.

The claim is a create-only blob, so a batch delivered twice is fetched once. Each book's sources
are fetched on their own and handed in, so one slow feed or book holds up nobody else; the
fetches handed in by then are read (parsed) and recorded in rounds (`_StateCommits`), a round's
states of one partition in one transaction. A source's new state and its items (the book's news,
shared/feeds/updates.py) are recorded together, If-Match the row as scanned: an author's change,
or the book's erasure, wins, and takes the items of that fetch with it. Storage is the asyncio
adapter (shared/storage/aio.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared import logs, telemetry
from shared.feeds.messages import DueSource, FetchBatch
from shared.feeds.parse import FeedError, parse_feed
from shared.feeds.updates import NEWS_PROPERTY, stored_items
from shared.settings import Settings
from shared.storage import AlreadyExists, Conflict, NotFound
from shared.storage.names import FEED_CONTAINER, FEED_TABLE

if TYPE_CHECKING:
    from shared.feeds.fetch import FetchResult
    from shared.storage.aio import AsyncStorage

log = logs.get_logger(__name__)

MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(hours=24)


def next_state(
    source: dict[str, Any], result: FetchResult, now: datetime, interval: int, error: str = ""
) -> dict[str, Any]:
    """Pure: the source's state after a fetch (back-off after failures, Retry-After respected)."""
    state = dict(source)
    state["last_status"] = "error" if error or result.status == "error" else result.status
    if state["last_status"] == "error":
        failures = int(source.get("failures", 0)) + 1
        delay = min(timedelta(seconds=interval) * (2 ** min(failures - 1, 10)), MAX_BACKOFF)
        state.update(failures=failures, last_error=(error or result.error)[:500])
    else:
        delay = timedelta(seconds=interval)
        state.update(failures=0, last_error="", last_success=now)
        if result.status == "ok":
            state.update(etag=result.etag, last_modified=result.last_modified)
    if result.retry_after is not None:
        delay = max(delay, min(timedelta(seconds=result.retry_after), MAX_RETRY_AFTER))
    state["next_due"] = now + delay
    return state


def _outcome(source: DueSource, result: FetchResult, settings: Settings, now: datetime) -> dict[str, Any]:
    """Pure: the source's new state, with its items when the feed was fetched and could be read
    (a feed not fetched or not readable keeps the items it had)."""
    error = ""
    items = None
    if result.status == "ok":
        try:
            _, items = parse_feed(result.body, source["url"])
        except FeedError as problem:
            error = f"not a feed: {problem}"
        except Exception as problem:  # a parser fault on this feed's bytes fails this feed only
            log.exception("feed %s: the parser failed", logs.url_for_logs(source["url"]))
            error = f"could not be read ({type(problem).__name__})"
    # Only what changes is merged: the row keeps its URL, and its validators unless a fetch brought new ones.
    previous = {"PartitionKey": source["partition"], "RowKey": source["key"], "failures": source.get("failures", 0)}
    state = next_state(previous, result, now, settings.feeds_interval_seconds, error)
    if items is not None:
        state[NEWS_PROPERTY] = stored_items(items, settings.feeds_max_items)
    return state


Fetched = tuple[DueSource, "FetchResult"]
Recorded = tuple[DueSource, dict[str, Any], "FetchResult"]  # a fetch and the new state it gave


async def _store_states(storage: AsyncStorage, entries: list[Recorded]) -> list[str]:
    """New source states (with their sources) of one partition in one transaction, each If-Match
    the row as scanned.

    A row the author changed or removed since the scan keeps what the author wrote; the others are
    still stored, one by one. Returns the keys whose state was stored.
    """
    merges: list[tuple[dict[str, Any], str | None]] = [(state, source["row_etag"]) for source, state, _ in entries]
    try:
        await storage.merge_entities(FEED_TABLE, merges)
        return [state["RowKey"] for state, _ in merges]
    except (Conflict, NotFound):
        pass
    stored = []
    for (source, _, _), (state, etag) in zip(entries, merges, strict=True):
        try:
            await storage.merge_entity(FEED_TABLE, state, etag=etag)
            stored.append(state["RowKey"])
        except (Conflict, NotFound):
            log.info("feed %s changed since the scan: its fetch is not recorded", logs.url_for_logs(source["url"]))
    return stored


# How long a batch's finished fetches wait for the rest of its books before they are recorded
# anyway: a slow feed delays the recording of the others (and their items) by this much at most.
STATE_LINGER_SECONDS = 0.5
MAX_TRANSACTION = 100  # Table Storage's limit on the operations of one transaction
# The most CPU time a round's reading of feeds takes before it lets the loop run other work.
READING_SLICE_SECONDS = 0.05
# A round starts early once this much feed text waits to be read (a feed may be 2 MiB): what a
# batch holds besides its fetches in flight stays about this small.
MAX_WAITING_BYTES = 4 * 1024 * 1024


class _StateCommits:
    """Group commit of one fetch batch's fetches, and the batch's counts.

    Each book hands in its fetch results once its feeds are done, and is done. They wait until
    every book of the batch has reported, a transaction's worth or MAX_WAITING_BYTES of feeds are
    pending, or STATE_LINGER_SECONDS have passed; then the round's feeds are read and their new
    states go out as one transaction per partition. A round reads its feeds one after another, not
    each as its fetch ends: the parser's code and data stay in the CPU's caches, at about half the
    CPU a feed. Only states that were stored are counted (a row the author changed meanwhile keeps
    the author's version); storage trouble counts a round's sources as errors, and they stay due
    for the next slot.
    """

    def __init__(self, storage: AsyncStorage, books: int, settings: Settings, now: datetime) -> None:
        self.storage = storage
        self.settings, self.now = settings, now
        self.unreported = books
        self.pending: list[Fetched] = []
        self.waiting_bytes = 0  # of the pending fetches' bodies
        self.counts = {"fetched": 0, "not_modified": 0, "errors": 0}
        # Set once the committer need wait no longer: it wakes once a round, not once a book.
        self.full: asyncio.Future[None] | None = None
        self.committer: asyncio.Task[None] | None = None

    def hand_in(self, fetched: list[Fetched]) -> None:
        self.pending.extend(fetched)
        self.waiting_bytes += sum(len(result.body) for _, result in fetched)
        self.withdraw()
        if self.committer is None or self.committer.done():
            self.committer = asyncio.create_task(self._commit_pending())

    def withdraw(self, failed: int = 0) -> None:
        """A book has reported: with its fetches (`hand_in`), or without any (`failed` feeds)."""
        self.unreported -= 1
        self.counts["errors"] += failed
        if self._ready() and self.full is not None and not self.full.done():
            self.full.set_result(None)

    def _ready(self) -> bool:
        return self.unreported <= 0 or len(self.pending) >= MAX_TRANSACTION or self.waiting_bytes >= MAX_WAITING_BYTES

    async def finished(self) -> dict[str, int]:
        """The batch's counts, once every book has reported and the last round is stored."""
        if self.committer is not None:
            await self.committer  # the only one running: a new one starts only after it ended
        return self.counts

    async def _read(self, fetched: list[Fetched]) -> list[Recorded]:
        """Each fetch's new state, its feed read: one after another, with a pause for the loop's
        other work (fetches, other batches) whenever a slice of CPU time is used up."""
        loop = asyncio.get_running_loop()
        pause = loop.time() + READING_SLICE_SECONDS
        entries = []
        for source, result in fetched:
            try:
                entries.append((source, _outcome(source, result, self.settings, self.now), result))
            except Exception:  # a fault nobody foresaw fails this feed only: it stays due
                log.exception(
                    "feed %s of book %s: its new state could not be made",
                    logs.url_for_logs(source["url"]),
                    source["book"],
                )
                self.counts["errors"] += 1
            if result.status == "ok" and loop.time() > pause:
                await asyncio.sleep(0)
                pause = loop.time() + READING_SLICE_SECONDS
        return entries

    async def _commit_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            if not self._ready():
                self.full = loop.create_future()
                with contextlib.suppress(TimeoutError):  # the linger is over: commit what there is
                    await asyncio.wait_for(self.full, STATE_LINGER_SECONDS)
            fetched, self.pending, self.waiting_bytes = self.pending, [], 0
            taken = await self._read(fetched)
            groups: dict[str, list[Recorded]] = {}
            for entry in taken:
                groups.setdefault(entry[0]["partition"], []).append(entry)
            chunks = [
                group[i : i + MAX_TRANSACTION]
                for group in groups.values()
                for i in range(0, len(group), MAX_TRANSACTION)
            ]
            try:
                results = await asyncio.gather(*(_store_states(self.storage, chunk) for chunk in chunks))
            except Exception as error:  # storage trouble: these sources stay due for the next slot
                log.warning("%d feed states not stored: %s: %s", len(taken), type(error).__name__, error)
                self.counts["errors"] += len(taken)
                continue
            stored = {key for result in results for key in result}
            for source, state, result in taken:
                if state["RowKey"] not in stored:
                    continue
                if state["last_status"] == "error":
                    self.counts["errors"] += 1
                    log.info(
                        "feed %s failed (%d in a row): %s",
                        logs.url_for_logs(source["url"]),
                        state["failures"],
                        state["last_error"],
                    )
                else:
                    self.counts["fetched" if result.status == "ok" else "not_modified"] += 1


def _by_book(sources: list[DueSource]) -> dict[str, list[DueSource]]:
    books: dict[str, list[DueSource]] = {}
    for source in sources:
        books.setdefault(source["book"], []).append(source)
    return books


async def fetch_batch(
    storage: AsyncStorage, client: Any, batch: FetchBatch, settings: Settings, now: datetime
) -> dict[str, int]:
    """Claim a batch, then fetch it: every book's sources are fetched and handed in on their own,
    so one slow feed or book holds up nobody else, and read and recorded in rounds
    (`_StateCommits`). A batch claimed before does nothing."""
    slot, sources = batch.slot, batch.sources
    try:
        await storage.create_blob(FEED_CONTAINER, f"claims/{slot}/{batch.batch}", b"", content_type="text/plain")
    except AlreadyExists:
        log.info("refresh %s: batch %s was already claimed: nothing to do", slot, batch.batch)
        return {"fetched": 0, "not_modified": 0, "errors": 0}
    books = _by_book(sources)
    commits = _StateCommits(storage, len(books), settings, now)
    fetch = _fetcher(client, settings, now)
    try:
        # A task group: every fetch of the batch ends within this run, none is left running after it.
        async with asyncio.TaskGroup() as group:
            for book in books.values():
                group.create_task(_refresh_book_or_log(fetch, commits, book))
        return await commits.finished()
    finally:
        if commits.committer is not None and not commits.committer.done():  # cancelled: stop storing
            commits.committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await commits.committer


def _fetcher(client: Any, settings: Settings, now: datetime) -> Callable[[DueSource], Awaitable[FetchResult]]:
    """The batch's fetch of one source (made once a batch, not once a book): never raises for the
    feed's faults, and a span of its own when tracing is on."""
    from shared.feeds.fetch import FetchResult, fetch_feed  # aiohttp: only where feeds are fetched

    async def fetch_guarded(source: DueSource) -> FetchResult:
        try:
            return await fetch_feed(
                client,
                source["url"],
                etag=source.get("etag", ""),
                last_modified=source.get("last_modified", ""),
                policy=settings.feeds_allow_private_addresses,
                deadline=settings.feeds_fetch_deadline_seconds,
                now=now,
            )
        except Exception as error:  # a fault nobody foresaw is still this feed's, not its book's
            log.exception(
                "feed %s of book %s: unexpected fetch failure", logs.url_for_logs(source["url"]), source["book"]
            )
            return FetchResult(
                url=source["url"], status="error", error=f"could not be fetched ({type(error).__name__})"
            )

    async def traced_fetch(source: DueSource) -> FetchResult:
        # The host only: a feed's URL may carry its subscriber's token.
        with telemetry.span("fetch feed", kind="client", book=source["book"], host=urlsplit(source["url"]).hostname):
            return await fetch_guarded(source)

    # Without tracing there is no span to make: every fetch is spared its URL parse and context.
    return traced_fetch if telemetry.enabled() else fetch_guarded


async def _refresh_book_or_log(
    fetch: Callable[[DueSource], Awaitable[FetchResult]], commits: _StateCommits, sources: list[DueSource]
) -> None:
    """One book's fetches, handed in to be read and recorded; a fault with them is logged and
    leaves the other books' refresh running (its sources stay due, and the next slot takes them)."""
    try:
        # Most books follow one feed: awaited as it is, without a task of its own.
        results = [await fetch(sources[0])] if len(sources) == 1 else await asyncio.gather(*map(fetch, sources))
    except BaseException as error:
        commits.withdraw(failed=len(sources))  # this book reports no states: its feeds stay due
        if not isinstance(error, Exception):
            raise
        log.warning("refresh of book %s failed: %s: %s", sources[0]["book"], type(error).__name__, error)
        return
    commits.hand_in(list(zip(sources, results, strict=True)))
