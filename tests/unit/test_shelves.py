"""A shelf's pure parts, without storage: paging, the search filter, the order, its catalog of many
entries in both formats, its OpenSearch description, the shelf key's check and its refusals."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from lxml import etree
from palace.opds.opds2 import PublicationFeed

from shared.books.shelves import PAGE_SIZE, ShelfPage, ShelvedBook, matches, newest_first, page_count, page_of
from shared.errors import Refused, ShelfErased, ShelfFull, ShelfKeyRequired, ShelfUnknown, WrongShelfKey
from shared.library.record import Book, Edition
from shared.library.shelves import Shelf, check_shelf_key, new_shelf_id, new_shelf_key, shelf_key_hash
from shared.web.opds import opds_1, opds_2
from shared.web.problems import refused_answer
from shared.web.shelves import navigation, opensearch_description, query_string, shelf_catalog

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def shelved(n: int) -> ShelvedBook:
    """Book n, its edition 2 published n minutes after START."""
    book_id = f"{n:022d}"
    made = START + timedelta(minutes=n)
    edition = Edition(number=2, job=f"job{n:019d}", created=made)
    book = Book(book_id, "hash", START, made, editions=[edition], published=2, title=f"Book {n}")
    stamp = made.isoformat().replace("+00:00", "Z")
    manifest = {"metadata": {"title": f"Book {n}", "author": [f"Author {n % 3}"], "modified": stamp}}
    return ShelvedBook(book, edition, manifest, has_pdf=n % 2 == 0)


def test_sixty_books_make_two_pages_of_fifty_and_ten() -> None:
    books = list(range(60))
    assert (page_count(60), page_count(50), page_count(0)) == (2, 1, 1)
    assert page_of(books, 1) == books[:PAGE_SIZE] and page_of(books, 2) == books[50:]
    assert page_of(books, 3) == [] and page_of(books, 0) == []


def test_pages_link_first_previous_next_and_last_keeping_the_search() -> None:
    assert navigation("", 1, 1) == ()
    assert navigation("", 1, 3) == (("first", ""), ("next", "?page=2"), ("last", "?page=3"))
    assert navigation("tide", 3, 3) == (
        ("first", "?q=tide"),
        ("previous", "?q=tide&page=2"),
        ("last", "?q=tide&page=3"),
    )
    assert urllib.parse.parse_qs(query_string("ada & co", 2)[1:]) == {"q": ["ada & co"], "page": ["2"]}


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("tide", True),
        ("TIDE tables", True),
        ("ada", True),
        ("writer tide", True),
        ("fog", False),
        ("", True),
    ],
    ids=["word", "case", "author", "both", "absent", "empty"],
)
def test_a_search_matches_every_word_in_the_title_or_an_author(query: str, found: bool) -> None:
    assert matches(query, "Tide Tables", ["Ada Writer"]) is found


def test_newest_edition_first_then_by_id() -> None:
    older, newer, tied = shelved(1), shelved(5), shelved(5)
    tied_book = Book("Z" * 22, "hash", START, START, editions=[tied.edition], published=2)
    pairs = [(older.book, older.edition), (tied_book, tied.edition), (newer.book, newer.edition)]
    assert [book.id for book, _ in newest_first(pairs)] == [newer.book.id, "Z" * 22, older.book.id]


def shelf_page(books: list[ShelvedBook], page: int, pages: int) -> ShelfPage:
    shelf = Shelf("S" * 22, "hash", "Book club", START, START, books=60)
    return ShelfPage(shelf, books, page, pages, total=60)


def test_a_page_of_a_shelf_renders_every_entry_in_both_formats_with_its_paging() -> None:
    books = [shelved(n) for n in range(59, 49, -1)]  # page 2 of 60: the ten oldest
    catalog = shelf_catalog(shelf_page(books, 2, 2), "")
    feed = feedparser.parse(opds_1(catalog))
    assert not feed.bozo, feed.bozo_exception
    assert [e.title for e in feed.entries] == [f"Book {n}" for n in range(59, 49, -1)]
    assert feed.entries[0].id == f"urn:quire:book:{59:022d}"
    rels = {link.rel: link.href for link in feed.feed.links}
    assert rels["first"] == "opds" and rels["previous"] == "opds" and rels["search"] == "opensearch.xml"
    assert rels["self"] == "opds?page=2" and "next" not in rels
    epub = next(link.href for link in feed.entries[0].links if link.type == "application/epub+zip")
    assert epub == f"../../books/{59:022d}/book.epub?edition=2"
    assert urllib.parse.urljoin(f"https://q.example/api/shelves/{'S' * 22}/opds", epub) == (
        f"https://q.example/api/books/{59:022d}/book.epub?edition=2"
    )
    assert feed.feed.updated == "2026-12-01T08:59:00Z"  # the newest entry's
    assert (feed.feed.opensearch_totalresults, feed.feed.opensearch_startindex) == ("60", "51")

    parsed = PublicationFeed.model_validate(json.loads(opds_2(catalog)))
    assert [p.metadata.title for p in parsed.publications] == [f"Book {n}" for n in range(59, 49, -1)]
    metadata = parsed.metadata
    assert (metadata.number_of_items, metadata.items_per_page, metadata.current_page) == (60, 50, 2)
    links = {link.rel if isinstance(link.rel, str) else (link.rel or ("",))[0]: link for link in parsed.links}
    assert str(links["previous"].href) == "opds.json" and links["search"].templated


def test_a_search_is_named_in_the_catalog_title_and_kept_in_its_links() -> None:
    catalog = shelf_catalog(shelf_page([shelved(1)], 1, 3), "ada")
    assert catalog.title == "Book club: ada" and catalog.query == "?q=ada"
    assert dict(catalog.navigation)["next"] == "?q=ada&page=2"


def test_the_opensearch_description_templates_the_catalog_search() -> None:
    body = opensearch_description('Club <"&">', "https://q.example/api/shelves/S/opds")
    root = etree.fromstring(body)
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    (url,) = root.findall("os:Url", ns)
    assert url.get("template") == "https://q.example/api/shelves/S/opds?q={searchTerms}"
    assert url.get("type") == "application/atom+xml;profile=opds-catalog;kind=acquisition"
    assert root.findtext("os:ShortName", namespaces=ns) == 'Club <"&">'


def test_a_shelf_key_opens_its_shelf_alone() -> None:
    key = new_shelf_key()
    assert key.startswith("quire_shelf_") and len(new_shelf_id()) == 22
    check_shelf_key(shelf_key_hash(key), key)
    with pytest.raises(ShelfKeyRequired):
        check_shelf_key(shelf_key_hash(key), None)
    with pytest.raises(WrongShelfKey):
        check_shelf_key(shelf_key_hash(key), new_shelf_key())
    with pytest.raises(ShelfErased):
        Shelf("S" * 22, shelf_key_hash(key), "", START, START, erasing=True).check_change(key)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ShelfKeyRequired(), 401),
        (WrongShelfKey(), 403),
        (ShelfUnknown(), 404),
        (ShelfErased(), 410),
        (ShelfFull(), 409),
    ],
    ids=["key-required", "wrong-key", "unknown", "erased", "full"],
)
def test_each_shelf_refusal_has_its_answer(error: Refused, status: int) -> None:
    answer = refused_answer(error)
    assert answer.status_code == status and json.loads(answer.get_body())["status"] == status
