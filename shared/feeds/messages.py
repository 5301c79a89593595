"""The feeds queue's two messages, as types: scan one page of due sources, or fetch one batch.

Both are JSON objects with a version, so a message from an older or newer app is recognised and
dropped, not misread. A fetch batch carries what each fetch needs (the conditional-GET validators,
the failures so far) and the ETag of the source's row as scanned, which its new state is stored
If-Match (so an author's change made meanwhile wins).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict

MESSAGE_VERSION = 3
_SOURCE_FIELDS = ("book", "partition", "key", "row_etag", "url")


class DueSource(TypedDict):
    book: str
    partition: str  # the source row's PartitionKey and RowKey
    key: str
    row_etag: str
    url: str
    etag: str
    last_modified: str
    failures: int


@dataclass(frozen=True)
class ScanPage:
    slot: str
    continuation: dict[str, Any] | None = None  # the table query's token for this page; None: the first

    def to_message(self) -> str:
        return json.dumps({"v": MESSAGE_VERSION, "kind": "scan", "slot": self.slot, "continuation": self.continuation})


@dataclass(frozen=True)
class FetchBatch:
    slot: str
    batch: str  # unique within the slot: its claim's name
    sources: list[DueSource]

    def to_message(self) -> str:
        return json.dumps(
            {"v": MESSAGE_VERSION, "kind": "fetch", "slot": self.slot, "batch": self.batch, "sources": self.sources}
        )


def parse_feed_message(body: bytes | str) -> ScanPage | FetchBatch | None:
    """The message, or None for one this app does not know (malformed, another version)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION or not isinstance(data.get("slot"), str):
        return None
    if data.get("kind") == "scan":
        continuation = data.get("continuation")
        return ScanPage(data["slot"], continuation if isinstance(continuation, dict) else None)
    if data.get("kind") == "fetch" and isinstance(data.get("batch"), str):
        sources: list[DueSource] = [
            {
                "book": str(s["book"]),
                "partition": str(s["partition"]),
                "key": str(s["key"]),
                "row_etag": str(s["row_etag"]),
                "url": str(s["url"]),
                "etag": str(s.get("etag", "")),
                "last_modified": str(s.get("last_modified", "")),
                "failures": int(s.get("failures", 0)),
            }
            for s in data.get("sources", [])
            if isinstance(s, dict) and all(isinstance(s.get(name), str) for name in _SOURCE_FIELDS)
        ]
        return FetchBatch(data["slot"], data["batch"], sources)
    return None
