"""A book as an OPDS catalog, so reading apps subscribe to it and see each new edition.

`GET /api/books/{id}/opds` answers OPDS 1.2 (an Atom acquisition feed: KOReader, Calibre, Aldiko,
Moon+ Reader); `GET /api/books/{id}/opds.json` answers OPDS 2.0 (Thorium, Readium apps). Both hold
one publication, the book's published edition: its metadata as its publication manifest
(`app/publication.json`) gives it, `updated` its upload time, and links to this edition's EPUB,
its PDF when it has one, its cover, and the web-app book to read in a browser. Anonymous, like
the book's other read addresses; an erased book answers 410. Addresses are relative, so they
resolve against wherever the catalog was fetched from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from shared.books.reading import edition_file, edition_has_pdf
from shared.formats import WEBPUB_MANIFEST, WEBPUB_MEDIA_TYPE
from shared.library.record import Book, Edition
from shared.services import Services
from shared.storage import NotFound
from shared.web.books import served_edition
from shared.web.editions import checked_book_id
from shared.web.problems import answers_problems
from shared.web.responses import BOOK_FILE_HEADERS

ATOM = "http://www.w3.org/2005/Atom"
DC_TERMS = "http://purl.org/dc/terms/"
OPDS_NS = "http://opds-spec.org/2010/catalog"
OPDS_1_TYPE = "application/atom+xml;profile=opds-catalog;kind=acquisition"
OPDS_2_TYPE = "application/opds+json"
ACQUIRE = "http://opds-spec.org/acquisition/open-access"
OPENSEARCH_TYPE = "application/opensearchdescription+xml"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
THUMBNAIL = "icons/icon-192.png"  # shared/book/webapp.py draws it from the cover


@dataclass(frozen=True)
class CatalogEntry:
    """The book's published edition as a catalog lists it."""

    book_id: str
    edition: int
    title: str
    publication: dict[str, Any]  # the edition's publication manifest ({} for one made before they existed)
    has_pdf: bool
    base: str = ""  # the book's address relative to the catalog's: "" in its own, "../../books/{id}/" on a shelf

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.publication.get("metadata", {}))

    @property
    def display_title(self) -> str:
        return str(self.metadata.get("title") or self.title or "Untitled")

    @property
    def updated(self) -> str:
        return str(self.metadata.get("modified") or "1970-01-01T00:00:00Z")

    def acquisitions(self) -> list[tuple[str, str]]:
        """(address, media type) of each file of the edition a reading app can take."""
        query = f"?edition={self.edition}"
        files = [(f"{self.base}book.epub{query}", "application/epub+zip")]
        if self.has_pdf:
            files.append((f"{self.base}book.pdf{query}", "application/pdf"))
        return files

    @property
    def identifier(self) -> str:
        return str(self.metadata.get("identifier") or f"urn:quire:book:{self.book_id}")

    def images(self) -> list[tuple[str, str, str]]:
        """(address, media type, rel) of the cover and a thumbnail: the web-app book's icon, which
        every edition's web-app book has, drawn from its cover."""
        app = f"{self.base}app/"
        found = [
            (f"{app}{resource['href']}?edition={self.edition}", str(resource.get("type", "")), "image")
            for resource in self.publication.get("resources", [])
            if resource.get("rel") == "cover" and resource.get("href")
        ]
        return [*found, (f"{app}{THUMBNAIL}?edition={self.edition}", "image/png", "image/thumbnail")]


@dataclass(frozen=True)
class Catalog:
    """A feed of entries, in either format: a book's own (one entry) or a page of a shelf's.

    Its addresses are relative to the feed's own (`opds` or `opds.json`, which sit side by side):
    `query` is this page's query string, `navigation` the (rel, query string) of the other pages
    (first, previous, next, last), and a `searchable` feed links its search (an OpenSearch
    description beside it for OPDS 1.2, a URI template for 2.0). A paged feed says how many
    entries all its pages hold, how many a page holds, and which page this is (`paging`)."""

    id: str
    title: str
    updated: str
    entries: list[CatalogEntry]
    query: str = ""
    navigation: tuple[tuple[str, str], ...] = ()
    searchable: bool = False
    paging: tuple[int, int, int] | None = None  # (entries in all pages, entries a page, this page)

    @classmethod
    def of_book(cls, entry: CatalogEntry) -> Catalog:
        return cls(f"urn:quire:book:{entry.book_id}", entry.display_title, entry.updated, [entry])


