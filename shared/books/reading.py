"""Reading a book and its editions, anonymously: the unguessable id is the capability to read.

From the moment an erasure starts, a book and every job of it read as erased (BookErased), also
after the rows are gone (the erased markers, shared/library/erasure.py).
"""

from __future__ import annotations

from datetime import datetime

from shared import logs
from shared.errors import BookErased, BookUnknown, JobUnknown
from shared.jobs.record import Job, QueueBacklog
from shared.jobs.store import book_blob, read_job
from shared.library.record import Book
from shared.library.store import read_book, was_erased
from shared.storage import NotFound, Storage, StorageUnavailable
from shared.storage.names import BOOK_CONTAINER, CONVERSION_QUEUE

log = logs.get_logger(__name__)


def readable_book(storage: Storage, book_id: str) -> Book:
    """The book; BookUnknown or BookErased when there is none to read."""
    try:
        found = read_book(storage, book_id)
    except NotFound:
        raise (BookErased if was_erased(storage, book_id) else BookUnknown)() from None
    if found.erasing:
        raise BookErased
    return found


def job_status(storage: Storage, job_id: str) -> Job:
    """The job; JobUnknown, or BookErased from the moment its book's DELETE answered."""
    try:
        job, _ = read_job(storage, job_id)
    except NotFound:
        raise (BookErased if was_erased(storage, job_id) else JobUnknown)() from None
    if job.book and _book_erased(storage, job.book):
        raise BookErased
    return job


def _book_erased(storage: Storage, book_id: str) -> bool:
    try:
        return read_book(storage, book_id).erasing
    except NotFound:
        # Erased, or a new book whose row is written just after its first job's.
        return was_erased(storage, book_id)


def backlog(storage: Storage, job_id: str, now: datetime) -> QueueBacklog | None:
    """What a queued job waits behind, so the author sees a backlog, not a hang. Two cheap reads;
    without them (None) the status still answers."""
    try:
        messages = storage.queue_length(CONVERSION_QUEUE)
        front = storage.oldest_visible_message_inserted(CONVERSION_QUEUE)
    except (StorageUnavailable, NotFound) as error:
        log.info("job %s: the queue's length is unknown: %s", job_id, type(error).__name__)
        return None
    waited = max(0.0, (now - front).total_seconds()) if front else 0.0
    return QueueBacklog(messages=messages, front_waited_seconds=waited)


def latest_job(storage: Storage, book: Book) -> Job | None:
    """The job of the book's newest edition, when a book with none published is asked for; None
    when there is none (any more)."""
    latest = book.editions[-1] if book.editions else None
    try:
        return read_job(storage, latest.job)[0] if latest else None
    except NotFound:
        return None


def edition_has_pdf(storage: Storage, job_id: str) -> bool:
    """Whether an edition's job wrote its print PDF (`book.pdf`): False for one made before Quire
    typeset PDFs, or whose row is gone."""
    try:
        return read_job(storage, job_id)[0].has_pdf
    except NotFound:
        return False


def published_job(storage: Storage, book: Book) -> Job | None:
    """The job of the book's published edition; None before one is published, or when its row is gone."""
    published = book.published_edition
    try:
        return read_job(storage, published.job)[0] if published else None
    except NotFound:
        return None


def edition_file(storage: Storage, job_id: str, path: str) -> tuple[bytes, str]:
    """One published file of an edition (`book.epub`, `book.pdf`, `app/…`) and its ETag; NotFound if missing."""
    return storage.read_blob_with_etag(BOOK_CONTAINER, book_blob(job_id, path))
