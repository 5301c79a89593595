"""A book's OPDS catalogs over real HTTP, read as reading apps read them: OPDS 1.2 with feedparser
(the Atom parser Python OPDS clients use), OPDS 2.0 and the Readium manifest with palace-opds (the
Palace Project's models of both). Every link they give resolves; a new edition shows as a newer
entry; an erased book answers 410."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import azure.functions as func
import feedparser
from palace.opds.opds2 import PublicationFeed

from shared.services import Services
from shared.settings import Settings
from shared.storage import Storage
from shared.web.opds import book_catalog
from tests.e2e.test_books import bearer
from tests.pipeline_support import create_book, follow, http_json, publish_edition
from tests.support import AppHost, Azurite, http

BOOK = b"""---
title: Tide Tables
author: Ada Writer
language: en-GB
description: The harbour's year, month by month.
---
# January

Spring tides at dawn.

# February

Fog on the quay.
"""


def fetched(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return http("GET", url, headers=headers)


def resolves(base: str, href: str) -> tuple[int, str]:
    status, headers, _ = fetched(urllib.parse.urljoin(base, href))
    return status, headers.get("Content-Type", "")


def opds_1(url: str) -> Any:
    status, headers, body = fetched(url)
    assert status == 200 and headers["Content-Type"] == "application/atom+xml;profile=opds-catalog;kind=acquisition"
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    return feed


def opds_2(url: str) -> PublicationFeed:
    status, headers, body = fetched(url)
    assert status == 200 and headers["Content-Type"] == "application/opds+json"
    return PublicationFeed.model_validate(json.loads(body))


def test_a_book_is_a_catalog_reading_apps_follow_through_its_editions(app: AppHost) -> None:
    base = app.base_url
    book, key = create_book(base, BOOK, "tides.md")
    first = follow(base, book, timeout=60)
    assert first["status"] == "succeeded"
    atom_url, json_url = f"{base}/api/books/{book}/opds", f"{base}/api/books/{book}/opds.json"
    assert (first["links"]["opds"], first["links"]["opds2"]) == (
        f"/api/books/{book}/opds",
        f"/api/books/{book}/opds.json",
    )
    index = fetched(f"{base}/api/books/{book}/app/")[2].decode()
    assert all(resolves(f"{base}/api/books/{book}/app/", href)[0] == 200 for href in ("../opds", "../opds.json"))
    assert 'href="../opds"' in index and 'href="../opds.json"' in index

    feed = opds_1(atom_url)
    (entry,) = feed.entries
    assert entry.title == "Tide Tables" and entry.author == "Ada Writer" and entry.dcterms_language == "en-GB"
    assert entry.summary == "The harbour's year, month by month." and entry.content[0].value == "Edition 1"
    kinds = {link.type: link for link in entry.links}
    assert kinds["application/epub+zip"].rel == "http://opds-spec.org/acquisition/open-access"
    assert kinds["application/pdf"].rel == "http://opds-spec.org/acquisition/open-access"
    for link in entry.links + feed.feed.links:
        assert resolves(atom_url, link.href)[0] == 200, link
    assert resolves(atom_url, kinds["application/epub+zip"].href) == (200, "application/epub+zip")
    image = next(link for link in entry.links if link.rel == "http://opds-spec.org/image")
    assert resolves(atom_url, image.href)[1].startswith("image/")

    catalog = opds_2(json_url)
    (publication,) = catalog.publications
    assert publication.metadata.title == "Tide Tables"
    links = [(str(link.href), link.type) for link in [*publication.links, *catalog.links, *publication.images]]
    for href, media_type in links:
        assert resolves(json_url, href) == (200, media_type) or media_type == "text/html", (href, media_type)
    manifest_href = next(href for href, media_type in links if media_type == "application/webpub+json")
    status, manifest_type = resolves(json_url, manifest_href)
    assert (status, manifest_type) == (200, "application/webpub+json")

    # A reading app asks again with the tag it has: nothing changed, nothing sent.
    status, headers, _ = fetched(atom_url)
    assert fetched(atom_url, {"If-None-Match": headers["ETag"]})[0] == 304

    second = publish_edition(base, book, key, BOOK.replace(b"Fog on the quay.", b"Ice in the harbour."), "tides.md")
    assert follow(base, second, timeout=60)["status"] == "succeeded"
    (newer,) = opds_1(atom_url).entries
    assert newer.content[0].value == "Edition 2" and newer.updated > entry.updated
    assert "edition=2" in next(link.href for link in newer.links if link.type == "application/epub+zip")
    assert fetched(atom_url, {"If-None-Match": headers["ETag"]})[0] == 200
    (publication,) = opds_2(json_url).publications
    assert any("edition=2" in str(link.href) for link in publication.links)
    raw = json.loads(fetched(json_url)[2])["publications"][0]["metadata"]
    assert raw["edition"] == 2 and raw["modified"] > str(first["created"])[:19]

    assert http_json("DELETE", f"{base}/api/books/{book}", None, bearer(key))[0] == 202
    for url in (atom_url, json_url):
        status, problem = http_json("GET", url)
        assert status == 410 and problem["title"] == "Book deleted", (url, problem)


def test_an_unknown_or_unpublished_book_has_no_catalog(app: AppHost) -> None:
    base = app.base_url
    for suffix in ("opds", "opds.json"):
        status, problem = http_json("GET", f"{base}/api/books/{'A' * 22}/{suffix}")
        assert status == 404 and problem["title"], problem
        assert http_json("GET", f"{base}/api/books/not-an-id/{suffix}")[0] in (400, 404)


class CountingStorage:
    """The app's storage adapter on the same Azurite, with each call it is asked for written down."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.storage, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return found(*args, **kwargs)

        return counted


def test_a_catalog_answer_costs_one_read_of_the_book_row(app: AppHost, azurite: Azurite) -> None:
    book, _ = create_book(app.base_url, BOOK, "tides.md")
    assert follow(app.base_url, book, timeout=120)["status"] == "succeeded"
    counting = CountingStorage(Storage(azurite.connection_string))
    services = Services(Settings.from_env({"AzureWebJobsStorage": azurite.connection_string}), counting)  # type: ignore[arg-type]

    def answer(version: int, etag: str = "") -> func.HttpResponse:
        headers = {"If-None-Match": etag} if etag else {}
        request = func.HttpRequest(
            "GET", f"http://localhost/api/books/{book}/opds", headers=headers, body=b"", route_params={"id": book}
        )
        counting.calls.clear()
        return book_catalog(request, services, version)

    for version in (1, 2):
        full = answer(version)
        assert full.status_code == 200 and counting.calls == ["get_entity"], counting.calls
        assert b"Tide Tables" in full.get_body() and b"book.pdf?edition=1" in full.get_body()
        assert answer(version, full.headers["ETag"]).status_code == 304 and counting.calls == ["get_entity"]
