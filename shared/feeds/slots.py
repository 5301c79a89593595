"""The refresh schedule's side: a slot per timer occurrence, scanned page by page into fetch batches.

timer  → claim the schedule slot (create-only blob; a second firing for it does nothing)
       → one `scan` message
scan   → one page of due sources → `fetch` messages of FETCH_BATCH sources each (with what the
         fetch needs and the row's ETag), and the next scan. The page's messages are kept, so a
         scan delivered twice answers the same batches.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from shared import logs
from shared.feeds.messages import DueSource, FetchBatch, ScanPage, encoded_source, fetch_message, parse_feed_message
from shared.formats import utc_timestamp
from shared.storage import AlreadyExists, Conflict, NotFound, Storage
from shared.storage.names import FEED_CONTAINER, FEED_TABLE

log = logs.get_logger(__name__)

SCAN_PAGE = 1000  # Table Storage's most a query answers at once
# A fetch message's JSON stays under this: the host base64-encodes it (4/3 of it) into a queue
# message of 64 KiB at most, and a source may carry a 2 KiB URL and validators of kilobytes.
MAX_BATCH_JSON_BYTES = 40_000
_SCANNED = ("PartitionKey", "RowKey", "book", "url", "etag", "last_modified", "failures")
# A batch's claim and its transactions cost about as much CPU as a dozen fetches, whatever its
# size: a hundred sources (Table Storage's most in one transaction) spread that the furthest.
FETCH_BATCH = 100
# A slot's claim, kept scan pages and batch claims. Twin firings and redeliveries come within
# minutes; the pages hold every due source's fetch state, so they are not kept for long.
SLOT_RECORDS_KEPT = timedelta(hours=6)
PRUNED_PER_RUN = 8


def slot_for(schedule_status: dict[str, Any], now: datetime) -> str:
    """The schedule occurrence this run is for; a manual run (no schedule status) gets its own slot."""
    scheduled = (schedule_status or {}).get("Next")
    if scheduled:
        try:
            moment = datetime.fromisoformat(str(scheduled).replace("Z", "+00:00"))
            if moment.year > 1 and moment <= now.astimezone(moment.tzinfo) + timedelta(minutes=1):
                return utc_timestamp(moment.replace(microsecond=0))
        except ValueError:
            pass
    return "manual-" + utc_timestamp(now.replace(microsecond=0))


def start_refresh(storage: Storage, slot: str, now: datetime | None = None) -> list[str]:
    """Claim the slot (create-only); the winner starts the scan. A second firing gets nothing."""
    try:
        storage.create_blob(FEED_CONTAINER, f"slots/{slot}", b"", content_type="text/plain")
    except AlreadyExists:
        log.info("refresh slot %s was already claimed: nothing to do", slot)
        return []
    log.info("refresh slot %s claimed", slot)
    prune_old_slots(storage, now or datetime.now(UTC))
    return [ScanPage(slot).to_message()]


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


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:24]


def scan(storage: Storage, slot: str, continuation: dict[str, Any] | None, now: datetime) -> list[str]:
    """One page of due sources as fetch messages, and the next scan.

    The first answer for a page is kept: a scan delivered twice, even after some of its batches ran,
    answers the same batches, so each batch's claim still covers its sources exactly once.
    """
    page_id = _digest(continuation)
    page = f"scans/{slot}/{page_id}.json"
    messages = _scan_page(storage, slot, continuation, now, batch_prefix=page_id)
    try:
        # Create-only, then read only when it was there: a first delivery (nearly all of them)
        # makes one blob call, a twin one more, and both answer what was kept first. One message
        # a line: a message is JSON without a line break, and needs no second encoding.
        storage.create_blob(FEED_CONTAINER, page, "\n".join(messages).encode(), content_type="application/jsonl")
    except AlreadyExists:
        return kept_messages(storage.read_blob(FEED_CONTAINER, page))
    return messages


def kept_messages(page: bytes) -> list[str]:
    """A kept page's messages. Pages kept by earlier versions of the app (within a slot that a
    deployment interrupted) are one JSON array."""
    if page.startswith(b"["):
        return [str(message) for message in json.loads(page)]
    return page.decode().split("\n") if page else []


def fetch_batches(encoded: list[str]) -> list[list[str]]:
    """Pure: due sources in order (as `encoded_source` wrote them), cut into batches of
    FETCH_BATCH, or fewer when their message would pass MAX_BATCH_JSON_BYTES (a queue message has
    a size limit; a source's URL and validators have none so small)."""
    batches: list[list[str]] = []
    batch: list[str] = []
    size = 0
    for source in encoded:
        cost = len(source) + 1  # ASCII, and a comma
        if batch and (len(batch) == FETCH_BATCH or size + cost > MAX_BATCH_JSON_BYTES):
            batches.append(batch)
            batch, size = [], 0
        batch.append(source)
        size += cost
    if batch:
        batches.append(batch)
    return batches


def _scan_page(
    storage: Storage, slot: str, continuation: dict[str, Any] | None, now: datetime, batch_prefix: str
) -> list[str]:
    # OData datetimes here have whole seconds: round up, so a source due this very second is found.
    bound = (now + timedelta(seconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    odata = f"next_due le datetime'{bound}'"
    # Only what a fetch needs: the SDK reads every value it is sent, dates at some cost.
    entities, token = storage.query_page(FEED_TABLE, odata, SCAN_PAGE, continuation, select=list(_SCANNED))
    # Each source travels with what its fetch needs, and the row's ETag its new state is stored If-Match.
    # Sorted by row, so a batch holds few partitions and its states go out in few transactions.
    due: list[DueSource] = [
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
    ]
    due.sort(key=itemgetter("partition", "key"))
    messages = [
        fetch_message(slot, f"{batch_prefix}-{number}", batch)
        for number, batch in enumerate(fetch_batches([encoded_source(source) for source in due]))
    ]
    log.info("refresh %s: %d due sources on this page, %d fetch batches", slot, len(due), len(messages))
    if token:
        messages.append(ScanPage(slot, token).to_message())
    return messages


def forget_book_in_scans(storage: Storage, book_id: str) -> int:
    """Take an erased book's sources (its id, their rows and feed URLs) out of the kept scan pages
    of every slot still kept; returns how many pages changed. A twin delivery of a scan then
    answers the same batches without them: their fetches would find the rows gone anyway."""
    changed = 0
    for name in storage.list_blob_names(FEED_CONTAINER, "scans/"):
        while True:
            try:
                page, etag = storage.read_blob_with_etag(FEED_CONTAINER, name)
            except NotFound:
                break  # pruned meanwhile
            if book_id.encode() not in page:
                break
            kept = without_book(kept_messages(page), book_id)
            try:
                storage.put_blob_if(
                    FEED_CONTAINER, name, "\n".join(kept).encode(), etag=etag, content_type="application/jsonl"
                )
            except Conflict:
                continue  # another erasure rewrote it first: read it again
            except NotFound:
                break
            changed += 1
            break
    return changed


def without_book(messages: list[str], book_id: str) -> list[str]:
    """Pure: a page's messages with the book's sources taken out of its fetch batches (a batch
    left empty goes too); other messages stay as they are."""
    kept: list[str] = []
    for message in messages:
        parsed = parse_feed_message(message)
        if isinstance(parsed, FetchBatch) and book_id in message:
            sources = [source for source in parsed.sources if source["book"] != book_id]
            if sources:
                kept.append(FetchBatch(parsed.slot, parsed.batch, sources).to_message())
            continue
        kept.append(message)
    return kept
