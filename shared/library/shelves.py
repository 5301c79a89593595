"""The shelf store: a shelf's row, its books, its shelf key, and its erasure.

A shelf lives in one partition of `quireShelves` (PartitionKey = shelf id): one row for the shelf
(RowKey "shelf": its shelf key's hash, title, created, how many books, erasing) and one small row
per book on it (RowKey "book:{book id}": when it was added). Adding or removing a book changes the
shelf row (its count, by compare-and-swap) and the book's row in one transaction, so the count is
exact and a shelf never holds more than MAX_SHELF_BOOKS books however many requests race.

Each book on a shelf also has a row in a partition of its own (PartitionKey "book:{book id}",
RowKey the shelf id), written before it is put on the shelf and deleted after it is taken off, so
erasing a book takes it off every shelf (`take_off_every_shelf`) and leaves no row naming it.

A shelf key is a secret of its own, made and checked by the owner key's mechanism
(shared/library/record.py `key_matches`): 32 random bytes, only its SHA-256 stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.errors import ShelfErased, ShelfFull, ShelfKeyRequired, ShelfUnknown, WrongShelfKey
from shared.jobs.record import is_valid_job_id
from shared.library.record import key_matches, owner_key_hash
from shared.storage import AlreadyExists, Conflict, NotFound, Storage
from shared.storage.names import SHELF_TABLE

SHELF_ROW_KEY = "shelf"
ERASED_ROW_KEY = "erased"
BOOK_ROW_PREFIX = "book:"
HELD_PARTITION_PREFIX = "book:"  # + a book id: the shelves holding it (shelf ids never hold a colon)
SHELF_KEY_PREFIX = "quire_shelf_"
_SHELF_KEY_BYTES = 32
_SHELF_ID_BYTES = 16  # 128 random bits: the shelf id is the capability to read it
# Reading a shelf reads each of its books' rows (shared/books/shelves.py): this bounds that work,
# and keeps a shelf's rows within one page of a table query (1,000 entities).
MAX_SHELF_BOOKS = 1000
MAX_TITLE_CHARS = 200
_MAX_ATTEMPTS = 50


def new_shelf_id() -> str:
    return secrets.token_urlsafe(_SHELF_ID_BYTES)


def new_shelf_key() -> str:
    return SHELF_KEY_PREFIX + secrets.token_urlsafe(_SHELF_KEY_BYTES)


def shelf_key_hash(key: str) -> str:
    return owner_key_hash(key)  # the same one-way hash: a key of 256 random bits needs no salt


def check_shelf_key(shelf_key_sha256: str, presented: str | None) -> None:
    """ShelfKeyRequired without a key, WrongShelfKey for one that does not match (constant time)."""
    if presented is None:
        raise ShelfKeyRequired
    if not key_matches(presented, shelf_key_sha256):
        raise WrongShelfKey


def erased_partition(shelf_id: str) -> str:
    return hashlib.sha256(f"quire-erased-shelf:{shelf_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Shelf:
    id: str
    shelf_key_sha256: str
    title: str
    created: datetime
    updated: datetime
    books: int = 0
    erasing: bool = False

    def check_change(self, shelf_key: str | None) -> None:
        if self.erasing:
            raise ShelfErased
        check_shelf_key(self.shelf_key_sha256, shelf_key)

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.id,
            "RowKey": SHELF_ROW_KEY,
            "shelf_key_sha256": self.shelf_key_sha256,
            "title": self.title,
            "created": self.created,
            "updated": self.updated,
            "books": self.books,
            "erasing": self.erasing,
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Shelf:
        return cls(
            id=entity["PartitionKey"],
            shelf_key_sha256=entity["shelf_key_sha256"],
            title=entity.get("title", ""),
            created=entity["created"],
            updated=entity["updated"],
            books=int(entity.get("books", 0)),
            erasing=bool(entity.get("erasing", False)),
        )


@dataclass(frozen=True)
class ShelfEntry:
    book_id: str
    added: datetime


def create_shelf(storage: Storage, title: str, now: datetime) -> tuple[Shelf, str]:
    """A new, empty shelf and its shelf key (shown once: only its hash is stored)."""
    key = new_shelf_key()
    shelf = Shelf(new_shelf_id(), shelf_key_hash(key), title[:MAX_TITLE_CHARS], now, now)
    storage.create_entity(SHELF_TABLE, shelf.to_entity())  # 128 random bits: nothing else has this row
    return shelf, key


def readable_shelf(storage: Storage, shelf_id: str) -> Shelf:
    """The shelf; ShelfUnknown or ShelfErased when there is none to read."""
    shelf, _ = _read(storage, shelf_id)
    if shelf.erasing:
        raise ShelfErased
    return shelf


def _read(storage: Storage, shelf_id: str) -> tuple[Shelf, str]:
    try:
        entity = storage.get_entity(SHELF_TABLE, shelf_id, SHELF_ROW_KEY)
    except NotFound:
        raise (ShelfErased if _was_erased(storage, shelf_id) else ShelfUnknown)() from None
    return Shelf.from_entity(entity.properties), entity.etag


def _was_erased(storage: Storage, shelf_id: str) -> bool:
    try:
        storage.get_entity(SHELF_TABLE, erased_partition(shelf_id), ERASED_ROW_KEY)
        return True
    except NotFound:
        return False


def shelf_entries(storage: Storage, shelf_id: str) -> list[ShelfEntry]:
    """The books on the shelf, in one query (a shelf's rows fit one page of results)."""
    odata = f"PartitionKey eq '{shelf_id}' and RowKey ge '{BOOK_ROW_PREFIX}' and RowKey lt 'book;'"
    rows = storage.query_entities_filtered(SHELF_TABLE, odata)
    return [
        ShelfEntry(str(row.properties["RowKey"]).removeprefix(BOOK_ROW_PREFIX), row.properties["added"]) for row in rows
    ]


def _entry_exists(storage: Storage, shelf_id: str, book_id: str) -> bool:
    try:
        storage.get_entity(SHELF_TABLE, shelf_id, BOOK_ROW_PREFIX + book_id)
        return True
    except NotFound:
        return False


def add_to_shelf(storage: Storage, shelf_id: str, shelf_key: str | None, book_id: str, now: datetime) -> bool:
    """Put the book on the shelf, the key checked on the shelf row the write is conditional on.
    False when it was there already; ShelfFull when the shelf holds MAX_SHELF_BOOKS books."""
    for _ in range(_MAX_ATTEMPTS):
        shelf, etag = _read(storage, shelf_id)
        shelf.check_change(shelf_key)
        if _entry_exists(storage, shelf_id, book_id):
            return False
        if shelf.books >= MAX_SHELF_BOOKS:
            raise ShelfFull
        storage.put_entity(SHELF_TABLE, {"PartitionKey": HELD_PARTITION_PREFIX + book_id, "RowKey": shelf_id})
        entry = {"PartitionKey": shelf_id, "RowKey": BOOK_ROW_PREFIX + book_id, "added": now}
        counted = replace(shelf, books=shelf.books + 1, updated=now)
        try:
            storage.update_together(SHELF_TABLE, counted.to_entity(), etag, create=entry)
            return True
        except (Conflict, AlreadyExists):
            continue  # the shelf changed, or the book was added meanwhile: look again
    raise Conflict(f"{SHELF_TABLE} {shelf_id}: gave up after {_MAX_ATTEMPTS} lost races")


def remove_from_shelf(storage: Storage, shelf_id: str, shelf_key: str | None, book_id: str, now: datetime) -> bool:
    """Take the book off the shelf. `shelf_key` None: no key checked (a reader dropping a book that
    was erased). False when it was not there."""
    for _ in range(_MAX_ATTEMPTS):
        shelf, etag = _read(storage, shelf_id)
        if shelf_key is not None or shelf.erasing:
            shelf.check_change(shelf_key)
        if not _entry_exists(storage, shelf_id, book_id):
            _delete_row(storage, HELD_PARTITION_PREFIX + book_id, shelf_id)
            return False
        counted = replace(shelf, books=max(0, shelf.books - 1), updated=now)
        try:
            storage.update_together(SHELF_TABLE, counted.to_entity(), etag, delete=BOOK_ROW_PREFIX + book_id)
        except Conflict:
            continue
        _delete_row(storage, HELD_PARTITION_PREFIX + book_id, shelf_id)
        return True
    raise Conflict(f"{SHELF_TABLE} {shelf_id}: gave up after {_MAX_ATTEMPTS} lost races")


def start_shelf_erasure(storage: Storage, shelf_id: str, shelf_key: str | None, now: datetime) -> None:
    """Mark the shelf erasing (from this write on it reads as erased), the key checked in the same
    write. A shelf already erasing is only checked: its erasure is resumed by `erase_shelf`."""
    for _ in range(_MAX_ATTEMPTS):
        shelf, etag = _read(storage, shelf_id)
        check_shelf_key(shelf.shelf_key_sha256, shelf_key)
        if shelf.erasing:
            return
        try:
            storage.update_entity(SHELF_TABLE, replace(shelf, erasing=True, updated=now).to_entity(), etag=etag)
            return
        except Conflict:
            continue
    raise Conflict(f"{SHELF_TABLE} {shelf_id}: gave up after {_MAX_ATTEMPTS} lost races")


def erase_shelf(
    storage: Storage, shelf_id: str, delete_all: Callable[[Callable[[str], None], list[str]], object]
) -> None:
    """Erase a shelf marked erasing to nothing but its marker: its books' rows (deleted by
    `delete_all`, which runs deletes side by side), then the marker, then the shelf row. A run that
    dies part way is resumed by the next DELETE of the shelf."""
    books = [entry.book_id for entry in shelf_entries(storage, shelf_id)]

    def delete(book_id: str) -> None:
        _delete_row(storage, HELD_PARTITION_PREFIX + book_id, shelf_id)
        _delete_row(storage, shelf_id, BOOK_ROW_PREFIX + book_id)

    delete_all(delete, books)
    with contextlib.suppress(AlreadyExists):
        storage.create_entity(SHELF_TABLE, {"PartitionKey": erased_partition(shelf_id), "RowKey": ERASED_ROW_KEY})
    _delete_row(storage, shelf_id, SHELF_ROW_KEY)


def take_off_every_shelf(storage: Storage, book_id: str, now: datetime) -> int:
    """Take a book (being erased) off every shelf holding it, and delete the rows that say which;
    returns how many shelves held it. A shelf being erased loses the book with the shelf."""
    if not is_valid_job_id(book_id):  # a book id is its first job's: nothing else may reach the query
        return 0
    held = storage.query_entities_filtered(SHELF_TABLE, f"PartitionKey eq '{HELD_PARTITION_PREFIX}{book_id}'")
    for row in held:
        shelf_id = str(row.properties["RowKey"])
        with contextlib.suppress(ShelfErased, ShelfUnknown):
            remove_from_shelf(storage, shelf_id, None, book_id, now)
        _delete_row(storage, HELD_PARTITION_PREFIX + book_id, shelf_id)
    return len(held)


def _delete_row(storage: Storage, partition: str, row_key: str) -> None:
    with contextlib.suppress(NotFound):
        storage.delete_entity(SHELF_TABLE, partition, row_key)
