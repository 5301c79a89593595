"""The feed refresher's storage side: sources, schedule slots, fan-out, fetch batches, updates.json.

    timer  → claim the schedule slot (create-only blob; a second firing for it does nothing)
           → one `scan` message
    scan   → one page of due sources → `fetch` messages of FETCH_BATCH sources each (with what the
             fetch needs and the row's ETag), and the next scan. The page's messages are kept, so a
             scan delivered twice answers the same batches.
    fetch  → claim the batch (create-only blob), fetch its sources all at once over the shared
             client, record their state (If-Match the scanned ETag, a batch's states of one
             partition in one transaction), merge the fresh items into each book's updates.json
             (If-Match)

Sources are kept in SOURCE_SHARDS partitions (a hash of the book), not one partition per book:
most books follow one or two feeds, and a table transaction costs about the same for one entity
as for fifty, so a batch's states are committed together instead of one small transaction per book.

So each source is fetched at most once per slot, whatever is delivered twice. A batch whose worker
died after claiming it is not fetched again in that slot: its sources are still due, and the next
slot takes them. No single invocation does unbounded work, however many sources there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from shared.feeds.guard import BlockedURL, check_url
from shared.feeds.parse import FeedError, merge_items, parse_feed
from shared.settings import BOOK_CONTAINER, FEED_CONTAINER, FEED_TABLE, Settings
from shared.storage import AlreadyExists, Conflict, NotFound, Storage

if TYPE_CHECKING:
    from shared.feeds.fetch import FetchResult

log = logging.getLogger(__name__)

MESSAGE_VERSION = 3
SOURCE_SHARDS = 16
SCAN_PAGE = 500
FETCH_BATCH = 50
MAX_FEEDS_PER_BOOK = 20
MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(hours=24)
# A slot's claim, kept scan pages and batch claims. Twin firings and redeliveries come within
# minutes; the pages hold every due source's fetch state, so they are not kept for long.
SLOT_RECORDS_KEPT = timedelta(hours=6)
PRUNED_PER_RUN = 8


def source_key(url: str) -> str:
    """A feed's id within its book: the same URL always gets the same id (it tags the feed's items)."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def source_partition(book_id: str) -> str:
    return f"s{int(hashlib.sha256(book_id.encode()).hexdigest()[:8], 16) % SOURCE_SHARDS:02d}"


def source_row(book_id: str, url: str) -> str:
    # Book ids are URL-safe base64, so ":" ends the book's part and its rows form one key range.
    return f"{book_id}:{source_key(url)}"


def new_source(book_id: str, url: str, now: datetime) -> dict[str, Any]:
    """A source's row as first stored: due at once, no fetch state yet."""
    return {
        "PartitionKey": source_partition(book_id),
        "RowKey": source_row(book_id, url),
        "book": book_id,
        "url": url,
        "etag": "",
        "last_modified": "",
        "last_success": "",
        "last_status": "new",
        "last_error": "",
        "failures": 0,
        "next_due": now,
    }


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


# -- sources ----------------------------------------------------------------------------------------


def validate_feed_urls(urls: list[Any], allow_private: bool) -> list[str]:
    """Clean, de-duplicated URLs; raises BlockedURL naming the first bad one."""
    if len(urls) > MAX_FEEDS_PER_BOOK:
        raise BlockedURL(f"a book can follow at most {MAX_FEEDS_PER_BOOK} feeds")
    cleaned: list[str] = []
    for url in urls:
        if not isinstance(url, str):
            raise BlockedURL("every feed must be a URL string")
        try:
            checked = check_url(url, allow_private)
        except BlockedURL as error:
            raise BlockedURL(f"{url!r}: {error}") from None
        if checked not in cleaned:
            cleaned.append(checked)
    return cleaned


def list_sources(storage: Storage, book_id: str) -> list[dict[str, Any]]:
    odata = f"PartitionKey eq '{source_partition(book_id)}' and RowKey ge '{book_id}:' and RowKey lt '{book_id};'"
    entities = storage.query_entities_filtered(FEED_TABLE, odata)
    return sorted((e.properties for e in entities), key=lambda p: p["url"])


