"""Publishing a packaged edition: the last of a conversion, once its files are written
(shared/worker/steps.py `package`).

In this order, each safe to repeat: the book's row points its addresses at the edition in one
compare-and-swap (`Book.publishing` in shared/library/record.py: never back to an older edition);
the edition's front matter feeds become the book's; the editions no longer kept are deleted
(before the job says it succeeded, so that an author who sees it finds the book as it stays); last
the job is marked succeeded, and its work files go. A crash anywhere reruns the step, and
publishing the same edition again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import logs
from shared.books.feeds import register_feeds
from shared.jobs.record import Job
from shared.jobs.store import clean_work, fail_job, update_job
from shared.library.store import ERASED_REASON, Publication, drop_superseded_editions, publish
from shared.storage import Storage

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class Published:
    publication: Publication
    succeeded: Job | None  # the job as marked succeeded; None when this run did not mark it


def publish_packaged_edition(
    storage: Storage,
    job: Job,
    title: str,
    feeds: list[str],
    editions_kept: int,
    succeed: Callable[[Job], Job | None],
    now: Callable[[], datetime],
    catalog: dict[str, Any] | None = None,
) -> Published:
    """Publish the edition `job` made, whose files are written. `succeed` is the change that marks
    the job succeeded (None: not this run's to mark, such as when its claim was taken over);
    `catalog`: the edition's catalog card, which the book's row keeps while it is published."""
    publication = publish(storage, job, title, now(), catalog)
    if publication is Publication.BOOK_GONE:
        log.info("the book was deleted while this edition was being made: its files are deleted")
        fail_job(storage, job.id, ERASED_REASON)
        return Published(publication, None)
    if publication is Publication.PUBLISHED and feeds:
        register_feeds(storage, job.book, feeds, now())
    dropped = drop_superseded_editions(storage, job.book, editions_kept, now())
    if dropped:
        log.info("editions the book no longer keeps were deleted: %s", dropped)
    succeeded = update_job(storage, job.id, succeed)
    if succeeded is not None:
        clean_work(storage, job.id)
    return Published(publication, succeeded)
