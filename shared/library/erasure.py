"""Erasing a book: everything keyed by it, idempotently and resumably.

`DELETE /books/{id}` only marks the row (`erasing`): from that write on, every public address of
the book and of its editions' jobs answers 410 and no change is accepted. A queue message then
erases, in an order that a worker killed anywhere can repeat from the start: first a marker per
job id (and so the book's), keyed by a hash of the id, so that the addresses go on answering 410
when nothing in storage names the book any more; then each edition's job (stopped first, so no
step commits again; then its files, checkpoints, manuscript and rows), the direct uploads asked
for it and never submitted, its place on every shelf, its feeds and news, its sources in the refresh's kept scan pages, and
last the row itself. A part that fails is retried with the message; the reconciler re-sends the
message for an erasure that stalled.

A step still running when its job is erased may write after the erasure deleted its files: every
step looks at its job again after it wrote (shared/worker/protocol.py) and deletes what it wrote
if the job is gone or failed.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from shared import logs
from shared.feeds.slots import forget_book_in_scans
from shared.jobs.manuscripts import manuscript_blob_name
from shared.jobs.record import UPLOAD_ROW_KEY, is_valid_job_id
from shared.library.record import BOOK_ROW_KEY, ERASED_ROW_KEY, erased_partition
from shared.library.shelves import take_off_every_shelf
from shared.library.store import erase_job, guarded_update, read_book
from shared.storage import NotFound, Storage
from shared.storage.names import BOOK_CONTAINER, BOOK_TABLE, FEED_TABLE, JOB_TABLE, MANUSCRIPT_CONTAINER

log = logs.get_logger(__name__)


def start_erasure(storage: Storage, book_id: str, owner_key: str, now: datetime) -> None:
    """Mark the book erasing (WrongOwnerKey when the key is wrong, BookErased when it already is)."""
    guarded_update(storage, book_id, owner_key, lambda book: replace(book, erasing=True, updated=now))


class ErasureIncomplete(Exception):
    """Some part of a book could not be erased this time: the message is retried (each part
    erased already is a no-op the next time), and after every delivery the reconciler re-drives it."""


def erase_book(storage: Storage, book_id: str, now: datetime) -> bool:
    """Erase a book marked erasing. Returns whether there was one to erase.

    Each part is erased on its own: one that fails (storage trouble, a client's lease on its
    blob) is logged and the rest still go; then ErasureIncomplete, so the queue tries again."""
    try:
        book = read_book(storage, book_id)
    except NotFound:
        return False  # erased already (a repeated message)
    if not book.erasing:
        log.warning("an erasure message for a book that is not being erased: ignored")
        return False
    # First the markers that make every job address answer 410 once the rows are gone.
    for job_id in {book_id, *(edition.job for edition in book.editions)}:
        _mark_erased(storage, job_id, now)
    parts: list[tuple[str, Callable[[], object]]] = [
        *((f"edition {e.number}", functools.partial(erase_job, storage, e.job)) for e in book.editions),
        ("pending uploads", functools.partial(erase_pending_uploads, storage, book_id)),
        ("shelves", functools.partial(take_off_every_shelf, storage, book_id, now)),
        ("feeds", functools.partial(erase_feeds, storage, book_id)),
        ("refresh scan pages", functools.partial(forget_book_in_scans, storage, book_id)),
    ]
    failed = []
    for name, erase in parts:
        try:
            erase()
        except Exception as error:
            log.warning("erasure: %s could not be erased this time: %s", name, type(error).__name__)
            failed.append(name)
    if failed:
        raise ErasureIncomplete(f"not yet erased: {', '.join(failed)}")
    with contextlib.suppress(NotFound):
        storage.delete_entity(BOOK_TABLE, book_id, BOOK_ROW_KEY)
    log.info("erased: %d editions", len(book.editions))
    return True


def _mark_erased(storage: Storage, job_id: str, now: datetime) -> None:
    storage.put_entity(BOOK_TABLE, {"PartitionKey": erased_partition(job_id), "RowKey": ERASED_ROW_KEY, "erased": now})


def erase_pending_uploads(storage: Storage, book_id: str) -> int:
    """Direct uploads asked for the book and never submitted: each marker is marked abandoned
    first (a submit racing this can no longer record its job), then its blob and the marker go.
    A client still holding the SAS may write the blob again; the reconciler's inventory sweep
    deletes such orphans (shared/worker/recovery.py)."""
    if not is_valid_job_id(book_id):
        return 0
    markers = storage.query_entities_filtered(JOB_TABLE, f"RowKey eq '{UPLOAD_ROW_KEY}' and book eq '{book_id}'")
    for marker in markers:
        job_id = marker.properties["PartitionKey"]
        with contextlib.suppress(NotFound):
            storage.merge_entity(JOB_TABLE, {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "abandoned": True})
        storage.delete_blob(MANUSCRIPT_CONTAINER, manuscript_blob_name(job_id))
        with contextlib.suppress(NotFound):
            storage.delete_entity(JOB_TABLE, job_id, UPLOAD_ROW_KEY)
    return len(markers)


def erase_feeds(storage: Storage, book_id: str) -> None:
    """The book's feed sources (with their fetch state) and its news."""
    from shared.feeds.sources import list_sources
    from shared.feeds.updates import updates_blob

    for source in list_sources(storage, book_id):
        with contextlib.suppress(NotFound):
            storage.delete_entity(FEED_TABLE, source["PartitionKey"], source["RowKey"])
    storage.delete_blob(BOOK_CONTAINER, updates_blob(book_id))


def stalled_erasures(storage: Storage, stall_seconds: int, now: datetime) -> list[str]:
    """Books marked erasing whose row has not moved for `stall_seconds`: their message was lost."""
    cutoff = now - timedelta(seconds=stall_seconds)
    rows = storage.query_entities_filtered(BOOK_TABLE, f"RowKey eq '{BOOK_ROW_KEY}' and erasing eq true")
    return [e.properties["PartitionKey"] for e in rows if e.properties["updated"] < cutoff]
