"""The job store: a job's row and the blobs it owns.

The row changes only by compare-and-swap (`update_job`): read it with its ETag, apply a pure change,
write it with If-Match, and on a lost race read again. A finished job's checkpoints are deleted,
and a failed job's published files too; the row records that they are gone (`cleaned`), so a clean-up
cut short is finished by whoever next sees the row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.jobs.record import JOB_ROW_KEY, Job, JobStatus, is_upload_marker
from shared.storage import NotFound, Storage
from shared.storage.names import BOOK_CONTAINER, JOB_TABLE, WORK_CONTAINER
from shared.storage.rows import changed_row


def book_blob(job_id: str, path: str) -> str:
    """A published file of the job's book, in the book container."""
    return f"{job_id}/{path}"


# The edition's chapters as plain text, which the next edition compares itself with (shared/book/changes.py).
EDITION_TEXT = "text.json.gz"


def book_file_prefixes(job_id: str) -> list[str]:
    """The prefixes of the job's published files (its EPUB, its print PDF, its web-app book, its
    text for the next edition to compare with). Not
    the whole "{job}/" folder: a book's first job's id is the book's id, and its news (updates.json)
    lives there too."""
    return [
        book_blob(job_id, "book.epub"),
        book_blob(job_id, "book.pdf"),
        book_blob(job_id, "app/"),
        book_blob(job_id, EDITION_TEXT),
    ]


def work_blob(job_id: str, name: str) -> str:
    """A checkpoint of the job's conversion, in the work container."""
    return f"{job_id}/{name}"


def read_job(storage: Storage, job_id: str) -> tuple[Job, str]:
    """The job and its row's ETag; NotFound if there is no such job."""
    entity = storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY)
    return _job_of_row(entity.properties), entity.etag


def _job_of_row(row: dict[str, Any]) -> Job:
    """The job in its row; NotFound while the row is still its upload's marker."""
    if is_upload_marker(row):
        raise NotFound(f"job {row['PartitionKey']}: its upload is not recorded yet")
    return Job.from_entity(row)


def update_job(storage: Storage, job_id: str, change: Callable[[Job], Job | None]) -> Job | None:
    """Apply `change` to the current row with If-Match, re-reading after each lost race.

    `change` returns the new job, or None when there is nothing (left) to do; then nothing is
    written and None is returned. It must be pure: it may run several times.
    """
    return changed_row(storage, JOB_TABLE, (job_id, JOB_ROW_KEY), _job_of_row, Job.to_entity, change)


def fail_job(storage: Storage, job_id: str, reason: str) -> bool:
    """Mark a job failed with a reason an author can act on, then delete its files. Idempotent;
    returns whether this call changed it."""

    def fail(current: Job) -> Job | None:
        if current.is_terminal:
            return None
        return current.with_changes(status=JobStatus.FAILED, error=reason, claims={}, updated=datetime.now(UTC))

    try:
        changed = update_job(storage, job_id, fail) is not None
    except NotFound:
        return False
    if changed:
        clean_failed(storage, job_id)
    return changed


def clean_work(storage: Storage, job_id: str) -> None:
    """Delete a finished job's checkpoints, then record that they are gone."""
    storage.delete_prefix(WORK_CONTAINER, work_blob(job_id, ""))

    def mark(current: Job) -> Job | None:
        return None if current.cleaned else current.with_changes(cleaned=True)

    update_job(storage, job_id, mark)


def clean_failed(storage: Storage, job_id: str) -> None:
    """Delete a failed job's files: its checkpoints, and any book files a package step published
    before it failed (nothing serves them, and nothing else would ever delete them)."""
    delete_book_files(storage, job_id)
    clean_work(storage, job_id)


def delete_book_files(storage: Storage, job_id: str) -> None:
    for prefix in book_file_prefixes(job_id):
        storage.delete_prefix(BOOK_CONTAINER, prefix)


def delete_job_files(storage: Storage, job_id: str) -> None:
    """Every file a job's steps write (published files and checkpoints), with no row to update."""
    delete_book_files(storage, job_id)
    storage.delete_prefix(WORK_CONTAINER, work_blob(job_id, ""))


def clean_finished(storage: Storage, job: Job) -> None:
    """The clean-up of a finished job whose row says it has not happened yet."""
    if job.is_terminal and not job.cleaned:
        (clean_failed if job.status is JobStatus.FAILED else clean_work)(storage, job.id)


def finish_clean_up(storage: Storage, job_id: str) -> None:
    """A finished job's clean-up, if a crash interrupted it."""
    with contextlib.suppress(NotFound):
        job, _ = read_job(storage, job_id)
        clean_finished(storage, job)
