"""Shelves: a list of books that reading apps subscribe to, made by anyone with the function key.

Every change (adding or removing a book, erasing the shelf) needs the shelf key handed out when
the shelf was made; reading is anonymous (the unguessable shelf id is the capability to read).
A shelf lists each of its books as the book's own catalog does, its published edition: a book not
yet published is left out until it is, and a book being erased, or erased, is left out from the
moment its erasure starts (its row is read each time the shelf is), its entry dropped then.

What reading a page costs (`shelf_page`): one read of the shelf row, one query for its books'
rows, one read of each book's row (to order them, newest edition first), then for the page's
books (at most PAGE_SIZE) one blob read of each publication manifest and one read of each job
row (whether it has a PDF). Reads of many books go side by side, STORAGE_THREADS at a time. A
search (`query`) reads every published book's manifest (its authors are there), not just a page's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import logs
from shared.books.reading import edition_file, edition_has_pdf, readable_book
from shared.errors import BookErased, BookUnknown, Refused, WrongShelfKey
from shared.formats import WEBPUB_MANIFEST
from shared.library import shelves as store
from shared.library.record import Book, Edition
from shared.library.shelves import MAX_SHELF_BOOKS, Shelf
from shared.storage import NotFound, Storage, StorageError

log = logs.get_logger(__name__)

__all__ = ["MAX_SHELF_BOOKS", "PAGE_SIZE", "Shelf", "ShelfPage", "ShelvedBook"]

PAGE_SIZE = 50  # entries in one page of a shelf's catalog: a reading app shows them as one list
# Table and blob reads wait on the network, not the CPU: this many side by side.
STORAGE_THREADS = 8


def side_by_side[T, R](work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Storage reads (or deletes) of many items at once, results in order."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(STORAGE_THREADS, len(items))) as pool:
        return list(pool.map(logs.carrying_ids(work), items))


@dataclass(frozen=True)
class ShelvedBook:
    """A book on a shelf as its catalog lists it: its published edition."""

    book: Book
    edition: Edition
    publication: dict[str, Any]  # the edition's publication manifest ({} for one made before them)
    has_pdf: bool = False

    @property
    def authors(self) -> list[str]:
        found = self.publication.get("metadata", {}).get("author", [])
        return [found] if isinstance(found, str) else [str(name) for name in found]


@dataclass(frozen=True)
class ShelfPage:
    shelf: Shelf
    books: list[ShelvedBook]  # this page's, newest edition first
    page: int
    pages: int  # at least 1, also for an empty shelf
    total: int  # books listed on every page together (those matching the search, when searched)


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def page_of[T](items: Sequence[T], page: int, size: int = PAGE_SIZE) -> list[T]:
    """The items of page `page` (from 1); [] past the last."""
    return list(items[(page - 1) * size : page * size]) if page >= 1 else []


def matches(query: str, title: str, authors: Sequence[str]) -> bool:
    """Whether every word of `query` is in the title or an author's name, case-insensitively."""
    text = " ".join([title, *authors]).casefold()
    return all(word in text for word in query.casefold().split())


def newest_first(books: Sequence[tuple[Book, Edition]]) -> list[tuple[Book, Edition]]:
    """Published books ordered by when their published edition was made, newest first (then by id,
    so a page never shifts between two reads of an unchanged shelf)."""
    by_id = sorted(books, key=lambda pair: pair[0].id)
    return sorted(by_id, key=lambda pair: pair[1].created, reverse=True)


def create_shelf(storage: Storage, title: str, now: datetime) -> tuple[Shelf, str]:
    """A new, empty shelf and its shelf key (shown this once)."""
    shelf, key = store.create_shelf(storage, title, now)
    with logs.bound(shelf=shelf.id):
        log.info("shelf created")
    return shelf, key


def shelf_to_change(storage: Storage, shelf_id: str, shelf_key: str | None) -> Shelf:
    """The shelf, if `shelf_key` may change it: ShelfUnknown, ShelfErased, ShelfKeyRequired or
    WrongShelfKey otherwise."""
    shelf = store.readable_shelf(storage, shelf_id)
    try:
        shelf.check_change(shelf_key)
    except WrongShelfKey:
        with logs.bound(shelf=shelf_id):
            log.info("a change was refused: wrong shelf key")
        raise
    return shelf


