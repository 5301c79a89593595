"""A book's news: the newest items of the feeds it follows, kept in the feeds' own source rows.

Each source row holds its feed's latest items (`items`, JSON), written in the same If-Match
transaction as the row's fetch state. So a refresh adds no storage call of its own for the news,
an author's change to a feed (or the erasure of the book) takes the feed's items with it, and
nothing can write news for a feed the book no longer follows. `GET /api/books/{id}/updates`
merges the rows' items on reading (one query of one partition's key range). Pure: no I/O here.

Books refreshed before the news moved into the rows kept it in `{book}/updates.json` beside the
web-app book; erasure still removes that blob.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.feeds.parse import merge_items
from shared.formats import utc_timestamp

NEWS_PROPERTY = "items"
# A table string property holds 64 KiB of UTF-16: 32,768 units. The JSON is kept ASCII (other
# characters escaped), so its length is its size in those units.
MAX_STORED_NEWS_CHARS = 32_000


def updates_blob(book_id: str) -> str:
    """Where news was kept before it moved into the source rows (erasure removes it)."""
    return f"{book_id}/updates.json"


# One encoder for every feed's items (json.dumps with options builds one per call); ASCII only.
_ITEMS_ENCODER = json.JSONEncoder(separators=(",", ":"))


def stored_items(items: Sequence[Mapping[str, Any]], limit: int) -> str:
    """A feed's items as its row keeps them: the newest `limit`, each once, as many as fit."""
    kept = merge_items([items], limit)
    while True:
        stored = _ITEMS_ENCODER.encode(kept)
        if len(stored) <= MAX_STORED_NEWS_CHARS or not kept:
            return stored
        kept = kept[: len(kept) * 3 // 4]  # the oldest go first


def _row_items(row: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        items = json.loads(row.get(NEWS_PROPERTY) or "[]")
    except ValueError:
        return []
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("key"), str)]


def book_news(rows: list[dict[str, Any]], limit: int) -> tuple[bytes, str]:
    """(updates.json, its ETag) from a book's source rows: the newest `limit` items across its
    feeds, each once; "updated" is when a feed of the book was last read."""
    items = merge_items([_row_items(row) for row in rows], limit)
    read = [row["last_success"] for row in rows if isinstance(row.get("last_success"), datetime)]
    news = {"updated": utc_timestamp(max(read)) if read else None, "items": items}
    body = (json.dumps(news, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
