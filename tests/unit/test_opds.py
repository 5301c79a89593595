"""A book's OPDS entries, made from its publication manifest (shared/web/opds.py), without storage."""

from __future__ import annotations

import json

import feedparser
from palace.opds.opds2 import PublicationFeed

from shared.web.opds import CatalogEntry, opds_1, opds_2

MANIFEST = {
    "metadata": {
        "title": "Tide <Tables> & Co",
        "language": "fr",
        "author": ["Ada", "Ben"],
        "modified": "2026-12-01T08:00:00Z",
    },
    "resources": [
        {"href": "images/cover.jpg", "type": "image/jpeg", "rel": "cover"},
        {"href": "icons/icon-192.png", "type": "image/png"},
    ],
}


def test_an_edition_without_a_pdf_offers_its_epub_alone() -> None:
    entry = CatalogEntry("B" * 22, 3, "Tide", MANIFEST, has_pdf=False)
    (item,) = feedparser.parse(opds_1(entry)).entries
    assert item.title == "Tide <Tables> & Co" and [a.name for a in item.authors] == ["Ada", "Ben"]
    assert [link.href for link in item.links if "acquisition" in link.rel] == ["book.epub?edition=3"]
    assert {link.rel: link.href for link in item.links if "image" in link.rel} == {
        "http://opds-spec.org/image": "app/images/cover.jpg?edition=3",
        "http://opds-spec.org/image/thumbnail": "app/icons/icon-192.png?edition=3",
    }
    feed = PublicationFeed.model_validate(json.loads(opds_2(entry)))
    assert [str(link.href) for link in feed.publications[0].links if link.type == "application/pdf"] == []


def test_an_edition_made_before_manifests_is_listed_by_the_book_title() -> None:
    entry = CatalogEntry("B" * 22, 1, "Old Book", {}, has_pdf=True)
    (item,) = feedparser.parse(opds_1(entry)).entries
    assert item.title == "Old Book" and item.content[0].value == "Edition 1"
    assert sorted(link.type for link in item.links if "acquisition" in link.rel) == [
        "application/epub+zip",
        "application/pdf",
    ]
    feed = PublicationFeed.model_validate(json.loads(opds_2(entry)))
    assert feed.publications[0].metadata.title == "Old Book"
    assert not any(link.type == "application/webpub+json" for link in feed.publications[0].links)
