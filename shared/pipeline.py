"""The worker: each conversion message runs one small step of its job, safely under at-least-once delivery.

The job row in Table Storage is the source of truth; a message is only a wake-up call. The plan:

    plan            parse the manuscript and render its chapters while threads process the first
                    images; checkpoint them; decide the parallel steps
    images:<i>      process one batch of the remaining images: fanned out as separate messages,
                    run by any worker, in any order
    package         write the EPUB and the web-app book to their final names, then succeed

Chapters are rendered in the plan step, not fanned out: Markdown is parsed as one document
(reference links and footnotes reach across chapters), and checkpointing the parsed tokens for
separate render steps cost three times the rendering itself (5 MB book: 1.3 s to save and load
them against 0.4 s to render). Rendered chapters are plain strings, cheap to checkpoint. Images
are where parallelism pays, as Pillow works outside the GIL: the plan step processes the first
IMAGES_IN_PLAN_BYTES of them (a setting) on the core the renderer leaves idle, and a book with
more fans the rest out to any worker.

Every step writes its outputs under deterministic names, create-only (a duplicate finds them
already there, identical), then commits by adding itself to the row's `completed` set with an
ETag-conditional update. Commits form one linear chain per job; a step already committed is never
committed again, and a loser of a race stops quietly. Exactly one commit completes the parallel
set, and that one sends `package`. Publishing is last: the book's files are written, then the job
turns `succeeded` in the same step; the download endpoints serve nothing until then.

Each step runs in a child process within a CPU-time and memory budget (shared/budget.py).

Errors: a ManuscriptError, or a step over its budget, fails the job with its reason (the message is
consumed); anything else propagates so the queue retries with back-off, and after maxDequeueCount
the poison handler fails the job. The reconciler re-drives stalled jobs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared import claims
from shared.book.errors import ManuscriptError
from shared.budget import BudgetExceeded, StepBudget, run_within_budget
from shared.jobs import (
    FIRST_STEP,
    JOB_ROW_KEY,
    UPLOAD_ROW_KEY,
    Job,
    JobStatus,
    conversion_message,
    parse_conversion_message,
)
from shared.settings import BOOK_CONTAINER, CONVERSION_QUEUE, JOB_TABLE, MANUSCRIPT_CONTAINER, WORK_CONTAINER, Settings
from shared.storage import AlreadyExists, Conflict, NotFound, Storage
from shared.web import content_type_for

log = logging.getLogger(__name__)

PACKAGE_STEP = "package"
UPDATES_URL = "../updates"  # the web-app book is served at /api/books/{id}/app/, its news at /api/books/{id}/updates
MAX_COMMIT_ATTEMPTS = 50
MAX_REDRIVES = 5
POISON_REASON = (
    "Quire failed to convert this manuscript several times in a row and has stopped trying. "
    "Upload it again; if it fails again, the file may be damaged: open and save it, then retry."
)
STOPPED_REASON = (
    "The conversion was interrupted again and again (the servers running it were stopped) and "
    "Quire has stopped retrying. Upload the manuscript again."
)
STALLED_REASON = (
    "The conversion stopped making progress and was restarted several times without success. "
    "Upload the manuscript again."
)


class StepError(Exception):
    """A step cannot run because its inputs are missing (transient: the queue retries it)."""


# -- crash points: a test can kill the worker at a named moment, once ------------------------------


class InjectedFault(RuntimeError):
    """A transient failure a fault test asked for (QUIRE_FAIL_AT)."""


def crash_point(name: str, step: str) -> None:
    """Let a fault test kill or fail the worker at a named point. Does nothing otherwise.

    QUIRE_CRASH_AT = "<step kind>:<point>" (e.g. "images:after_output_write") kills the process;
    with QUIRE_CRASH_ONCE_FILE set, only the first time (the file records it), so the retry runs.
    QUIRE_FAIL_AT = "<step kind>:<point>" raises a transient error QUIRE_FAIL_TIMES times
    (counted in the file QUIRE_FAIL_COUNT_FILE), then lets the step through.
    """
    kind = step.split(":", 1)[0]
    here = (f"{kind}:{name}", f"*:{name}")
    if os.environ.get("QUIRE_CRASH_AT") in here:
        marker = os.environ.get("QUIRE_CRASH_ONCE_FILE", "")
        first = True
        if marker:
            try:
                Path(marker).touch(exist_ok=False)
            except FileExistsError:
                first = False
        if first:
            log.warning("crash point %s:%s reached: killing the worker", kind, name)
            os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("QUIRE_FAIL_AT") in here:
        counter = Path(os.environ["QUIRE_FAIL_COUNT_FILE"])
        failures = int(counter.read_text() or 0) if counter.exists() else 0
        if failures < int(os.environ.get("QUIRE_FAIL_TIMES", "1")):
            counter.write_text(str(failures + 1))
            raise InjectedFault(f"injected transient failure {failures + 1} at {kind}:{name}")


# -- names ------------------------------------------------------------------------------------------


def _work(job_id: str, name: str) -> str:
    return f"{job_id}/{name}"


def book_blob(job_id: str, path: str) -> str:
    return f"{job_id}/{path}"


# -- the job row: read, and change with compare-and-swap ------------------------------------------


def _read(storage: Storage, job_id: str) -> tuple[Job, str]:
    entity = storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY)
    return Job.from_entity(entity.properties), entity.etag


def update_job(storage: Storage, job_id: str, change: Callable[[Job], Job | None]) -> Job | None:
    """Apply `change` to the current row with If-Match, re-reading after each lost race.

    `change` returns the new job, or None when there is nothing (left) to do; then nothing is
    written and None is returned. It must be pure: it may run several times.
    """
    for attempt in range(MAX_COMMIT_ATTEMPTS):
        job, etag = _read(storage, job_id)
        changed = change(job)
        if changed is None:
            return None
        try:
            storage.update_entity(JOB_TABLE, changed.to_entity(), etag=etag)
            return changed
        except Conflict:
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # another worker committed first
    raise Conflict(f"job {job_id}: gave up after {MAX_COMMIT_ATTEMPTS} lost races")


def _options(job: Job) -> Any:
    from shared.book.steps import ConvertOptions

    return ConvertOptions(
        kind=job.kind,
        modified=job.created,
        title=job.title,
        author=job.author,
        language=job.language,
        updates_url=UPDATES_URL,
    )


def _in_parallel(work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """Blob reads and writes side by side (they wait on the network, not the CPU), results in order."""
    from concurrent.futures import ThreadPoolExecutor

    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(work, items))


def _write_once(storage: Storage, container: str, name: str, data: bytes, content_type: str) -> None:
    """Create-only write; an existing blob must hold the same bytes (steps are deterministic)."""
    try:
        storage.create_blob(container, name, data, content_type=content_type)
    except AlreadyExists:
        if storage.read_blob(container, name) != data:
            raise RuntimeError(f"{container}/{name} exists with different content") from None


def _parallel_steps(job: Job) -> list[str]:
    plan = job.plan
    return [f"images:{i}" for i in range(plan.get("images_in_plan", 0), len(plan.get("images", [])))]


def _now() -> datetime:
    return datetime.now(UTC)


# -- running one step -----------------------------------------------------------------------------


def run_conversion_message(settings: Settings, storage: Storage, body: bytes | str, message_id: str) -> list[str]:
    """Handle one conversion message (`message_id`: the queue's id for it, the same on every
    delivery of it): claim its step, run it in a child process within the step budget. Returns
    the messages to send next (through the output binding)."""
    try:
        job_id, step = parse_conversion_message(body)
    except ValueError as error:
        log.warning("ignoring a malformed conversion message: %s", error)
        return []
    lease_seconds = settings.job_stall_seconds
    outcome = _claim(storage, job_id, step, message_id, lease_seconds)
    if outcome is claims.ClaimOutcome.HELD_ELSEWHERE:
        log.info("job %s: %s is running for another message; dropping duplicate %s", job_id, step, message_id)
        return []
    if outcome is claims.ClaimOutcome.TAKEN:
        log.info("claimed job=%s step=%s message=%s", job_id, step, message_id)
    budget = StepBudget(cpu_seconds=settings.step_cpu_seconds, memory_bytes=settings.step_memory_mb * 1024 * 1024)
    arguments = (
        settings.storage_connection,
        job_id,
        step,
        message_id,
        settings.images_in_plan_bytes,
        storage.known_to_exist(),
    )
    try:
        with _reporting_alive(storage, job_id, step, message_id, lease_seconds):
            messages, existing = run_within_budget(run_step_in_child, arguments, budget)
    except BudgetExceeded as error:
        # Permanent: the same manuscript would exceed it on every retry.
        log.warning("job %s failed at %s: over its %s budget", job_id, step, error.resource_name)
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
        log.warning("job %s: could not record the failure of %s: %s", job_id, step, trouble)


def _claim(storage: Storage, job_id: str, step: str, message_id: str, lease_seconds: float) -> claims.ClaimOutcome:
    outcome = claims.ClaimOutcome.NOT_NEEDED

    def take(current: Job) -> Job | None:
        nonlocal outcome
        now = _now()
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

    def report() -> None:
        while not stop.wait(lease_seconds / 3):

            def seen(current: Job) -> Job | None:
                if current.is_terminal:
                    return None
                now = _now()
                if step in current.claims and claims.holds(current, step, message_id):
                    return claims.with_claim(current, step, message_id, now, lease_seconds)
                return current.with_changes(alive=now)

            try:
                update_job(storage, job_id, seen)
            except Exception as error:  # the step goes on; its lease may lapse early
                log.warning("job %s: could not renew the claim on %s: %s", job_id, step, error)

    reporter = threading.Thread(target=report, name=f"alive-{job_id}", daemon=True)
    reporter.start()
    try:
        yield
    finally:
        stop.set()
        reporter.join()


def run_step_in_child(
    connection: str,
    job_id: str,
    step: str,
    message_id: str,
    images_in_plan_bytes: int,
    known_to_exist: frozenset[str],
) -> tuple[list[str], frozenset[str]]:
    """One step in its budgeted child process, with storage clients of its own. A manuscript
    error fails the job; anything else fails the step, which the queue retries. Returns the next
    messages, and the containers and tables the step found existing."""
    storage = _step_process_storage(connection)
    storage.remember_existing(known_to_exist)
    try:
        messages = run_step(storage, job_id, step, message_id, images_in_plan_bytes)
    except ManuscriptError as error:
        log.info("job %s failed at %s: %s", job_id, step, error)
        fail_job(storage, job_id, str(error))
        messages = []
    return messages, storage.known_to_exist()


@functools.cache
def _step_process_storage(connection: str) -> Storage:
    """A step process's storage clients, kept with their connections for the next steps it runs."""
    return Storage(connection)


