"""Direct uploads (the valet-key pattern): how a direct upload becomes a job.

Asking writes the upload's marker row (shared/jobs/direct_uploads.py `reserve_direct_upload`) and makes a
short-lived SAS that writes that one blob. Submitting checks the owner key (the upload's book's,
or for a new book the one handed out with the SAS), then what arrived: the blob's size, its first
bytes and a zip's central directory, a few ranged reads (shared/intake/direct_uploads.py); only a small
non-zip manuscript is read whole. Then the marker becomes the queued job in one conditional
transaction (`record_direct_upload`), so a second submit, or one racing the first, finds the job
and starts nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import logs
from shared.books.editions import Queued, book_to_change
from shared.books.reading import readable_book
from shared.errors import (
    BookErased,
    BookUnknown,
    OwnerKeyRequired,
    Refused,
    TooManyConverting,
    UploadChanged,
    UploadExpired,
    UploadNotFinished,
    UploadUnknown,
    WrongOwnerKey,
)
from shared.intake.direct_uploads import (
    ArrivedManuscript,
    DirectUploadRequest,
    check_arrived_by_upload,
    check_arrived_size,
    identify_archive,
    identify_small,
    starts_as_zip,
)
from shared.intake.rejections import Refusal, UploadRejected, human_size
from shared.jobs.direct_uploads import (
    DirectUpload,
    discard_direct_upload,
    read_direct_upload,
    record_direct_upload,
    reserve_direct_upload,
)
from shared.jobs.manuscripts import manuscript_blob_name
from shared.jobs.messages import ConvertStep
from shared.jobs.record import Job, new_job_id
from shared.jobs.store import read_job
from shared.library.record import check_owner_key, new_owner_key, owner_key_hash
from shared.library.store import add_edition_with, open_book_once, stop_if_erased
from shared.settings import Settings
from shared.storage import AlreadyExists, Conflict, NotFound, Storage
from shared.storage.names import MANUSCRIPT_CONTAINER

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class AskedUpload:
    id: str
    request: DirectUploadRequest
    url: str  # the SAS: writes this one blob and nothing else
    expires: datetime
    owner_key: str = ""  # a new book's, handed out now; "" for an edition


def ask_for_new_book(
    storage: Storage, settings: Settings, request: Callable[[], DirectUploadRequest], now: datetime
) -> AskedUpload:
    """A direct upload that makes a new book. Its owner key is handed out now, with the SAS: the
    submit needs it, and so the key never depends on a submit's answer arriving."""
    owner_key = new_owner_key()
    asked = _ask(storage, settings, request(), now, "", owner_key_hash(owner_key))
    return AskedUpload(asked.id, asked.request, asked.url, asked.expires, owner_key)


def ask_for_edition(
    storage: Storage,
    settings: Settings,
    book_id: str,
    owner_key: str | None,
    request: Callable[[], DirectUploadRequest],
    now: datetime,
) -> AskedUpload:
    """A direct upload that makes a new edition of the book (owner key; the request is read after)."""
    book = book_to_change(storage, book_id, owner_key)
    return _ask(storage, settings, request(), now, book.id, "")


def _ask(
    storage: Storage, settings: Settings, request: DirectUploadRequest, now: datetime, book_id: str, key_sha256: str
) -> AskedUpload:
    job_id = new_job_id()
    expires = (now + timedelta(seconds=settings.direct_upload_sas_seconds)).replace(microsecond=0)
    # A marker left behind by a failure after it is swept once its SAS would have expired.
    reserve_direct_upload(storage, job_id, request, now, expires, book_id, key_sha256)
    url = storage.upload_sas_url(MANUSCRIPT_CONTAINER, manuscript_blob_name(job_id), expires)
    with logs.bound(job=job_id, book=book_id or job_id):
        log.info(
            "direct upload handed out: %s, %d bytes declared, SAS until %s", request.filename, request.size, expires
        )
    return AskedUpload(job_id, request, url, expires)


