"""One conversion message, handled safely under at-least-once delivery.

The job row in Table Storage is the source of truth; a message only wakes a worker up to look at
it. For each message the worker claims its step in the row (shared/worker/claims.py), then runs
the step (shared/worker/steps.py) in a child process within a CPU-time and memory budget
(shared/budget/), renewing the claim while it runs, and returns the messages to send next.

What happens to an error is decided by its base class in the tree shared/errors.py draws:
- a PermanentError (a ManuscriptError in the step's process, a step over its budget here): the
  job fails with its reason, the message is consumed: every retry would fail the same way;
- a LostRace (another delivery or worker got there first): the message stops quietly;
- a TransientError, or anything else: the failure is counted on the row and re-raised, so the
  queue retries with back-off; after maxDequeueCount the poison handler decides
  (shared/worker/recovery.py).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared import logs, telemetry
from shared.budget import StepBudget, run_within_budget
from shared.errors import LostRace, PermanentError
from shared.jobs.messages import ConvertStep, EraseBook, parse_conversion_queue_message
from shared.jobs.record import (
    FIRST_STEP,
    PDF_STEP,
    Job,
    JobStatus,
)
from shared.jobs.store import delete_job_files, fail_job, finish_clean_up, read_job, update_job
from shared.library.erasure import erase_book
from shared.services import Services
from shared.storage import NotFound, Storage
from shared.worker import claims, steps, typesetting

log = logs.get_logger(__name__)


# What the step processes import before any step (shared/budget/ forks them from a process that
# did): each child starts with them loaded, faster, and a step near its memory budget never has to
# map a library in (a failed import is not a budget failure).
@dataclass(frozen=True)
class StepSettings:
    """The settings a step process needs, sent to it with the step (it reads no environment)."""

    images_in_plan_bytes: int
    editions_kept: int
    pdf_archival: bool
    epub_changes_page: bool = True


STEP_PRELOAD = (
    "shared.worker.protocol",
    "shared.worker.steps",
    "shared.worker.typesetting",
    "shared.book.conversion",
    "shared.book.readers",
    "shared.book.render",
    "shared.book.sanitize",
    "shared.book.images",
    "shared.book.epub",
    "shared.book.webapp",
    "shared.book.pdf.typeset",
    "typst",
    "shared.storage",
    "azure.storage.blob",
    "azure.data.tables",
    "lxml.etree",
    "lxml.html",
    "markdown_it",
    "mdit_py_plugins.footnote",
    "mdit_py_plugins.front_matter",
    "mammoth",
    "nh3",
    "yaml",
    "PIL.Image",
    "PIL.ImageDraw",
    "PIL.ImageFont",
    "PIL.ImageOps",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.WebPImagePlugin",
)


def run_conversion_message(services: Services, body: bytes | str, message_id: str) -> list[str]:
    """Handle one conversion message (`message_id`: the queue's id for it, the same on every
    delivery of it): claim its step, run it in a child process within the step budget. Returns
    the messages to send next (through the output binding)."""
    parent = telemetry.message_traceparent(body)
    try:
        message = parse_conversion_queue_message(body)
    except ValueError as error:
        log.warning("ignoring a malformed conversion message: %s", error)
        return []
    if isinstance(message, EraseBook):
        with (
            logs.bound(book=message.book),
            telemetry.span("erase book", parent=parent, kind="consumer", book=message.book),
        ):
            erase_book(services.storage, message.book, datetime.now(UTC))
        return []
    job_id, step = message.job, message.step
    # One span per step, a child of the span that sent its message: the book's whole conversion is
    # one trace, and the messages this step sends carry this span on.
    with (
        logs.bound(job=job_id, step=step),
        telemetry.span(f"step {step.split(':')[0]}", parent=parent, kind="consumer", job=job_id, step=step),
    ):
        return telemetry.all_stamped(_run(services, job_id, step, message_id))


def _run(services: Services, job_id: str, step: str, message_id: str) -> list[str]:
    settings, storage = services.settings, services.storage
    lease_seconds = settings.job_stall_seconds
    outcome = _claim(storage, job_id, step, message_id, lease_seconds)
    if outcome is claims.ClaimOutcome.HELD_ELSEWHERE:
        log.info("the step is running for another message: dropping duplicate %s", message_id)
        return []
    if outcome is claims.ClaimOutcome.TAKEN:
        log.info("step claimed by message %s", message_id)
    # Typst holds the whole laid-out book while it typesets (about 300 bytes a byte of its source):
    # the pdf step has a memory budget of its own.
    memory_mb = settings.pdf_step_memory_mb if step == PDF_STEP else settings.step_memory_mb
    budget = StepBudget(cpu_seconds=settings.step_cpu_seconds, memory_bytes=memory_mb * 1024 * 1024)
    arguments = (
        services.step_storage,
        settings.storage_connection,
        job_id,
        step,
        message_id,
        StepSettings(
            settings.images_in_plan_bytes, settings.editions_kept, settings.pdf_archival, settings.epub_changes_page
        ),
        storage.known_to_exist(),
        dict(logs.current_ids()),
    )
    try:
        with _reporting_alive(storage, job_id, step, message_id, lease_seconds):
            messages, existing = run_within_budget(run_step_in_child, arguments, budget, preload=STEP_PRELOAD)
    except PermanentError as error:  # here a step over its budget; the step's process fails the job for the rest
        log.warning("the job failed: %s", error.log_summary)
        fail_job(storage, job_id, str(error))
        return []
    except Exception as error:
        _record_failure(storage, job_id, step, error)
        raise  # transient: the queue retries the step
    storage.remember_existing(existing)  # so the next step's process need not create them again
    return list(messages)


def _record_failure(storage: Storage, job_id: str, step: str, error: Exception) -> None:
    """Count a failed run of `step` on the row (best effort), so that giving up on it rests on
    evidence that it fails, not only on how often its message was delivered."""
    description = f"{step}: {type(error).__name__}: {error}"[:500]

    def count(current: Job) -> Job | None:
        if current.is_terminal:
            return None
        failures = {**current.failures, step: current.failures.get(step, 0) + 1}
        return current.with_changes(failures=failures, last_failure=description)

    try:
        update_job(storage, job_id, count)
    except Exception as trouble:  # storage trouble too: the queue's retry still happens
        log.warning("could not record the step's failure: %s", trouble)


def _claim(storage: Storage, job_id: str, step: str, message_id: str, lease_seconds: float) -> claims.ClaimOutcome:
    outcome = claims.ClaimOutcome.NOT_NEEDED

    def take(current: Job) -> Job | None:
        nonlocal outcome
        now = datetime.now(UTC)
        outcome = claims.decide(current, step, message_id, now)
        if outcome is not claims.ClaimOutcome.TAKEN:
            return None
        return claims.with_claim(current, step, message_id, now, lease_seconds)

    try:
        update_job(storage, job_id, take)
    except NotFound:
        return claims.ClaimOutcome.NOT_NEEDED  # the step itself reports the missing job
    return outcome


@contextlib.contextmanager
def _reporting_alive(storage: Storage, job_id: str, step: str, message_id: str, lease_seconds: float) -> Iterator[None]:
    """While the step runs, renew its claim every third of its lease, which also records that it
    runs: the reconciler never re-drives a step that is only slow, and no other delivery runs it
    beside this one. A step shorter than that writes nothing."""
    stop = threading.Event()

    def seen(current: Job) -> Job | None:
        if current.is_terminal:
            return None
        now = datetime.now(UTC)
        if step in current.claims and claims.holds(current, step, message_id):
            return claims.with_claim(current, step, message_id, now, lease_seconds)
        return current.with_changes(alive=now)

    @logs.carrying_ids
    def report() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                update_job(storage, job_id, seen)
            except Exception as error:  # the step goes on; its lease may lapse early
                log.warning("could not renew the claim: %s", error)

    reporter = threading.Thread(target=report, name=f"alive-{job_id}", daemon=True)
    reporter.start()
    try:
        yield
    finally:
        stop.set()
        reporter.join()


def run_step_in_child(
    open_storage: Callable[[str], Storage],
    connection: str,
    job_id: str,
    step: str,
    message_id: str,
    step_settings: StepSettings,
    known_to_exist: frozenset[str],
    log_ids: Mapping[str, str],
) -> tuple[list[str], frozenset[str]]:
    """One step in its budgeted child process, with storage clients of its own. A permanent error
    fails the job, a lost race stops quietly, anything else fails the step, which the queue
    retries. Returns the next messages, and the containers and tables the step found existing."""
    storage = _step_process_storage(open_storage, connection)
    storage.remember_existing(known_to_exist)
    with logs.bound(**log_ids):
        try:
            messages = run_step(storage, job_id, step, message_id, step_settings)
        except PermanentError as error:
            log.info("the job failed: %s", error)
            fail_job(storage, job_id, str(error))
            messages = []
        except LostRace as error:
            # Another delivery or worker wrote first and does (or did) the same work. A commit
            # that lost every attempt leaves its step unclaimed once the lease lapses, and the
            # reconciler re-sends steps nobody holds.
            log.info("another delivery got there first: this one stops (%s)", type(error).__name__)
            messages = []
        except NotFound:
            # Its row or its manuscript went under it: erased (or failed) while the step ran. Not
            # a fault to retry; anything else missing is.
            if not _stopped(storage, job_id):
                raise
            log.info("the job was erased or failed while the step ran: the step's writes are deleted")
            messages = []
        _sweep_if_stopped(storage, job_id)
    return messages, storage.known_to_exist()


def _stopped(storage: Storage, job_id: str) -> bool:
    try:
        return read_job(storage, job_id)[0].status is JobStatus.FAILED
    except NotFound:
        return True  # erased: its row is gone


def _sweep_if_stopped(storage: Storage, job_id: str) -> None:
    """A job failed or erased while this step ran may have had its files deleted before the step
    wrote its own: look at the job after the writes, and delete them again if so. (Writes before
    this read are caught by it; a failure or erasure after it deletes them itself.)"""
    if _stopped(storage, job_id):
        delete_job_files(storage, job_id)


@functools.cache
def _step_process_storage(open_storage: Callable[[str], Storage], connection: str) -> Storage:
    """A step process's storage clients, kept with their connections for the next steps it runs."""
    return open_storage(connection)


