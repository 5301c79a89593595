"""The book record's rules, pure: owner keys, edition numbers, publishing in order, what is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.library.record import Book, erased_partition, new_owner_key, owner_key_hash

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def book_with(editions: int, published: int = 0) -> Book:
    book = Book(id="B" * 22, owner_key_sha256=owner_key_hash("key"), created=NOW, updated=NOW)
    for number in range(1, editions + 1):
        book = book.with_new_edition(f"job{number}", NOW + timedelta(minutes=number))
    if published:
        published_book = book.publishing(f"job{published}", f"Edition {published}", NOW)
        assert published_book is not None
        book = published_book
    return book


def test_owner_keys_are_long_random_and_only_their_hash_is_kept() -> None:
    first, second = new_owner_key(), new_owner_key()
    assert first != second and len(first) > 40
    book = Book(id="B" * 22, owner_key_sha256=owner_key_hash(first), created=NOW, updated=NOW)
    assert first not in str(book.to_entity())
    assert book.owner_key_matches(first)
    assert (
        not book.owner_key_matches(second) and not book.owner_key_matches(first[:-1]) and not book.owner_key_matches("")
    )


def test_editions_are_numbered_in_order_and_published_never_backwards() -> None:
    book = book_with(3)
    assert [e.number for e in book.editions] == [1, 2, 3] and book.published == 0
    third = book.publishing("job3", "Three", NOW)
    assert third is not None and third.published == 3 and third.title == "Three"
    assert third.publishing("job2", "Two", NOW) is None  # finished later, but older: stays unpublished
    assert third.publishing("job3", "Three", NOW) is None  # published already: nothing to write
    assert third.publishing("someone-else", "X", NOW) is None
    assert third.with_new_edition("job4", NOW).editions[-1].number == 4


def test_an_erasing_book_publishes_nothing() -> None:
    book = book_with(2, published=1)
    erasing = Book(**{**book.__dict__, "erasing": True})
    assert erasing.publishing("job2", "Two", NOW) is None


def test_only_editions_older_than_the_published_one_beyond_the_kept_count_go() -> None:
    book = book_with(5, published=4)
    assert [e.number for e in book.superseded(kept=3)] == [1]  # 4 published, 2 and 3 kept, 5 converting
    assert [e.number for e in book.superseded(kept=1)] == [1, 2, 3]
    assert book.superseded(kept=10) == []
    later = book.without(book.superseded(kept=1), NOW)
    assert [e.number for e in later.editions] == [4, 5] and later.next_edition_number == 6


def test_the_row_round_trips_and_the_tombstone_does_not_name_the_book() -> None:
    book = book_with(2, published=2)
    assert Book.from_entity(book.to_entity()) == book
    assert book.id not in erased_partition(book.id)
    public = book.to_public("/api")
    assert public["published_edition"] == 2 and "owner_key_sha256" not in str(public)


def test_a_key_with_a_byte_that_is_not_ascii_matches_nothing_and_never_raises() -> None:
    key = new_owner_key()
    book = Book(id="B" * 22, owner_key_sha256=owner_key_hash(key), created=NOW, updated=NOW)
    # A raw 0xE9 reaches the app as a lone surrogate: it cannot even be encoded as UTF-8.
    for presented in (key + "\udce9", key + "é", "\udce9", key[:-1] + "\u0661"):
        assert not book.owner_key_matches(presented)
    assert book.owner_key_matches(key)
    assert not Book(id="B" * 22, owner_key_sha256="é" * 64, created=NOW, updated=NOW).owner_key_matches(key)
