"""Direct uploads over HTTP (the valet-key pattern): the web tier hands out a short-lived SAS that
lets the client write one blob, the client uploads straight to Blob Storage in blocks, then submits,
and the upload is checked exactly as a form upload is before its job starts. The web tier never
carries the manuscript's bytes; how an upload becomes a job is shared/books/direct_uploads.py.

    POST /api/uploads                  a new book (function key): the SAS, and the book's owner key
    POST /api/books/{id}/uploads       a new edition (owner key): the SAS
    POST /api/uploads/{id}             submit (owner key): 202 and the job, as a form upload answers

Submitting is idempotent: a second submit, or one racing the first, finds the job and starts
nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared.books import direct_uploads
from shared.intake.direct_uploads import DirectUploadRequest, read_direct_request
from shared.jobs.record import Job, is_valid_job_id
from shared.routes import API_BASE
from shared.services import Services
from shared.web.editions import checked_book_id, presented_owner_key, request_span, sent
from shared.web.problems import Problem, Reply, answers_problems, answers_problems_sending
from shared.web.responses import json_response


def ask_for_new_book(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A direct upload that makes a new book: the SAS, and the book's owner key."""
    with request_span(req, "ask for upload"):
        return _ask_for_new_book(req, services)


@answers_problems
def _ask_for_new_book(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    asked = direct_uploads.ask_for_new_book(
        services.storage, services.settings, lambda: _request(req, services), datetime.now(UTC)
    )
    return _handed_out(services, asked, {"owner_key": asked.owner_key})


def ask_for_edition(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A direct upload that makes a new edition of a book (owner key)."""
    with request_span(req, "ask for edition upload"):
        return _ask_for_edition(req, services)


@answers_problems
def _ask_for_edition(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = checked_book_id(req)
    asked = direct_uploads.ask_for_edition(
        services.storage,
        services.settings,
        book_id,
        presented_owner_key(req),
        lambda: _request(req, services),
        datetime.now(UTC),
    )
    return _handed_out(services, asked, {"book": book_id})


def _request(req: func.HttpRequest, services: Services) -> DirectUploadRequest:
    settings = services.settings
    return read_direct_request(req.get_body(), settings.max_upload_bytes, settings.direct_upload_max_bytes)


def _handed_out(services: Services, asked: direct_uploads.AskedUpload, extra: dict[str, str]) -> func.HttpResponse:
    block = services.settings.direct_upload_block_bytes
    submit_url = f"{API_BASE}/uploads/{asked.id}"
    body = {
        "id": asked.id,
        "upload": {
            "url": asked.url,
            "expires": asked.expires.isoformat().replace("+00:00", "Z"),
            "size": asked.request.size,
            "block_size": block,
            "blocks": -(-asked.request.size // block),
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
        return sent(_submit(req, services))


@answers_problems_sending
def _submit(req: func.HttpRequest, services: Services) -> Reply:
    job_id = req.route_params.get("id", "")
    if not is_valid_job_id(job_id):
        raise Problem(400, "Malformed upload id", "That is not a Quire upload id. Use the id the upload was given.")
    queued = direct_uploads.submit(
        services.storage, services.settings, job_id, presented_owner_key(req), datetime.now(UTC)
    )
    return _accepted(queued.job), queued.message or None


def _accepted(job: Job) -> func.HttpResponse:
    location = f"{API_BASE}/manuscripts/{job.id}"
    body = {**job.to_public(API_BASE), "book_links": {"app": f"{API_BASE}/books/{job.book}/app/"}}
    return json_response(body, status=202, headers={"Location": location})
