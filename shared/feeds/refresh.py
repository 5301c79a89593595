"""The feed refresher's storage side: sources, schedule slots, fan-out, fetch batches, updates.json.

    timer  → claim the schedule slot (create-only blob; a second firing for it does nothing)
           → one `scan` message
    scan   → one page of due sources → `fetch` messages of FETCH_BATCH sources each (with what the
             fetch needs and the row's ETag), and the next scan
    fetch  → claim each source (If-Match the scanned ETag), fetch them all at once over the shared
             client, record the state, merge the fresh items into each book's updates.json (If-Match)

No single invocation does unbounded work, however many sources there are.
"""

from __future__ import annotations

import asyncio
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

MESSAGE_VERSION = 1
SCAN_PAGE = 500
FETCH_BATCH = 50
MAX_FEEDS_PER_BOOK = 20
CLAIM_SECONDS = 300  # a claimed source is someone's for this long, even if its worker dies
MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(hours=24)


def source_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


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
    entities = storage.query_entities_filtered(FEED_TABLE, f"PartitionKey eq '{book_id}'")
    return sorted((e.properties for e in entities), key=lambda p: p["url"])


def set_sources(storage: Storage, book_id: str, urls: list[str], now: datetime, replace: bool) -> None:
    """Add these feeds to a book (new ones due at once); with `replace`, drop the others."""
    existing = {p["RowKey"]: p for p in list_sources(storage, book_id)}
    wanted = {source_key(url): url for url in urls}
    for key, url in wanted.items():
        if key not in existing:
            storage.upsert_entity(
                FEED_TABLE,
                {
                    "PartitionKey": book_id,
                    "RowKey": key,
                    "url": url,
                    "etag": "",
                    "last_modified": "",
                    "last_success": "",
                    "last_status": "new",
                    "last_error": "",
                    "failures": 0,
                    "next_due": now,
                },
            )
    if replace and existing.keys() - wanted.keys():
        for key in existing.keys() - wanted.keys():
            storage.delete_entity(FEED_TABLE, book_id, key)
        rebuild_updates(storage, book_id, 10_000, now, keep_feeds=set(wanted))


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


def fetch_message(slot: str, sources: list[dict[str, Any]]) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "kind": "fetch", "slot": slot, "sources": sources})


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


def start_refresh(storage: Storage, slot: str) -> list[str]:
    """Claim the slot (create-only); the winner starts the scan. A second firing gets nothing."""
    try:
        storage.create_blob(FEED_CONTAINER, f"slots/{slot}", b"", content_type="text/plain")
    except AlreadyExists:
        log.info("refresh slot %s was already claimed: nothing to do", slot)
        return []
    log.info("refresh slot %s claimed", slot)
    return [scan_message(slot)]


# -- scan: one page of due sources ------------------------------------------------------------------


