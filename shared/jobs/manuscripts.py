"""Storing an accepted upload: its manuscript blob and its job row, leaving nothing behind if the
request dies half-way.

A marker row goes first, then the blob, then one table transaction that writes the job row and
removes the marker. A request that dies in between leaves the marker, and the reconciler deletes
the manuscript once the upload is ABANDONED_UPLOAD_SECONDS old
(shared/worker/recovery.sweep_abandoned_uploads).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from shared.intake import Manuscript
from shared.jobs.record import JOB_ROW_KEY, UPLOAD_ROW_KEY, Job, JobStatus
from shared.storage import AlreadyExists, Conflict, NotFound, Storage, StorageUnavailable
from shared.storage.names import JOB_TABLE, MANUSCRIPT_CONTAINER


def manuscript_blob_name(job_id: str) -> str:
    return f"{job_id}/original"


def store_manuscript(
    storage: Storage, manuscript: Manuscript, job_id: str, now: datetime, book_id: str, edition: int
) -> Job:
    """Record that the upload started, write the blob, then the queued job record in the same
    transaction that removes the upload's marker. Nothing is left behind: on failure here it is
    deleted at once; if the process dies, the marker names the blob, and the reconciler deletes
    both once the upload is abandoned (shared/worker/recovery.sweep_abandoned_uploads)."""
    blob_name = manuscript_blob_name(job_id)
    marker = {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "started": now, "manuscript_blob": blob_name}
    # The id is 128 random bits, so nothing else has this row: a retryable PUT, not a create.
    marker_etag = storage.put_entity(JOB_TABLE, marker)
    try:
        storage.create_blob(
            MANUSCRIPT_CONTAINER,
            blob_name,
            manuscript.upload.data,
            content_type=manuscript.type.content_type,
            metadata={"sha256": manuscript.sha256, "kind": manuscript.type.kind},
        )
    except BaseException:
        discard_upload(storage, job_id, blob_name)  # no job can be recorded yet: safe to delete now
        raise
    job = _job_for(manuscript, job_id, blob_name, now).with_changes(book=book_id, edition=edition)
    try:
        record_job(storage, job, marker_etag)
    except AlreadyExists:
        discard_upload(storage, job_id, blob_name)
        raise RuntimeError("job id collision") from None  # 128 random bits collided
    except Conflict:
        discard_upload(storage, job_id, blob_name)  # the sweeper gave this upload up
        raise StorageUnavailable("the upload took so long that it was given up; send it again") from None
    # Any other failure leaves both: the job may have been recorded with the answer lost. The
    # marker is gone exactly when it was, and the sweeper acts only on a marker.
    return job


def record_job(storage: Storage, job: Job, marker_etag: str) -> None:
    """The job row in, the upload's marker out, in one transaction. A transaction is a POST, which
    the SDK does not retry: a dropped keep-alive connection ends it at once. Its reply may have
    been lost after it committed, so look before trying once more."""
    try:
        storage.create_replacing(JOB_TABLE, job.to_entity(), UPLOAD_ROW_KEY, marker_etag)
    except StorageUnavailable:
        try:
            storage.get_entity(JOB_TABLE, job.id, JOB_ROW_KEY)
            return  # it was recorded
        except NotFound:
            storage.create_replacing(JOB_TABLE, job.to_entity(), UPLOAD_ROW_KEY, marker_etag)


def discard_upload(storage: Storage, job_id: str, blob_name: str) -> None:
    """Delete an upload that recorded no job (best effort: the sweeper finishes what fails here)."""
    with contextlib.suppress(Exception):
        storage.delete_blob(MANUSCRIPT_CONTAINER, blob_name)
        storage.delete_entity(JOB_TABLE, job_id, UPLOAD_ROW_KEY)


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
