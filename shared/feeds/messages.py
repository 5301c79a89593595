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
# One encoder for every message (json.dumps with options builds one per call). ASCII: a message's
# length is its size in bytes.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


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
        return _ENCODER.encode(
            {"v": MESSAGE_VERSION, "kind": "scan", "slot": self.slot, "continuation": self.continuation}
        )


@dataclass(frozen=True)
class FetchBatch:
    slot: str
    batch: str  # unique within the slot: its claim's name
    sources: list[DueSource]

    def to_message(self) -> str:
        return fetch_message(self.slot, self.batch, [encoded_source(source) for source in self.sources])


def encoded_source(source: DueSource) -> str:
    """A source as a fetch message carries it: a scan encodes each source once, to size its batch
    and to write it (`fetch_message`)."""
    return _ENCODER.encode(source)


def fetch_message(slot: str, batch: str, encoded_sources: list[str]) -> str:
    """A fetch batch's message from its sources as `encoded_source` wrote them."""
    head = _ENCODER.encode({"v": MESSAGE_VERSION, "kind": "fetch", "slot": slot, "batch": batch})
    return f'{head[:-1]},"sources":[{",".join(encoded_sources)}]}}'


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
        sources = data.get("sources")
        due = [source for source in map(_due_source, sources if isinstance(sources, list) else []) if source]
        return FetchBatch(data["slot"], data["batch"], due)
    return None


def _due_source(value: Any) -> DueSource | None:
    """A message's source, or None for one it cannot fetch and record."""
    if not isinstance(value, dict):
        return None
    etag, last_modified, failures = value.get("etag", ""), value.get("last_modified", ""), value.get("failures", 0)
    if {type(value.get(name)) for name in _SOURCE_FIELDS} != {str} or type(failures) is not int:
        return None
    return {
        "book": value["book"],
        "partition": value["partition"],
        "key": value["key"],
        "row_etag": value["row_etag"],
        "url": value["url"],
        "etag": etag if type(etag) is str else str(etag),
        "last_modified": last_modified if type(last_modified) is str else str(last_modified),
        "failures": failures,
    }
