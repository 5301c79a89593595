"""Feed items from RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed bytes. Pure: bytes in, items out.

XML feeds are read by feedparser-rs (feedparser's API, about twenty times faster), and a document
it cannot read at all (unescaped ampersands, unclosed tags) is given to feedparser's forgiving
parser, so Quire still accepts what it accepted before. A body that claims UTF-8 but is not (a
common fault of hand-made feeds) is read as Windows-1252, as feedparser reads it.

Text goes through the books' sanitiser and is kept as plain text (the web-app book shows it with
textContent). XML with a DTD or entity declarations is refused before any parser sees it: the
expat here predates its billion-laughs hardening, and feeds never need a DTD.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict

from shared.book.sanitize import plain_text

MAX_ITEMS_PER_FEED = 100
MAX_TITLE = 300
MAX_SUMMARY = 1000


class FeedError(ValueError):
    """The body is not a feed Quire can read."""


class FeedItem(TypedDict):
    """One item as the news keeps it (a plain dict: a feed's items go straight into JSON)."""

    key: str  # the feed's URL and the item's guid (or link), hashed: the deduplication key
    title: str
    link: str
    published: str  # ISO 8601 UTC, or ""
    summary: str
    source: str  # the feed's title


def _text(value: str, limit: int, is_html: bool = True) -> str:
    """Plain text of a feed field (HTML unless `is_html` says otherwise)."""
    if "<" in value:
        text = plain_text(value)
    elif "&" in value and is_html:
        text = " ".join(html.unescape(value).split())  # HTML with no tags: only its references to read
    else:
        text = " ".join(value.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _type_matters(value: str) -> bool:
    """Whether a field's type changes its text: only for references with no tags (asking the
    parser for a field's type costs more than the rest of its reading)."""
    return "&" in value and "<" not in value


def _is_html(detail: Any) -> bool:
    """Whether a feed field's value is HTML (feedparser gives its type in a dict, feedparser-rs in
    an object); a field without a type is HTML, as feed text mostly is."""
    kind = detail.get("type") if isinstance(detail, dict) else getattr(detail, "type", None)
    return not kind or "html" in str(kind)


_JSON_START = re.compile(rb"\s*[{\[]")  # where lstrip() would copy the whole body first
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DECLARATIONS = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _readable_utf8(body: bytes) -> bytes:
    """A body that is (or claims by default to be) UTF-8 but is not, re-encoded from Windows-1252
    (Latin-1 for the five bytes Windows-1252 leaves undefined). Other bodies are left as they are."""
    if body.isascii():  # most feeds: ASCII is UTF-8 (and every BOM has a byte past ASCII)
        return body
    if body.startswith(_WIDE_BOMS):
        return body
    declared = _DECLARED_ENCODING.match(body, 0, 256)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return body  # the parser decodes a declared encoding itself
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    try:
        text = body.decode("cp1252")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    return text.encode("utf-8")


def _parsed(body: bytes) -> Any:
    import feedparser_rs

    # Unsanitised: every text is reduced to plain text by the books' sanitiser (`_text`), and
    # feedparser-rs's own HTML sanitising cost more than its parse. Bytes, never a str: a str
    # that looks like a URL is fetched by feedparser-rs.
    parsed = feedparser_rs.parse(_readable_utf8(body), sanitize_html=False)
    if parsed.bozo and not parsed.entries:
        import feedparser  # the loose parser: slower, and needed only for broken documents

        parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    return parsed


def _safe_link(link: str) -> str:
    return link if link and link[:8].lower().startswith(("http://", "https://")) else ""


def _utc_iso(moment: Any) -> str:
    """ISO 8601 UTC of a parsed date (both parsers give a UTC struct_time)."""
    if moment[0] >= 1000:  # strftime pads no year below 1000
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)
    year, month, day, hour, minute, second = moment[:6]
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def _key(feed_url: str, ident: str) -> str:
    return hashlib.sha256(f"{feed_url}\n{ident}".encode()).hexdigest()[:24]


def parse_feed(body: bytes, feed_url: str) -> tuple[str, list[FeedItem]]:
    """(feed title, items) from a feed body; raises FeedError for something that is not a feed."""
    if _JSON_START.match(body):
        return _json_feed(body, feed_url)
    if _DECLARATIONS.search(body, 0, 65536):
        raise FeedError("the feed declares a DTD or entities, which feeds never need")
    return _items(_parsed(body), feed_url)


def _items(parsed: Any, feed_url: str) -> tuple[str, list[FeedItem]]:
    """(feed title, items) from a parse result with feedparser's shape (feedparser's or feedparser-rs's)."""
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"not a readable RSS or Atom feed ({type(parsed.bozo_exception).__name__})")
    if not parsed.version and not parsed.entries:
        raise FeedError("not an RSS, Atom or JSON feed")
    feed = parsed.feed
    title = feed.get("title") or ""
    source = _text(title, MAX_TITLE, _type_matters(title) and _is_html(feed.get("title_detail")))
    items: list[FeedItem] = []
    for entry in parsed.entries[:MAX_ITEMS_PER_FEED]:
        get = entry.get
        link = _safe_link(get("link") or "")
        title = get("title") or ""
        ident = get("id") or link or title
        if not ident:
            continue
        moment = get("published_parsed") or get("updated_parsed")
        summary, content = get("summary") or "", None
        if not summary:
            contents = get("content")
            if contents:
                content = contents[0]  # the first content stands in for a missing summary
                summary = content.get("value") or ""
        items.append(
            {
                "key": _key(feed_url, ident),
                "title": _text(title, MAX_TITLE, _type_matters(title) and _is_html(get("title_detail"))),
                "link": link,
                "published": _utc_iso(moment) if moment else "",
                "summary": _text(
                    summary, MAX_SUMMARY, _type_matters(summary) and _is_html(content or get("summary_detail"))
                ),
                "source": source,
            }
        )
    return source, items