def set_sources(storage: Storage, book_id: str, urls: list[str], now: datetime, replace: bool) -> None:
    """Add these feeds to a book (new ones due at once); with `replace`, drop the others."""
    existing = {p["RowKey"]: p for p in list_sources(storage, book_id)}
    wanted = {source_row(book_id, url): url for url in urls}
    for key, url in wanted.items():
        if key not in existing:
            storage.upsert_entity(FEED_TABLE, new_source(book_id, url, now))
    if replace and existing.keys() - wanted.keys():
        for key in existing.keys() - wanted.keys():
            storage.delete_entity(FEED_TABLE, source_partition(book_id), key)
        rebuild_updates(storage, book_id, 10_000, now, keep_feeds={source_key(url) for url in wanted.values()})


def public_source(properties: dict[str, Any]) -> dict[str, Any]:
    def moment(value: Any) -> str:
        return _iso(value) if isinstance(value, datetime) else str(value or "")

    return {
        "url": properties["url"],
        "last_status": properties.get("last_status", ""),
        "last_success": moment(properties.get("last_success")),
        "last_error": properties.get("last_error", ""),
        "consecutive_failures": int(properties.get("failures", 0)),
        "next_due": moment(properties.get("next_due")),
        "etag": properties.get("etag", ""),
        "last_modified": properties.get("last_modified", ""),
    }


# -- messages ---------------------------------------------------------------------------------------


def scan_message(slot: str, continuation: dict[str, Any] | None = None) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "kind": "scan", "slot": slot, "continuation": continuation})


def fetch_message(slot: str, batch: str, sources: list[dict[str, Any]]) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "kind": "fetch", "slot": slot, "batch": batch, "sources": sources})


# -- the timer: claim the slot ------------------------------------------------------------------------


def slot_for(schedule_status: dict[str, Any], now: datetime) -> str:
    """The schedule occurrence this run is for; a manual run (no schedule status) gets its own slot."""
    scheduled = (schedule_status or {}).get("Next")
    if scheduled:
        try:
            moment = datetime.fromisoformat(str(scheduled).replace("Z", "+00:00"))
            if moment.year > 1 and moment <= now.astimezone(moment.tzinfo) + timedelta(minutes=1):
                return _iso(moment.replace(microsecond=0))
        except ValueError:
            pass
    return "manual-" + _iso(now.replace(microsecond=0))


def start_refresh(storage: Storage, slot: str, now: datetime | None = None) -> list[str]:
    """Claim the slot (create-only); the winner starts the scan. A second firing gets nothing."""
    try:
        storage.create_blob(FEED_CONTAINER, f"slots/{slot}", b"", content_type="text/plain")
    except AlreadyExists:
        log.info("refresh slot %s was already claimed: nothing to do", slot)
        return []
    log.info("refresh slot %s claimed", slot)
    prune_old_slots(storage, now or datetime.now(UTC))
    return [scan_message(slot)]