def run_step(storage: Storage, job_id: str, step: str, message_id: str, images_in_plan_bytes: int) -> list[str]:
    try:
        job, _ = _read(storage, job_id)
    except NotFound:
        log.warning("job %s does not exist; dropping its %s message", job_id, step)
        return []
    if job.is_terminal:
        log.info("job %s is already %s; nothing to do for %s", job_id, job.status.value, step)
        if not job.cleaned:  # a crash came between the last commit and the clean-up
            _finish_clean_up(storage, job_id)
        return []
    if not claims.holds(job, step, message_id):
        log.info("job %s: %s was taken over by another delivery; message %s stops", job_id, step, message_id)
        return []
    if step == FIRST_STEP:
        return _plan(storage, job, message_id, images_in_plan_bytes)
    if not job.plan:
        return [conversion_message(job_id, FIRST_STEP)]  # a step before its plan: plan first
    if step in job.completed:
        log.info("job %s: %s is already committed (a duplicate delivery)", job_id, step)
        return _follow_up(job)
    kind, _, argument = step.partition(":")
    if kind == "images" and argument.isdigit():
        return _images(storage, job, step, message_id, int(argument))
    if step == PACKAGE_STEP:
        return _package(storage, job, message_id)
    log.warning("job %s: unknown step %r", job_id, step)
    return []


