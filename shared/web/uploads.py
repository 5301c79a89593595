"""Direct uploads over HTTP (the valet-key pattern): the web tier hands out a short-lived SAS that
lets the client write one blob, the client uploads straight to Blob Storage in blocks, then submits,
and the upload is checked exactly as a form upload is before its job starts. The web tier never
carries the manuscript's bytes: it looks at the blob's size, its first bytes, and a zip's central
directory (a few ranged reads); only a small non-zip manuscript is read whole, as a form upload is.

    POST /api/uploads                  a new book (function key): the SAS, and the book's owner key
    POST /api/books/{id}/uploads       a new edition (owner key): the SAS
    POST /api/uploads/{id}             submit (owner key): 202 and the job, as a form upload answers

Submitting is idempotent: the marker row becomes the job row in one conditional transaction, so a
second submit, or one racing the first, finds the job and starts nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.functions as func

from shared import logs, telemetry
from shared.intake.direct import (
    ArrivedManuscript,
    check_arrived_by_upload,
    check_arrived_size,
    identify_archive,
    identify_small,
    read_direct_request,
    starts_as_zip,
)
from shared.intake.rejections import Refusal, UploadRejected, human_size
from shared.jobs.direct import (
    DirectUpload,
    discard_direct_upload,
    read_direct_upload,
    record_direct_upload,
    reserve_direct_upload,
)
from shared.jobs.record import Job, conversion_message, is_valid_job_id, new_job_id
from shared.jobs.store import read_job
from shared.jobs.uploads import manuscript_blob_name
from shared.library.record import key_matches, new_owner_key, owner_key_hash
from shared.library.store import BookRefused, BookState, add_edition_with, open_book_once, stop_if_erased
from shared.routes import API_BASE
from shared.services import Services
from shared.settings import MANUSCRIPT_CONTAINER
from shared.storage import AlreadyExists, Conflict, NotFound, StorageUnavailable
from shared.web.editions import (
    Reply,
    owned_book,
    presented_owner_key,
    readable_book,
    refusal_response,
    rejection_response,
    request_span,
)
from shared.web.responses import json_response, problem, storage_unavailable

log = logs.get_logger(__name__)


def ask_for_new_book(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A direct upload that makes a new book. Its owner key is handed out now, with the SAS: the
    submit needs it, and so the key never depends on a submit's answer arriving."""
    with request_span(req, "ask for upload"):
        owner_key = new_owner_key()
        return _ask(req, services, "", owner_key_hash(owner_key), {"owner_key": owner_key})


