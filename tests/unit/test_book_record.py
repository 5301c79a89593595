"""The book record's rules, pure: owner keys, edition numbers, publishing in order, what is kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import BookErased, OwnerKeyRequired, WrongOwnerKey
from shared.jobs.record import JobStatus, new_job_id
from shared.library.record import (
    KEPT_FAILED_EDITIONS,
    MAX_CONVERTING_EDITIONS,
    UNRECORDED_EDITION_SECONDS,
    Book,
    Edition,
    check_owner_key,
    erased_partition,
    key_matches,
    new_owner_key,
    owner_key_hash,
)
from shared.settings import DEFAULT_EDITIONS_KEPT

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
    assert key_matches(first, book.owner_key_sha256)
    assert (
        not key_matches(second, book.owner_key_sha256)
        and not key_matches(first[:-1], book.owner_key_sha256)
        and not key_matches("", book.owner_key_sha256)
    )


def test_the_owner_key_check_says_which_key_was_missing_or_wrong() -> None:
    key = new_owner_key()
    book = Book(id="B" * 22, owner_key_sha256=owner_key_hash(key), created=NOW, updated=NOW)
    book.check_change(key)
    with pytest.raises(OwnerKeyRequired):
        book.check_change(None)
    with pytest.raises(WrongOwnerKey) as wrong:
        check_owner_key(book.owner_key_sha256, new_owner_key(), of_upload=True)
    assert wrong.value.of_upload
    with pytest.raises(BookErased):
        Book(**{**book.__dict__, "erasing": True}).check_change(key)


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
    assert "pdf" not in public["links"]  # only when the published edition has one
    assert book.to_public("/api", pdf=True)["links"]["pdf"] == f"/api/books/{book.id}/book.pdf"


def test_publishing_keeps_the_editions_catalog_card_in_the_row() -> None:
    from shared.book.webpub import CARD_MAX_CHARS, catalog_card

    book = book_with(2, published=1)
    manifest = {
        "metadata": {"title": "Tides", "author": ["Ada"], "modified": "2026-12-05T08:00:00.000Z"},
        "resources": [{"href": "images/cover.jpg", "type": "image/jpeg", "rel": "cover"}, {"href": "css/app.css"}],
        "readingOrder": [{"href": "chapters/ch001.html"}],
    }
    card = {"job": book.editions[1].job, "has_pdf": True, **catalog_card(json.dumps(manifest).encode())}
    assert card["resources"] == [{"href": "images/cover.jpg", "type": "image/jpeg", "rel": "cover"}]
    assert "readingOrder" not in card
    published = book.publishing(book.editions[1].job, "Tides", book.updated, card)
    assert published is not None and Book.from_entity(published.to_entity()).catalog == card
    too_long = {**manifest, "metadata": {"description": "x" * CARD_MAX_CHARS}}
    assert catalog_card(json.dumps(too_long).encode()) == {}  # the catalog then reads the manifest


def test_a_key_with_a_byte_that_is_not_ascii_matches_nothing_and_never_raises() -> None:
    key = new_owner_key()
    book = Book(id="B" * 22, owner_key_sha256=owner_key_hash(key), created=NOW, updated=NOW)
    # A raw 0xE9 reaches the app as a lone surrogate: it cannot even be encoded as UTF-8.
    for presented in (key + "\udce9", key + "é", "\udce9", key[:-1] + "\u0661"):
        assert not key_matches(presented, book.owner_key_sha256)
    assert key_matches(key, book.owner_key_sha256)
    assert not key_matches(key, "é" * 64)


def statuses(book: Book, **by_number: JobStatus | None) -> dict[str, JobStatus | None]:
    """Every edition's job failed, but those named (e.g. `e3=JobStatus.RUNNING`)."""
    return {e.job: by_number.get(f"e{e.number}", JobStatus.FAILED) for e in book.editions}


def numbers(editions: list[Edition]) -> list[int]:
    return [e.number for e in editions]


