"""The app's public addresses: what `function_app.py` routes, under host.json's routePrefix.

The web tier links to them; the worker gives the web-app book the address of its news, relative
to where the book is served, so the book works under any host name.
"""

from __future__ import annotations

# Must match `extensions.http.routePrefix` in host.json; links in responses are built on it.
API_BASE = "/api"
# The web-app book is served at /api/books/{id}/app/, its news at /api/books/{id}/updates.
UPDATES_FROM_APP = "../updates"


def book_links(job_id: str, book_id: str, pdf_edition: int | None = None) -> dict[str, str]:
    """Where a succeeded job's book is read: this edition's EPUB, the book's web-app book and OPDS
    catalogs (which serve its published edition) and, given the edition's number when it has one,
    its print PDF."""
    links = {
        "app": f"{API_BASE}/books/{book_id}/app/",
        "epub": f"{API_BASE}/manuscripts/{job_id}/book.epub",
        # The book's catalogs for reading apps: they follow its published edition from then on.
        "opds": f"{API_BASE}/books/{book_id}/opds",
        "opds2": f"{API_BASE}/books/{book_id}/opds.json",
    }
    if pdf_edition is not None:
        links["pdf"] = f"{API_BASE}/books/{book_id}/book.pdf?edition={pdf_edition}"
    return links
