"""The feeds queue's messages: what goes out comes back the same; anything else is recognised as
not ours and dropped, never misread."""

from __future__ import annotations

import json

import pytest

from shared.feeds.messages import DueSource, FetchBatch, ScanPage, parse_feed_message

SOURCE: DueSource = {
    "book": "b" * 22,
    "partition": "s03",
    "key": f"{'b' * 22}:abc",
    "row_etag": 'W/"1"',
    "url": "https://example.com/feed.xml",
    "etag": '"v1"',
    "last_modified": "",
    "failures": 2,
}


def test_both_messages_survive_the_queue() -> None:
    for message in (
        ScanPage("2026-12-01T10:15:00Z"),
        ScanPage("s", {"NextRowKey": "x"}),
        FetchBatch("s", "p-0", [SOURCE]),
    ):
        assert parse_feed_message(message.to_message()) == message
        assert parse_feed_message(message.to_message().encode()) == message


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"v": 2, "kind": "scan", "slot": "s"}),
        json.dumps({"v": 3, "kind": "scan"}),
        json.dumps({"v": 3, "kind": "fetch", "slot": "s"}),
        json.dumps({"v": 3, "kind": "delete", "slot": "s"}),
    ],
)
def test_a_message_that_is_not_ours_is_none(body: str | bytes) -> None:
    assert parse_feed_message(body) is None


def test_a_batch_keeps_only_sources_it_can_fetch_and_record() -> None:
    broken = {key: value for key, value in SOURCE.items() if key != "row_etag"}
    minimal = {key: SOURCE[key] for key in ("book", "partition", "key", "row_etag", "url")}  # type: ignore[literal-required]
    body = json.dumps({"v": 3, "kind": "fetch", "slot": "s", "batch": "0", "sources": [broken, minimal, "x"]})
    batch = parse_feed_message(body)
    assert isinstance(batch, FetchBatch)
    assert batch.sources == [{**minimal, "etag": "", "last_modified": "", "failures": 0}]