def _follow_up(job: Job) -> list[str]:
    """After a duplicate of a parallel step: make sure the fan-in is not lost."""
    if all(s in job.completed for s in _parallel_steps(job)) and PACKAGE_STEP not in job.completed:
        return [conversion_message(job.id, PACKAGE_STEP)]
    return []


def _plan(storage: Storage, job: Job, message_id: str, images_in_plan_bytes: int) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    from shared.book.steps import image_batches, parse, render_while_processing

    if FIRST_STEP in job.completed:
        # A repeated plan message: the worker that committed the plan may have died before its
        # fan-out went out. Sending the pending steps nobody runs is harmless; losing them is not.
        log.info(
            "job %s: %s is already committed (a duplicate delivery); re-sending what nobody runs", job.id, FIRST_STEP
        )
        return messages_to_redrive(job, _now())
    crash_point("after_claim", FIRST_STEP)

    options = _options(job)
    manuscript = storage.read_blob(MANUSCRIPT_CONTAINER, job.manuscript_blob)
    book = parse(manuscript, options)
    del manuscript
    batches = image_batches(book)
    in_plan = _batches_within(batches, book.image_sources, images_in_plan_bytes)
    keys = [key for batch in batches[:in_plan] for key in batch]

    def write(item: tuple[str, bytes, str]) -> None:
        _write_once(storage, WORK_CONTAINER, _work(job.id, item[0]), item[1], item[2])

    with ThreadPoolExecutor(max_workers=8) as writer:
        # The parse and the chapters go out while the images are still being processed.
        writes = [
            writer.submit(write, ("parsed.json", _json_bytes(book.plain_meta()), "application/json")),
            *(
                writer.submit(write, (f"source/{key}", book.image_sources[key], "application/octet-stream"))
                for batch in batches[in_plan:]
                for key in batch
            ),
        ]

        def write_chapters(rendered: list[Any]) -> None:
            chapters_json = _json_bytes([c.to_dict() for c in rendered])
            writes.append(writer.submit(write, ("chapters.json", chapters_json, "application/json")))

        chapters, images = render_while_processing(book, keys, options.split_level, on_rendered=write_chapters)
        by_key = {image.key: image for image in images}
        writes += [
            writer.submit(write, _image_write(index, [by_key[key] for key in batch]))
            for index, batch in enumerate(batches[:in_plan])
        ]
        for pending in writes:
            pending.result()  # a failed write fails the step, which the queue retries
    warnings = list(dict.fromkeys([*book.warnings, *(w for c in chapters for w in c.warnings)]))
    plan: dict[str, Any] = {"images": batches, "images_in_plan": in_plan, "title": book.metadata.title}
    crash_point("after_output_write", FIRST_STEP)
    crash_point("before_commit", FIRST_STEP)

    total = 1 + len(batches) - in_plan + 1

    def commit(current: Job) -> Job | None:
        if current.is_terminal or FIRST_STEP in current.completed:
            return None
        if not claims.holds(current, FIRST_STEP, message_id):
            return None  # another delivery took the step over; it commits the same plan
        return current.with_changes(
            status=JobStatus.RUNNING,
            plan=plan,
            claims=claims.without_claim(current, FIRST_STEP),
            completed=[FIRST_STEP],
            steps_done=1,
            steps_total=total,
            warnings=warnings,
            updated=_now(),
        )

    committed = update_job(storage, job.id, commit)
    if committed is None:
        log.info("job %s: %s was committed by another delivery", job.id, FIRST_STEP)
        return []
    log.info("commit job=%s step=%s done=%d/%d", job.id, FIRST_STEP, committed.steps_done, committed.steps_total)
    crash_point("after_commit", FIRST_STEP)
    log.info(
        "job %s planned: %d chapters rendered, %d images processed, %d image batches fanned out",
        job.id,
        len(chapters),
        len(images),
        len(batches) - in_plan,
    )
    return [conversion_message(job.id, step) for step in _parallel_steps(committed)] or [
        conversion_message(job.id, PACKAGE_STEP)
    ]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _load_parsed(storage: Storage, job: Job) -> Any:
    """The parse checkpoint: metadata, image names and references."""
    from shared.book.readers import ParsedBook

    try:
        return ParsedBook.from_plain_meta(json.loads(storage.read_blob(WORK_CONTAINER, _work(job.id, "parsed.json"))))
    except NotFound:
        raise StepError(f"job {job.id}: its parse checkpoint is missing") from None


