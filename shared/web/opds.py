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
THUMBNAIL = "icons/icon-192.png"  # shared/book/webapp.py draws it from the cover


@dataclass(frozen=True)
class CatalogEntry:
    """The book's published edition as a catalog lists it."""

    book_id: str
    edition: int
    title: str
    publication: dict[str, Any]  # the edition's publication manifest ({} for one made before they existed)
    has_pdf: bool

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.publication.get("metadata", {}))

    def acquisitions(self) -> list[tuple[str, str]]:
        """(address, media type) of each file of the edition a reading app can take."""
        query = f"?edition={self.edition}"
        files = [(f"book.epub{query}", "application/epub+zip")]
        if self.has_pdf:
            files.append((f"book.pdf{query}", "application/pdf"))
        return files

    @property
    def identifier(self) -> str:
        return str(self.metadata.get("identifier") or f"urn:quire:book:{self.book_id}")

    def images(self) -> list[tuple[str, str, str]]:
        """(address, media type, rel) of the cover and a thumbnail: the web-app book's icon, which
        every edition's web-app book has, drawn from its cover."""
        found = [
            (f"app/{resource['href']}?edition={self.edition}", str(resource.get("type", "")), "image")
            for resource in self.publication.get("resources", [])
            if resource.get("rel") == "cover" and resource.get("href")
        ]
        return [*found, (f"app/{THUMBNAIL}?edition={self.edition}", "image/png", "image/thumbnail")]


def opds_1(entry: CatalogEntry) -> bytes:
    """The OPDS 1.2 acquisition feed: one entry, the edition."""
    from lxml import etree  # here, not at import: the app's cold start imports no XML library

    meta = entry.metadata
    title = str(meta.get("title") or entry.title or "Untitled")
    updated = str(meta.get("modified") or "1970-01-01T00:00:00Z")
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM, "dc": DC_TERMS, "opds": OPDS_NS})
    _text(feed, "id", f"urn:quire:book:{entry.book_id}")
    _text(feed, "title", title)
    _text(feed, "updated", updated)
    _text(etree.SubElement(feed, f"{{{ATOM}}}author"), "name", "Quire")
    for rel in ("self", "start"):
        _link(feed, rel, "opds", OPDS_1_TYPE)
    _link(feed, "alternate", "opds.json", OPDS_2_TYPE)
    item = etree.SubElement(feed, f"{{{ATOM}}}entry")
    _text(item, "title", title)
    _text(item, "id", entry.identifier)
    _text(item, "updated", updated)
    for name in meta.get("author", []):
        _text(etree.SubElement(item, f"{{{ATOM}}}author"), "name", str(name))
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
    _link(item, "alternate", "app/", "text/html").set("title", "Read in the browser")
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")


def opds_2(entry: CatalogEntry) -> bytes:
    """The OPDS 2.0 feed: one publication, the edition, linking its Readium manifest."""
    meta = entry.metadata
    title = str(meta.get("title") or entry.title or "Untitled")
    metadata = {
        "@type": "http://schema.org/Book",
        "title": title,
        "identifier": entry.identifier,
        **{k: v for k, v in meta.items() if k not in ("@type", "title", "readingProgression")},
    }
    links = [{"rel": ACQUIRE, "href": href, "type": media_type} for href, media_type in entry.acquisitions()]
    links.append({"rel": "alternate", "href": "app/", "type": "text/html", "title": "Read in the browser"})
    if entry.publication:
        links.append(
            {
                "rel": "http://opds-spec.org/acquisition",
                "href": f"app/{WEBPUB_MANIFEST}?edition={entry.edition}",
                "type": WEBPUB_MEDIA_TYPE,
            }
        )
    feed = {
        "metadata": {"title": title, "modified": meta.get("modified")},
        "links": [
            {"rel": "self", "href": "opds.json", "type": OPDS_2_TYPE},
            {"rel": "alternate", "href": "opds", "type": OPDS_1_TYPE},
        ],
        "publications": [
            {
                "metadata": {**metadata, "edition": entry.edition},
                "links": links,
                "images": [{"href": href, "type": media_type} for href, media_type, _ in entry.images()],
            }
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _text(parent: Any, name: str, text: str) -> Any:
    from lxml import etree

    element = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = text
    return element


def _link(parent: Any, rel: str, href: str, media_type: str) -> Any:
    from lxml import etree

    return etree.SubElement(parent, f"{{{ATOM}}}link", rel=rel, href=href, type=media_type)


def catalog_entry(services: Services, book_id: str) -> tuple[CatalogEntry, str]:
    """The book's published edition as a catalog lists it, and a tag of its version."""
    book, edition = served_edition(services, book_id, None)
    try:
        manifest, etag = edition_file(services.storage, edition.job, f"app/{WEBPUB_MANIFEST}")
        publication = json.loads(manifest)
    except NotFound:  # an edition made before publication manifests
        publication, etag = {}, ""
    has_pdf = edition_has_pdf(services.storage, edition.job)
    entry = CatalogEntry(book.id, edition.number, book.title, publication, has_pdf)
    version = hashlib.sha256(f"{edition.job}:{etag}:{has_pdf}".encode()).hexdigest()[:20]
    return entry, version


@answers_problems
def book_catalog(req: func.HttpRequest, services: Services, version: int) -> func.HttpResponse:
    """GET /api/books/{id}/opds (version 1) and /opds.json (version 2)."""
    entry, tag = catalog_entry(services, checked_book_id(req))
    etag = f'"opds{version}-{tag}"'
    media_type = OPDS_1_TYPE if version == 1 else OPDS_2_TYPE
    headers = {"Content-Type": media_type, "Cache-Control": "no-cache", "ETag": etag, **BOOK_FILE_HEADERS}
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers=headers)
    body = opds_1(entry) if version == 1 else opds_2(entry)
    return func.HttpResponse(body, status_code=200, headers=headers)