def test_failed_editions_newer_than_the_published_one_beyond_the_kept_newest_go() -> None:
    book = book_with(4 + KEPT_FAILED_EDITIONS + 5, published=4)  # 1-3 superseded, 5-19 failed or converting
    unfinished = {"e4": JobStatus.SUCCEEDED, "e7": JobStatus.RUNNING, "e9": JobStatus.QUEUED}
    jobs = statuses(book, **unfinished)
    later = NOW + timedelta(days=1)
    # 13 failed newer ones: the 3 oldest go; the published, converting and superseded ones stay.
    assert numbers(book.failed_beyond_kept(jobs, later)) == [5, 6, 8]
    kept = book.without(book.failed_beyond_kept(jobs, later), later)
    assert kept.failed_beyond_kept(statuses(kept, **unfinished), later) == []
    assert kept.next_edition_number == book.next_edition_number
    # Before any is published, every edition is newer than the published one.
    unpublished = book_with(KEPT_FAILED_EDITIONS + 2)
    assert numbers(unpublished.failed_beyond_kept(statuses(unpublished), later)) == [1, 2]


def test_an_edition_whose_job_was_never_recorded_goes_once_its_request_is_surely_over() -> None:
    book = book_with(5, published=1)  # editions created 2-5 minutes after NOW
    jobs = statuses(book, e1=JobStatus.SUCCEEDED, e3=None, e5=None)
    soon = NOW + timedelta(minutes=4)
    assert book.failed_beyond_kept(jobs, soon) == []  # still being recorded
    assert book.converting(jobs, soon) == 2  # 3 and 5
    late = NOW + timedelta(seconds=UNRECORDED_EDITION_SECONDS, minutes=6)
    # Never the newest: its number would be given to the next edition while a racing drop strikes it.
    assert numbers(book.failed_beyond_kept(jobs, late)) == [3]
    assert book.converting(jobs, late) == 0
    # An edition whose job was not read is taken to be converting, and is never dropped.
    assert book.converting({}, late) == 4 and book.failed_beyond_kept({}, late) == []


def test_converting_editions_count_on_both_sides_of_the_published_one() -> None:
    book = book_with(6, published=4)
    jobs = statuses(book, e1=JobStatus.RUNNING, e4=JobStatus.RUNNING, e5=JobStatus.QUEUED, e6=JobStatus.RUNNING)
    assert book.converting(jobs, NOW) == 3  # 1, 5 and 6; the published one (being packaged) is not counted


def test_the_jobs_are_read_only_when_the_book_is_crowded() -> None:
    assert not book_with(KEPT_FAILED_EDITIONS).crowded()
    assert not book_with(KEPT_FAILED_EDITIONS + 2, published=2).crowded()  # 1 superseded, 10 newer
    assert book_with(KEPT_FAILED_EDITIONS + 1).crowded()
    assert book_with(KEPT_FAILED_EDITIONS + 3, published=2).crowded()
    # Older editions still converting when a later one was published are dropped only once finished.
    assert not book_with(MAX_CONVERTING_EDITIONS + 1, published=MAX_CONVERTING_EDITIONS + 1).crowded()
    assert book_with(MAX_CONVERTING_EDITIONS + 2, published=MAX_CONVERTING_EDITIONS + 2).crowded()


def test_the_row_stays_far_under_the_table_property_limit_in_the_worst_case() -> None:
    """The most editions a row lists. A crowded book takes a new edition only while fewer than
    MAX_CONVERTING_EDITIONS are converting; one that is not crowded has at most KEPT_FAILED_EDITIONS
    newer and MAX_CONVERTING_EDITIONS older editions; so at most this many are ever unfinished:"""
    most_unfinished = MAX_CONVERTING_EDITIONS + KEPT_FAILED_EDITIONS + 1
    most = (
        1  # the published edition
        + (DEFAULT_EDITIONS_KEPT - 1)  # the superseded ones kept behind it
        + most_unfinished  # older ones, unfinished when it was published (dropped by the next publication)
        + most_unfinished  # the ones converting now, the new one included
        + KEPT_FAILED_EDITIONS  # failed ones newer than the published one
        + 1  # the newest edition, kept even when its job was never recorded
    )
    book = Book(id=new_job_id(), owner_key_sha256=owner_key_hash("key"), created=NOW, updated=NOW)
    late = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    for _ in range(most):
        book = book.with_new_edition(new_job_id(), late)
    editions = [{**e.to_dict(), "n": 99_999_999} for e in book.editions]  # numbers up to 100 million
    listed = json.dumps(editions)
    # A table property holds 64 KiB, strings counted in UTF-16.
    assert len(listed.encode("utf-16-le")) < 64 * 1024 // 2, (most, len(listed))
    assert json.loads(book.to_entity()["editions"])[0].keys() == editions[0].keys()
