"""The feed refresher's storage side: sources, schedule slots, fan-out, fetch batches, updates.json.

    timer  → claim the schedule slot (create-only blob; a second firing for it does nothing)
           → one `scan` message
    scan   → one page of due sources → `fetch` messages of FETCH_BATCH sources each, and the next scan
    fetch  → claim each source (ETag-conditional), fetch them all at once over the shared client,
             record the state, rebuild each touched book's updates.json (ETag-conditional)

No single invocation does unbounded work, however many sources there are.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.feeds.fetch import FetchResult, fetch_feed
from shared.feeds.guard import BlockedURL, check_url
from shared.feeds.parse import FeedError, merge_items, parse_feed
from shared.settings import BOOK_CONTAINER, FEED_CONTAINER, FEED_TABLE, Settings
from shared.storage import AlreadyExists, Conflict, NotFound, Storage

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
    if replace:
        for key in existing.keys() - wanted.keys():
            storage.delete_entity(FEED_TABLE, book_id, key)
            storage.delete_blob(FEED_CONTAINER, f"items/{book_id}/{key}.json")
        rebuild_updates(storage, book_id, 10_000, now)


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


def fetch_message(slot: str, sources: list[tuple[str, str]]) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "kind": "fetch", "slot": slot, "sources": [list(s) for s in sources]})


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
    due = [(e.properties["PartitionKey"], e.properties["RowKey"]) for e in entities]
    messages = [fetch_message(slot, due[i : i + FETCH_BATCH]) for i in range(0, len(due), FETCH_BATCH)]
    if token:
        messages.append(scan_message(slot, token))
    log.info("refresh %s: %d due sources on this page, %d fetch batches", slot, len(due), len(due) // FETCH_BATCH + 1)
    return messages


# -- fetch: one batch, concurrently ---------------------------------------------------------------------


def _claim(storage: Storage, book_id: str, key: str, now: datetime) -> dict[str, Any] | None:
    """Take a due source for this run: push its next_due out, conditionally on the row we read."""
    try:
        entity = storage.get_entity(FEED_TABLE, book_id, key)
    except NotFound:
        return None
    due = entity.properties.get("next_due")
    if isinstance(due, datetime) and due > now:
        return None  # fetched already in this slot, or backing off
    claimed = {**entity.properties, "next_due": now + timedelta(seconds=CLAIM_SECONDS)}
    try:
        storage.update_entity(FEED_TABLE, claimed, etag=entity.etag)
    except Conflict:
        return None  # another worker took it
    return claimed


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


async def fetch_batch(
    storage: Storage, client: Any, sources: list[list[str]], settings: Settings, now: datetime
) -> dict[str, int]:
    claimed = [
        source
        for source in await asyncio.gather(*(asyncio.to_thread(_claim, storage, b, k, now) for b, k in sources))
        if source is not None
    ]
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
    counts = {"fetched": 0, "not_modified": 0, "errors": 0}
    touched: set[str] = set()
    for source, result in zip(claimed, results, strict=True):
        error = ""
        if result.status == "ok":
            try:
                _, items = parse_feed(result.body, source["url"])
                data = json.dumps([i.to_dict() for i in items], ensure_ascii=False).encode()
                await asyncio.to_thread(
                    storage.put_blob, FEED_CONTAINER, f"items/{source['PartitionKey']}/{source['RowKey']}.json", data,
                    content_type="application/json",
                )  # fmt: skip
                touched.add(source["PartitionKey"])
            except FeedError as problem:
                error = f"not a feed: {problem}"
        state = next_state(source, result, now, settings.feeds_interval_seconds, error)
        await asyncio.to_thread(storage.upsert_entity, FEED_TABLE, state)
        key = "errors" if state["last_status"] == "error" else result.status.replace("ok", "fetched")
        counts[key] += 1
        if state["last_status"] == "error":
            log.info("feed %s failed (%d in a row): %s", source["url"], state["failures"], state["last_error"])
    for book_id in sorted(touched):
        await asyncio.to_thread(rebuild_updates, storage, book_id, settings.feeds_max_items, now)
    return counts


# -- updates.json ---------------------------------------------------------------------------------------


def updates_blob(book_id: str) -> str:
    return f"{book_id}/updates.json"


def rebuild_updates(storage: Storage, book_id: str, limit: int, now: datetime) -> None:
    """Merge the book's feeds into updates.json; a conditional write, retried if another batch won."""
    for _ in range(20):
        groups = []
        for name in storage.list_blob_names(FEED_CONTAINER, f"items/{book_id}/"):
            try:
                groups.append(json.loads(storage.read_blob(FEED_CONTAINER, name)))
            except NotFound:
                continue
        body = json.dumps({"updated": _iso(now), "items": merge_items(groups, limit)}, ensure_ascii=False, indent=1)
        try:
            etag = storage.blob_properties(BOOK_CONTAINER, updates_blob(book_id))["etag"]
        except NotFound:
            etag = None
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
        sources = [s for s in data.get("sources", []) if isinstance(s, list) and len(s) == 2]
        return "fetch", sources
    return "ignore", None
