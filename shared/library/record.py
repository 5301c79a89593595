"""A book: its owner key's hash, its editions, the edition it publishes, and whether it is being erased.

One table entity per book (PartitionKey = book id, RowKey = "book"), so each book's reads and
writes have a partition of their own: thousands of new books an hour spread over the table. The
row changes only by compare-and-swap, like a job's.

Editions are numbered from 1. Each is a conversion job with its own status and its own files
(quire-books/{job}/...). Publishing an edition is one write of this row (`published`), so the
book's public addresses move from one whole edition to the next at once. A book's id is its first
edition's job id; later editions get ids of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.errors import BookErased, OwnerKeyRequired, WrongOwnerKey
from shared.formats import utc_timestamp
from shared.jobs.record import JobStatus

BOOK_ROW_KEY = "book"
# What is left of an erased book: a row keyed by a hash of its id, so that its addresses can
# answer 410 Gone while nothing in storage names the book any more.
ERASED_ROW_KEY = "erased"
# 32 random bytes: the key is a secret of its own, not a password, so one SHA-256 is enough to
# store it (nobody can search 2^256 keys), and no salt or slow hash is needed.
_OWNER_KEY_BYTES = 32
OWNER_KEY_PREFIX = "quire_owner_"
# The row lists every kept edition in one property, and a table property holds at most 64 KiB
# (about 350 editions), so editions newer than the published one are bounded too:
# the newest failed ones stay listed, enough for an author to read why the latest attempts failed;
KEPT_FAILED_EDITIONS = 10
# and a new edition is refused while this many are still converting (they finish within minutes).
MAX_CONVERTING_EDITIONS = 50
# An edition is numbered in the row before its job is recorded. One whose job row is still missing
# this long after belongs to a request that died (host.json's functionTimeout is 10 minutes).
UNRECORDED_EDITION_SECONDS = 15 * 60


def new_owner_key() -> str:
    return OWNER_KEY_PREFIX + secrets.token_urlsafe(_OWNER_KEY_BYTES)


def owner_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_matches(presented: str, owner_key_sha256: str) -> bool:
    """Constant-time: the comparison takes as long whatever the presented key shares with the real one.
    A key is ASCII: anything else (a byte the host could not decode) matches nothing, and never raises."""
    if not presented.isascii():
        presented = ""  # hashed all the same, so a refusal takes as long as any other
    stored = owner_key_sha256.encode("utf-8", "replace")
    return hmac.compare_digest(owner_key_hash(presented).encode("ascii"), stored)


def check_owner_key(owner_key_sha256: str, presented: str | None, *, of_upload: bool = False) -> None:
    """The one check of an owner key, for every change to a book and every direct upload's submit:
    OwnerKeyRequired without one, WrongOwnerKey for one that does not match the stored hash."""
    if presented is None:
        raise OwnerKeyRequired(of_upload=of_upload)
    if not key_matches(presented, owner_key_sha256):
        raise WrongOwnerKey(of_upload=of_upload)


def erased_partition(book_id: str) -> str:
    return hashlib.sha256(f"quire-erased:{book_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Edition:
    number: int
    job: str
    created: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.number, "job": self.job, "created": self.created.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edition:
        return cls(number=int(data["n"]), job=str(data["job"]), created=datetime.fromisoformat(data["created"]))


def _job_status(edition: Edition, jobs: Mapping[str, JobStatus | None], now: datetime) -> JobStatus | None:
    """An edition's job status as the bounds on a book's editions see it: QUEUED when it is not in
    `jobs`, or when its job row is missing but the edition was numbered moments ago (its request is
    still recording the job); None when its job was never recorded."""
    if edition.job not in jobs:
        return JobStatus.QUEUED
    status = jobs[edition.job]
    if status is None and now - edition.created < timedelta(seconds=UNRECORDED_EDITION_SECONDS):
        return JobStatus.QUEUED
    return status


@dataclass(frozen=True)
class Book:
    id: str
    owner_key_sha256: str
    created: datetime
    updated: datetime
    editions: list[Edition] = field(default_factory=list)  # the kept ones, oldest first
    published: int = 0  # the edition the public addresses serve; 0 before the first succeeds
    title: str = ""  # the published edition's
    erasing: bool = False
    # The published edition's catalog card (shared/book/webpub.py `catalog_card`, with its "job" and
    # whether it has a PDF), so its OPDS catalogs answer from this row alone; {} before one.
    catalog: dict[str, Any] = field(default_factory=dict)

    def check_change(self, owner_key: str | None) -> None:
        """Raise what stops the holder of `owner_key` from changing the book: BookErased, or the
        owner key's refusal (`check_owner_key`)."""
        if self.erasing:
            raise BookErased
        check_owner_key(self.owner_key_sha256, owner_key)

    def edition(self, number: int) -> Edition | None:
        return next((e for e in self.editions if e.number == number), None)

    def edition_of_job(self, job_id: str) -> Edition | None:
        return next((e for e in self.editions if e.job == job_id), None)

    @property
    def published_edition(self) -> Edition | None:
        return self.edition(self.published) if self.published else None

    @property
    def next_edition_number(self) -> int:
        # Dropping never takes the newest edition (see `superseded`, `failed_beyond_kept`), so no
        # number is given twice (only a number struck before its job was recorded comes back).
        return max((e.number for e in self.editions), default=0) + 1

    @property
    def unpublished(self) -> list[Edition]:
        """Editions newer than the published one (every edition before the first is published)."""
        return [e for e in self.editions if e.number > self.published]

    def crowded(self) -> bool:
        """Whether a new edition must first look at the editions' jobs (`failed_beyond_kept`,
        `converting`): more editions newer than the published one than failed ones are kept, or more
        older ones than could still be converting (those are dropped by a publication once they finish)."""
        newer = len(self.unpublished)
        older = len(self.editions) - newer - (1 if self.published_edition else 0)
        return newer > KEPT_FAILED_EDITIONS or older > MAX_CONVERTING_EDITIONS

    def failed_beyond_kept(self, jobs: Mapping[str, JobStatus | None], now: datetime) -> list[Edition]:
        """Editions newer than the published one that may go, given their jobs' statuses (None: no
        job row): failed ones beyond the KEPT_FAILED_EDITIONS newest, and those whose job was never
        recorded (their request died). Never the newest edition: its number would be given again."""
        status = {e.number: _job_status(e, jobs, now) for e in self.unpublished}
        failed = [e for e in self.unpublished if status[e.number] is JobStatus.FAILED]
        beyond = {e.number for e in failed[: max(0, len(failed) - KEPT_FAILED_EDITIONS)]}
        newest = self.editions[-1].number if self.editions else 0
        return [e for e in self.unpublished if e.number != newest and (e.number in beyond or status[e.number] is None)]

    def converting(self, jobs: Mapping[str, JobStatus | None], now: datetime) -> int:
        """How many editions other than the published one are unfinished, given their jobs'
        statuses (None: no job row): queued or running, or numbered moments ago and not yet recorded."""
        unfinished = (JobStatus.QUEUED, JobStatus.RUNNING)
        return sum(1 for e in self.editions if e.number != self.published and _job_status(e, jobs, now) in unfinished)

    def with_new_edition(self, job_id: str, now: datetime) -> Book:
        edition = Edition(number=self.next_edition_number, job=job_id, created=now)
        return replace(self, editions=[*self.editions, edition], updated=now)

    def publishing(self, job_id: str, title: str, now: datetime, catalog: dict[str, Any] | None = None) -> Book | None:
        """The book with this edition published, or None when it must not be: the book is being
        erased, the edition is not the book's, or a later edition is already published (editions
        that finish out of order never step the book back)."""
        edition = self.edition_of_job(job_id)
        if self.erasing or edition is None or edition.number <= self.published:
            return None
        return replace(self, published=edition.number, title=title, updated=now, catalog=catalog or {})

    def superseded(self, kept: int) -> list[Edition]:
        """Editions older than the published one beyond the `kept` newest editions up to it: their
        files may go (a reader's service worker has had `kept - 1` editions' time to move on)."""
        older = [e for e in self.editions if e.number < self.published]
        return older[: max(0, len(older) - (kept - 1))]

    def without(self, gone: list[Edition], now: datetime) -> Book:
        numbers = {e.number for e in gone}
        return replace(self, editions=[e for e in self.editions if e.number not in numbers], updated=now)

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.id,
            "RowKey": BOOK_ROW_KEY,
            "owner_key_sha256": self.owner_key_sha256,
            "created": self.created,
            "updated": self.updated,
            "editions": json.dumps([e.to_dict() for e in self.editions]),
            "published": self.published,
            "title": self.title,
            "erasing": self.erasing,
            "catalog": json.dumps(self.catalog, ensure_ascii=False),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Book:
        return cls(
            id=entity["PartitionKey"],
            owner_key_sha256=entity["owner_key_sha256"],
            created=entity["created"],
            updated=entity["updated"],
            editions=[Edition.from_dict(e) for e in json.loads(entity.get("editions") or "[]")],
            published=int(entity.get("published", 0)),
            title=entity.get("title", ""),
            erasing=bool(entity.get("erasing", False)),
            catalog=json.loads(entity.get("catalog") or "{}"),
        )

    def to_public(self, api_base: str, pdf: bool = False) -> dict[str, Any]:
        """The book as `GET /books/{id}` shows it (never the owner key's hash); `pdf`: whether its
        published edition has a print PDF to link."""
        book_base = f"{api_base}/books/{self.id}"
        published = self.published_edition
        return {
            "id": self.id,
            "title": self.title,
            "created": utc_timestamp(self.created),
            "updated": utc_timestamp(self.updated),
            "published_edition": published.number if published else None,
            "editions": [
                {
                    "edition": e.number,
                    "created": utc_timestamp(e.created),
                    "published": e.number == self.published,
                    "links": {"status": f"{api_base}/manuscripts/{e.job}"},
                }
                for e in self.editions
            ],
            "links": {
                "self": book_base,
                "app": f"{book_base}/app/",
                "epub": f"{book_base}/book.epub",
                **({"pdf": f"{book_base}/book.pdf"} if pdf else {}),
                "editions": f"{book_base}/editions",
                "feeds": f"{book_base}/feeds",
                "updates": f"{book_base}/updates",
            },
        }