def opds_1(catalog: Catalog | CatalogEntry) -> bytes:
    """The OPDS 1.2 acquisition feed: an entry per edition listed."""
    from lxml import etree  # here, not at import: the app's cold start imports no XML library

    if isinstance(catalog, CatalogEntry):
        catalog = Catalog.of_book(catalog)
    names: dict[str | None, str] = {None: ATOM, "dc": DC_TERMS, "opds": OPDS_NS}
    if catalog.paging:
        names["opensearch"] = OPENSEARCH
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=names)
    _text(feed, "id", catalog.id)
    _text(feed, "title", catalog.title)
    _text(feed, "updated", catalog.updated)
    _text(etree.SubElement(feed, f"{{{ATOM}}}author"), "name", "Quire")
    _link(feed, "self", f"opds{catalog.query}", OPDS_1_TYPE)
    _link(feed, "start", "opds", OPDS_1_TYPE)
    _link(feed, "alternate", f"opds.json{catalog.query}", OPDS_2_TYPE)
    for rel, query in catalog.navigation:
        _link(feed, rel, f"opds{query}", OPDS_1_TYPE)
    if catalog.searchable:
        _link(feed, "search", "opensearch.xml", OPENSEARCH_TYPE)
    if catalog.paging:
        total, size, page = catalog.paging
        for name, value in (("totalResults", total), ("itemsPerPage", size), ("startIndex", (page - 1) * size + 1)):
            etree.SubElement(feed, f"{{{OPENSEARCH}}}{name}").text = str(value)
    for entry in catalog.entries:
        _entry_1(feed, entry)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")


def _entry_1(feed: Any, entry: CatalogEntry) -> None:
    from lxml import etree

    meta = entry.metadata
    item = etree.SubElement(feed, f"{{{ATOM}}}entry")
    _text(item, "title", entry.display_title)
    _text(item, "id", f"urn:quire:book:{entry.book_id}")  # the book's: a new edition updates the entry
    _text(item, "updated", entry.updated)
    for name in meta.get("author", []):
        _text(etree.SubElement(item, f"{{{ATOM}}}author"), "name", str(name))
    etree.SubElement(item, f"{{{DC_TERMS}}}identifier").text = entry.identifier
    if meta.get("language"):
        etree.SubElement(item, f"{{{DC_TERMS}}}language").text = str(meta["language"])
    if meta.get("publisher"):
        etree.SubElement(item, f"{{{DC_TERMS}}}publisher").text = str(meta["publisher"])
    if meta.get("published"):
        etree.SubElement(item, f"{{{DC_TERMS}}}issued").text = str(meta["published"])
    if meta.get("description"):
        _text(item, "summary", str(meta["description"]))
    _text(item, "content", f"Edition {entry.edition}").set("type", "text")
    for href, media_type in entry.acquisitions():
        _link(item, ACQUIRE, href, media_type)
    for href, media_type, rel in entry.images():
        _link(item, f"http://opds-spec.org/{rel}", href, media_type)
    _link(item, "alternate", f"{entry.base}app/", "text/html").set("title", "Read in the browser")


