"""Shelves over HTTP: make one, put books on it and take them off (shelf key), erase it, and read
it as an OPDS catalog, in pages, searchable by title and author.

Making a shelf needs the app's function key, like making a book; every change after that needs
the shelf key handed out then, sent as `Authorization: Bearer`. Reading is anonymous: the
unguessable shelf id is the capability to read. The catalogs list each book as its own catalog
does (shared/web/opds.py), linking the book's addresses relative to the shelf's.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

import azure.functions as func

from shared.books import shelves
from shared.formats import JSONRefused, bounded_json, clean_text, utc_timestamp, whole_number
from shared.jobs.record import is_valid_job_id
from shared.routes import API_BASE
from shared.services import Services
from shared.web.editions import presented_owner_key
from shared.web.opds import OPDS_1_TYPE, OPDS_2_TYPE, OPENSEARCH_TYPE, Catalog, CatalogEntry, opds_1, opds_2
from shared.web.problems import Problem, answers_problems
from shared.web.responses import BOOK_FILE_HEADERS, json_response

_SHELF_ID = re.compile(r"[A-Za-z0-9_-]{22}")
MAX_TITLE_CHARS = 200
MAX_QUERY_CHARS = 200


def shelf_links(shelf_id: str) -> dict[str, str]:
    base = f"{API_BASE}/shelves/{shelf_id}"
    return {
        "opds": f"{base}/opds",
        "opds2": f"{base}/opds.json",
        "opensearch": f"{base}/opensearch.xml",
        "books": f"{base}/books/{{book}}",
    }


def checked_shelf_id(req: func.HttpRequest) -> str:
    shelf_id = req.route_params.get("id", "")
    if not _SHELF_ID.fullmatch(shelf_id):
        raise Problem(400, "Malformed shelf id", "That is not a Quire shelf id. Use the id returned when it was made.")
    return shelf_id


def presented_shelf_key(req: func.HttpRequest) -> str | None:
    """The shelf key in `Authorization: Bearer <key>` (read as an owner key is); None without one."""
    return presented_owner_key(req)


def _title(req: func.HttpRequest) -> str:
    body = req.get_body()
    if not body.strip():
        return ""
    try:
        parsed = bounded_json(body)
    except JSONRefused as error:
        raise Problem(400, "Malformed shelf", str(error)) from None
    title = parsed.get("title", "") if isinstance(parsed, dict) else None
    if not isinstance(title, str):
        raise Problem(400, "Malformed shelf", 'Send a JSON object such as {"title": "Book club"}, or no body.')
    return clean_text(title)[:MAX_TITLE_CHARS]


@answers_problems
def create(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """POST /api/shelves: 201 with the shelf's id, its links and its shelf key (shown this once)."""
    shelf, key = shelves.create_shelf(services.storage, _title(req), datetime.now(UTC))
    body = {
        "id": shelf.id,
        "title": shelf.title,
        "shelf_key": key,
        "shelf_key_note": "Keep this key: it is shown only now. Send it as 'Authorization: Bearer <key>' to put "
        "books on the shelf, take them off, or delete the shelf.",
        "links": shelf_links(shelf.id),
    }
    return json_response(body, status=201, headers={"Location": shelf_links(shelf.id)["opds"]})


