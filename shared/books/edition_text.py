"""The text an edition keeps for the next one to compare with: where it is stored, and which
earlier edition a new one is compared with.

Each packaged edition writes its chapters' plain text beside its files (`{job}/text.json.gz` in the
book container, deleted with them: shared/jobs/store.py `book_file_prefixes`). A new edition is
compared with the newest earlier edition, up to the published one, that left its text: a failed
edition left none, and neither did one made before Quire kept it (the new one then has no summary).
"""

from __future__ import annotations

from shared.jobs.record import Job
from shared.jobs.store import EDITION_TEXT, book_blob
from shared.library.store import read_book
from shared.storage import NotFound, Storage
from shared.storage.names import BOOK_CONTAINER

# Editions looked back over for a text: failed ones left none, and a book keeps a few of them.
LOOKBACK_EDITIONS = 12


def store_edition_text(storage: Storage, job_id: str, data: bytes) -> None:
    storage.put_blob(BOOK_CONTAINER, book_blob(job_id, EDITION_TEXT), data, content_type="application/gzip")


def previous_edition_text(storage: Storage, job: Job) -> tuple[int, bytes] | None:
    """The number and text of the edition `job`'s edition is compared with; None when there is none."""
    try:
        book = read_book(storage, job.book)
    except NotFound:
        return None
    earlier = [e for e in book.editions if e.number < job.edition and e.number <= book.published]
    for edition in sorted(earlier, key=lambda e: e.number, reverse=True)[:LOOKBACK_EDITIONS]:
        try:
            return edition.number, storage.read_blob(BOOK_CONTAINER, book_blob(edition.job, EDITION_TEXT))
        except NotFound:
            continue
    return None
