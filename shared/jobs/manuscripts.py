"""Storing an accepted form upload: its manuscript blob and its job row, leaving nothing behind
if the request dies half-way.

The job's row is written first as the upload's marker (shared/jobs/record.upload_marker), then the
blob; then the queued job replaces the marker, conditional on it as written. A request that dies in
between leaves the marker, which readers of jobs take for no job, and the reconciler deletes the
manuscript once the upload is ABANDONED_UPLOAD_SECONDS old
(shared/worker/recovery.sweep_abandoned_uploads).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from shared.intake import Manuscript
from shared.jobs.record import JOB_ROW_KEY, Job, JobStatus, upload_marker
from shared.jobs.store import read_job
from shared.storage import Conflict, NotFound, Storage, StorageUnavailable
from shared.storage.names import JOB_TABLE, MANUSCRIPT_CONTAINER


def manuscript_blob_name(job_id: str) -> str:
    return f"{job_id}/original"


def store_manuscript(
    storage: Storage, manuscript: Manuscript, job_id: str, now: datetime, book_id: str, edition: int
) -> Job:
    """Record that the upload started, write the blob, then the queued job in place of the
    upload's marker. Nothing is left behind: on failure here it is deleted at once; if the process
    dies, the marker names the blob, and the reconciler deletes both once the upload is abandoned
    (shared/worker/recovery.sweep_abandoned_uploads)."""
    blob_name = manuscript_blob_name(job_id)
    # The id is 128 random bits, so no job has this row: a retryable PUT, not a create.
    marker_etag = storage.put_entity(JOB_TABLE, upload_marker(job_id, blob_name, now))
    try:
        storage.create_blob(
            MANUSCRIPT_CONTAINER,
            blob_name,
            manuscript.upload.data,
            content_type=manuscript.type.content_type,
            metadata={"sha256": manuscript.sha256, "kind": manuscript.type.kind},
        )
    except BaseException:
        discard_upload(storage, job_id, blob_name, JOB_ROW_KEY)  # no job can be recorded yet: safe to delete now
        raise
    job = _job_for(manuscript, job_id, blob_name, now).with_changes(book=book_id, edition=edition)
    try:
        record_job(storage, job, marker_etag)
    except Conflict:
        discard_upload(storage, job_id, blob_name, JOB_ROW_KEY)  # the sweeper gave this upload up
        raise StorageUnavailable("the upload took so long that it was given up; send it again") from None
    # Any other failure leaves both: the job may have been recorded with the answer lost. The
    # marker is gone exactly when it was, and the sweeper acts only on a marker.
    return job


def record_job(storage: Storage, job: Job, marker_etag: str) -> None:
    """The queued job in place of the upload's marker, if the marker is as it was written;
    Conflict when it changed or went (the sweeper gave the upload up). The SDK retries a PUT whose
    connection dropped, and a retry after a first try that committed finds the ETag changed: so
    a refusal, or a reply lost, is checked against the row before it is believed."""
    try:
        storage.update_entity(JOB_TABLE, job.to_entity(), etag=marker_etag)
        return
    except (Conflict, NotFound):
        if _recorded(storage, job.id):
            return
        raise Conflict(f"job {job.id}: its upload's marker changed or went") from None
    except StorageUnavailable:
        if _recorded(storage, job.id):
            return
    try:
        storage.update_entity(JOB_TABLE, job.to_entity(), etag=marker_etag)
    except NotFound:
        raise Conflict(f"job {job.id}: its upload's marker went") from None


def _recorded(storage: Storage, job_id: str) -> bool:
    """Whether the job is recorded (read_job takes a marker for no job; the id is 128 random bits:
    a job there is this one)."""
    try:
        read_job(storage, job_id)
        return True
    except NotFound:
        return False


def discard_upload(storage: Storage, job_id: str, blob_name: str, marker_row_key: str) -> None:
    """Delete an upload that recorded no job, then its marker (best effort: the sweeper finishes
    what fails here)."""
    with contextlib.suppress(Exception):
        storage.delete_blob(MANUSCRIPT_CONTAINER, blob_name)
        storage.delete_entity(JOB_TABLE, job_id, marker_row_key)


def _job_for(manuscript: Manuscript, job_id: str, blob_name: str, now: datetime) -> Job:
    upload = manuscript.upload
    return Job(
        id=job_id,
        status=JobStatus.QUEUED,
        created=now,
        updated=now,
        manuscript_blob=blob_name,
        filename=upload.filename or f"manuscript{manuscript.type.extensions[0]}",
        kind=manuscript.type.kind,
        content_type=manuscript.type.content_type,
        size=len(upload.data),
        sha256=manuscript.sha256,
        title=upload.title,
        author=upload.author,
        language=upload.language,
        split_level=upload.split_level,
        pdf_page=upload.pdf_page,
        release_notes=upload.release_notes,
    )