def run_step(storage: Storage, job_id: str, step: str, message_id: str, step_settings: StepSettings) -> list[str]:
    """Run `step` of the job if this delivery still holds its claim; returns the messages to send."""
    try:
        job, _ = read_job(storage, job_id)
    except NotFound:
        log.warning("the job does not exist: dropping the message")
        return []
    if job.is_terminal:
        log.info("the job is already %s: nothing to do", job.status.value)
        if not job.cleaned:  # a crash came between the last commit and the clean-up
            finish_clean_up(storage, job_id)
        return []
    if not claims.holds(job, step, message_id):
        log.info("the step was taken over by another delivery: message %s stops", message_id)
        return []
    if step == FIRST_STEP:
        return steps.plan(storage, job, message_id, step_settings.images_in_plan_bytes)
    if not job.plan:
        return [ConvertStep(job_id, FIRST_STEP).to_message()]  # a step before its plan: plan first
    if step in job.completed:
        log.info("the step is already committed (a duplicate delivery)")
        return steps.follow_up(job)
    message = ConvertStep(job_id, step)
    if message.image_batch is not None:
        return steps.images(storage, job, step, message_id, message.image_batch)
    if message.is_pdf:
        return typesetting.typeset(storage, job, message_id, step_settings.pdf_archival)
    if message.is_package:
        return steps.package(storage, job, message_id, step_settings.editions_kept, step_settings.epub_changes_page)
    log.warning("unknown step %r", step)
    return []
