"""The feeds queue's messages: what goes out comes back the same; anything else is recognised as
not ours and dropped, never misread."""

from __future__ import annotations

import json

import pytest

from shared.feeds.messages import (
    DueSource,
    FetchBatch,
    ScanPage,
    encoded_source,
    fetch_message,
    parse_feed_message,
)

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

    small = [encoded_source({**SOURCE, "key": f"k{i:03d}"}) for i in range(2 * FETCH_BATCH + 20)]
    assert [len(b) for b in fetch_batches(small)] == [FETCH_BATCH, FETCH_BATCH, 20]
    big: list[DueSource] = [
        {**SOURCE, "key": f"k{i:03d}", "url": "https://example.com/" + "a" * 2000, "etag": '"' + "é" * 1500 + '"'}
        for i in range(2 * FETCH_BATCH + 20)
    ]
    batches = fetch_batches([encoded_source(source) for source in big])
    assert len(batches) > 3
    sent = [parse_feed_message(fetch_message("slot", f"page-{n}", batch)) for n, batch in enumerate(batches)]
    assert [s for batch in sent if isinstance(batch, FetchBatch) for s in batch.sources] == big
    for batch in batches:
        message = fetch_message("slot", "page-0", batch).encode()
        assert len(base64.b64encode(message)) <= 64 * 1024


def test_a_batch_written_from_encoded_sources_is_the_batchs_message() -> None:
    batch = FetchBatch("2026-12-01T10:15:00Z", "p-3", [SOURCE, {**SOURCE, "key": "other", "url": "http://x/é"}])
    message = fetch_message(batch.slot, batch.batch, [encoded_source(s) for s in batch.sources])
    assert json.loads(message) == json.loads(json.dumps(
        {"v": 3, "kind": "fetch", "slot": batch.slot, "batch": batch.batch, "sources": batch.sources}
    ))  # fmt: skip
    assert message.isascii() and "\n" not in message  # a kept page holds one message a line
    assert parse_feed_message(message) == batch


def test_a_source_with_fields_of_the_wrong_kind_is_dropped() -> None:
    for field, value in (("url", 3), ("book", None), ("failures", "2"), ("row_etag", ["x"])):
        body = json.dumps({"v": 3, "kind": "fetch", "slot": "s", "batch": "0", "sources": [{**SOURCE, field: value}]})
        batch = parse_feed_message(body)
        assert isinstance(batch, FetchBatch) and batch.sources == [], field
    body = json.dumps({"v": 3, "kind": "fetch", "slot": "s", "batch": "0", "sources": {"not": "a list"}})
    assert parse_feed_message(body) == FetchBatch("s", "0", [])


def test_a_kept_scan_page_reads_back_its_messages_in_either_form() -> None:
    from shared.feeds.slots import kept_messages

    messages = [FetchBatch("s", "p-0", [SOURCE]).to_message(), ScanPage("s", {"NextPartitionKey": "x"}).to_message()]
    assert kept_messages("\n".join(messages).encode()) == messages
    assert kept_messages(json.dumps(messages).encode()) == messages  # as kept before pages were lines
    assert kept_messages(b"") == []  # a page with no due sources and no next page
