"""Parsing feeds and planning fetch state: pure, no network, no storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.feeds.batch import next_state
from shared.feeds.fetch import FetchResult
from shared.feeds.parse import FeedError, _items, merge_items, parse_feed
from shared.feeds.slots import slot_for
from tests.feeds.servers import ATOM, BILLION_LAUGHS, JSON_FEED, RSS

NOW = datetime(2026, 11, 21, 10, 7, tzinfo=UTC)


def test_rss_items_are_sanitised_plain_text() -> None:
    source, items = parse_feed(RSS, "https://example.com/rss")
    assert source == "Author News"
    launch = next(i for i in items if i["title"] == "Launch party")
    assert launch["summary"] == "Come along"  # tags gone, script content dropped, no onerror
    assert launch["link"] == "https://example.com/launch"
    assert launch["published"] == "2026-11-20T10:00:00Z"
    assert next(i for i in items if i["title"] == "Sneaky")["link"] == ""  # javascript: links dropped


def test_atom_and_json_feed() -> None:
    source, items = parse_feed(ATOM, "https://example.com/atom")
    assert source == "Atom Notes" and items[0]["title"] == "Tour dates" and items[0]["summary"] == "Three cities"
    source, items = parse_feed(JSON_FEED, "https://example.com/json")
    assert source == "JSON Updates"
    assert (items[0]["title"], items[0]["summary"], items[0]["published"]) == (
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
    rss = parse_feed(RSS, "https://a/rss")[1]
    atom = parse_feed(ATOM, "https://a/atom")[1]
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


CORPUS = sorted((Path(__file__).parent / "corpus").iterdir())
# feedparser-rs resolves a relative item link against the channel's; feedparser (without
# resolve_relative_uris) left it relative, so Quire dropped it. The only intended difference.
RESOLVED_LINKS = {"rss20-content.xml": {"Relative link": "https://journal.example.com/ch3"}}


@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_the_corpus_reads_as_feedparser_read_it(path: Path) -> None:
    """Every version, encoding fault and HTML title of the corpus gives the items feedparser gave:
    the same titles, links, dates and sanitised text."""
    import feedparser

    body = path.read_bytes()
    expected_source, expected = _items(
        feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False), "https://example.com/feed"
    )
    source, items = parse_feed(body, "https://example.com/feed")
    resolved = RESOLVED_LINKS.get(path.name, {})
    expected = [{**item, "link": resolved.get(item["title"], item["link"])} for item in expected]
    assert (source, items) == (expected_source, expected)
    assert items and all(item["title"] or item["summary"] for item in items)


@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_the_corpus_items_match_feedparsers_own_fields(path: Path) -> None:
    """An oracle that runs none of Quire's code: feedparser's entries, field by field, against the
    items Quire reads (so a fault in the mapping both sides of the test above share is seen)."""
    import feedparser

    body = path.read_bytes()
    entries = [
        e
        for e in feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False).entries
        if e.get("id") or e.get("link") or e.get("title")
    ][:100]
    _, items = parse_feed(body, "https://example.com/feed")
    assert entries and len(items) == len(entries)
    resolved = RESOLVED_LINKS.get(path.name, {})
    for item, entry in zip(items, entries, strict=True):
        link = entry.get("link") or ""
        expected_link = link if link.lower().startswith(("http://", "https://")) else ""
        assert item["link"] == resolved.get(item["title"], expected_link), (item, link)
        moment = entry.get("published_parsed") or entry.get("updated_parsed")
        expected_date = datetime(*moment[:6]).replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if moment else ""
        assert item["published"] == expected_date, (item, moment)
        title = entry.get("title") or ""
        if (entry.get("title_detail") or {}).get("type") == "text/plain" and "&" not in title and "<" not in title:
            assert item["title"] == " ".join(title.split())
        assert "<" not in item["title"] and "<" not in item["summary"]


def test_encoding_faults_and_html_titles_read_as_text() -> None:
    corpus = {path.name: parse_feed(path.read_bytes(), "https://example.com/feed") for path in CORPUS}
    assert corpus["broken-latin1-declared-utf8.xml"][1][0]["title"] == "Crème brûlée night"
    assert corpus["windows-1252.xml"][0] == "Smart “quotes” – dashes"
    assert corpus["utf16-bom.xml"][1][0]["title"] == "新刊 — new book"
    assert corpus["atom10-html-titles.xml"][0] == "Notes & Queries"
    assert [i["title"] for i in corpus["atom10-html-titles.xml"][1]][:2] == ["Bold news & more", "An xhtml title"]
    assert corpus["rss091.xml"][1][0]["summary"] == "Blossoms & a new chapter"
    journal = corpus["rss20-content.xml"][1]
    assert journal[0]["summary"] == "Long form text with a script."  # the script's text is gone
    assert journal[0]["published"] == "2026-11-02T17:45:00Z"  # +0100 made UTC
    assert corpus["malformed-ampersand.xml"][1][0]["title"] == "Fish & chips"  # the loose parser's reading


PLAIN_TEXT = [
    ("<p>Come <b>along</b><script>alert(1)</script><img src=x onerror=alert(2)></p>", "Come along"),
    ("a &amp; b <i>c</i>", "a & b c"),
    ("<p>a</p><p>b</p>", "ab"),
    ("x<br>y", "xy"),
    ("<!-- c -->t", "t"),
    ("<svg><text>hid</text></svg>vis", "vis"),
    ("<style>p{}</style>s", "s"),
    ("&lt;not a tag&gt; <b>x", "<not a tag> x"),
    ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ("<a href='javascript:x'>l</a>", "l"),
    ("<math><mi>x</mi></math> m", "m"),
    ("<p>&nbsp;sp&#160;ace</p>", "sp ace"),
    ("<textarea><b>t</b></textarea>", "<b>t</b>"),
    ("<title>tt</title>body", "ttbody"),
    ("<noscript><p>n</p></noscript>q", "q"),
    ("<plaintext>p<b>q", "p<b>q"),
    ("<![CDATA[x]]>y", "y"),
    ("a<b", "a"),
    ("<iframe src=x>in</iframe>after", "after"),
    ("<ul><li>one<li>two</ul>", "onetwo"),
    ("<img alt='alt text'>", ""),
    ("no tags &amp; kept as written", "no tags &amp; kept as written"),
]


@pytest.mark.parametrize(("markup", "text"), PLAIN_TEXT)
def test_plain_text_is_the_sanitised_fragments_text(markup: str, text: str) -> None:
    """What lxml's text_content() of the sanitised fragment gave (the expectations were taken from
    it), now from the sanitiser's own parse: scripts, styles and drawings say nothing."""
    from shared.book.sanitize import plain_text

    assert plain_text(markup) == text


