"""Books and their editions over HTTP: create a book, publish an edition, read a book, rotate its
owner key, erase it. Each handler parses the request, calls one use case (shared/books/editions.py)
and answers; what a use case raises is answered by shared/web/problems.py.

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

from shared import telemetry
from shared.books import editions
from shared.books.reading import published_job, readable_book
from shared.intake import Manuscript, check_declared_size, identify, read_upload
from shared.jobs.record import is_valid_job_id
from shared.library.record import Book
from shared.routes import API_BASE
from shared.services import Services
from shared.web.problems import Problem, Reply, answers_problems, answers_problems_sending
from shared.web.responses import json_response

# Printable ASCII without spaces, and short: an owner key is 55 such characters.
_BEARER_TOKEN = re.compile(r"[!-~]{1,200}")


def request_span(req: func.HttpRequest, name: str) -> contextlib.AbstractContextManager[None]:
    """The request's span: under the host's invocation span when the worker set one, else under
    the caller's `traceparent` header, else the root of a new trace."""
    parent = None if telemetry.current_traceparent() else req.headers.get("traceparent")
    return telemetry.span(name, parent=parent, kind="server", route=req.url.split("?")[0].split("/api/", 1)[-1])


def sent(reply: Reply) -> Reply:
    """The reply, its message carrying the request's trace context."""
    response, message = reply
    return response, telemetry.stamped(message) if message else None


def _manuscript(req: func.HttpRequest, services: Services) -> Manuscript:
    limit = services.settings.max_upload_bytes
    check_declared_size(req.headers, limit)
    return identify(read_upload(req.headers, req.params, req.get_body(), limit))


def create(req: func.HttpRequest, services: Services) -> Reply:
    """A new book from its first manuscript: 202 with the edition's status, the book's links and
    its owner key (shown this once). The request's span starts the edition's trace."""
    with request_span(req, "create book"):
        return sent(_create(req, services))


@answers_problems_sending
def _create(req: func.HttpRequest, services: Services) -> Reply:
    new = editions.create_book(services.storage, _manuscript(req, services), datetime.now(UTC))
    job = new.first.job
    body = {
        **job.to_public(API_BASE),
        "owner_key": new.owner_key,
        "owner_key_note": "Keep this key: it is shown only now. Send it as 'Authorization: Bearer <key>' "
        "to publish new editions, change the book's feeds, rotate the key or delete the book.",
        "book_links": new.book.to_public(API_BASE)["links"],
    }
    location = f"{API_BASE}/manuscripts/{job.id}"
    return json_response(body, status=202, headers={"Location": location}), new.first.message


def publish_edition(req: func.HttpRequest, services: Services) -> Reply:
    """A new edition of a book (owner key): 202 with the edition's status."""
    with request_span(req, "publish edition"):
        return sent(_publish_edition(req, services))


@answers_problems_sending
def _publish_edition(req: func.HttpRequest, services: Services) -> Reply:
    book_id = checked_book_id(req)
    queued = editions.publish_edition(
        services.storage, book_id, presented_owner_key(req), lambda: _manuscript(req, services), datetime.now(UTC)
    )
    location = f"{API_BASE}/manuscripts/{queued.job.id}"
    return json_response(queued.job.to_public(API_BASE), status=202, headers={"Location": location}), queued.message


@answers_problems_sending
def book(req: func.HttpRequest, services: Services) -> Reply:
    """GET: the book and its editions (anonymous). DELETE: erase it (owner key)."""
    book_id = checked_book_id(req)
    if req.method.upper() == "DELETE":
        message = editions.erase(services.storage, book_id, presented_owner_key(req), datetime.now(UTC))
        body = {"id": book_id, "status": "erasing", "detail": "The book and everything kept for it are being erased."}
        return json_response(body, status=202), message
    found: Book = readable_book(services.storage, book_id)
    job = published_job(services.storage, found)  # one read: its PDF, its notes and what it changed
    public = found.to_public(API_BASE, pdf=job is not None and job.has_pdf)
    if job is not None:
        public.update({"release_notes": job.release_notes, "changes": job.changes})
    return json_response(public), None


@answers_problems
def rotate_key(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """A new owner key for the book (owner key); the old one stops working at once."""
    book_id = checked_book_id(req)
    new_key = editions.rotate_key(services.storage, book_id, presented_owner_key(req), datetime.now(UTC))
    return json_response({"id": book_id, "owner_key": new_key})


def checked_book_id(req: func.HttpRequest) -> str:
    """The route's book id; a Problem (400) when it cannot be one."""
    book_id = req.route_params.get("id", "")
    if not is_valid_job_id(book_id):
        raise Problem(
            400, "Malformed book id", "That is not a Quire book id. Use the id returned when the book was created."
        )
    return book_id


def presented_owner_key(req: func.HttpRequest) -> str | None:
    """The key in `Authorization: Bearer <key>`; None when the header is missing or malformed (a
    token that is not printable ASCII, such as a stray byte the host could not decode, is malformed)."""
    scheme, _, token = (req.headers.get("authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _BEARER_TOKEN.fullmatch(token):
        return None
    return token
