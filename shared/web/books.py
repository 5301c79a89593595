"""Serving finished books: the EPUB download and the web-app book's files.

Anonymous: the unguessable id is the capability. A book's addresses serve its published edition
(one read of the book's row names it); `?edition=N` asks for one kept edition, which is how an
installed book's service worker caches a whole edition even while a newer one is being published.
An edition's own download (`/manuscripts/{job}/book.epub`) serves only once its job succeeded, so
nobody sees half a book. The web-app book gets a strict Content-Security-Policy
(its pages carry no inline script or style), nosniff, and cache headers: pages, the manifest and
the service worker are revalidated; images, styles and scripts of a finished book never change.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import azure.functions as func

from shared.formats import content_type_for, whole_number
from shared.jobs.record import Job, JobStatus
from shared.jobs.store import book_blob, read_job
from shared.library.record import Book, Edition
from shared.routes import API_BASE
from shared.services import Services
from shared.settings import BOOK_CONTAINER
from shared.storage import NotFound, StorageUnavailable
from shared.web.editions import readable_book
from shared.web.responses import BOOK_FILE_HEADERS, problem, storage_unavailable
from shared.web.status import job_or_problem

APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; worker-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
REVALIDATE = "no-cache"  # pages, manifest and service worker: always ask, a 304 is cheap
# Images are named by their content, so a name always means the same bytes, in every edition.
IMMUTABLE = "public, max-age=31536000, immutable"
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def _finished_job(services: Services, job_id: str) -> Job | func.HttpResponse:
    job = job_or_problem(services, job_id)
    if isinstance(job, func.HttpResponse):
        return job
    if job.status is JobStatus.FAILED:
        return problem(404, "No book", f"This manuscript could not be converted: {job.error}")
    if job.status is not JobStatus.SUCCEEDED:
        return problem(
            404,
            "Book not ready",
            f"The book is still being made. Follow {API_BASE}/manuscripts/{job_id} and try again when it has succeeded.",
            headers={"Retry-After": "5"},
        )
    return job


def download_filename(title: str) -> str:
    """An ASCII file name from the title (the UTF-8 one goes in filename*)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_title).strip("-").lower()[:80]
    return f"{slug or 'book'}.epub"


def download_edition_epub(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """One edition's EPUB, by its job id."""
    found = _finished_job(services, req.route_params.get("id", ""))
    if isinstance(found, func.HttpResponse):
        return found
    return _epub(
        req,
        services,
        found.id,
        found.title or (found.plan.title if found.plan else "") or _title_from_filename(found.filename),
    )


def download_epub(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """The book's published edition as EPUB."""
    found = _served_edition(services, req.route_params.get("id", ""), req.params.get("edition"))
    if isinstance(found, func.HttpResponse):
        return found
    book, edition = found
    return _epub(req, services, edition.job, book.title)


def _epub(req: func.HttpRequest, services: Services, job_id: str, title: str) -> func.HttpResponse:
    try:
        data, etag = services.storage.read_blob_with_etag(BOOK_CONTAINER, book_blob(job_id, "book.epub"))
    except NotFound:
        return problem(404, "No book", "The book file is missing. Upload the manuscript again.")
    except StorageUnavailable:
        return storage_unavailable()
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers={"ETag": etag})
    utf8_name = quote(f"{title or 'book'}.epub", safe="")
    return func.HttpResponse(
        data,
        status_code=200,
        mimetype="application/epub+zip",
        charset=None,
        headers={
            "Content-Type": "application/epub+zip",
            "Content-Disposition": f"attachment; filename=\"{download_filename(title)}\"; filename*=UTF-8''{utf8_name}",
            "Cache-Control": "private, max-age=3600",
            "ETag": etag,
            **BOOK_FILE_HEADERS,
        },
    )


def _title_from_filename(name: str) -> str:
    return name.rsplit(".", 1)[0] if name else ""


def _served_edition(services: Services, book_id: str, asked: str | None) -> tuple[Book, Edition] | func.HttpResponse:
    """The edition a book's address serves: the published one, or the kept edition `asked` for."""
    book = readable_book(services, book_id)
    if isinstance(book, func.HttpResponse):
        return book
    if asked is not None:
        number = whole_number(asked)
        if number is None:
            return problem(
                400,
                "Malformed edition",
                "?edition= takes an edition's number, such as ?edition=2. Open the book without it for its current one.",
            )
        edition = book.edition(number)
        if edition is None or edition.number > book.published:
            return problem(
                404,
                "No such edition",
                "This book does not keep that edition. Open the book without ?edition= for its current one.",
            )
        return book, edition
    published = book.published_edition
    if published is not None:
        return book, published
    latest = book.editions[-1] if book.editions else None
    try:
        job = read_job(services.storage, latest.job)[0] if latest else None
    except NotFound:
        job = None
    except StorageUnavailable:
        return storage_unavailable()
    if job is None or job.status is JobStatus.FAILED:
        reason = f": {job.error}" if job else "."
        return problem(
            404, "No book", f"This book's manuscript could not be converted{reason} Publish a corrected edition."
        )
    return problem(
        404,
        "Book not ready",
        f"The book is still being made. Follow {API_BASE}/manuscripts/{job.id} and try again when it has succeeded.",
        headers={"Retry-After": "5"},
    )


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
        return problem(404, "Not found", "This book has no such page.")
    found = _served_edition(services, book_id, req.params.get("edition"))
    if isinstance(found, func.HttpResponse):
        return found
    _, edition = found
    try:
        data, etag = services.storage.read_blob_with_etag(BOOK_CONTAINER, book_blob(edition.job, f"app/{path}"))
    except NotFound:
        return problem(404, "Not found", "This book has no such page.")
    except StorageUnavailable:
        return storage_unavailable()
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
