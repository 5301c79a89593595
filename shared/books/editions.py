"""A book's changes: create it, publish an edition, rotate its owner key, start its erasure.

Every change first finds the book and checks the owner key (`book_to_change`), then reads what
it was sent (a stranger's upload is not even read), then changes the book's row in a
compare-and-swap that checks the key again in the same write (shared/library/store.py
`guarded_update`), so a key rotated a moment before never acts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared import logs
from shared.books.reading import readable_book
from shared.errors import WrongOwnerKey
from shared.intake import Manuscript
from shared.jobs.messages import ConvertStep, EraseBook
from shared.jobs.record import Job
from shared.library import store
from shared.library.erasure import start_erasure
from shared.library.record import Book
from shared.storage import Storage, StorageUnavailable

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class Queued:
    """A job recorded, and the conversion message that starts it."""

    job: Job
    message: str


@dataclass(frozen=True)
class NewBook:
    book: Book
    first: Queued
    owner_key: str  # shown this once: only its hash is stored


def book_to_change(storage: Storage, book_id: str, owner_key: str | None) -> Book:
    """The book, if `owner_key` may change it: BookUnknown, BookErased, OwnerKeyRequired or
    WrongOwnerKey otherwise."""
    book = readable_book(storage, book_id)
    try:
        book.check_change(owner_key)
    except WrongOwnerKey:
        with logs.bound(book=book_id):
            log.info("a change was refused: wrong owner key")
        raise
    return book


def create_book(storage: Storage, manuscript: Manuscript, now: datetime) -> NewBook:
    """A new book from its first manuscript, its first edition queued."""
    try:
        book, job, owner_key = store.create_book(storage, manuscript, now)
    except StorageUnavailable:
        log.warning("upload not stored: storage unavailable")
        raise
    with logs.bound(job=job.id, book=book.id):
        log.info("book created, edition 1 queued: %s, %d bytes, %s", job.kind, job.size, job.sha256[:12])
    return NewBook(book, Queued(job, ConvertStep(job.id).to_message()), owner_key)


def publish_edition(
    storage: Storage, book_id: str, owner_key: str | None, manuscript: Callable[[], Manuscript], now: datetime
) -> Queued:
    """A new edition of the book, queued. `manuscript` is read once the key has been checked."""
    book = book_to_change(storage, book_id, owner_key)
    assert owner_key is not None  # book_to_change refuses a change without one
    job = store.add_edition(storage, book.id, owner_key, manuscript(), now)
    with logs.bound(job=job.id, book=book.id):
        log.info("edition %d queued: %s, %d bytes", job.edition, job.kind, job.size)
    return Queued(job, ConvertStep(job.id).to_message())


def rotate_key(storage: Storage, book_id: str, owner_key: str | None, now: datetime) -> str:
    """A new owner key for the book; the old one stops working with this write."""
    book = book_to_change(storage, book_id, owner_key)
    assert owner_key is not None
    new_key = store.rotate_owner_key(storage, book.id, owner_key, now)
    with logs.bound(book=book.id):
        log.info("owner key rotated")
    return new_key


def erase(storage: Storage, book_id: str, owner_key: str | None, now: datetime) -> str:
    """Mark the book erasing (from this write on, its addresses answer 410); returns the message
    that erases it (shared/library/erasure.py)."""
    book = book_to_change(storage, book_id, owner_key)
    assert owner_key is not None
    start_erasure(storage, book.id, owner_key, now)
    with logs.bound(book=book.id):
        log.info("erasure started")
    return EraseBook(book.id).to_message()
