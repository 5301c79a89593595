"""Serving finished books: the EPUB and print PDF downloads and the web-app book's files.

Anonymous: the unguessable id is the capability. A book's addresses serve its published edition
(one read of the book's row names it); `?edition=N` asks for one kept edition, which is how an
installed book's service worker caches a whole edition even while a newer one is being published.
An edition's own download (`/manuscripts/{job}/book.epub`) serves only once its job succeeded, so
nobody sees half a book. The PDF is served like the EPUB, for the editions whose job wrote one. The web-app book gets a strict Content-Security-Policy
(its pages carry no inline script or style), nosniff, and cache headers: pages, the manifest and
the service worker are revalidated; images, styles and scripts of a finished book never change.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import azure.functions as func

from shared.books.reading import edition_file, edition_has_pdf, latest_job, readable_book
from shared.formats import content_type_for, whole_number
from shared.jobs.record import Job, JobStatus
from shared.library.record import Book, Edition
from shared.routes import API_BASE
from shared.services import Services
from shared.storage import NotFound
from shared.web.editions import checked_book_id
from shared.web.problems import Problem, answers_problems
from shared.web.responses import BOOK_FILE_HEADERS
from shared.web.status import checked_job

APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; worker-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
REVALIDATE = "no-cache"  # pages, manifest and service worker: always ask, a 304 is cheap
# Images are named by their content, so a name always means the same bytes, in every edition.
IMMUTABLE = "public, max-age=31536000, immutable"
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def _finished_job(services: Services, job_id: str) -> Job:
    job = checked_job(services, job_id)
    if job.status is JobStatus.FAILED:
        raise Problem(404, "No book", f"This manuscript could not be converted: {job.error}")
    if job.status is not JobStatus.SUCCEEDED:
        raise _not_ready(job_id)
    return job


def _not_ready(job_id: str) -> Problem:
    return Problem(
        404,
        "Book not ready",
        f"The book is still being made. Follow {API_BASE}/manuscripts/{job_id} and try again when it has succeeded.",
        headers={"Retry-After": "5"},
    )


def download_filename(title: str, extension: str = "epub") -> str:
    """An ASCII file name from the title (the UTF-8 one goes in filename*)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_title).strip("-").lower()[:80]
    return f"{slug or 'book'}.{extension}"


@answers_problems
def download_edition_epub(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """One edition's EPUB, by its job id."""
    found = _finished_job(services, req.route_params.get("id", ""))
    title = found.title or (found.plan.title if found.plan else "") or _title_from_filename(found.filename)
    return _download(req, services, found.id, title, "epub")


@answers_problems
def download_epub(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """The book's published edition as EPUB."""
    book, edition = served_edition(services, checked_book_id(req), req.params.get("edition"))
    return _download(req, services, edition.job, book.title, "epub")


@answers_problems
def download_pdf(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """The book's published edition (or `?edition=N`) as its print PDF, when its job wrote one."""
    book, edition = served_edition(services, checked_book_id(req), req.params.get("edition"))
    if not edition_has_pdf(services.storage, edition.job):
        raise Problem(
            404,
            "No PDF",
            "This edition has no PDF: it was made before Quire typeset print PDFs, or its PDF could not be made. "
            f"Its EPUB is at {API_BASE}/books/{book.id}/book.epub?edition={edition.number}.",
        )
    return _download(req, services, edition.job, book.title, "pdf")


def _download(req: func.HttpRequest, services: Services, job_id: str, title: str, extension: str) -> func.HttpResponse:
    """An edition's `book.<extension>` as an attachment named by the title."""
    try:
        data, etag = edition_file(services.storage, job_id, f"book.{extension}")
    except NotFound:
        raise Problem(404, "No book", "The book file is missing. Upload the manuscript again.") from None
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers={"ETag": etag})
    utf8_name = quote(f"{title or 'book'}.{extension}", safe="")
    media_type = content_type_for(f"book.{extension}")
    return func.HttpResponse(
        data,
        status_code=200,
        mimetype=media_type,
        charset=None,
        headers={
            "Content-Type": media_type,
            "Content-Disposition": (
                f"attachment; filename=\"{download_filename(title, extension)}\"; filename*=UTF-8''{utf8_name}"
            ),
            "Cache-Control": "private, max-age=3600",
            "ETag": etag,
            **BOOK_FILE_HEADERS,
        },
    )


def _no_page() -> Problem:
    return Problem(404, "Not found", "This book has no such page.")


def _title_from_filename(name: str) -> str:
    return name.rsplit(".", 1)[0] if name else ""


def served_edition(services: Services, book_id: str, asked: str | None) -> tuple[Book, Edition]:
    """The edition a book's address serves: the published one, or the kept edition `asked` for."""
    book = readable_book(services.storage, book_id)
    if asked is not None:
        number = whole_number(asked)
        if number is None:
            raise Problem(
                400,
                "Malformed edition",
                "?edition= takes an edition's number, such as ?edition=2. Open the book without it for its current one.",
            )
        edition = book.edition(number)
        if edition is None or edition.number > book.published:
            raise Problem(
                404,
                "No such edition",
                "This book does not keep that edition. Open the book without ?edition= for its current one.",
            )
        return book, edition
    published = book.published_edition
    if published is not None:
        return book, published
    job = latest_job(services.storage, book)
    if job is None or job.status is JobStatus.FAILED:
        reason = f": {job.error}" if job else "."
        raise Problem(
            404, "No book", f"This book's manuscript could not be converted{reason} Publish a corrected edition."
        )
    raise _not_ready(job.id)


@answers_problems
def serve_app_file(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = req.route_params.get("id", "")
    path = req.route_params.get("path", "") or ""
    if not path and not req.url.split("?", 1)[0].endswith("/"):
        # The book's pages use relative links: the folder must be addressed with its slash.
        return func.HttpResponse(
            status_code=301, headers={"Location": f"{API_BASE}/books/{book_id}/app/", **BOOK_FILE_HEADERS}
        )
    path = path or "index.html"
    if path.endswith("/"):
        path += "index.html"
    # `.` and `..` segments (which storage would refuse with a 403) name no page of a book.
    if not _SAFE_PATH.match(path) or any(segment in (".", "..") for segment in path.split("/")):
        raise _no_page()
    _, edition = served_edition(services, checked_book_id(req), req.params.get("edition"))
    try:
        data, etag = edition_file(services.storage, edition.job, f"app/{path}")
    except NotFound:
        raise _no_page() from None
    content_type = content_type_for(path)
    cache = IMMUTABLE if path.startswith("images/") else REVALIDATE
    headers = {
        "Content-Type": content_type,
        "Cache-Control": cache,
        "ETag": etag,
        "Content-Security-Policy": APP_CSP,
        **BOOK_FILE_HEADERS,
    }
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(data, status_code=200, headers=headers)
