"""A book's feed sources: one table row per feed, in SOURCE_SHARDS partitions (a hash of the book).

Most books follow one or two feeds, and a table transaction costs about the same for one entity as
for fifty, so sharding by book hash lets a fetch batch commit its states together instead of one
small transaction per book. A row holds the feed's URL, its fetch state (conditional-GET
validators, failures, when it is next due) and its latest items (shared/feeds/updates.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from shared.feeds.guard import BlockedURL, check_url
from shared.formats import utc_timestamp
from shared.storage import Storage
from shared.storage.names import FEED_TABLE

SOURCE_SHARDS = 16
MAX_FEEDS_PER_BOOK = 20


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
    if replace:
        for key in existing.keys() - wanted.keys():  # the feed's news goes with its row
            storage.delete_entity(FEED_TABLE, source_partition(book_id), key)


def public_source(properties: dict[str, Any]) -> dict[str, Any]:
    def moment(value: Any) -> str:
        return utc_timestamp(value) if isinstance(value, datetime) else str(value or "")

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