def submit(storage: Storage, settings: Settings, job_id: str, owner_key: str | None, now: datetime) -> Queued:
    """Check what arrived and record its job; the message is "" when a submit before this one
    recorded it. A refused upload is discarded, unless the book has too many editions converting
    (TooManyConverting: the upload waits to be submitted again)."""
    if owner_key is None:
        raise OwnerKeyRequired(of_upload=True)
    upload = read_direct_upload(storage, job_id)
    if upload is None:
        return Queued(_already_submitted(storage, job_id, owner_key), "")
    try:
        _authorise(storage, upload, owner_key)
    except (BookUnknown, BookErased):
        discard_direct_upload(storage, upload)  # its book is gone: so is the upload
        raise
    if upload.abandoned:
        raise UploadExpired
    with logs.bound(job=upload.id, book=upload.book or upload.id):
        return _check_and_record(storage, settings, upload, owner_key, now)


def _authorise(storage: Storage, upload: DirectUpload, owner_key: str) -> None:
    key_sha256 = readable_book(storage, upload.book).owner_key_sha256 if upload.book else upload.owner_key_sha256
    try:
        check_owner_key(key_sha256, owner_key, of_upload=True)
    except WrongOwnerKey:
        log.info("a submit was refused: wrong owner key for upload %s", upload.id)
        raise


def _check_and_record(
    storage: Storage, settings: Settings, upload: DirectUpload, owner_key: str, now: datetime
) -> Queued:
    try:
        blob = storage.committed_blob(MANUSCRIPT_CONTAINER, upload.blob_name)
    except NotFound:
        raise UploadNotFinished from None
    size, etag = blob.size, blob.etag
    try:
        check_arrived_by_upload(blob.copied, blob.readable)
        check_arrived_size(upload.request.size, size)
        arrived = _identify(storage, settings, upload, size, etag)
    except UploadRejected as rejection:
        if rejection.refusal is not Refusal.INCOMPLETE:
            discard_direct_upload(storage, upload)  # refused: nothing of it is kept
        raise
    except Conflict:
        raise UploadChanged from None
    try:
        if upload.book:
            job = add_edition_with(
                storage,
                upload.book,
                owner_key,
                upload.id,
                now,
                lambda edition: record_direct_upload(storage, upload, arrived, etag, now, edition),
            )
        else:
            # The book's row first, then the job: a racing submit that finds the job recorded
            # finds its book (and the key to check) too.
            open_book_once(storage, upload.id, upload.owner_key_sha256, now)
            job = record_direct_upload(storage, upload, arrived, etag, now, edition=1)
            stop_if_erased(storage, upload.id, job.id)
    except (Conflict, AlreadyExists):
        # The marker changed under this submit, or the job row was there first: a racing submit
        # recorded the job (answer as it did), or the sweeper gave the upload up.
        return Queued(_already_submitted(storage, upload.id, owner_key), "")
    except Refused as refused:
        if not isinstance(refused, TooManyConverting):  # that one passes: the upload may be submitted again
            discard_direct_upload(storage, upload)
        raise
    log.info("direct upload submitted: edition %d queued, %s, %d bytes", job.edition, job.kind, job.size)
    return Queued(job, ConvertStep(job.id).to_message())


def _identify(storage: Storage, settings: Settings, upload: DirectUpload, size: int, etag: str) -> ArrivedManuscript:
    blob = storage.open_blob(MANUSCRIPT_CONTAINER, upload.blob_name, size, etag)
    if starts_as_zip(blob.read(4)):
        blob.seek(0)
        return identify_archive(upload.request, blob, settings.max_upload_bytes)
    if size > settings.max_upload_bytes:
        raise UploadRejected(
            Refusal.UNSUPPORTED_TYPE,
            "Unsupported manuscript type",
            f"The file is not a zip archive, and only a zip or an EPUB may be larger than "
            f"{human_size(settings.max_upload_bytes)}.",
        )
    return identify_small(upload.request, storage.read_blob_if(MANUSCRIPT_CONTAINER, upload.blob_name, etag))


def _already_submitted(storage: Storage, job_id: str, owner_key: str) -> Job:
    """A second submit: the job it started, to whoever holds its book's key."""
    try:
        job, _ = read_job(storage, job_id)
    except NotFound:
        raise UploadUnknown from None
    try:
        book = readable_book(storage, job.book)
    except BookUnknown:
        raise UploadExpired from None
    check_owner_key(book.owner_key_sha256, owner_key, of_upload=True)
    return job
