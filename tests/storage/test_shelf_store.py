"""The shelf store against the session's Azurite: a shelf's bound holds however many requests race
to add books, adding and removing are idempotent, and an erased shelf leaves only its marker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from shared.books.shelves import side_by_side
from shared.errors import ShelfErased, ShelfFull, WrongShelfKey
from shared.library import shelves
from shared.storage import Storage
from shared.storage.names import SHELF_TABLE
from tests.support import Azurite

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def book_id(n: int) -> str:
    return f"Book{n:018d}"


def test_racing_adds_never_put_more_books_on_a_shelf_than_it_holds(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shelves, "MAX_SHELF_BOOKS", 10)
    storage = Storage(azurite.connection_string)
    shelf, key = shelves.create_shelf(storage, "Racing", NOW)

    def add(n: int) -> str:
        try:
            return "added" if shelves.add_to_shelf(storage, shelf.id, key, book_id(n), NOW) else "there"
        except ShelfFull:
            return "full"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(add, range(16)))
    assert sorted(outcomes).count("added") == 10 and outcomes.count("full") == 6
    assert len(shelves.shelf_entries(storage, shelf.id)) == 10
    assert shelves.readable_shelf(storage, shelf.id).books == 10

    on_shelf = [entry.book_id for entry in shelves.shelf_entries(storage, shelf.id)]
    assert shelves.add_to_shelf(storage, shelf.id, key, on_shelf[0], NOW) is False  # already there, not full
    assert shelves.remove_from_shelf(storage, shelf.id, key, on_shelf[0], NOW) is True
    assert shelves.remove_from_shelf(storage, shelf.id, key, on_shelf[0], NOW) is False
    assert shelves.add_to_shelf(storage, shelf.id, key, book_id(99), NOW) is True
    with pytest.raises(WrongShelfKey):
        shelves.remove_from_shelf(storage, shelf.id, shelves.new_shelf_key(), on_shelf[1], NOW)


def test_an_erased_shelf_leaves_only_its_marker(azurite: Azurite) -> None:
    storage = Storage(azurite.connection_string)
    shelf, key = shelves.create_shelf(storage, "Going", NOW)
    for n in range(100, 105):
        shelves.add_to_shelf(storage, shelf.id, key, book_id(n), NOW)
    with pytest.raises(WrongShelfKey):
        shelves.start_shelf_erasure(storage, shelf.id, shelves.new_shelf_key(), NOW)
    shelves.start_shelf_erasure(storage, shelf.id, key, NOW)
    with pytest.raises(ShelfErased):
        shelves.readable_shelf(storage, shelf.id)  # from the first write on
    shelves.erase_shelf(storage, shelf.id, side_by_side)
    assert storage.query_entities_filtered(SHELF_TABLE, f"PartitionKey eq '{shelf.id}'") == []
    for n in range(100, 105):  # nor does any row say the shelf held these books
        assert storage.query_entities_filtered(SHELF_TABLE, f"PartitionKey eq 'book:{book_id(n)}'") == []
    with pytest.raises(ShelfErased):
        shelves.readable_shelf(storage, shelf.id)
    with pytest.raises(ShelfErased):
        shelves.add_to_shelf(storage, shelf.id, key, book_id(9), NOW)


def test_a_book_erased_is_taken_off_every_shelf_and_no_row_names_it(azurite: Azurite) -> None:
    storage = Storage(azurite.connection_string)
    made = [shelves.create_shelf(storage, f"Shelf {n}", NOW) for n in range(3)]
    erased, kept = book_id(500), book_id(501)
    for shelf, key in made:
        shelves.add_to_shelf(storage, shelf.id, key, erased, NOW)
        shelves.add_to_shelf(storage, shelf.id, key, kept, NOW)
    shelves.remove_from_shelf(storage, made[2][0].id, made[2][1], erased, NOW)
    assert shelves.take_off_every_shelf(storage, erased, NOW) == 2
    for shelf, _ in made:
        assert [e.book_id for e in shelves.shelf_entries(storage, shelf.id)] == [kept]
        assert shelves.readable_shelf(storage, shelf.id).books == 1
    names = [e.properties for e in storage.query_entities_filtered(SHELF_TABLE, "PartitionKey ne ''")]
    assert not any(erased in str(properties) for properties in names)
    assert shelves.take_off_every_shelf(storage, erased, NOW) == 0
