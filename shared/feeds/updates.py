"""A book's news: updates.json beside its web-app book, the merged items of the feeds it follows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.feeds.parse import merge_items
from shared.formats import utc_timestamp
from shared.settings import BOOK_CONTAINER
from shared.storage import Conflict, NotFound, Storage

# Writers of one book's updates.json race only when batches of the same slot hold its feeds.
MAX_WRITE_ATTEMPTS = 20


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
    for _ in range(MAX_WRITE_ATTEMPTS):
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
        body = json.dumps({"updated": utc_timestamp(now), "items": items}, ensure_ascii=False, indent=1)
        try:
            storage.put_blob_if(
                BOOK_CONTAINER, updates_blob(book_id), body.encode(), etag=etag, content_type="application/json"
            )
            return
        except Conflict:
            continue
    raise Conflict(f"updates.json of {book_id}: too many concurrent writers")
