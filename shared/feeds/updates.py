"""A book's news: updates.json beside its web-app book, the merged items of the feeds it follows.

`merged_news` is the pure part; `rebuild_updates` (blocking storage, for the author's changes) and
`rebuild_updates_async` (the refresher's asyncio storage) read, merge and write conditionally,
retrying when another writer got there first. A merge that changes no item writes nothing, so a
refresh whose feeds brought nothing new costs one read; "updated" says when the items last changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.feeds.parse import merge_items
from shared.formats import utc_timestamp
from shared.settings import BOOK_CONTAINER
from shared.storage import Conflict, NotFound, Storage

if TYPE_CHECKING:
    from shared.storage.aio import AsyncStorage

# Writers of one book's updates.json race only when batches of the same slot hold its feeds.
MAX_WRITE_ATTEMPTS = 20


def updates_blob(book_id: str) -> str:
    return f"{book_id}/updates.json"


def merged_news(
    current: bytes | None,
    fresh: dict[str, list[dict[str, Any]]],
    keep_feeds: set[str] | None,
    limit: int,
    now: datetime,
) -> bytes | None:
    """Pure: the new updates.json, each fetched feed's items replacing its older ones and the items
    of feeds not in `keep_feeds` dropped; None when the items would not change (nor need a file)."""
    items_now = json.loads(current).get("items", []) if current is not None else []
    kept = [
        item
        for item in items_now
        if item.get("feed") not in fresh and (keep_feeds is None or item.get("feed") in keep_feeds)
    ]
    items = merge_items([kept, *fresh.values()], limit)
    if current is not None and items == items_now:
        return None
    news = {"updated": utc_timestamp(now), "items": items}
    return json.dumps(news, ensure_ascii=False, separators=(",", ":")).encode()  # compact: the C encoder


def rebuild_updates(
    storage: Storage,
    book_id: str,
    limit: int,
    now: datetime,
    fresh: dict[str, list[dict[str, Any]]] | None = None,
    keep_feeds: set[str] | None = None,
) -> None:
    """Merge fresh items into updates.json, dropping the items of feeds not in `keep_feeds`."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            current, etag = storage.read_blob_with_etag(BOOK_CONTAINER, updates_blob(book_id))
        except NotFound:
            current, etag = None, None
        body = merged_news(current, fresh or {}, keep_feeds, limit, now)
        if body is None:
            return
        try:
            storage.put_blob_if(BOOK_CONTAINER, updates_blob(book_id), body, etag=etag, content_type="application/json")
            return
        except Conflict:
            continue
    raise Conflict(f"updates.json of {book_id}: too many concurrent writers")


async def rebuild_updates_async(
    storage: AsyncStorage,
    book_id: str,
    limit: int,
    now: datetime,
    fresh: dict[str, list[dict[str, Any]]],
    keep_feeds: set[str] | None = None,
) -> None:
    """`rebuild_updates` on the refresher's asyncio storage."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        try:
            current, etag = await storage.read_blob_with_etag(BOOK_CONTAINER, updates_blob(book_id))
        except NotFound:
            current, etag = None, None
        body = merged_news(current, fresh, keep_feeds, limit, now)
        if body is None:
            return
        try:
            await storage.put_blob_if(
                BOOK_CONTAINER, updates_blob(book_id), body, etag=etag, content_type="application/json"
            )
            return
        except Conflict:
            continue
    raise Conflict(f"updates.json of {book_id}: too many concurrent writers")