def _commit_parallel(storage: Storage, job: Job, step: str, message_id: str) -> list[str]:
    crash_point("before_commit", step)
    parallel = _parallel_steps(job)

    def commit(current: Job) -> Job | None:
        if current.is_terminal or step in current.completed or not claims.holds(current, step, message_id):
            return None
        return current.with_changes(
            claims=claims.without_claim(current, step),
            completed=[*current.completed, step],
            steps_done=current.steps_done + 1,
            updated=_now(),
        )

    committed = update_job(storage, job.id, commit)
    if committed is None:
        log.info("job %s: %s was committed by another worker", job.id, step)
        return []
    log.info("commit job=%s step=%s done=%d/%d", job.id, step, committed.steps_done, committed.steps_total)
    crash_point("after_commit", step)
    if all(s in committed.completed for s in parallel):
        return [conversion_message(job.id, PACKAGE_STEP)]  # this commit completed the set: fan in
    return []


def _images(storage: Storage, job: Job, step: str, message_id: str, index: int) -> list[str]:
    from shared.book.steps import process_in_parallel

    crash_point("after_claim", step)
    batches = job.plan["images"]
    if not 0 <= index < len(batches):
        log.warning("job %s: no image batch %d", job.id, index)
        return []
    keys: list[str] = batches[index]
    book = _load_parsed(storage, job)

    def source(key: str) -> bytes:
        try:
            return storage.read_blob(WORK_CONTAINER, _work(job.id, f"source/{key}"))
        except NotFound:
            raise StepError(f"job {job.id}: the source of image {key} is missing") from None

    book.image_sources = dict(zip(keys, _in_parallel(source, keys), strict=True))
    name, data, content_type = _image_write(index, process_in_parallel(book, keys))
    _write_once(storage, WORK_CONTAINER, _work(job.id, name), data, content_type)
    crash_point("after_output_write", step)
    return _commit_parallel(storage, job, step, message_id)


