"""The package step's comparison of an edition with the previous one (shared/book/changes.py), and
the text it keeps for the next (shared/books/edition_text.py).

The summary is decided once, by the first run of the step, and kept as a checkpoint: a rerun (say,
after the edition was published and before the job was marked succeeded) would find the book's
published edition moved, and must still write the same files.
"""

from __future__ import annotations

import json
from typing import Any

from shared import logs
from shared.book.changes import ChapterText, compare, read_fingerprint
from shared.books.edition_text import previous_edition_text
from shared.jobs.record import Job
from shared.storage import Storage
from shared.worker import checkpoints

log = logs.get_logger(__name__)

CHANGES = "changes.json"


def edition_changes(storage: Storage, job: Job, texts: list[ChapterText]) -> dict[str, Any] | None:
    """What changed since the edition `job`'s is compared with; None when there is none."""

    def decide() -> bytes:
        previous = previous_edition_text(storage, job)
        old = read_fingerprint(previous[1]) if previous else None
        if previous is None or old is None:
            log.info("no earlier edition's text to compare with")
            return checkpoints.json_bytes({"changes": None})
        summary = compare(old, texts, previous[0])
        log.info("compared with edition %d: %s", previous[0], summary["counts"])
        return checkpoints.json_bytes({"changes": summary})

    decided: dict[str, Any] | None = json.loads(checkpoints.first_written(storage, job.id, CHANGES, decide))["changes"]
    return decided
