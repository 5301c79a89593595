"""The print PDF through the running app: the author's page size from each kind of upload to the
job's status, a page size refused, and the book's PDF address (no PDF, served, erased)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse

from shared.jobs.store import book_blob, update_job
from shared.storage import Storage
from shared.storage.names import BOOK_CONTAINER
from tests.e2e.test_api import multipart
from tests.e2e.test_direct_upload import bearer, granted, submit, upload
from tests.pipeline_support import create_book, follow, http_json, storage_naming
from tests.support import AppHost, Azurite, http, wait_for

MANUSCRIPT = b"---\ntitle: Tides\n---\n# One\n\nHigh water at noon.\n\n# Two\n\nLow water at six.\n"
SIZES = "a4, letter, 6x9, 5.5x8.5, 5x8"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def status_of(base: str, job_id: str) -> dict[str, object]:
    status, job = http_json("GET", f"{base}/api/manuscripts/{job_id}")
    assert status == 200, job
    return dict(job)


def test_the_page_size_reaches_the_job_from_a_form_field_the_query_and_a_direct_upload(app: AppHost) -> None:
    base = app.base_url
    body, headers = multipart("tides.md", MANUSCRIPT, pdf_page=" Letter ")
    status, job = http_json("POST", f"{base}/api/manuscripts", body, headers)
    assert status == 202 and job["manuscript"]["pdf_page"] == "letter", job
    assert status_of(base, job["id"])["manuscript"]["pdf_page"] == "letter"  # type: ignore[index]

    book, key = create_book(base, MANUSCRIPT, "tides.md", pdf_page="6X9")
    assert status_of(base, book)["manuscript"]["pdf_page"] == "6x9"  # type: ignore[index]
    body, headers = multipart("tides.md", MANUSCRIPT, pdf_page="a4")
    status, edition = http_json("POST", f"{base}/api/books/{book}/editions", body, {**headers, **bearer(key)})
    assert status == 202 and status_of(base, edition["id"])["manuscript"]["pdf_page"] == "a4", edition  # type: ignore[index]
    query = urllib.parse.urlencode({"filename": "tides.md", "pdf_page": "5x8"})
    status, edition = http_json("POST", f"{base}/api/books/{book}/editions?{query}", MANUSCRIPT, bearer(key))
    assert status == 202 and status_of(base, edition["id"])["manuscript"]["pdf_page"] == "5x8", edition  # type: ignore[index]

    # A direct upload keeps it on its marker row until it is submitted, for a new book and an edition.
    grant = granted(base, "tides.md", len(MANUSCRIPT), pdf_page="5.5X8.5")
    upload(grant, MANUSCRIPT)
    status, direct = submit(base, grant, grant["owner_key"])
    assert status == 202 and direct["manuscript"]["pdf_page"] == "5.5x8.5", direct
    assert status_of(base, direct["id"])["manuscript"]["pdf_page"] == "5.5x8.5"  # type: ignore[index]
    grant = granted(base, "tides.md", len(MANUSCRIPT), path=f"/api/books/{book}/uploads", headers=bearer(key))
    upload(grant, MANUSCRIPT)
    status, direct = submit(base, grant, key)
    assert status == 202 and direct["manuscript"]["pdf_page"] == "", direct  # none asked for: the language's
    for job_id in (job["id"], book, edition["id"], direct["id"]):
        assert follow(base, job_id, timeout=60)["status"] == "succeeded"


def test_a_page_size_that_is_not_one_of_the_five_is_refused_with_a_problem_naming_them(app: AppHost) -> None:
    base = app.base_url
    book, key = create_book(base, MANUSCRIPT, "tides.md")
    form, form_headers = multipart("tides.md", MANUSCRIPT, pdf_page="A5")
    json_headers = {"Content-Type": "application/json"}
    asked = json.dumps({"filename": "tides.md", "size": len(MANUSCRIPT), "pdf_page": "legal"}).encode()
    wrong_type = json.dumps({"filename": "tides.md", "size": len(MANUSCRIPT), "pdf_page": 4}).encode()
    for method, url, body, headers in (
        ("POST", f"{base}/api/manuscripts", form, form_headers),
        ("POST", f"{base}/api/books", form, form_headers),
        ("POST", f"{base}/api/books?filename=tides.md&pdf_page=6%20x%209", MANUSCRIPT, {}),
        ("POST", f"{base}/api/books/{book}/editions", form, {**form_headers, **bearer(key)}),
        ("POST", f"{base}/api/uploads", asked, json_headers),
        ("POST", f"{base}/api/uploads", wrong_type, json_headers),
        ("POST", f"{base}/api/books/{book}/uploads", asked, {**json_headers, **bearer(key)}),
    ):
        status, answer_headers, answer = http(method, url, body, headers)
        assert status == 400, (url, status, answer)
        assert lower(answer_headers)["content-type"].startswith("application/problem+json")
        problem = json.loads(answer)
        assert problem["title"] == "Unknown PDF page size" and SIZES in problem["detail"], (url, problem)
    # Nothing was started by the refusals: the book still has its one edition.
    assert [e["edition"] for e in http_json("GET", f"{base}/api/books/{book}")[1]["editions"]] == [1]


def test_the_pdf_address_answers_404_without_a_pdf_serves_one_as_the_epub_is_served_and_410_once_erased(
    app: AppHost, azurite: Azurite
) -> None:
    base = app.base_url
    storage = Storage(azurite.connection_string)
    book, key = create_book(base, MANUSCRIPT, "tides.md")
    assert follow(base, book, timeout=60)["status"] == "succeeded"
    pdf = f"{base}/api/books/{book}/book.pdf"
    # An edition whose job wrote no PDF (one made before Quire typeset them, or Typst could not).
    update_job(storage, book, lambda job: job.with_changes(has_pdf=False))
    for method, address in (("GET", pdf), ("HEAD", pdf), ("GET", f"{pdf}?edition=1")):
        status, headers, answer = http(method, address)
        assert status == 404, (method, address, status)
        assert lower(headers)["content-type"].startswith("application/problem+json")
        if method == "GET":
            assert "This edition has no PDF" in json.loads(answer)["detail"]
    assert "pdf" not in status_of(base, book)["links"]  # type: ignore[operator]
    assert "pdf" not in http_json("GET", f"{base}/api/books/{book}")[1]["links"]
    assert http_json("GET", f"{pdf}?edition=2")[1]["title"] == "No such edition"
    assert http("GET", f"{pdf}?edition=%C2%B2")[0] == 400  # "²", which int() would read
    assert http("GET", f"{base}/api/books/{'A' * 22}/book.pdf")[0] == 404
    assert http("GET", f"{base}/api/books/not-a-book/book.pdf")[0] == 400

    # A PDF of known bytes where the pdf step leaves one (book.pdf beside the EPUB), and has_pdf on the row.
    document = b"%PDF-1.7\n% Tides\n%%EOF\n"
    storage.put_blob(BOOK_CONTAINER, book_blob(book, "book.pdf"), document, content_type="application/pdf")
    update_job(storage, book, lambda job: job.with_changes(has_pdf=True))
    status, headers, answer = http("GET", f"{pdf}?edition=1")
    headers = lower(headers)
    assert (status, answer, headers["content-type"]) == (200, document, "application/pdf")
    assert headers["content-disposition"] == "attachment; filename=\"tides.pdf\"; filename*=UTF-8''Tides.pdf"
    assert headers["cache-control"] == "private, max-age=3600" and headers["x-content-type-options"] == "nosniff"
    assert http("GET", pdf, None, {"If-None-Match": headers["etag"]})[0] == 304
    status, head_headers, body = http("HEAD", pdf)
    assert (status, body, lower(head_headers)["etag"]) == (200, b"", headers["etag"])
    assert status_of(base, book)["links"]["pdf"] == f"/api/books/{book}/book.pdf?edition=1"  # type: ignore[index]
    assert http_json("GET", f"{base}/api/books/{book}")[1]["links"]["pdf"] == f"/api/books/{book}/book.pdf"

    assert http_json("DELETE", f"{base}/api/books/{book}", None, bearer(key))[0] == 202
    for address in (pdf, f"{pdf}?edition=1"):
        status, problem = http_json("GET", address)
        assert status == 410 and problem["title"] == "Book deleted", (address, problem)
    # Erasing deletes the PDF with the rest of the edition's files.
    wait_for(lambda: not storage_naming(azurite.connection_string, [book]), 60, "the book to be erased")
    assert storage.list_blob_names(BOOK_CONTAINER, book) == []


def page_size_in_points(pdf: bytes) -> str:
    """The first page's size as poppler's pdfinfo reads it ("360 x 576")."""
    pdfinfo = shutil.which("pdfinfo")
    assert pdfinfo, "pdfinfo (poppler-utils) is not installed: run ./scripts/install-system-deps.sh"
    info = subprocess.run([pdfinfo, "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout.decode()
    match = re.search(r"^Page size:\s+([\d.]+ x [\d.]+) pts", info, re.M)
    assert match, info
    return match.group(1)


def test_a_converted_book_links_and_serves_its_pdf_typeset_at_the_page_size_asked_for(app: AppHost) -> None:
    base = app.base_url
    book, _ = create_book(base, MANUSCRIPT, "tides.md", pdf_page="5x8")
    job = follow(base, book, timeout=120)
    assert job["status"] == "succeeded" and job["manuscript"]["pdf_page"] == "5x8", job
    assert job["links"]["pdf"] == f"/api/books/{book}/book.pdf?edition=1"
    assert http_json("GET", f"{base}/api/books/{book}")[1]["links"]["pdf"] == f"/api/books/{book}/book.pdf"

    status, headers, pdf = http("GET", f"{base}{job['links']['pdf']}")
    assert (status, lower(headers)["content-type"]) == (200, "application/pdf")
    assert pdf.startswith(b"%PDF-")
    assert page_size_in_points(pdf) == "360 x 576"  # 5 x 8 inches
    status, headers, published = http("GET", f"{base}/api/books/{book}/book.pdf")
    assert (status, published) == (200, pdf)
    assert lower(headers)["content-disposition"].startswith('attachment; filename="tides.pdf"')

    # The web-app book's contents page links this edition's PDF, outside what its service worker caches.
    app_url = f"{base}/api/books/{book}/app/"
    index = http("GET", app_url)[2].decode()
    link = re.search(r'<a href="([^"]+)" download>Download PDF</a>', index)
    assert link and link.group(1) == "../book.pdf?edition=1", index
    assert http("GET", urllib.parse.urljoin(app_url, link.group(1)))[2] == pdf
    worker = http("GET", f"{app_url}sw.js")[2].decode()
    precache = json.loads(re.search(r"var PRECACHE = (\[.*?\]);", worker).group(1))  # type: ignore[union-attr]
    assert precache and not any("pdf" in path for path in precache)