def _batches_within(batches: list[list[str]], sources: dict[str, bytes], budget: int) -> int:
    """How many leading batches fit in `budget` bytes of image sources."""
    used = 0
    for count, batch in enumerate(batches):
        used += sum(len(sources[key]) for key in batch)
        if used > budget:
            return count
    return len(batches)


def _image_write(index: int, images: list[Any]) -> tuple[str, bytes, str]:
    """One batch of processed images, in batch order, as one checkpoint blob (not a blob per image)."""
    from shared.book.model import pack_images

    return f"images/{index}.bin", pack_images(images), "application/octet-stream"


def _package(storage: Storage, job: Job, message_id: str) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    from shared.book.epub import write_epub
    from shared.book.model import RenderedChapter, unpack_images
    from shared.book.steps import book_parts
    from shared.book.webapp import write_webapp

    crash_point("after_claim", PACKAGE_STEP)
    missing = [s for s in _parallel_steps(job) if s not in job.completed]
    if missing:
        log.info("job %s: package waits for %d steps", job.id, len(missing))
        _release(storage, job.id, PACKAGE_STEP, message_id)  # the last of them sends package again
        return []
    book = _load_parsed(storage, job)
    names = ["chapters.json"] + [f"images/{index}.bin" for index in range(len(job.plan["images"]))]
    try:
        chapters_json, *packed = _in_parallel(lambda n: storage.read_blob(WORK_CONTAINER, _work(job.id, n)), names)
    except NotFound:
        raise StepError(f"job {job.id}: a checkpoint package needs is missing") from None
    chapters = [RenderedChapter.from_dict(data) for data in json.loads(chapters_json)]
    images = {image.key: image for batch in packed for image in unpack_images(batch)}
    options = _options(job)
    parts = book_parts(book, chapters, images, options)

    # Publish: the files first (same bytes on any rerun), then the job turns succeeded. The web
    # app's files go out while the EPUB is being compressed: uploads wait on storage, not the CPU.
    def publish(name: str, data: bytes, content_type: str) -> None:
        storage.put_blob(BOOK_CONTAINER, book_blob(job.id, name), data, content_type=content_type)

    app_files = write_webapp(parts, options.updates_url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        uploads = [
            pool.submit(publish, f"app/{name}", data, content_type_for(name)) for name, data in app_files.items()
        ]
        epub = write_epub(parts)
        publish("book.epub", epub, "application/epub+zip")
        crash_point("during_publish", PACKAGE_STEP)
        for upload in uploads:
            upload.result()  # a failed upload fails the step, which the queue retries
    crash_point("before_commit", PACKAGE_STEP)
    if book.metadata.feeds:
        _register_feeds(storage, job.id, book.metadata.feeds)

    def succeed(current: Job) -> Job | None:
        if current.is_terminal or not claims.holds(current, PACKAGE_STEP, message_id):
            return None
        return current.with_changes(
            status=JobStatus.SUCCEEDED,
            claims={},
            completed=[*current.completed, PACKAGE_STEP],
            steps_done=current.steps_total,
            outputs={"epub": f"manuscripts/{job.id}/book.epub", "app": f"books/{job.id}/app/"},
            updated=_now(),
        )

    committed = update_job(storage, job.id, succeed)
    if committed is not None:
        log.info("commit job=%s step=%s done=%d/%d", job.id, PACKAGE_STEP, committed.steps_done, committed.steps_total)
    crash_point("after_commit", PACKAGE_STEP)
    if committed is not None:
        log.info("job %s succeeded: EPUB %d bytes, web app %d files", job.id, len(epub), len(app_files))
        clean_work(storage, job.id)
    return []


def _release(storage: Storage, job_id: str, step: str, message_id: str) -> None:
    """Give up a claim on a step that ended without committing."""

    def release(current: Job) -> Job | None:
        if step not in current.claims or not claims.holds(current, step, message_id):
            return None
        return current.with_changes(claims=claims.without_claim(current, step))

    update_job(storage, job_id, release)


def _register_feeds(storage: Storage, job_id: str, urls: list[str]) -> None:
    """The front matter's `feeds:` become the book's sources (form checked here, addresses at fetch)."""
    from shared.feeds.guard import BlockedURL
    from shared.feeds.refresh import set_sources, validate_feed_urls

    good = []
    for url in urls:
        try:
            good.extend(validate_feed_urls([url], allow_private=True))
        except BlockedURL as error:
            log.info("job %s: feed not registered: %s", job_id, error)
    set_sources(storage, job_id, good[:20], _now(), replace=False)


def clean_work(storage: Storage, job_id: str) -> None:
    """Delete a finished job's checkpoints, then record that they are gone."""
    storage.delete_prefix(WORK_CONTAINER, f"{job_id}/")

    def mark(current: Job) -> Job | None:
        return None if current.cleaned else current.with_changes(cleaned=True)

    update_job(storage, job_id, mark)


def _finish_clean_up(storage: Storage, job_id: str) -> None:
    """A finished job's clean-up, if a crash interrupted it."""
    with contextlib.suppress(NotFound):
        job, _ = _read(storage, job_id)
        if job.is_terminal and not job.cleaned:
            (clean_failed if job.status is JobStatus.FAILED else clean_work)(storage, job_id)


def clean_failed(storage: Storage, job_id: str) -> None:
    """Delete a failed job's files: its checkpoints, and any book files a package step published
    before it failed (nothing serves them, and nothing else would ever delete them)."""
    storage.delete_prefix(BOOK_CONTAINER, book_blob(job_id, ""))
    clean_work(storage, job_id)


def fail_job(storage: Storage, job_id: str, reason: str) -> bool:
    """Mark a job failed with a reason an author can act on. Idempotent; returns whether it changed."""

    def fail(current: Job) -> Job | None:
        if current.is_terminal:
            return None
        return current.with_changes(status=JobStatus.FAILED, error=reason, claims={}, updated=_now())

    try:
        changed = update_job(storage, job_id, fail) is not None
    except NotFound:
        return False
    if changed:
        clean_failed(storage, job_id)
    return changed


def handle_poison_message(storage: Storage, body: bytes | str) -> list[str]:
    """A conversion message the host gave up on after maxDequeueCount deliveries.

    If a run of its step failed (the worker saw it fail), the job fails, once however many copies
    arrive. If none did, every delivery ended with the worker running it (killed, recycled,
    scaled in): that is no evidence against the manuscript, so the step is re-driven, counted
    with the reconciler's re-drives (and, past MAX_REDRIVES, the job fails saying why). Returns the
    messages to send."""
    try:
        job_id, step = parse_conversion_message(body)
    except ValueError:
        log.warning("poison queue: a malformed message was dropped")
        return []
    now = _now()
    outcome = ""

    def settle(current: Job) -> Job | None:
        nonlocal outcome
        if current.is_terminal:
            outcome = "finished"
            return None
        if current.failures.get(step, 0) > 0:
            outcome = "failing"
            return current.with_changes(status=JobStatus.FAILED, error=POISON_REASON, claims={}, updated=now)
        if current.redrives >= MAX_REDRIVES:
            outcome = "stopped"
            return current.with_changes(status=JobStatus.FAILED, error=STOPPED_REASON, claims={}, updated=now)
        outcome = "redrive"  # the poisoned message held the step's claim, and it is gone for good
        return current.with_changes(
            redrives=current.redrives + 1, claims=claims.without_claim(current, step), updated=now
        )

    try:
        settled = update_job(storage, job_id, settle)
    except NotFound:
        return []
    if settled is None:
        if outcome == "finished":
            _finish_clean_up(storage, job_id)  # its last run may have died between commit and clean-up
        return []
    if settled.status is JobStatus.FAILED:
        why = (
            f"its {step} step kept failing (last: {settled.last_failure})"
            if outcome == "failing"
            else (f"its workers were stopped under {step} again and again ({settled.redrives} re-drives)")
        )
        log.warning("job %s failed: %s", job_id, why)
        clean_failed(storage, job_id)
        return []
    log.warning("job %s: every delivery of %s ended with its worker; re-driving it", job_id, step)
    if step in settled.completed:
        return messages_to_redrive(settled, now)  # the step is done: send what follows it
    return [conversion_message(job_id, step)]


# -- the reconciler -------------------------------------------------------------------------------


def messages_to_redrive(job: Job, now: datetime) -> list[str]:
    """What a job needs sent again, from its row alone: its next steps that no delivery runs now."""
    if not job.plan or FIRST_STEP not in job.completed:
        steps = [FIRST_STEP]
    else:
        steps = [s for s in _parallel_steps(job) if s not in job.completed] or [PACKAGE_STEP]
    return [conversion_message(job.id, step) for step in claims.unclaimed(job, steps, now)]


def is_stalled(job: Job, now: datetime, stall_seconds: int, queue_front_inserted: datetime | None) -> bool:
    """Whether a job that is not finished has stopped moving, rather than waiting its turn.

    Its messages went out when it last moved (`updated`). While the conversion queue's front
    message is at least as old as that, the queue has not reached them: the job waits in a backlog,
    however long, and sending its messages again would only lengthen the backlog. Once the queue
    has moved past that moment (or is empty) and the job has neither moved nor had a step seen
    running (`alive`, renewed while a step runs) for `stall_seconds`, its messages were lost or its
    step died: it is stalled. Its messages are sent just after its row moved (the step's function
    returns, then the host sends them), so the queue counts as past it only once its front was sent
    more than `stall_seconds` after that moment."""
    if job.is_terminal or job.last_seen > now - timedelta(seconds=stall_seconds):
        return False
    bound = timedelta(seconds=stall_seconds)
    return queue_front_inserted is None or queue_front_inserted > job.updated + bound


def sweep_abandoned_uploads(storage: Storage, now: datetime, abandoned_seconds: int) -> int:
    """Delete the manuscripts of uploads whose request died before recording their job (their
    marker row is older than `abandoned_seconds`). Returns how many.

    The marker is first marked abandoned with If-Match, so an upload still alive can no longer
    record its job (its transaction removes the marker as it wrote it) and answers 503; then the
    blob goes, then the marker. A sweep that dies half-way is finished by the next one."""
    cutoff = (now - timedelta(seconds=abandoned_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    markers = storage.query_entities_filtered(
        JOB_TABLE, f"RowKey eq '{UPLOAD_ROW_KEY}' and started lt datetime'{cutoff}'"
    )
    swept = 0
    for marker in markers:
        job_id = marker.properties["PartitionKey"]
        if not marker.properties.get("abandoned"):
            try:
                storage.merge_entity(
                    JOB_TABLE, {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "abandoned": True}, etag=marker.etag
                )
            except (Conflict, NotFound):
                continue  # its upload recorded the job meanwhile, or another sweep took it
        with contextlib.suppress(NotFound):
            storage.delete_blob(MANUSCRIPT_CONTAINER, marker.properties["manuscript_blob"])
        with contextlib.suppress(NotFound):
            storage.delete_entity(JOB_TABLE, job_id, UPLOAD_ROW_KEY)
        log.warning("upload %s was abandoned before its job was recorded: its manuscript is deleted", job_id)
        swept += 1
    return swept


def reconcile(
    storage: Storage, stall_seconds: int, abandoned_upload_seconds: int, now: datetime | None = None
) -> list[str]:
    """Re-drive jobs that stopped moving (not those waiting in a backlog); fail those re-driven too
    often; sweep finished jobs' work files and abandoned uploads' manuscripts.

    Safe to run twice at once: each re-drive is claimed with a conditional update of the row.
    """
    now = now or _now()
    sweep_abandoned_uploads(storage, now, abandoned_upload_seconds)
    cutoff = now - timedelta(seconds=stall_seconds)
    messages: list[str] = []
    entities = storage.query_entities_filtered(
        JOB_TABLE, "status eq 'queued' or status eq 'running' or cleaned eq false"
    )
    queue_front_inserted = storage.oldest_visible_message_inserted(CONVERSION_QUEUE)
    for entity in entities:
        job = Job.from_entity(entity.properties)
        if job.last_seen > cutoff:
            continue
        if job.is_terminal:
            if not job.cleaned:
                (clean_failed if job.status is JobStatus.FAILED else clean_work)(storage, job.id)
            continue
        if not is_stalled(job, now, stall_seconds, queue_front_inserted):
            continue  # waiting its turn in the queue

        def claim(current: Job) -> Job | None:
            if not is_stalled(current, now, stall_seconds, queue_front_inserted):
                return None  # it moved meanwhile, or another reconciler took it
            if current.redrives >= MAX_REDRIVES:
                return current.with_changes(status=JobStatus.FAILED, error=STALLED_REASON, claims={}, updated=now)
            return current.with_changes(redrives=current.redrives + 1, updated=now)

        claimed = update_job(storage, job.id, claim)
        if claimed is None:
            continue
        if claimed.status is JobStatus.FAILED:
            log.warning("job %s failed: stalled %d times", job.id, job.redrives)
            clean_failed(storage, job.id)
            continue
        redrive = messages_to_redrive(claimed, now)
        log.info("job %s stalled since %s: re-driving %d messages", job.id, job.updated.isoformat(), len(redrive))
        messages.extend(redrive)
    return messages
