"""Books and their editions over HTTP: create a book, publish an edition, read a book, rotate its
owner key, erase it.

Creating a book needs the app's function key (it keeps strangers from spending the app's compute);
every change to a book after that needs the book's owner key, sent as `Authorization: Bearer`.
Reading stays anonymous: the unguessable book id is the capability to read.

Handlers that start work return the message to send with the response, for `function_app.py`'s
output binding (None when nothing starts).
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime

import azure.functions as func

from shared import logs, telemetry
from shared.formats import MANUSCRIPT_TYPES
from shared.intake import Manuscript, UploadRejected, check_declared_size, identify, read_upload
from shared.intake.rejections import Refusal
from shared.jobs.record import conversion_message, is_valid_job_id
from shared.library.erasure import erasure_message, start_erasure
from shared.library.record import MAX_CONVERTING_EDITIONS, Book
from shared.library.store import (
    BookRefused,
    BookState,
    add_edition,
    create_book,
    read_book,
    rotate_owner_key,
    was_erased,
)
from shared.routes import API_BASE
from shared.services import Services
from shared.storage import NotFound, StorageUnavailable
from shared.web.responses import json_response, problem, storage_unavailable

log = logs.get_logger(__name__)

HTTP_STATUS = {
    Refusal.MALFORMED: 400,
    Refusal.LENGTH_REQUIRED: 411,
    Refusal.TOO_LARGE: 413,
    Refusal.UNSUPPORTED_TYPE: 415,
    Refusal.UNSAFE_ARCHIVE: 422,
    Refusal.INCOMPLETE: 409,
}
Reply = tuple[func.HttpResponse, str | None]
# Printable ASCII without spaces, and short: an owner key is 55 such characters.
_BEARER_TOKEN = re.compile(r"[!-~]{1,200}")
# When a book with too many editions converting may send another: conversions take seconds to minutes.
CONVERTING_RETRY_AFTER_SECONDS = 60


def request_span(req: func.HttpRequest, name: str) -> contextlib.AbstractContextManager[None]:
    """The request's span: under the host's invocation span when the worker set one, else under
    the caller's `traceparent` header, else the root of a new trace."""
    parent = None if telemetry.current_traceparent() else req.headers.get("traceparent")
    return telemetry.span(name, parent=parent, kind="server", route=req.url.split("?")[0].split("/api/", 1)[-1])


def _manuscript(req: func.HttpRequest, services: Services) -> Manuscript | func.HttpResponse:
    limit = services.settings.max_upload_bytes
    try:
        check_declared_size(req.headers, limit)
        upload = read_upload(req.headers, req.params, req.get_body(), limit)
        return identify(upload)
    except UploadRejected as rejection:
        return rejection_response(rejection)


def rejection_response(rejection: UploadRejected) -> func.HttpResponse:
    """The problem answer for a refused upload, form or direct: the status its kind maps to."""
    status = HTTP_STATUS[rejection.refusal]
    log.info("upload rejected: %s %s", status, rejection.title)
    unsupported = rejection.refusal is Refusal.UNSUPPORTED_TYPE
    extra = {"accepted": [t.kind for t in MANUSCRIPT_TYPES]} if unsupported else {}
    return problem(status, rejection.title, rejection.detail, None, **extra)


def create(req: func.HttpRequest, services: Services) -> Reply:
    """A new book from its first manuscript: 202 with the edition's status, the book's links and
    its owner key (shown this once). The request's span starts the edition's trace."""
    with request_span(req, "create book"):
        response, message = _create(req, services)
        return response, telemetry.stamped(message) if message else None


def _create(req: func.HttpRequest, services: Services) -> Reply:
    manuscript = _manuscript(req, services)
    if isinstance(manuscript, func.HttpResponse):
        return manuscript, None
    try:
        book, job, owner_key = create_book(services.storage, manuscript, datetime.now(UTC))
    except StorageUnavailable:
        log.warning("upload not stored: storage unavailable")
        return storage_unavailable(), None
    with logs.bound(job=job.id, book=book.id):
        log.info("book created, edition 1 queued: %s, %d bytes, %s", job.kind, job.size, job.sha256[:12])
    body = {
        **job.to_public(API_BASE),
        "owner_key": owner_key,
        "owner_key_note": "Keep this key: it is shown only now. Send it as 'Authorization: Bearer <key>' "
        "to publish new editions, change the book's feeds, rotate the key or delete the book.",
        "book_links": book.to_public(API_BASE)["links"],
    }
    location = f"{API_BASE}/manuscripts/{job.id}"
    return json_response(body, status=202, headers={"Location": location}), conversion_message(job.id)


def publish_edition(req: func.HttpRequest, services: Services) -> Reply:
    """A new edition of a book (owner key): 202 with the edition's status."""
    with request_span(req, "publish edition"):
        response, message = _publish_edition(req, services)
        return response, telemetry.stamped(message) if message else None


