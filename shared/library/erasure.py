"""Erasing a book: everything keyed by it, idempotently and resumably.

`DELETE /books/{id}` only marks the row (`erasing`): from that write on, every public address of
the book answers 410 and no change is accepted. A queue message then erases, in an order that a
worker killed anywhere can repeat from the start: each edition's job (stopped first, so no step
commits again; then its files, checkpoints, manuscript and rows), the book's feeds and news, and
last the row itself, replaced by a marker keyed by a hash of the book's id. The reconciler
re-sends the message for an erasure that stalled.

A step still running when its job is erased may write after the erasure deleted its files: every
step looks at its job again after it wrote (shared/worker/protocol.py) and deletes what it wrote
if the job is gone or failed.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import datetime, timedelta

from shared import logs
from shared.jobs.record import MESSAGE_VERSION, is_valid_job_id
from shared.library.record import BOOK_ROW_KEY, ERASED_ROW_KEY, erased_partition
from shared.library.store import erase_job, guarded_update, read_book
from shared.settings import BOOK_CONTAINER, BOOK_TABLE, FEED_TABLE
from shared.storage import NotFound, Storage

log = logs.get_logger(__name__)


def erasure_message(book_id: str) -> str:
    return json.dumps({"v": MESSAGE_VERSION, "erase": book_id}, separators=(",", ":"))


def erasure_message_book(body: bytes | str) -> str | None:
    """The book an erasure message names; None when the message is something else."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        return None
    book_id = data.get("erase")
    return book_id if isinstance(book_id, str) and is_valid_job_id(book_id) else None


def start_erasure(storage: Storage, book_id: str, owner_key: str, now: datetime) -> None:
    """Mark the book erasing (BookRefused when the key is wrong or it already is)."""
    guarded_update(storage, book_id, owner_key, lambda book: replace(book, erasing=True, updated=now))


def erase_book(storage: Storage, book_id: str, now: datetime) -> bool:
    """Erase a book marked erasing. Returns whether there was one to erase."""
    try:
        book = read_book(storage, book_id)
    except NotFound:
        return False  # erased already (a repeated message)
    if not book.erasing:
        log.warning("an erasure message for a book that is not being erased: ignored")
        return False
    for edition in book.editions:
        erase_job(storage, edition.job)
    erase_feeds(storage, book_id)
    storage.put_entity(BOOK_TABLE, {"PartitionKey": erased_partition(book_id), "RowKey": ERASED_ROW_KEY, "erased": now})
    with contextlib.suppress(NotFound):
        storage.delete_entity(BOOK_TABLE, book_id, BOOK_ROW_KEY)
    log.info("erased: %d editions", len(book.editions))
    return True


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
