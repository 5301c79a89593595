"""Shelves over real HTTP, read as reading apps read them (feedparser for OPDS 1.2, palace-opds for
2.0): a book put on a shelf is listed, a new edition shows as the same entry updated, an erased
book vanishes from the shelf, every link resolves, the erasure leaves no shelf naming the book, the shelf key guards every change, a search
finds books by title and author, and an erased shelf answers 410 everywhere."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from tests.e2e.test_books import bearer
from tests.e2e.test_opds import opds_1, opds_2, resolves
from tests.pipeline_support import create_book, follow, http_json, publish_edition, storage_naming
from tests.support import AppHost, Azurite, http, wait_for

OPENSEARCH_TYPE = "application/opensearchdescription+xml"


def manuscript(title: str, author: str, line: str) -> bytes:
    return f"---\ntitle: {title}\nauthor: {author}\nlanguage: en\n---\n# One\n\n{line}\n".encode()


def new_shelf(base: str, title: str) -> tuple[str, str]:
    status, shelf = http_json("POST", f"{base}/api/shelves", json.dumps({"title": title}).encode())
    assert status == 201, shelf
    assert shelf["links"]["opds"] == f"/api/shelves/{shelf['id']}/opds" and shelf["shelf_key"].startswith(
        "quire_shelf_"
    )
    return str(shelf["id"]), str(shelf["shelf_key"])


def shelve(base: str, shelf: str, book: str, key: str | None, method: str = "PUT") -> tuple[int, Any]:
    return http_json(method, f"{base}/api/shelves/{shelf}/books/{book}", None, bearer(key) if key else None)


def published(base: str, *books: tuple[bytes, str]) -> list[tuple[str, str]]:
    """New books, each followed until its first edition is published."""
    made = [create_book(base, data, name) for data, name in books]
    for book, _ in made:
        assert follow(base, book, timeout=90)["status"] == "succeeded"
    return made


def every_link_resolves(atom_url: str, json_url: str) -> None:
    feed = opds_1(atom_url)
    for link in [*feed.feed.links, *(link for entry in feed.entries for link in entry.links)]:
        status, media_type = resolves(atom_url, link.href)
        assert status == 200 and (media_type.startswith(link.type.split(";")[0]) or link.type == "text/html"), link
    catalog = opds_2(json_url)
    links = [*catalog.links, *(link for p in catalog.publications for link in [*p.links, *p.images])]
    for link in links:
        if not link.templated:
            assert resolves(json_url, str(link.href))[0] == 200, link


def test_a_shelf_lists_its_books_through_their_editions_and_erasure(app: AppHost, azurite: Azurite) -> None:
    base = app.base_url
    ((book, owner_key),) = published(base, (manuscript("Tide Tables", "Ada Writer", "Spring tides."), "tides.md"))
    shelf, key = new_shelf(base, "Harbour club")
    unread, unread_key = new_shelf(base, "Never read")  # only the book's erasure can take the book off it
    assert shelve(base, unread, book, unread_key)[0] == 201
    atom_url, json_url = f"{base}/api/shelves/{shelf}/opds", f"{base}/api/shelves/{shelf}/opds.json"

    assert shelve(base, shelf, book, None)[0] == 401
    assert shelve(base, shelf, book, "quire_shelf_not-the-key")[0] == 403
    assert shelve(base, shelf, book, owner_key)[0] == 403  # the book's key is not the shelf's
    assert shelve(base, shelf, book, key)[0] == 201
    assert shelve(base, shelf, book, key) == (200, {"shelf": shelf, "book": book, "on_shelf": True, "changed": False})
    assert shelve(base, shelf, "A" * 22, key)[0] == 404

    (entry,) = opds_1(atom_url).entries
    assert entry.title == "Tide Tables" and entry.author == "Ada Writer" and entry.id == f"urn:quire:book:{book}"
    assert entry.content[0].value == "Edition 1"
    (publication,) = opds_2(json_url).publications
    assert publication.metadata.title == "Tide Tables"
    every_link_resolves(atom_url, json_url)
    tag = http("GET", atom_url)[1]["ETag"]
    assert http("GET", atom_url, headers={"If-None-Match": tag})[0] == 304

    description = http("GET", f"{base}/api/shelves/{shelf}/opensearch.xml")
    assert description[0] == 200 and description[1]["Content-Type"] == OPENSEARCH_TYPE
    template = re.search(rb'template="([^"]+)"', description[2])
    assert template is not None
    found = opds_1(template.group(1).decode().replace("{searchTerms}", "ada"))
    assert [e.title for e in found.entries] == ["Tide Tables"]

    second = publish_edition(base, book, owner_key, manuscript("Tide Tables", "Ada Writer", "Neap tides."), "tides.md")
    assert follow(base, second, timeout=90)["status"] == "succeeded"
    assert http("GET", atom_url, headers={"If-None-Match": tag})[0] == 200
    (newer,) = opds_1(atom_url).entries
    assert newer.id == entry.id and newer.updated > entry.updated and newer.content[0].value == "Edition 2"
    assert "edition=2" in next(link.href for link in newer.links if link.type == "application/epub+zip")
    raw = json.loads(http("GET", json_url)[2])["publications"][0]["metadata"]
    assert raw["edition"] == 2 and raw["modified"] == newer.updated
    every_link_resolves(atom_url, json_url)

    assert http_json("DELETE", f"{base}/api/books/{book}", None, bearer(owner_key))[0] == 202
    assert opds_1(atom_url).entries == [] and opds_2(json_url).publications == []
    assert shelve(base, shelf, book, key)[0] == 410
    # The erasure takes the book off every shelf, read or not: no row of any shelf names it.
    wait_for(lambda: not storage_naming(azurite.connection_string, [book]), 60, "the book to be erased")

    assert http_json("DELETE", f"{base}/api/shelves/{shelf}", None, bearer("quire_shelf_wrong"))[0] == 403
    assert http_json("DELETE", f"{base}/api/shelves/{shelf}")[0] == 401
    assert http_json("DELETE", f"{base}/api/shelves/{shelf}", None, bearer(key))[0] == 200
    for url in (atom_url, json_url, f"{base}/api/shelves/{shelf}/opensearch.xml"):
        status, problem = http_json("GET", url)
        assert status == 410 and problem["title"] == "Shelf deleted", (url, problem)
    assert shelve(base, shelf, book, key)[0] == 410
    assert http_json("GET", f"{base}/api/shelves/{'B' * 22}/opds")[0] == 404


def test_a_shelf_is_searched_by_title_and_author_newest_first(app: AppHost) -> None:
    base = app.base_url
    books = published(
        base,
        (manuscript("Tide Tables", "Ada Writer", "Tides."), "tides.md"),
        (manuscript("Fog Signals", "Ben Keeper", "Fog."), "fog.md"),
        (manuscript("Harbour Lights", "Ada Writer", "Lights."), "lights.md"),
    )
    shelf, key = new_shelf(base, "Coast")
    for book, _ in books:
        assert shelve(base, shelf, book, key)[0] == 201
    atom_url, json_url = f"{base}/api/shelves/{shelf}/opds", f"{base}/api/shelves/{shelf}/opds.json"

    def titles(query: str) -> tuple[list[str], list[str]]:
        suffix = f"?{urllib.parse.urlencode({'q': query})}" if query else ""
        feed = opds_1(atom_url + suffix)
        return [e.title for e in feed.entries], [str(p.metadata.title) for p in opds_2(json_url + suffix).publications]

    # Newest edition first: each book was published after the one before it.
    everything = ["Harbour Lights", "Fog Signals", "Tide Tables"]
    assert titles("") == (everything, everything)
    assert titles("ada WRITER") == (["Harbour Lights", "Tide Tables"], ["Harbour Lights", "Tide Tables"])
    assert titles("fog") == (["Fog Signals"], ["Fog Signals"])
    assert titles("nothing like it") == ([], [])
    search = next(link for link in opds_2(json_url).links if link.rel == "search")
    assert search.templated and str(search.href) == "opds.json{?q}"

    assert shelve(base, shelf, books[1][0], key, "DELETE")[1]["changed"] is True
    assert shelve(base, shelf, books[1][0], key, "DELETE")[1]["changed"] is False
    assert titles("") == (["Harbour Lights", "Tide Tables"], ["Harbour Lights", "Tide Tables"])
    assert http_json("GET", f"{atom_url}?page=2")[0] == 404
    assert http_json("GET", f"{atom_url}?page=none")[0] == 400
    assert http_json("GET", f"{base}/api/shelves/not-a-shelf/opds")[0] in (400, 404)