def _publish_edition(req: func.HttpRequest, services: Services) -> Reply:
    book_id = req.route_params.get("id", "")
    checked = owned_book(req, services, book_id)
    if isinstance(checked, func.HttpResponse):
        return checked, None
    book, owner_key = checked
    manuscript = _manuscript(req, services)
    if isinstance(manuscript, func.HttpResponse):
        return manuscript, None
    try:
        job = add_edition(services.storage, book.id, owner_key, manuscript, datetime.now(UTC))
    except BookRefused as refused:
        return refusal_response(refused.state), None
    except StorageUnavailable:
        return storage_unavailable(), None
    with logs.bound(job=job.id, book=book.id):
        log.info("edition %d queued: %s, %d bytes", job.edition, job.kind, job.size)
    location = f"{API_BASE}/manuscripts/{job.id}"
    return json_response(job.to_public(API_BASE), status=202, headers={"Location": location}), conversion_message(
        job.id
    )


def book(req: func.HttpRequest, services: Services) -> Reply:
    """GET: the book and its editions (anonymous). DELETE: erase it (owner key)."""
    book_id = req.route_params.get("id", "")
    if req.method.upper() == "DELETE":
        return _delete(req, services, book_id)
    found = readable_book(services, book_id)
    if isinstance(found, func.HttpResponse):
        return found, None
    return json_response(found.to_public(API_BASE)), None


def _delete(req: func.HttpRequest, services: Services, book_id: str) -> Reply:
    checked = owned_book(req, services, book_id)
    if isinstance(checked, func.HttpResponse):
        return checked, None
    book, owner_key = checked
    try:
        start_erasure(services.storage, book.id, owner_key, datetime.now(UTC))
    except BookRefused as refused:
        return refusal_response(refused.state), None
    except StorageUnavailable:
        return storage_unavailable(), None
    with logs.bound(book=book.id):
        log.info("erasure started")
    body = {"id": book.id, "status": "erasing", "detail": "The book and everything kept for it are being erased."}
    return json_response(body, status=202), erasure_message(book.id)


def rotate_key(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A new owner key for the book (owner key); the old one stops working at once."""
    book_id = req.route_params.get("id", "")
    checked = owned_book(req, services, book_id)
    if isinstance(checked, func.HttpResponse):
        return checked
    book, owner_key = checked
    try:
        new_key = rotate_owner_key(services.storage, book.id, owner_key, datetime.now(UTC))
    except BookRefused as refused:
        return refusal_response(refused.state)
    except StorageUnavailable:
        return storage_unavailable()
    with logs.bound(book=book.id):
        log.info("owner key rotated")
    return json_response({"id": book.id, "owner_key": new_key})


def readable_book(services: Services, book_id: str) -> Book | func.HttpResponse:
    """The book, or the problem that says why it cannot be read (malformed id, unknown, erased)."""
    if not is_valid_job_id(book_id):
        return problem(
            400, "Malformed book id", "That is not a Quire book id. Use the id returned when the book was created."
        )
    try:
        found = read_book(services.storage, book_id)
    except NotFound:
        erased = was_erased(services.storage, book_id)
        return refusal_response(BookState.ERASED if erased else BookState.UNKNOWN)
    except StorageUnavailable:
        return storage_unavailable()
    if found.erasing:
        return refusal_response(BookState.ERASED)
    return found


def presented_owner_key(req: func.HttpRequest) -> str | None:
    """The key in `Authorization: Bearer <key>`; None when the header is missing or malformed (a
    token that is not printable ASCII, such as a stray byte the host could not decode, is malformed)."""
    scheme, _, token = (req.headers.get("authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _BEARER_TOKEN.fullmatch(token):
        return None
    return token


def owned_book(req: func.HttpRequest, services: Services, book_id: str) -> tuple[Book, str] | func.HttpResponse:
    found = readable_book(services, book_id)
    if isinstance(found, func.HttpResponse):
        return found
    owner_key = presented_owner_key(req)
    if owner_key is None:
        return problem(
            401,
            "Owner key required",
            "Changing a book needs its owner key, the one shown when the book was created: "
            "send it as 'Authorization: Bearer <owner key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="quire"'},
        )
    if not found.owner_key_matches(owner_key):
        with logs.bound(book=book_id):
            log.info("a change was refused: wrong owner key")
        return refusal_response(BookState.WRONG_KEY)
    return found, owner_key


def refusal_response(state: BookState) -> func.HttpResponse:
    if state is BookState.WRONG_KEY:
        return problem(
            403,
            "Wrong owner key",
            "This is not the book's owner key (or it was rotated). Use the key shown when the book was "
            "created or last rotated; nothing was changed.",
        )
    if state is BookState.ERASED:
        return problem(410, "Book deleted", "This book was deleted by its owner. Nothing of it is kept.")
    if state is BookState.CONVERTING:
        return problem(
            429,
            "Too many editions converting",
            f"This book has {MAX_CONVERTING_EDITIONS} or more editions still converting; wait for them to finish, "
            "then send the new edition again (a direct upload is kept: submit it again).",
            headers={"Retry-After": str(CONVERTING_RETRY_AFTER_SECONDS)},
        )
    return problem(404, "Unknown book", "No book has this id. Check the link.")
