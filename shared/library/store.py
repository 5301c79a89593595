"""The book store: creating a book, adding editions, publishing one, rotating the owner key.

Every change to a book's row is a compare-and-swap that checks, in the same write, what the
change rests on (the owner key, the book not being erased), so a key that was rotated or a book
that is being erased can never be acted on by a request that read the row a moment before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared import logs
from shared.errors import BookErased, BookUnknown, Refused, TooManyConverting
from shared.intake import Manuscript
from shared.jobs.manuscripts import manuscript_blob_name, store_manuscript
from shared.jobs.record import JOB_ROW_KEY, UPLOAD_ROW_KEY, Job, JobStatus, new_job_id
from shared.jobs.store import delete_job_files, fail_job, read_job
from shared.library.record import (
    BOOK_ROW_KEY,
    ERASED_ROW_KEY,
    MAX_CONVERTING_EDITIONS,
    Book,
    Edition,
    erased_partition,
    new_owner_key,
    owner_key_hash,
)
from shared.storage import AlreadyExists, NotFound, Storage, StorageError
from shared.storage.names import BOOK_TABLE, JOB_TABLE, MANUSCRIPT_CONTAINER
from shared.storage.rows import changed_row

log = logs.get_logger(__name__)

ERASED_REASON = "The book was deleted."


def read_book(storage: Storage, book_id: str) -> Book:
    """The book; NotFound if there is none (see `was_erased`)."""
    return Book.from_entity(storage.get_entity(BOOK_TABLE, book_id, BOOK_ROW_KEY).properties)


def was_erased(storage: Storage, book_id: str) -> bool:
    try:
        storage.get_entity(BOOK_TABLE, erased_partition(book_id), ERASED_ROW_KEY)
        return True
    except NotFound:
        return False


def update_book(storage: Storage, book_id: str, change: Callable[[Book], Book | None]) -> Book | None:
    return changed_row(storage, BOOK_TABLE, (book_id, BOOK_ROW_KEY), Book.from_entity, Book.to_entity, change)


def guarded_update(
    storage: Storage, book_id: str, owner_key: str | None, change: Callable[[Book], Book | None]
) -> Book | None:
    """`change` applied only while the book stands and `owner_key` opens it (None: no key needed),
    checked in the same write (`Book.check_change`); BookUnknown or BookErased when there is no row."""

    def guarded(current: Book) -> Book | None:
        if owner_key is None:
            if current.erasing:
                raise BookErased
        else:
            current.check_change(owner_key)
        return change(current)

    try:
        return update_book(storage, book_id, guarded)
    except NotFound:
        raise (BookErased if was_erased(storage, book_id) else BookUnknown)() from None


def create_book(storage: Storage, manuscript: Manuscript, now: datetime) -> tuple[Book, Job, str]:
    """A new book with its first edition's job queued. Returns the book, the job and the owner key
    (shown once: only its hash is stored). The job goes first: a request that dies before the
    book row leaves a job whose package step finds no book, fails it and deletes its files."""
    book_id = new_job_id()
    job = store_manuscript(storage, manuscript, book_id, now, book_id=book_id, edition=1)
    owner_key = new_owner_key()
    return open_book(storage, job, owner_key_hash(owner_key), now), job, owner_key


def open_book(storage: Storage, first_job: Job, owner_key_sha256: str, now: datetime) -> Book:
    """The row of a new book whose first edition's job is recorded (the book's id is that job's)."""
    book = Book(
        id=first_job.id,
        owner_key_sha256=owner_key_sha256,
        created=now,
        updated=now,
        editions=[Edition(number=1, job=first_job.id, created=now)],
    )
    storage.put_entity(BOOK_TABLE, book.to_entity())  # 128 random bits: nothing else has this row
    return book


def open_book_once(storage: Storage, book_id: str, owner_key_sha256: str, now: datetime) -> None:
    """The row of a new book whose first edition's job is about to be recorded under the same id,
    written only if there is none: racing submits of one direct upload all open it, and the first
    write stands (a book being erased is never reopened)."""
    book = Book(
        id=book_id,
        owner_key_sha256=owner_key_sha256,
        created=now,
        updated=now,
        editions=[Edition(number=1, job=book_id, created=now)],
    )
    with contextlib.suppress(AlreadyExists):
        storage.create_entity(BOOK_TABLE, book.to_entity())


def add_edition(storage: Storage, book_id: str, owner_key: str, manuscript: Manuscript, now: datetime) -> Job:
    """A new edition's job, queued, from a form upload."""
    job_id = new_job_id()

    def store(edition: int) -> Job:
        return store_manuscript(storage, manuscript, job_id, now, book_id=book_id, edition=edition)

    return add_edition_with(storage, book_id, owner_key, job_id, now, store)


def add_edition_with(
    storage: Storage, book_id: str, owner_key: str, job_id: str, now: datetime, store: Callable[[int], Job]
) -> Job:
    """A new edition's job, queued by `store` under the edition's number. The edition is numbered
    in the book's row first, so an erasure that starts meanwhile finds its job; if one did, what
    was stored is deleted again."""
    make_room_for_edition(storage, book_id, owner_key, job_id, now)
    reserved_here = False

    def reserve(book: Book) -> Book | None:
        # Idempotent per job: a second submit of the same direct upload finds its number reserved.
        nonlocal reserved_here
        reserved_here = book.edition_of_job(job_id) is None
        return book.with_new_edition(job_id, now) if reserved_here else None

    reserved = guarded_update(storage, book_id, owner_key, reserve) or read_book(storage, book_id)
    edition = reserved.edition_of_job(job_id)
    assert edition is not None
    try:
        job = store(edition.number)
    except Exception:
        if reserved_here and not _job_recorded(storage, job_id):
            # Nothing was recorded under the reserved number: strike it off the list (it may be
            # reused). A racing submit of the same upload may have recorded it: then it stays.
            with contextlib.suppress(Exception):
                update_book(storage, book_id, lambda book: book.without([edition], now))
        raise
    stop_if_erased(storage, book_id, job_id)
    return job