def opds_2(catalog: Catalog | CatalogEntry) -> bytes:
    """The OPDS 2.0 feed: a publication per edition listed, each linking its Readium manifest."""
    if isinstance(catalog, CatalogEntry):
        catalog = Catalog.of_book(catalog)
    links: list[dict[str, Any]] = [
        {"rel": "self", "href": f"opds.json{catalog.query}", "type": OPDS_2_TYPE},
        {"rel": "alternate", "href": f"opds{catalog.query}", "type": OPDS_1_TYPE},
        *({"rel": rel, "href": f"opds.json{query}", "type": OPDS_2_TYPE} for rel, query in catalog.navigation),
    ]
    if catalog.searchable:
        links.append({"rel": "search", "href": "opds.json{?q}", "type": OPDS_2_TYPE, "templated": True})
    paged = dict(zip(("numberOfItems", "itemsPerPage", "currentPage"), catalog.paging or (), strict=False))
    feed = {
        "metadata": {"title": catalog.title, "modified": catalog.updated, **paged},
        "links": links,
        "publications": [_publication_2(entry) for entry in catalog.entries],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _publication_2(entry: CatalogEntry) -> dict[str, Any]:
    metadata = {
        "@type": "http://schema.org/Book",
        "title": entry.display_title,
        "identifier": entry.identifier,
        **{k: v for k, v in entry.metadata.items() if k not in ("@type", "title", "readingProgression")},
    }
    links = [{"rel": ACQUIRE, "href": href, "type": media_type} for href, media_type in entry.acquisitions()]
    links.append({"rel": "alternate", "href": f"{entry.base}app/", "type": "text/html", "title": "Read in the browser"})
    if entry.publication:
        links.append(
            {
                "rel": "http://opds-spec.org/acquisition",
                "href": f"{entry.base}app/{WEBPUB_MANIFEST}?edition={entry.edition}",
                "type": WEBPUB_MEDIA_TYPE,
            }
        )
    return {
        "metadata": {**metadata, "edition": entry.edition},
        "links": links,
        "images": [{"href": href, "type": media_type} for href, media_type, _ in entry.images()],
    }


def _text(parent: Any, name: str, text: str) -> Any:
    from lxml import etree

    element = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = text
    return element


def _link(parent: Any, rel: str, href: str, media_type: str) -> Any:
    from lxml import etree

    return etree.SubElement(parent, f"{{{ATOM}}}link", rel=rel, href=href, type=media_type)


def edition_tag(job_id: str) -> str:
    """A tag of what a catalog says of an edition. Its job id is enough: an edition's files are
    written once, under that id, and whether it has a PDF is settled before it is published."""
    return hashlib.sha256(job_id.encode()).hexdigest()[:20]


def catalog_entry(services: Services, book: Book, edition: Edition) -> CatalogEntry:
    """The book's edition as a catalog lists it: from the card its row keeps (no read), else, for
    an edition published before books kept one, from its manifest and its job."""
    card = book.catalog
    if card.get("job") == edition.job:
        publication = {"metadata": card.get("metadata", {}), "resources": card.get("resources", [])}
        return CatalogEntry(book.id, edition.number, book.title, publication, bool(card.get("has_pdf")))
    try:
        manifest, _ = edition_file(services.storage, edition.job, f"app/{WEBPUB_MANIFEST}")
        publication = json.loads(manifest)
    except NotFound:  # an edition made before publication manifests
        publication = {}
    has_pdf = edition_has_pdf(services.storage, edition.job)
    return CatalogEntry(book.id, edition.number, book.title, publication, has_pdf)


@answers_problems
def book_catalog(req: func.HttpRequest, services: Services, version: int) -> func.HttpResponse:
    """GET /api/books/{id}/opds (version 1) and /opds.json (version 2): one read, the book's row,
    whether the poll carries the tag it was given last time (304) or not."""
    book, edition = served_edition(services, checked_book_id(req), None)
    etag = f'"opds{version}-{edition_tag(edition.job)}"'
    media_type = OPDS_1_TYPE if version == 1 else OPDS_2_TYPE
    headers = {"Content-Type": media_type, "Cache-Control": "no-cache", "ETag": etag, **BOOK_FILE_HEADERS}
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers=headers)
    entry = catalog_entry(services, book, edition)
    body = opds_1(entry) if version == 1 else opds_2(entry)
    return func.HttpResponse(body, status_code=200, headers=headers)