def _json_feed(body: bytes, feed_url: str) -> tuple[str, list[FeedItem]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FeedError("not valid JSON") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedError("JSON without a JSON Feed version")
    source = _text(str(data.get("title", "")), MAX_TITLE)  # JSON Feed text is HTML or plain: no type
    items: list[FeedItem] = []
    for entry in (data.get("items") or [])[:MAX_ITEMS_PER_FEED]:
        if not isinstance(entry, dict):
            continue
        link = _safe_link(str(entry.get("url", "")))
        ident = str(entry.get("id") or link)
        if not ident:
            continue
        published = ""
        raw = entry.get("date_published") or entry.get("date_modified")
        if isinstance(raw, str):
            try:
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                published = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
            except ValueError:
                published = ""
        summary = entry.get("summary") or entry.get("content_html") or entry.get("content_text") or ""
        items.append(
            {
                "key": _key(feed_url, ident),
                "title": _text(str(entry.get("title", "")), MAX_TITLE),
                "link": link,
                "published": published,
                "summary": _text(str(summary), MAX_SUMMARY),
                "source": source,
            }
        )
    return source, items


def merge_items[Item: Mapping[str, Any]](groups: Iterable[Iterable[Item]], limit: int) -> list[Item]:
    """The newest `limit` items across a book's feeds, each once (by key, then by link)."""
    seen_keys: set[str] = set()
    seen_links: set[str] = set()
    merged: list[Item] = []
    every = [item for group in groups for item in group]
    every.sort(key=lambda i: (i.get("published") or "", i["key"]), reverse=True)
    for item in every:
        if item["key"] in seen_keys or (item.get("link") and item["link"] in seen_links):
            continue
        seen_keys.add(item["key"])
        if item.get("link"):
            seen_links.add(item["link"])
        merged.append(item)
        if len(merged) >= limit:
            break
    return merged
