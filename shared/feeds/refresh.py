"""The feed refresher: the timer and the feeds queue's two kinds of message.

    shared/feeds/sources.py   a book's feeds and their fetch state (table rows)
    shared/feeds/slots.py     timer → slot claim → scan pages → fetch batches
    shared/feeds/messages.py  the two messages, typed: ScanPage and FetchBatch
    shared/feeds/batch.py     one batch: claim, fetch, record states with their items
    shared/feeds/updates.py   a book's news, merged from its source rows on reading

    timer  → claim the schedule slot (create-only blob; a second firing for it does nothing)
           → one `scan` message
    scan   → one page of due sources → `fetch` messages of FETCH_BATCH sources each (with what the
             fetch needs and the row's ETag), and the next scan. The page's messages are kept, so a
             scan delivered twice answers the same batches.
    fetch  → claim the batch (create-only blob), fetch its sources all at once over the shared
             client, record each source's state and fresh items (If-Match the scanned ETag, a
             batch's states of one partition in one transaction)

Sources are kept in SOURCE_SHARDS partitions (a hash of the book), not one partition per book:
most books follow one or two feeds, and a table transaction costs about the same for one entity
as for fifty, so a batch's states are committed together instead of one small transaction per book.

So each source is fetched at most once per slot, whatever is delivered twice. A batch whose worker
died after claiming it is not fetched again in that slot: its sources are still due, and the next
slot takes them. No single invocation does unbounded work, however many sources there are.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import telemetry
from shared.feeds.batch import fetch_batch
from shared.feeds.messages import FetchBatch, ScanPage, parse_feed_message
from shared.feeds.slots import scan, slot_for, start_refresh
from shared.settings import Settings
from shared.storage import Storage

if TYPE_CHECKING:
    from shared.storage.aio import AsyncStorage


@dataclass(frozen=True)
class FeedRefresher:
    """What fetch batches share in a process: the feed client and the asyncio storage, both made
    on the event loop the batches run on."""

    client: Any  # aiohttp.ClientSession (shared/feeds/fetch.py)
    storage: AsyncStorage

    async def close(self) -> None:
        await self.client.close()
        await self.storage.close()


async def handle_queue_message(
    storage: Storage, settings: Settings, refresher: FeedRefresher, body: bytes
) -> list[str]:
    """One message on the feeds queue: a scan page (returns the messages to send) or a fetch batch,
    each a span of the slot's trace. A scan is one blocking query in a thread; a batch runs on the
    refresher's asyncio storage and client."""
    now = datetime.now(UTC)
    message = parse_feed_message(body)
    parent = telemetry.message_traceparent(body)
    if isinstance(message, ScanPage):
        with telemetry.span("refresh scan", parent=parent, kind="consumer", slot=message.slot):
            scanned = await asyncio.to_thread(scan, storage, message.slot, message.continuation, now)
            return telemetry.all_stamped(scanned)
    if isinstance(message, FetchBatch):
        with telemetry.span(
            "refresh batch",
            parent=parent,
            kind="consumer",
            slot=message.slot,
            batch=message.batch,
            sources=len(message.sources),
        ):
            await fetch_batch(refresher.storage, refresher.client, message, settings, now)
    return []


def start_from_timer(storage: Storage, schedule_status: dict[str, Any]) -> list[str]:
    slot = slot_for(schedule_status, datetime.now(UTC))
    with telemetry.span("refresh slot", kind="producer", slot=slot):
        return telemetry.all_stamped(start_refresh(storage, slot))