def add_book(storage: Storage, shelf_id: str, shelf_key: str | None, book_id: str, now: datetime) -> bool:
    """Put a book on the shelf (False: it was there already). BookUnknown or BookErased for a book
    that cannot be read; ShelfFull past MAX_SHELF_BOOKS."""
    shelf_to_change(storage, shelf_id, shelf_key)
    readable_book(storage, book_id)
    added = store.add_to_shelf(storage, shelf_id, shelf_key, book_id, now)
    with logs.bound(shelf=shelf_id, book=book_id):
        log.info("book put on the shelf" if added else "book already on the shelf")
    return added


def remove_book(storage: Storage, shelf_id: str, shelf_key: str | None, book_id: str, now: datetime) -> bool:
    """Take a book off the shelf (False: it was not there). Any book id: an erased book goes too."""
    shelf_to_change(storage, shelf_id, shelf_key)
    return store.remove_from_shelf(storage, shelf_id, shelf_key, book_id, now)


def erase(storage: Storage, shelf_id: str, shelf_key: str | None, now: datetime) -> None:
    """Erase the shelf: it reads as erased from the first write; its rows go, then its marker
    stays (so its addresses answer 410). A DELETE that died part way is finished by the next."""
    store.start_shelf_erasure(storage, shelf_id, shelf_key, now)
    store.erase_shelf(storage, shelf_id, side_by_side)
    with logs.bound(shelf=shelf_id):
        log.info("shelf erased")


def _published(storage: Storage, book_id: str) -> tuple[Book, Edition] | BookErased | None:
    """The book and its published edition; BookErased (returned) when it is being erased or was;
    None when it is not (yet) published or unknown."""
    try:
        book = readable_book(storage, book_id)
    except BookErased as erased:
        return erased
    except BookUnknown:
        return None
    edition = book.published_edition
    return (book, edition) if edition is not None else None


def _with_manifest(storage: Storage, pair: tuple[Book, Edition]) -> ShelvedBook:
    """The book as its entry lists it: from the catalog card its row keeps, else (an edition
    published before rows kept one) from its manifest and its job."""
    book, edition = pair
    card = book.catalog
    if card.get("job") == edition.job:
        publication = {"metadata": card.get("metadata", {}), "resources": card.get("resources", [])}
        return ShelvedBook(book, edition, publication, bool(card.get("has_pdf")))
    try:
        manifest, _ = edition_file(storage, edition.job, f"app/{WEBPUB_MANIFEST}")
        publication = json.loads(manifest)
    except NotFound:  # an edition made before publication manifests, or dropped a moment ago
        publication = {}
    return ShelvedBook(book, edition, publication, edition_has_pdf(storage, edition.job))


def _drop_erased(storage: Storage, shelf_id: str, book_ids: list[str], now: datetime) -> None:
    """Take erased books off the shelf as it is read: best effort, the next read tries again."""

    def drop(book_id: str) -> None:
        with contextlib.suppress(StorageError, Refused):
            store.remove_from_shelf(storage, shelf_id, None, book_id, now)

    side_by_side(drop, book_ids)
    with logs.bound(shelf=shelf_id):
        log.info("erased books taken off the shelf: %d", len(book_ids))


def shelf_page(storage: Storage, shelf_id: str, query: str, page: int, now: datetime) -> ShelfPage:
    """Page `page` of the shelf's published books, newest edition first, those matching `query`
    (all when it is empty). A page past the last holds no books (the caller says so)."""
    shelf = store.readable_shelf(storage, shelf_id)
    entries = store.shelf_entries(storage, shelf_id)
    found = side_by_side(lambda entry: _published(storage, entry.book_id), entries)
    erased = [entry.book_id for entry, state in zip(entries, found, strict=True) if isinstance(state, BookErased)]
    if erased:
        _drop_erased(storage, shelf_id, erased, now)
    listed = newest_first([state for state in found if isinstance(state, tuple)])
    if query.strip():
        described = side_by_side(lambda pair: _with_manifest(storage, pair), listed)
        chosen = [b for b in described if matches(query, _title(b), b.authors)]
        on_page = page_of(chosen, page)
        total = len(chosen)
    else:
        on_page = side_by_side(lambda pair: _with_manifest(storage, pair), page_of(listed, page))
        total = len(listed)
    return ShelfPage(shelf, on_page, page, page_count(total), total)


def _title(shelved: ShelvedBook) -> str:
    return str(shelved.publication.get("metadata", {}).get("title") or shelved.book.title)


def readable_shelf(storage: Storage, shelf_id: str) -> Shelf:
    """The shelf; ShelfUnknown or ShelfErased when there is none to read."""
    return store.readable_shelf(storage, shelf_id)
