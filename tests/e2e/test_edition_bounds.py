"""A book's row stays bounded however many of its editions fail or are still converting, on a
real Azurite (#34, finding 9): failed editions beyond the newest few are erased as superseded ones
are, and a book with too many editions converting refuses another with 429."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from shared.errors import TooManyConverting
from shared.intake import Manuscript, identify, read_upload
from shared.jobs.manuscripts import manuscript_blob_name
from shared.jobs.record import JobStatus
from shared.jobs.store import fail_job, read_job
from shared.library.record import BOOK_ROW_KEY, KEPT_FAILED_EDITIONS, MAX_CONVERTING_EDITIONS
from shared.library.store import add_edition, create_book, read_book
from shared.storage import NotFound, Storage
from shared.storage.names import BOOK_TABLE, MANUSCRIPT_CONTAINER
from shared.web.problems import answer_for
from tests.support import Azurite

FAILED_EDITIONS = 1000


def manuscript(text: str) -> Manuscript:
    return identify(read_upload({"content-type": "text/markdown"}, {"filename": "book.md"}, text.encode(), 1 << 20))


def fail_unfinished(storage: Storage, book_id: str) -> None:
    """No worker converts these jobs: fail them, so that a host's reconciler sharing the session's
    Azurite never takes them up."""
    for edition in read_book(storage, book_id).editions:
        fail_job(storage, edition.job, "The test is over.")


def editions_property_bytes(storage: Storage, book_id: str) -> int:
    """The row's editions property as Table Storage counts it (UTF-16)."""
    editions = storage.get_entity(BOOK_TABLE, book_id, BOOK_ROW_KEY).properties["editions"]
    return len(editions.encode("utf-16-le"))


@pytest.mark.slow
def test_a_thousand_failed_editions_never_lock_the_book_out(azurite: Azurite) -> None:
    storage = Storage(azurite.connection_string)
    book, first, key = create_book(storage, manuscript("# Tides\n\nEdition 1.\n"), datetime.now(UTC))
    fail_job(storage, first.id, "The manuscript could not be read.")
    failed = [first.id]
    started = time.monotonic()
    for number in range(2, FAILED_EDITIONS + 1):
        job = add_edition(storage, book.id, key, manuscript(f"# Tides\n\nEdition {number}.\n"), datetime.now(UTC))
        assert job.edition == number
        fail_job(storage, job.id, "The manuscript could not be read.")
        failed.append(job.id)
    elapsed = time.monotonic() - started

    good = add_edition(storage, book.id, key, manuscript("# Tides\n\nAt last.\n"), datetime.now(UTC))
    assert good.edition == FAILED_EDITIONS + 1 and read_job(storage, good.id)[0].status is JobStatus.QUEUED
    row = read_book(storage, book.id)
    # The newest failed editions stay (an author reads why they failed), and the good one.
    assert [e.job for e in row.editions] == [*failed[-KEPT_FAILED_EDITIONS:], good.id]
    assert editions_property_bytes(storage, book.id) < 4 * 1024  # of the 64 KiB a property holds
    dropped = failed[:-KEPT_FAILED_EDITIONS]
    for job_id in dropped:
        with pytest.raises(NotFound):
            read_job(storage, job_id)
    manuscripts = set(storage.list_blob_names(MANUSCRIPT_CONTAINER))
    assert manuscripts.isdisjoint(manuscript_blob_name(job_id) for job_id in dropped)
    assert {manuscript_blob_name(job_id) for job_id in [*failed[-KEPT_FAILED_EDITIONS:], good.id]} <= manuscripts
    fail_unfinished(storage, book.id)
    print(f"{FAILED_EDITIONS} failed editions added in {elapsed:.1f} s")


def test_a_book_with_too_many_editions_converting_refuses_another_with_429(azurite: Azurite) -> None:
    storage = Storage(azurite.connection_string)
    book, _, key = create_book(storage, manuscript("# Queued\n\nEdition 1.\n"), datetime.now(UTC))
    for number in range(2, MAX_CONVERTING_EDITIONS + 1):  # none of them converts: no worker runs
        add_edition(storage, book.id, key, manuscript(f"# Queued\n\nEdition {number}.\n"), datetime.now(UTC))
    size = editions_property_bytes(storage, book.id)
    with pytest.raises(TooManyConverting) as refused:
        add_edition(storage, book.id, key, manuscript("# Queued\n\nOne too many.\n"), datetime.now(UTC))
    assert len(read_book(storage, book.id).editions) == MAX_CONVERTING_EDITIONS
    assert editions_property_bytes(storage, book.id) == size  # nothing was written, nor stored
    response = answer_for(refused.value)
    assert response.status_code == 429 and response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] and "converting" in json.loads(response.get_body())["detail"]
    # Once one finishes, there is room again.
    first = read_book(storage, book.id).editions[0]
    fail_job(storage, first.job, "The manuscript could not be read.")
    later = add_edition(storage, book.id, key, manuscript("# Queued\n\nRoom again.\n"), datetime.now(UTC))
    assert later.edition == MAX_CONVERTING_EDITIONS + 1
    fail_unfinished(storage, book.id)
