"""The feed refresher: the timer and the feeds queue's two kinds of message.

    shared/feeds/sources.py   a book's feeds and their fetch state (table rows)
    shared/feeds/slots.py     timer → slot claim → scan pages → fetch batches
    shared/feeds/batch.py     one batch: claim, fetch, record states, merge items
    shared/feeds/updates.py   each book's updates.json

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
import json
from datetime import UTC, datetime
from typing import Any

from shared.feeds.batch import fetch_batch
from shared.feeds.slots import MESSAGE_VERSION, scan, slot_for, start_refresh
from shared.settings import Settings
from shared.storage import Storage


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