def scan(storage: Storage, slot: str, continuation: dict[str, Any] | None, now: datetime) -> list[str]:
    # OData datetimes here have whole seconds: round up, so a source due this very second is found.
    bound = (now + timedelta(seconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    odata = f"next_due le datetime'{bound}'"
    entities, token = storage.query_page(FEED_TABLE, odata, SCAN_PAGE, continuation)
    # Each source travels with what its fetch needs, and the row's ETag to claim it with.
    due = [
        {
            "book": e.properties["PartitionKey"],
            "key": e.properties["RowKey"],
            "row_etag": e.etag,
            "url": e.properties["url"],
            "etag": e.properties.get("etag", ""),
            "last_modified": e.properties.get("last_modified", ""),
            "failures": int(e.properties.get("failures", 0)),
        }
        for e in entities
    ]
    messages = [fetch_message(slot, due[i : i + FETCH_BATCH]) for i in range(0, len(due), FETCH_BATCH)]
    if token:
        messages.append(scan_message(slot, token))
    log.info("refresh %s: %d due sources on this page, %d fetch batches", slot, len(due), len(due) // FETCH_BATCH + 1)
    return messages


# -- fetch: one batch, concurrently ---------------------------------------------------------------------


def _claim(storage: Storage, source: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """Take a due source for this run: push its next_due out, if the row is as the scan saw it."""
    try:
        storage.merge_entity(FEED_TABLE, _claim_row(source, now), etag=source["row_etag"])
    except (Conflict, NotFound):
        return None  # fetched or changed since the scan, by another worker or the author
    return source


def _claim_row(source: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"PartitionKey": source["book"], "RowKey": source["key"], "next_due": now + timedelta(seconds=CLAIM_SECONDS)}


def _claim_book(storage: Storage, sources: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Claim one book's due sources in one transaction; if any changed since the scan, one by one."""
    if len(sources) > 1:
        try:
            storage.merge_entities(FEED_TABLE, [(_claim_row(s, now), s["row_etag"]) for s in sources])
            return sources
        except Conflict:
            pass
    return [source for source in sources if _claim(storage, source, now)]


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
            items = [{**item.to_dict(), "feed": source["key"]} for item in parsed]
        except FeedError as problem:
            error = f"not a feed: {problem}"
    previous = {
        "failures": source.get("failures", 0),
        "etag": source.get("etag", ""),
        "last_modified": source.get("last_modified", ""),
    }
    state = next_state(previous, result, now, settings.feeds_interval_seconds, error)
    state.update(PartitionKey=source["book"], RowKey=source["key"], url=source["url"])
    return state, items


def _store_states(storage: Storage, states: list[dict[str, Any]]) -> None:
    """One book's new source states: one transaction (we hold the claims)."""
    try:
        storage.merge_entities(FEED_TABLE, [(state, None) for state in states])
    except Conflict:
        for state in states:  # a source deleted meanwhile: store the others
            try:
                storage.merge_entity(FEED_TABLE, state)
            except NotFound:
                continue


def _by_book(items: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item[key], []).append(item)
    return groups


async def fetch_batch(
    storage: Storage, client: Any, sources: list[dict[str, Any]], settings: Settings, now: datetime
) -> dict[str, int]:
    """Fetch a batch: every book's sources go through claim → fetch → record → merge on their own,
    so one slow feed or book holds up nobody else."""
    counts = {"fetched": 0, "not_modified": 0, "errors": 0}
    for book_counts in await asyncio.gather(
        *(_refresh_book(storage, client, group, settings, now) for group in _by_book(sources, "book").values())
    ):
        for key, value in book_counts.items():
            counts[key] += value
    return counts


async def _refresh_book(
    storage: Storage, client: Any, sources: list[dict[str, Any]], settings: Settings, now: datetime
) -> dict[str, int]:
    from shared.feeds.fetch import fetch_feed  # httpx: only where feeds are fetched

    claimed = await _blocking(_claim_book, storage, sources, now)
    results = await asyncio.gather(
        *(
            fetch_feed(
                client,
                source["url"],
                etag=source.get("etag", ""),
                last_modified=source.get("last_modified", ""),
                policy=settings.feeds_allow_private_addresses,
                deadline=settings.feeds_fetch_deadline_seconds,
                now=now,
            )
            for source in claimed
        )
    )
    outcomes = [_outcome(source, result, settings, now) for source, result in zip(claimed, results, strict=True)]
    counts = {"fetched": 0, "not_modified": 0, "errors": 0}
    if not outcomes:
        return counts
    await _blocking(_store_states, storage, [state for state, _ in outcomes])
    fresh = {state["RowKey"]: items for state, items in outcomes if items is not None}
    if fresh:
        await _blocking(rebuild_updates, storage, claimed[0]["book"], settings.feeds_max_items, now, fresh=fresh)
    for (state, _), result in zip(outcomes, results, strict=True):
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
        needed = {"book", "key", "row_etag", "url"}
        sources = [s for s in data.get("sources", []) if isinstance(s, dict) and needed <= s.keys()]
        return "fetch", sources
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
