"""Parsing feeds and planning fetch state: pure, no network, no storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.feeds.batch import next_state
from shared.feeds.fetch import FetchResult
from shared.feeds.parse import FeedError, merge_items, parse_feed
from shared.feeds.slots import slot_for
from tests.feeds.servers import ATOM, BILLION_LAUGHS, JSON_FEED, RSS

NOW = datetime(2026, 11, 21, 10, 7, tzinfo=UTC)


def test_rss_items_are_sanitised_plain_text() -> None:
    source, items = parse_feed(RSS, "https://example.com/rss")
    assert source == "Author News"
    launch = next(i for i in items if i.title == "Launch party")
    assert launch.summary == "Come along"  # tags gone, script content dropped, no onerror
    assert launch.link == "https://example.com/launch"
    assert launch.published == "2026-11-20T10:00:00Z"
    assert next(i for i in items if i.title == "Sneaky").link == ""  # javascript: links dropped


def test_atom_and_json_feed() -> None:
    source, items = parse_feed(ATOM, "https://example.com/atom")
    assert source == "Atom Notes" and items[0].title == "Tour dates" and items[0].summary == "Three cities"
    source, items = parse_feed(JSON_FEED, "https://example.com/json")
    assert source == "JSON Updates"
    assert (items[0].title, items[0].summary, items[0].published) == (
        "Signed copies",
        "Ask here",
        "2026-11-21T10:00:00Z",
    )


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, b"<html><body>nope</body></html>", b'{"no": "version"}', b"{broken", b"plain words"],
)
def test_non_feeds_and_xml_bombs_are_refused(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, "https://example.com/x")


def test_merge_dedupes_by_guid_and_link_and_keeps_the_newest() -> None:
    rss = [i.to_dict() for i in parse_feed(RSS, "https://a/rss")[1]]
    atom = [i.to_dict() for i in parse_feed(ATOM, "https://a/atom")[1]]
    merged = merge_items([rss, rss, atom], limit=10)
    titles = [i["title"] for i in merged]
    assert titles.count("Launch party") == 1  # the same feed twice
    assert len([t for t in titles if t.startswith("Errata")]) == 1  # the same link in two feeds
    assert titles[0] == "Tour dates"  # newest first
    assert len(merge_items([rss, atom], limit=2)) == 2


def test_back_off_grows_and_retry_after_is_respected() -> None:
    source = {"url": "u", "failures": 0}
    failed = FetchResult(url="u", status="error", error="boom")
    states: list[dict[str, Any]] = [source]
    for _ in range(4):
        states.append(next_state(states[-1], failed, NOW, 900))
    delays = [s["next_due"] - NOW for s in states[1:]]
    assert delays == [timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=60), timedelta(minutes=120)]
    assert states[-1]["failures"] == 4
    ok = next_state(states[-1], FetchResult(url="u", status="ok", etag='"e"', last_modified="lm"), NOW, 900)
    assert (ok["failures"], ok["etag"], ok["last_modified"], ok["next_due"]) == (
        0,
        '"e"',
        "lm",
        NOW + timedelta(minutes=15),
    )
    busy = next_state(source, FetchResult(url="u", status="error", retry_after=7200.0, error="429"), NOW, 900)
    assert busy["next_due"] == NOW + timedelta(hours=2)


def test_slot_is_the_scheduled_occurrence_or_a_manual_one() -> None:
    assert slot_for({"Next": "2026-11-21T10:00:00+00:00"}, NOW) == "2026-11-21T10:00:00Z"
    assert slot_for({}, NOW) == "manual-2026-11-21T10:07:00Z"
    assert slot_for({"Next": "2026-11-21T10:15:00+00:00"}, NOW).startswith("manual-")  # not yet due: manual