def _job_recorded(storage: Storage, job_id: str) -> bool:
    try:
        read_job(storage, job_id)
        return True
    except NotFound:
        return False
    except StorageError:
        return True  # unknown: keeping a listed number is harmless, striking a recorded one is not


def stop_if_erased(storage: Storage, book_id: str, job_id: str) -> None:
    """After recording a job: if its book began to be erased meanwhile (the erasure may have
    looked for the job before it was there), erase the job too and refuse."""
    try:
        still = read_book(storage, book_id)
    except NotFound:
        still = None
    if still is None or still.erasing:
        erase_job(storage, job_id)
        raise BookErased


def make_room_for_edition(storage: Storage, book_id: str, owner_key: str, job_id: str, now: datetime) -> None:
    """Before a new edition is numbered, keep the book's row bounded: failed editions newer than
    the published one beyond the newest few are dropped as superseded ones are (files, checkpoints,
    manuscript and job rows first, then struck from the row), and TooManyConverting when too
    many editions are still converting. One read of the row; the jobs' rows are read only when the
    book is crowded. Nothing is done for a book the key does not open (the caller refuses it), nor
    for a job whose edition is numbered already (a second submit of a direct upload)."""
    try:
        book = read_book(storage, book_id)
    except NotFound:
        return
    if not _opens(book, owner_key) or book.edition_of_job(job_id) is not None or not book.crowded():
        return
    jobs = {e.job: _job_status(storage, e.job) for e in book.editions if e.number != book.published}
    gone = book.failed_beyond_kept(jobs, now)
    for edition in gone:
        erase_job(storage, edition.job)
    if gone:
        update_book(storage, book_id, lambda current: current.without(gone, now) if not current.erasing else None)
        with logs.bound(book=book_id):
            log.info("failed editions beyond the kept ones were deleted: %s", [e.number for e in gone])
    if book.converting(jobs, now) >= MAX_CONVERTING_EDITIONS:
        raise TooManyConverting


def _opens(book: Book, owner_key: str) -> bool:
    try:
        book.check_change(owner_key)
    except Refused:
        return False
    return True


def _job_status(storage: Storage, job_id: str) -> JobStatus | None:
    try:
        return read_job(storage, job_id)[0].status
    except NotFound:
        return None


def rotate_owner_key(storage: Storage, book_id: str, owner_key: str, now: datetime) -> str:
    """A new owner key; the old one stops working with this write."""
    new_key = new_owner_key()
    guarded_update(
        storage,
        book_id,
        owner_key,
        lambda book: replace(book, owner_key_sha256=owner_key_hash(new_key), updated=now),
    )
    return new_key


class Publication(StrEnum):
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # a later edition was published first: this one stays unpublished
    BOOK_GONE = "book-gone"  # the book is being erased, or was never recorded


def publish(
    storage: Storage, job: Job, title: str, now: datetime, catalog: dict[str, Any] | None = None
) -> Publication:
    """Point the book's public addresses at this edition, in one write of its row (none when it
    is already published, superseded, or the book is going), with its catalog card."""
    outcome = Publication.PUBLISHED

    def decide(current: Book) -> Book | None:
        nonlocal outcome
        edition = current.edition_of_job(job.id)
        if current.erasing or edition is None:
            outcome = Publication.BOOK_GONE
        elif edition.number < current.published:
            outcome = Publication.SUPERSEDED
        else:
            outcome = Publication.PUBLISHED  # a rerun finds it published already: nothing to write
        return current.publishing(job.id, title, now, catalog)

    try:
        update_book(storage, job.book, decide)
    except NotFound:
        return Publication.BOOK_GONE
    return outcome


def drop_superseded_editions(storage: Storage, book_id: str, kept: int, now: datetime) -> list[int]:
    """Delete the editions the book no longer keeps (files, checkpoints, manuscript, job rows),
    then strike them from its row. Files go first: a crash in between leaves them listed, and the
    next publication deletes them again. Editions still converting are left to finish."""
    try:
        book = read_book(storage, book_id)
    except NotFound:
        return []
    gone = []
    for edition in book.superseded(kept):
        try:
            job, _ = read_job(storage, edition.job)
        except NotFound:
            job = None
        if job is not None and not job.is_terminal:
            continue
        erase_job(storage, edition.job)
        gone.append(edition)
    if gone:
        update_book(storage, book_id, lambda current: current.without(gone, now) if not current.erasing else None)
    return [e.number for e in gone]


def erase_job(storage: Storage, job_id: str) -> None:
    """Everything one job owns: stopped first (a failed job commits no more steps), then its
    published files, checkpoints, manuscript and rows. Idempotent."""
    fail_job(storage, job_id, ERASED_REASON)
    delete_job_files(storage, job_id)
    storage.delete_prefix(MANUSCRIPT_CONTAINER, manuscript_blob_name(job_id))
    for row_key in (JOB_ROW_KEY, UPLOAD_ROW_KEY):
        with contextlib.suppress(NotFound):
            storage.delete_entity(JOB_TABLE, job_id, row_key)