def slot_time(slot: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(slot.removeprefix("manual-").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def prune_old_slots(storage: Storage, now: datetime) -> int:
    """Forget the records of slots older than SLOT_RECORDS_KEPT: their batch claims and kept pages first, the slot
    claim last (so an interrupted prune is finished by the next run). A few slots per run at most."""
    pruned = 0
    for name in storage.list_blob_names(FEED_CONTAINER, "slots/"):
        slot = name.removeprefix("slots/")
        moment = slot_time(slot)
        if moment is None or now - moment < SLOT_RECORDS_KEPT:
            continue
        storage.delete_prefix(FEED_CONTAINER, f"claims/{slot}/")
        storage.delete_prefix(FEED_CONTAINER, f"scans/{slot}/")
        storage.delete_blob(FEED_CONTAINER, name)
        pruned += 1
        if pruned == PRUNED_PER_RUN:
            break
    return pruned


# -- scan: one page of due sources ------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:24]


def scan(storage: Storage, slot: str, continuation: dict[str, Any] | None, now: datetime) -> list[str]:
    """One page of due sources as fetch messages, and the next scan.

    The first answer for a page is kept: a scan delivered twice, even after some of its batches ran,
    answers the same batches, so each batch's claim still covers its sources exactly once.
    """
    page_id = _digest(continuation)
    page = f"scans/{slot}/{page_id}.json"
    try:
        return list(json.loads(storage.read_blob(FEED_CONTAINER, page)))
    except NotFound:
        pass
    messages = _scan_page(storage, slot, continuation, now, batch_prefix=page_id)
    try:
        storage.create_blob(FEED_CONTAINER, page, json.dumps(messages).encode(), content_type="application/json")
    except AlreadyExists:  # a twin delivery of this scan kept its answer first: that one stands
        return list(json.loads(storage.read_blob(FEED_CONTAINER, page)))
    return messages


def _scan_page(
    storage: Storage, slot: str, continuation: dict[str, Any] | None, now: datetime, batch_prefix: str
) -> list[str]:
    # OData datetimes here have whole seconds: round up, so a source due this very second is found.
    bound = (now + timedelta(seconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    odata = f"next_due le datetime'{bound}'"
    entities, token = storage.query_page(FEED_TABLE, odata, SCAN_PAGE, continuation)
    # Each source travels with what its fetch needs, and the row's ETag its new state is stored If-Match.
    # Sorted by row, so a batch holds few partitions and its states go out in few transactions.
    due = sorted(
        (
            {
                "book": e.properties["book"],
                "partition": e.properties["PartitionKey"],
                "key": e.properties["RowKey"],
                "row_etag": e.etag,
                "url": e.properties["url"],
                "etag": e.properties.get("etag", ""),
                "last_modified": e.properties.get("last_modified", ""),
                "failures": int(e.properties.get("failures", 0)),
            }
            for e in entities
            if isinstance(e.properties.get("book"), str) and isinstance(e.properties.get("url"), str)
        ),
        key=lambda source: (source["partition"], source["key"]),
    )
    messages = [
        fetch_message(slot, f"{batch_prefix}-{i // FETCH_BATCH}", due[i : i + FETCH_BATCH])
        for i in range(0, len(due), FETCH_BATCH)
    ]
    log.info("refresh %s: %d due sources on this page, %d fetch batches", slot, len(due), len(messages))
    if token:
        messages.append(scan_message(slot, token))
    return messages


# -- fetch: one batch, concurrently ---------------------------------------------------------------------


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


# Storage calls are blocking SDK calls; they get their own threads so a batch's fifty state
# updates run side by side (the default executor has only cpu+4 threads).
_STORAGE_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="feed-storage")


async def _blocking(function: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(_STORAGE_THREADS, partial(function, *args, **kwargs))


def _outcome(
    source: dict[str, Any], result: FetchResult, settings: Settings, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """Pure: the source's new state, and its items when the feed was fetched and could be read."""
    error = ""
    items = None
    if result.status == "ok":
        try:
            _, parsed = parse_feed(result.body, source["url"])
            items = [{**item.to_dict(), "feed": source_key(source["url"])} for item in parsed]
        except FeedError as problem:
            error = f"not a feed: {problem}"
        except Exception as problem:  # a parser fault on this feed's bytes fails this feed only
            log.exception("feed %s: the parser failed", source["url"])
            error = f"could not be read ({type(problem).__name__})"
    previous = {
        "failures": source.get("failures", 0),
        "etag": source.get("etag", ""),
        "last_modified": source.get("last_modified", ""),
    }
    state = next_state(previous, result, now, settings.feeds_interval_seconds, error)
    state.update(PartitionKey=source["partition"], RowKey=source["key"], url=source["url"])
    return state, items


def _store_states(storage: Storage, sources: list[dict[str, Any]], states: list[dict[str, Any]]) -> list[str]:
    """New source states of one partition in one transaction, each If-Match the row as scanned.

    A row the author changed or removed since the scan keeps what the author wrote; the others are
    still stored, one by one. Returns the keys whose state was stored.
    """
    merges = [(state, source["row_etag"]) for source, state in zip(sources, states, strict=True)]
    try:
        storage.merge_entities(FEED_TABLE, merges)
        return [state["RowKey"] for state in states]
    except (Conflict, NotFound):
        pass
    stored = []
    for state, etag in merges:
        try:
            storage.merge_entity(FEED_TABLE, state, etag=etag)
            stored.append(state["RowKey"])
        except (Conflict, NotFound):
            log.info("feed %s changed since the scan: its fetch is not recorded", state["url"])
    return stored


# How long a batch's finished states wait for the rest of its books before they are committed
# anyway: a slow feed delays the recording of the others (and their items) by this much at most.
STATE_LINGER_SECONDS = 0.5
MAX_TRANSACTION = 100  # Table Storage's limit on the operations of one transaction


class _StateCommits:
    """Group commit of one fetch batch's source states.

    Each book hands in its states once its feeds are done. They wait until every book of the batch
    has reported, or STATE_LINGER_SECONDS have passed, then go out as one transaction per
    partition. A book learns which of its states were stored (a row the author changed meanwhile
    keeps the author's version).
    """

    def __init__(self, storage: Storage, books: int) -> None:
        self.storage = storage
        self.unreported = books
        self.pending: list[tuple[list[dict[str, Any]], list[dict[str, Any]], asyncio.Future[set[str]]]] = []
        self.arrived = asyncio.Event()
        self.committer: asyncio.Task[None] | None = None

    async def store(self, sources: list[dict[str, Any]], states: list[dict[str, Any]]) -> set[str]:
        stored: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        self.pending.append((sources, states, stored))
        self.unreported -= 1
        self.arrived.set()
        if self.committer is None or self.committer.done():
            self.committer = asyncio.create_task(self._commit_pending())
        return await stored

    async def _commit_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            until = loop.time() + STATE_LINGER_SECONDS
            while self.unreported > 0 and sum(len(p[0]) for p in self.pending) < MAX_TRANSACTION:
                self.arrived.clear()
                try:
                    await asyncio.wait_for(self.arrived.wait(), until - loop.time())
                except TimeoutError:
                    break
            taken, self.pending = self.pending, []
            groups: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
            for sources, states, _ in taken:
                for source, state in zip(sources, states, strict=True):
                    groups.setdefault(source["partition"], []).append((source, state))
            chunks = [
                group[i : i + MAX_TRANSACTION]
                for group in groups.values()
                for i in range(0, len(group), MAX_TRANSACTION)
            ]
            try:
                results = await asyncio.gather(
                    *(_blocking(_store_states, self.storage, [s for s, _ in c], [t for _, t in c]) for c in chunks)
                )
            except Exception as error:  # storage trouble: the batch fails; its sources stay due for the next slot
                for _, _, stored in taken:
                    if not stored.done():  # a book whose invocation was cancelled no longer waits
                        stored.set_exception(error)
                continue
            keys = {key for result in results for key in result}
            for _, _, stored in taken:
                if not stored.done():
                    stored.set_result(keys)


def _by_book(sources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    books: dict[str, list[dict[str, Any]]] = {}
    for source in sources:
        books.setdefault(source["book"], []).append(source)
    return books


async def fetch_batch(
    storage: Storage, client: Any, batch: dict[str, Any], settings: Settings, now: datetime
) -> dict[str, int]:
    """Claim a batch, then fetch it: every book's sources go through fetch → record → merge on their
    own, so one slow feed or book holds up nobody else. A batch claimed before does nothing."""
    counts = {"fetched": 0, "not_modified": 0, "errors": 0}
    slot, sources = batch["slot"], batch["sources"]
    try:
        await _blocking(
            storage.create_blob, FEED_CONTAINER, f"claims/{slot}/{batch['batch']}", b"", content_type="text/plain"
        )
    except AlreadyExists:
        log.info("refresh %s: batch %s was already claimed: nothing to do", slot, batch["batch"])
        return counts
    books = _by_book(sources)
    commits = _StateCommits(storage, len(books))
    try:
        # A task group: every fetch of the batch ends within this run, none is left running after it.
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(_refresh_book_or_log(storage, client, commits, book, settings, now))
                for book in books.values()
            ]
    finally:
        if commits.committer is not None and not commits.committer.done():
            commits.committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await commits.committer
    for task in tasks:
        for key, value in task.result().items():
            counts[key] += value
    return counts


async def _refresh_book_or_log(
    storage: Storage,
    client: Any,
    commits: _StateCommits,
    sources: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
) -> dict[str, int]:
    """One book's refresh; storage trouble with it is logged and leaves the other books' refresh
    running (its sources stay due, and the next slot takes them)."""
    try:
        return await _refresh_book(storage, client, commits, sources, settings, now)
    except Exception as error:
        log.warning("refresh of book %s failed: %s: %s", sources[0]["book"], type(error).__name__, error)
        return {"fetched": 0, "not_modified": 0, "errors": len(sources)}


async def _refresh_book(
    storage: Storage,
    client: Any,
    commits: _StateCommits,
    sources: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
) -> dict[str, int]:
    from shared.feeds.fetch import FetchResult, fetch_feed  # httpx: only where feeds are fetched

    async def fetch(source: dict[str, Any]) -> FetchResult:
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
            log.exception("feed %s of book %s: unexpected fetch failure", source["url"], source["book"])
            return FetchResult(
                url=source["url"], status="error", error=f"could not be fetched ({type(error).__name__})"
            )

    results = await asyncio.gather(*(fetch(source) for source in sources))
    outcomes = [_outcome(source, result, settings, now) for source, result in zip(sources, results, strict=True)]
    counts = {"fetched": 0, "not_modified": 0, "errors": 0}
    stored = await commits.store(sources, [state for state, _ in outcomes])
    fresh = {
        source_key(state["url"]): items for state, items in outcomes if items is not None and state["RowKey"] in stored
    }
    if fresh:
        await _blocking(rebuild_updates, storage, sources[0]["book"], settings.feeds_max_items, now, fresh=fresh)
    for (state, _), result in zip(outcomes, results, strict=True):
        if state["RowKey"] not in stored:
            continue
        if state["last_status"] == "error":
            counts["errors"] += 1
            log.info("feed %s failed (%d in a row): %s", state["url"], state["failures"], state["last_error"])
        else:
            counts["fetched" if result.status == "ok" else "not_modified"] += 1
    return counts


# -- updates.json ---------------------------------------------------------------------------------------


def updates_blob(book_id: str) -> str:
    return f"{book_id}/updates.json"


def rebuild_updates(
    storage: Storage,
    book_id: str,
    limit: int,
    now: datetime,
    fresh: dict[str, list[dict[str, Any]]] | None = None,
    keep_feeds: set[str] | None = None,
) -> None:
    """Merge fresh items into updates.json: each fetched feed's items replace its older ones.

    `keep_feeds` drops the items of feeds no longer followed. A conditional write, retried when
    another batch wrote the same book's updates first.
    """
    fresh = fresh or {}
    for _ in range(20):
        try:
            raw, etag = storage.read_blob_with_etag(BOOK_CONTAINER, updates_blob(book_id))
            current = json.loads(raw).get("items", [])
        except NotFound:
            current, etag = [], None
        kept = [
            item
            for item in current
            if item.get("feed") not in fresh and (keep_feeds is None or item.get("feed") in keep_feeds)
        ]
        items = merge_items([kept, *fresh.values()], limit)
        body = json.dumps({"updated": _iso(now), "items": items}, ensure_ascii=False, indent=1)
        try:
            storage.put_blob_if(
                BOOK_CONTAINER, updates_blob(book_id), body.encode(), etag=etag, content_type="application/json"
            )
            return
        except Conflict:
            continue
    raise Conflict(f"updates.json of {book_id}: too many concurrent writers")


def handle_feed_message(storage: Storage, body: bytes, settings: Settings, now: datetime) -> tuple[str, Any]:
    """Decode a feeds-queue message: ("scan", messages) or ("fetch", sources)."""
    try:
        data = json.loads(body)
    except ValueError:
        return "ignore", None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        return "ignore", None
    if data.get("kind") == "scan":
        return "scan", scan(storage, str(data.get("slot", "")), data.get("continuation"), now)
    if data.get("kind") == "fetch":
        needed = {"book", "partition", "key", "row_etag", "url"}
        sources = [s for s in data.get("sources", []) if isinstance(s, dict) and needed <= s.keys()]
        if not isinstance(data.get("slot"), str) or not isinstance(data.get("batch"), str):
            return "ignore", None
        return "fetch", {"slot": data["slot"], "batch": data["batch"], "sources": sources}
    return "ignore", None


async def handle_queue_message(storage: Storage, settings: Settings, client: Any, body: bytes) -> list[str]:
    """One message on the feeds queue: a scan page (returns the messages to send) or a fetch batch."""
    now = datetime.now(UTC)
    kind, payload = await asyncio.to_thread(handle_feed_message, storage, body, settings, now)
    if kind == "scan":
        return list(payload or [])
    if kind == "fetch":
        await fetch_batch(storage, client, payload, settings, now)
    return []


def start_from_timer(storage: Storage, schedule_status: dict[str, Any]) -> list[str]:
    return start_refresh(storage, slot_for(schedule_status, datetime.now(UTC)))