def test_an_item_holds_every_field() -> None:
    from shared.feeds.parse import FeedItem

    for body in (RSS, ATOM, JSON_FEED):
        for item in parse_feed(body, "https://example.com/feed")[1]:
            assert set(item) == set(FeedItem.__annotations__)


def test_a_feeds_stored_items_fit_a_table_property_keeping_the_newest() -> None:
    from shared.feeds.updates import MAX_STORED_NEWS_CHARS, stored_items

    items = [
        {"key": f"k{i:03d}", "title": "é" * 300, "link": f"https://example.com/{i}", "summary": "ü" * 1000,
         "published": f"2026-11-{1 + i % 28:02d}T00:00:{i % 60:02d}Z", "source": "s"}
        for i in range(100)
    ]  # fmt: skip
    stored = stored_items(items, 50)
    kept = json.loads(stored)
    assert len(stored) <= MAX_STORED_NEWS_CHARS and stored.isascii()  # its length is its UTF-16 size
    assert 0 < len(kept) < 50
    newest = sorted(items, key=lambda i: (i["published"], i["key"]), reverse=True)
    assert [i["key"] for i in kept] == [i["key"] for i in newest[: len(kept)]]
    assert json.loads(stored_items(items[:3], 50)) == merge_items([items[:3]], 50)


def test_a_books_news_merges_its_rows_and_its_etag_follows_the_content() -> None:
    from shared.feeds.updates import book_news, stored_items

    rss = parse_feed(RSS, "https://a/rss")[1]
    atom = parse_feed(ATOM, "https://a/atom")[1]
    rows: list[dict[str, Any]] = [
        {"items": stored_items(rss, 50), "last_success": NOW},
        {"items": stored_items(atom, 50), "last_success": NOW - timedelta(hours=1)},
        {"items": "{not json"},  # a damaged row shows nothing, and hides nothing else
        {"last_status": "new"},  # never fetched
    ]
    body, etag = book_news(rows, 10)
    news = json.loads(body)
    assert news["updated"] == "2026-11-21T10:07:00Z"
    assert [i["title"] for i in news["items"]][:1] == ["Tour dates"]
    assert len([i for i in news["items"] if i["title"].startswith("Errata")]) == 1  # one link, once
    assert book_news(rows, 10) == (body, etag)
    assert book_news(rows[:1], 10)[1] != etag
    assert json.loads(book_news([], 10)[0]) == {"updated": None, "items": []}
