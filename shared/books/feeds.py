"""A book's feed list: read it (anonymously, with subscribers' credentials masked for anyone but
the owner), set it (owner key), and the sources a published edition's front matter names.

Setting happens in one way for both (`_set_then_undo_if_erased`): an erasure that began while the
feeds were being written may have swept before they landed, so they are erased again then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared import logs
from shared.books.editions import book_to_change
from shared.books.reading import readable_book
from shared.errors import FeedsRefused
from shared.feeds.guard import BlockedURL
from shared.feeds.sources import MAX_FEEDS_PER_BOOK, list_sources, public_source, set_sources, validate_feed_urls
from shared.feeds.updates import book_news
from shared.library.erasure import erase_feeds
from shared.library.store import read_book
from shared.storage import NotFound, Storage

log = logs.get_logger(__name__)


def feeds_of(storage: Storage, book_id: str, owner_key: str | None) -> list[dict[str, Any]]:
    """The book's feeds; whole for its owner, masked for anyone else (WrongOwnerKey for a key
    presented that does not open the book)."""
    book = readable_book(storage, book_id)
    if owner_key is not None:
        book.check_change(owner_key)
    return _public_sources(storage, book_id, whole=owner_key is not None)


def set_feeds(
    storage: Storage,
    book_id: str,
    owner_key: str | None,
    urls: Callable[[], list[Any]],
    allow_private: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """Replace the book's feed list (owner key; `urls` is read after it is checked); FeedsRefused
    naming the first feed that must not be followed. Returns the feeds as they are now."""
    book_to_change(storage, book_id, owner_key)
    try:
        cleaned = validate_feed_urls(urls(), allow_private)
    except BlockedURL as error:
        raise FeedsRefused(str(error)) from None
    _set_then_undo_if_erased(storage, book_id, cleaned, now, replace=True)
    return _public_sources(storage, book_id, whole=True)


def register_feeds(storage: Storage, book_id: str, urls: list[str], now: datetime) -> None:
    """A published edition's front matter `feeds:` become the book's sources, beside those it has
    (form checked here, addresses at fetch; a bad one is skipped, not fatal)."""
    good = []
    for url in urls:
        try:
            good.extend(validate_feed_urls([url], allow_private=True))
        except BlockedURL as error:
            log.info("feed not registered: %s", error)
    _set_then_undo_if_erased(storage, book_id, good[:MAX_FEEDS_PER_BOOK], now, replace=False)


def _set_then_undo_if_erased(storage: Storage, book_id: str, urls: list[str], now: datetime, replace: bool) -> None:
    set_sources(storage, book_id, urls, now, replace=replace)
    try:
        erasing = read_book(storage, book_id).erasing
    except NotFound:
        erasing = True
    if erasing:  # an erasure that began meanwhile may have swept before these landed
        erase_feeds(storage, book_id)


def _public_sources(storage: Storage, book_id: str, whole: bool) -> list[dict[str, Any]]:
    sources = [public_source(p) for p in list_sources(storage, book_id)]
    if whole:
        return sources
    return [{**s, "url": logs.redact(s["url"]), "last_error": logs.redact(s["last_error"])} for s in sources]


def book_updates(storage: Storage, book_id: str, max_items: int) -> tuple[bytes, str]:
    """The book's news (its feeds' newest items) as JSON, and its ETag."""
    readable_book(storage, book_id)
    return book_news(list_sources(storage, book_id), max_items)