def ask_for_edition(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A direct upload that makes a new edition of a book (owner key)."""
    with request_span(req, "ask for edition upload"):
        checked = owned_book(req, services, req.route_params.get("id", ""))
        if isinstance(checked, func.HttpResponse):
            return checked
        return _ask(req, services, checked[0].id, "", {"book": checked[0].id})


def _ask(
    req: func.HttpRequest, services: Services, book_id: str, owner_key_sha256: str, extra: dict[str, str]
) -> func.HttpResponse:
    settings = services.settings
    try:
        request = read_direct_request(req.get_body(), settings.max_upload_bytes, settings.direct_upload_max_bytes)
    except UploadRejected as rejection:
        return rejection_response(rejection)
    upload_id = new_job_id()
    now = datetime.now(UTC)
    expires = (now + timedelta(seconds=settings.direct_upload_sas_seconds)).replace(microsecond=0)
    try:
        reserve_direct_upload(services.storage, upload_id, request, now, expires, book_id, owner_key_sha256)
        url = services.storage.upload_sas_url(MANUSCRIPT_CONTAINER, manuscript_blob_name(upload_id), expires)
    except StorageUnavailable:
        return storage_unavailable()  # a marker left behind is swept once its SAS would have expired
    block = settings.direct_upload_block_bytes
    submit_url = f"{API_BASE}/uploads/{upload_id}"
    with logs.bound(job=upload_id, book=book_id or upload_id):
        log.info(
            "direct upload handed out: %s, %d bytes declared, SAS until %s", request.filename, request.size, expires
        )
    body = {
        "id": upload_id,
        "upload": {
            "url": url,
            "expires": expires.isoformat().replace("+00:00", "Z"),
            "size": request.size,
            "block_size": block,
            "blocks": -(-request.size // block),
            "how": "PUT each block of at most block_size bytes to url + '&comp=block&blockid=<id>' (ids: base64 of "
            "equal length), then PUT the block list to url + '&comp=blocklist' (x-ms-blob-content-type may name "
            "the file's type). A failed block is simply sent again. The SAS writes this one blob and nothing else.",
        },
        "submit": {"url": submit_url, "method": "POST", "authorization": "Bearer <owner key>"},
        **extra,
    }
    return json_response(body, status=201, headers={"Location": submit_url, "Cache-Control": "no-store"})


def submit(req: func.HttpRequest, services: Services) -> Reply:
    """Check what arrived and start its job: 202 as a form upload answers; the same problem
    answers when it is refused (and then nothing of it is kept, unless the book has too many
    editions converting: 429, and the upload waits to be submitted again)."""
    with request_span(req, "submit upload"):
        response, message = _submit(req, services)
        return response, telemetry.stamped(message) if message else None


def _submit(req: func.HttpRequest, services: Services) -> Reply:
    upload_id = req.route_params.get("id", "")
    if not is_valid_job_id(upload_id):
        return problem(
            400, "Malformed upload id", "That is not a Quire upload id. Use the id the upload was given."
        ), None
    owner_key = presented_owner_key(req)
    if owner_key is None:
        return problem(
            401,
            "Owner key required",
            "Submitting an upload needs the book's owner key (for a new book, the one handed out with the upload): "
            "send it as 'Authorization: Bearer <owner key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="quire"'},
        ), None
    try:
        upload = read_direct_upload(services.storage, upload_id)
        if upload is None:
            return _already_submitted(services, upload_id, owner_key), None
        denied = _authorise(services, upload, owner_key)
        if denied is not None:
            if denied.status_code in (404, 410):
                discard_direct_upload(services.storage, upload)  # its book is gone: so is the upload
            return denied, None
        if upload.abandoned:
            return _expired(), None
        with logs.bound(job=upload.id, book=upload.book or upload.id):
            return _check_and_record(services, upload, owner_key)
    except StorageUnavailable:
        return storage_unavailable(), None


def _authorise(services: Services, upload: DirectUpload, owner_key: str) -> func.HttpResponse | None:
    if upload.book:
        found = readable_book(services, upload.book)
        if isinstance(found, func.HttpResponse):
            return found
        matches = found.owner_key_matches(owner_key)
    else:
        matches = key_matches(owner_key, upload.owner_key_sha256)
    if not matches:
        log.info("a submit was refused: wrong owner key for upload %s", upload.id)
        return _refused_key()
    return None


def _check_and_record(services: Services, upload: DirectUpload, owner_key: str) -> Reply:
    storage = services.storage
    try:
        blob = storage.committed_blob(MANUSCRIPT_CONTAINER, upload.blob_name)
    except NotFound:
        return problem(
            409,
            "Upload not finished",
            "Nothing has been committed to the upload yet. Upload every block, commit the block list "
            "(Put Block List), then submit again.",
        ), None
    size, etag = blob.size, blob.etag
    try:
        check_arrived_by_upload(blob.copied, blob.readable)
        check_arrived_size(upload.request.size, size)
        arrived = _identify(services, upload, size, etag)
    except UploadRejected as rejection:
        if rejection.refusal is not Refusal.INCOMPLETE:
            discard_direct_upload(storage, upload)  # refused: nothing of it is kept
        return rejection_response(rejection), None
    except Conflict:
        return problem(409, "Upload changed", "The upload was written again while it was checked. Submit again."), None
    now = datetime.now(UTC)
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
        return _already_submitted(services, upload.id, owner_key), None
    except BookRefused as refused:
        if refused.state is not BookState.CONVERTING:  # that one passes: the upload may be submitted again
            discard_direct_upload(storage, upload)
        return refusal_response(refused.state), None
    log.info("direct upload submitted: edition %d queued, %s, %d bytes", job.edition, job.kind, job.size)
    return _accepted(job), conversion_message(job.id)


def _identify(services: Services, upload: DirectUpload, size: int, etag: str) -> ArrivedManuscript:
    settings = services.settings
    blob = services.storage.open_blob(MANUSCRIPT_CONTAINER, upload.blob_name, size, etag)
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
    return identify_small(upload.request, services.storage.read_blob_if(MANUSCRIPT_CONTAINER, upload.blob_name, etag))


def _already_submitted(services: Services, upload_id: str, owner_key: str) -> func.HttpResponse:
    """A second submit: the job it started, to whoever holds its book's key."""
    try:
        job, _ = read_job(services.storage, upload_id)
    except NotFound:
        return problem(
            404,
            "Unknown upload",
            "No upload has this id: it was never handed out, or it was refused, or it expired and was deleted. "
            "Ask for a new upload.",
        )
    found = readable_book(services, job.book)
    if isinstance(found, func.HttpResponse):
        return _expired() if found.status_code == 404 else found
    if not found.owner_key_matches(owner_key):
        return _refused_key()
    return _accepted(job)


def _accepted(job: Job) -> func.HttpResponse:
    location = f"{API_BASE}/manuscripts/{job.id}"
    body = {**job.to_public(API_BASE), "book_links": {"app": f"{API_BASE}/books/{job.book}/app/"}}
    return json_response(body, status=202, headers={"Location": location})


def _expired() -> func.HttpResponse:
    return problem(
        410,
        "Upload expired",
        "This upload was not submitted in time and was deleted. Ask for a new upload and send the file again.",
    )


def _refused_key() -> func.HttpResponse:
    return problem(
        403,
        "Wrong owner key",
        "This is not the owner key of the upload's book (or it was rotated). Nothing was changed.",
    )
