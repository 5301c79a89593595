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


def test_fetch_batches_keep_their_messages_under_the_queues_limit() -> None:
    """A full batch of sources with long URLs and validators would pass 64 KiB as a base64 queue message:
    they are cut into smaller batches, in order, none lost."""
    import base64

    from shared.feeds.slots import FETCH_BATCH, fetch_batches

    small = [{**SOURCE, "key": f"k{i:03d}"} for i in range(2 * FETCH_BATCH + 20)]
    assert [len(b) for b in fetch_batches(small)] == [FETCH_BATCH, FETCH_BATCH, 20]  # type: ignore[arg-type]
    big = [{**SOURCE, "key": f"k{i:03d}", "url": "https://example.com/" + "a" * 2000, "etag": '"' + "e" * 1500 + '"'}
           for i in range(2 * FETCH_BATCH + 20)]  # fmt: skip
    batches = fetch_batches(big)  # type: ignore[arg-type]
    assert [s["key"] for b in batches for s in b] == [s["key"] for s in big]
    for batch in batches:
        message = FetchBatch("slot", "page-0", batch).to_message().encode()
        assert len(base64.b64encode(message)) <= 64 * 1024