@answers_problems
def shelf(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """DELETE /api/shelves/{id}: erase the shelf (shelf key); its addresses answer 410 from then on."""
    shelf_id = checked_shelf_id(req)
    shelves.erase(services.storage, shelf_id, presented_shelf_key(req), datetime.now(UTC))
    return json_response({"id": shelf_id, "status": "erased"})


@answers_problems
def shelf_book(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """PUT or DELETE /api/shelves/{id}/books/{book} (shelf key): put the book on, or take it off.
    Both are idempotent: `changed` says whether this request did it."""
    shelf_id = checked_shelf_id(req)
    book_id = req.route_params.get("book", "")
    if not is_valid_job_id(book_id):
        raise Problem(400, "Malformed book id", "That is not a Quire book id. Use the id returned when it was created.")
    key, now = presented_shelf_key(req), datetime.now(UTC)
    if req.method.upper() == "DELETE":
        changed = shelves.remove_book(services.storage, shelf_id, key, book_id, now)
        return json_response({"shelf": shelf_id, "book": book_id, "on_shelf": False, "changed": changed})
    changed = shelves.add_book(services.storage, shelf_id, key, book_id, now)
    return json_response(
        {"shelf": shelf_id, "book": book_id, "on_shelf": True, "changed": changed}, status=201 if changed else 200
    )


def _page(req: func.HttpRequest) -> int:
    asked = req.params.get("page")
    number = 1 if asked is None else whole_number(asked)
    if number is None or number < 1:
        raise Problem(400, "Malformed page", "?page= takes a page's number from 1, such as ?page=2.")
    return number


def _query(req: func.HttpRequest) -> str:
    query = clean_text(req.params.get("q", ""))
    if len(query) > MAX_QUERY_CHARS:
        raise Problem(400, "Search too long", f"A search takes at most {MAX_QUERY_CHARS} characters.")
    return query


def query_string(query: str, page: int) -> str:
    """A page's query string, the search kept: '' for the first page of the whole shelf."""
    params = {**({"q": query} if query else {}), **({"page": str(page)} if page > 1 else {})}
    return f"?{urllib.parse.urlencode(params)}" if params else ""


def navigation(query: str, page: int, pages: int) -> tuple[tuple[str, str], ...]:
    """(rel, query string) of the pages around `page`: first and last when there are several,
    previous and next when there are such pages."""
    links: list[tuple[str, str]] = []
    if pages > 1:
        links.append(("first", query_string(query, 1)))
    if page > 1:
        links.append(("previous", query_string(query, page - 1)))
    if page < pages:
        links.append(("next", query_string(query, page + 1)))
    if pages > 1:
        links.append(("last", query_string(query, pages)))
    return tuple(links)


def shelf_catalog(page: shelves.ShelfPage, query: str) -> Catalog:
    """A page of the shelf as a catalog: each book's entry linking the book's own addresses."""
    shelf = page.shelf
    entries = [
        CatalogEntry(
            b.book.id, b.edition.number, b.book.title, b.publication, b.has_pdf, base=f"../../books/{b.book.id}/"
        )
        for b in page.books
    ]
    updated = max([utc_timestamp(shelf.updated), *(entry.updated for entry in entries)])
    title = shelf.title or "Shelf"
    return Catalog(
        id=f"urn:quire:shelf:{shelf.id}",
        title=f"{title}: {query}" if query else title,
        updated=updated,
        entries=entries,
        query=query_string(query, page.page),
        navigation=navigation(query, page.page, page.pages),
        searchable=True,
        paging=(page.total, shelves.PAGE_SIZE, page.page),
    )


@answers_problems
def catalog(req: func.HttpRequest, services: Services, version: int) -> func.HttpResponse:
    """GET /api/shelves/{id}/opds (version 1) and /opds.json (version 2): a page of the shelf."""
    shelf_id, number, query = checked_shelf_id(req), _page(req), _query(req)
    page = shelves.shelf_page(services.storage, shelf_id, query, number, datetime.now(UTC))
    if number > page.pages:
        raise Problem(404, "No such page", f"This shelf has {page.pages} page(s) of books. Start from its first page.")
    listing = shelf_catalog(page, query)
    media_type = OPDS_1_TYPE if version == 1 else OPDS_2_TYPE
    body = opds_1(listing) if version == 1 else opds_2(listing)
    # A tag of what was read: a reading app polling an unchanged shelf is sent nothing again.
    etag = f'"shelf{version}-{hashlib.sha256(body).hexdigest()[:20]}"'
    headers = {"Content-Type": media_type, "Cache-Control": "no-cache", "ETag": etag, **BOOK_FILE_HEADERS}
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(body, status_code=200, headers=headers)


def opensearch_description(title: str, catalog_url: str) -> bytes:
    """The OpenSearch 1.1 description OPDS 1.2 apps read to search the shelf (by `?q=`)."""
    template = f"{catalog_url}?q={{searchTerms}}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">\n'
        f"  <ShortName>{escape(title[:16])}</ShortName>\n"
        f"  <Description>{escape(f'Search {title} by title or author')}</Description>\n"
        "  <InputEncoding>UTF-8</InputEncoding>\n  <OutputEncoding>UTF-8</OutputEncoding>\n"
        f"  <Url type={quoteattr(OPDS_1_TYPE)} template={quoteattr(template)}/>\n"
        "</OpenSearchDescription>\n"
    ).encode()


@answers_problems
def opensearch(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    """GET /api/shelves/{id}/opensearch.xml: its template is absolute (OpenSearch asks for a full URL)."""
    found = shelves.readable_shelf(services.storage, checked_shelf_id(req))
    address = req.url.split("?", 1)[0].rsplit("/", 1)[0]
    body = opensearch_description(found.title or "Shelf", f"{address}/opds")
    headers = {"Content-Type": OPENSEARCH_TYPE, "Cache-Control": "no-cache", **BOOK_FILE_HEADERS}
    return func.HttpResponse(body, status_code=200, headers=headers)
