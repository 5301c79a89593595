"""Direct uploads' records: the upload's marker row, written when the client asks for its SAS, and
the job that replaces it when the upload is submitted.

The marker is a row of its own beside the job's (a form upload's marker is the job's row itself:
shared/jobs/record.py), with what the client declared and when its SAS expires: the reconciler
deletes the blob and the marker of an upload never submitted once its SAS has expired and
ABANDONED_UPLOAD_SECONDS more have passed (shared/worker/recovery.sweep_abandoned_uploads).
Submitting turns the marker into the job row in one transaction, conditional on the marker as it
was read, so two submits record one job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.intake.direct_uploads import ArrivedManuscript, DirectUploadRequest
from shared.jobs.manuscripts import discard_upload, manuscript_blob_name
from shared.jobs.record import JOB_ROW_KEY, UPLOAD_ROW_KEY, Job, JobStatus
from shared.storage import NotFound, Storage, StorageUnavailable
from shared.storage.names import JOB_TABLE


@dataclass(frozen=True)
class DirectUpload:
    """A direct upload asked for and not yet submitted (its marker row, as read at `etag`)."""

    id: str
    request: DirectUploadRequest
    started: datetime
    expires: datetime
    book: str  # the book it makes a new edition of; "" for a new book
    owner_key_sha256: str  # a new book's owner key, handed out with the SAS; "" for an edition
    abandoned: bool
    etag: str

    @property
    def blob_name(self) -> str:
        return manuscript_blob_name(self.id)

    def to_row(self) -> dict[str, object]:
        """The marker row (`direct` tells it from a form upload's marker of an earlier version,
        which had this key too)."""
        row: dict[str, object] = {
            "PartitionKey": self.id,
            "RowKey": UPLOAD_ROW_KEY,
            "started": self.started,
            "manuscript_blob": self.blob_name,
            "direct": True,
            "expires": self.expires,
            "filename": self.request.filename,
            "size": self.request.size,
            "title": self.request.title,
            "author": self.request.author,
            "language": self.request.language,
            "split_level": self.request.split_level,
            "pdf_page": self.request.pdf_page,
            "release_notes": self.request.release_notes,
            "book": self.book,
            "owner_key_sha256": self.owner_key_sha256,
        }
        if self.abandoned:
            row["abandoned"] = True
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any], etag: str) -> DirectUpload:
        return cls(
            id=row["PartitionKey"],
            request=DirectUploadRequest(
                filename=row["filename"],
                size=int(row["size"]),
                title=row.get("title", ""),
                author=row.get("author", ""),
                language=row.get("language", ""),
                split_level=int(row.get("split_level", 1)),
                pdf_page=row.get("pdf_page", ""),
                release_notes=row.get("release_notes", ""),
            ),
            started=row["started"],
            expires=row["expires"],
            book=row.get("book", ""),
            owner_key_sha256=row.get("owner_key_sha256", ""),
            abandoned=bool(row.get("abandoned")),
            etag=etag,
        )


def reserve_direct_upload(
    storage: Storage,
    job_id: str,
    request: DirectUploadRequest,
    now: datetime,
    expires: datetime,
    book: str = "",
    owner_key_sha256: str = "",
) -> None:
    """The marker row of a direct upload about to be handed its SAS."""
    upload = DirectUpload(job_id, request, now, expires, book, owner_key_sha256, abandoned=False, etag="")
    storage.put_entity(JOB_TABLE, upload.to_row())  # the id is 128 random bits: nothing else has this row


def read_direct_upload(storage: Storage, job_id: str) -> DirectUpload | None:
    """The direct upload's marker; None when there is none (submitted, discarded, or never asked for)."""
    try:
        marker = storage.get_entity(JOB_TABLE, job_id, UPLOAD_ROW_KEY)
    except NotFound:
        return None
    if not marker.properties.get("direct"):
        return None  # a form upload's, left by an earlier version: not for the submit endpoint
    return DirectUpload.from_row(marker.properties, marker.etag)


def record_direct_upload(
    storage: Storage, upload: DirectUpload, arrived: ArrivedManuscript, blob_etag: str, now: datetime, edition: int
) -> Job:
    """The queued job, in place of the marker (Conflict when the marker changed or went: another
    submit recorded it, or the sweeper gave the upload up). The job reads the blob only at
    `blob_etag`, the version that was checked."""
    request = arrived.request
    job = Job(
        id=upload.id,
        status=JobStatus.QUEUED,
        created=now,
        updated=now,
        manuscript_blob=upload.blob_name,
        filename=request.filename,
        kind=arrived.type.kind,
        content_type=arrived.type.content_type,
        size=request.size,
        sha256=arrived.sha256,
        title=request.title,
        author=request.author,
        language=request.language,
        split_level=request.split_level,
        pdf_page=request.pdf_page,
        release_notes=request.release_notes,
        book=upload.book or upload.id,
        edition=edition,
        manuscript_etag=blob_etag,
    )
    _replace_marker(storage, job, upload.etag)
    return job


def _replace_marker(storage: Storage, job: Job, marker_etag: str) -> None:
    """The job row in, the marker out, in one transaction. A transaction is a POST, which the SDK
    does not retry: a dropped keep-alive connection ends it at once. Its reply may have been lost
    after it committed, so look before trying once more."""
    try:
        storage.create_replacing(JOB_TABLE, job.to_entity(), UPLOAD_ROW_KEY, marker_etag)
    except StorageUnavailable:
        try:
            storage.get_entity(JOB_TABLE, job.id, JOB_ROW_KEY)
            return  # it was recorded
        except NotFound:
            storage.create_replacing(JOB_TABLE, job.to_entity(), UPLOAD_ROW_KEY, marker_etag)


def discard_direct_upload(storage: Storage, upload: DirectUpload) -> None:
    """Delete a refused upload's blob, then its marker (best effort: the sweeper finishes the rest)."""
    discard_upload(storage, upload.id, upload.blob_name, UPLOAD_ROW_KEY)
