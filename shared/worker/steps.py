"""The conversion steps a job runs: plan, images:<i>, pdf, package. Each runs in a step process
(shared/worker/protocol.py) holding the step's claim, writes its checkpoints create-only, then
commits by adding itself to the row's `completed` set with If-Match.

    plan        parse the manuscript and render its chapters while threads process the first
                images; checkpoint them; decide the parallel steps
    images:<i>  process one batch of the remaining images: fanned out as separate messages, run by
                any worker, in any order
    pdf         typeset the print PDF from the rendered chapters and processed images
                (shared/worker/typesetting.py), written beside the EPUB before it is published
    package     write the edition's EPUB and web-app book under its job's names, publish it (one
                write of the book's row points the book's addresses at it), then succeed

Chapters are rendered in the plan step, not fanned out: Markdown is parsed as one document
(reference links and footnotes reach across chapters), and checkpointing the parsed tokens for
separate render steps cost three times the rendering itself (5 MB book: 1.3 s to save and load
them against 0.4 s to render). Rendered chapters are plain strings, cheap to checkpoint. Images are
where parallelism pays, as Pillow works outside the GIL: the plan step processes the first
IMAGES_IN_PLAN_BYTES of them (a setting) on the core the renderer leaves idle, and a book with more
fans the rest out to any worker.

Commits form one linear chain per job; a step already committed is never committed again, and a
commit by a delivery whose claim was taken over is refused (the other delivery commits the same
bytes). Exactly one commit completes the parallel set, and that one sends `pdf` (then `package`). Publishing is
last: the edition's files are written, the book's row points at them, then the job turns
`succeeded` in the same step; editions the book no longer keeps are deleted after.

Each step returns the conversion messages to send next.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.books.edition_text import store_edition_text
from shared.books.publishing import publish_packaged_edition
from shared.formats import WEBPUB_MANIFEST, content_type_for
from shared.jobs.messages import ConvertStep
from shared.jobs.record import (
    FIRST_STEP,
    PACKAGE_STEP,
    PDF_STEP,
    Job,
    JobStatus,
    Plan,
    parallel_steps,
    pending_steps,
    step_after_images,
)
from shared.jobs.store import book_blob, fail_job, update_job
from shared.routes import UPDATES_FROM_APP
from shared.storage import Conflict, Storage
from shared.storage.names import BOOK_CONTAINER, MANUSCRIPT_CONTAINER
from shared.worker import checkpoints, claims
from shared.worker.changes import edition_changes
from shared.worker.planning import parse_and_render, sha256_of

if TYPE_CHECKING:
    from shared.book.conversion import ConvertOptions
    from shared.book.model import ParsedBook, ProcessedImage, RenderedChapter

log = logs.get_logger(__name__)

MANUSCRIPT_CHANGED = (
    "The manuscript was written again after Quire checked it, so it was not converted. Upload it again as a new upload."
)


def options_for(job: Job) -> ConvertOptions:
    from shared.book.conversion import ConvertOptions

    return ConvertOptions(
        kind=job.kind,
        modified=job.created,
        title=job.title,
        author=job.author,
        language=job.language,
        split_level=job.split_level,
        pdf_page=job.pdf_page,
        updates_url=UPDATES_FROM_APP,
        file_name=job.filename,
        edition=job.edition,
        release_notes=job.release_notes,
    )


def messages_to_redrive(job: Job, now: datetime) -> list[str]:
    """What a job needs sent again, from its row alone: its next steps that no delivery runs now."""
    return [ConvertStep(job.id, step).to_message() for step in claims.unclaimed(job, pending_steps(job), now)]


def follow_up(job: Job) -> list[str]:
    """After a duplicate of a step that committed: make sure the step after the images is not lost."""
    if all(s in job.completed for s in parallel_steps(job)):
        after = step_after_images(job)
        if after not in job.completed:
            return [ConvertStep(job.id, after).to_message()]
    return []


def plan(storage: Storage, job: Job, message_id: str, images_in_plan_bytes: int) -> list[str]:
    if FIRST_STEP in job.completed:
        # A repeated plan message: the worker that committed the plan may have died before its
        # fan-out went out. Sending the pending steps nobody runs is harmless; losing them is not.
        log.info("the plan is already committed (a duplicate delivery): re-sending what nobody runs")
        return messages_to_redrive(job, datetime.now(UTC))

    options = options_for(job)
    # On disk, not in memory: a zip is then read entry by entry, its images only as they are
    # processed or handed on, so a 1 GiB book of photos fits the step's memory budget.
    with tempfile.TemporaryFile(prefix="quire-manuscript-") as manuscript:
        try:
            storage.download_blob_into(MANUSCRIPT_CONTAINER, job.manuscript_blob, manuscript, job.manuscript_etag)
        except Conflict:
            # A direct upload's blob was written again after it was checked (its SAS still ran).
            fail_job(storage, job.id, MANUSCRIPT_CHANGED)
            log.warning("the manuscript changed after it was checked: the job is failed")
            return []
        sha256 = job.sha256 or sha256_of(manuscript)
        manuscript.seek(0)
        chapters, images, book, batches, in_plan = parse_and_render(
            storage, job, manuscript, options, images_in_plan_bytes
        )
    warnings = list(dict.fromkeys([*book.warnings, *(w for c in chapters for w in c.warnings)]))
    step_plan = Plan(images=batches, images_in_plan=in_plan, title=book.metadata.title, pdf=True)
    total = 1 + len(batches) - in_plan + 2  # the plan, the image batches it fanned out, the pdf, the package

    def commit(current: Job) -> Job | None:
        if current.is_terminal or FIRST_STEP in current.completed:
            return None
        if not claims.holds(current, FIRST_STEP, message_id):
            return None  # another delivery took the step over; it commits the same plan
        return current.with_changes(
            status=JobStatus.RUNNING,
            plan=step_plan,
            claims=claims.without_claim(current, FIRST_STEP),
            completed=[FIRST_STEP],
            sha256=current.sha256 or sha256,
            steps_done=1,
            steps_total=total,
            warnings=warnings,
            updated=datetime.now(UTC),
        )

    committed = update_job(storage, job.id, commit)
    if committed is None:
        log.info("the plan was committed by another delivery")
        return []
    _log_commit(committed)
    log.info(
        "planned: %d chapters rendered, %d images processed, %d image batches fanned out",
        len(chapters),
        len(images),
        len(batches) - in_plan,
    )
    return [ConvertStep(job.id, step).to_message() for step in parallel_steps(committed)] or [
        ConvertStep(job.id, step_after_images(committed)).to_message()
    ]


def commit_step(storage: Storage, job_id: str, step: str, message_id: str, **changes: Any) -> Job | None:
    """Add `step` to the row's completed steps (with `changes`), unless the job ended, the step is
    committed already, or another delivery holds it; None then."""

    def commit(current: Job) -> Job | None:
        if current.is_terminal or step in current.completed or not claims.holds(current, step, message_id):
            return None
        return current.with_changes(
            claims=claims.without_claim(current, step),
            completed=[*current.completed, step],
            steps_done=current.steps_done + 1,
            updated=datetime.now(UTC),
            **{name: change(current) if callable(change) else change for name, change in changes.items()},
        )

    committed = update_job(storage, job_id, commit)
    if committed is None:
        log.info("the step was committed by another delivery")
    return committed


def _log_commit(committed: Job) -> None:
    log.info("step committed (%d/%d done)", committed.steps_done, committed.steps_total)


def images(storage: Storage, job: Job, step: str, message_id: str, index: int) -> list[str]:
    from shared.book.conversion import process_in_parallel

    assert job.plan is not None  # run_step plans a job first
    batches = job.plan.images
    if not 0 <= index < len(batches):
        log.warning("the plan has no image batch %d", index)
        return []
    keys: list[str] = batches[index]
    book = checkpoints.load_parsed(storage, job.id)
    sources = checkpoints.in_parallel(lambda key: checkpoints.read(storage, job.id, checkpoints.source_name(key)), keys)
    book.image_sources = dict(zip(keys, sources, strict=True))
    checkpoints.write_once(storage, job.id, *checkpoints.packed_image_batch(index, process_in_parallel(book, keys)))

    committed = commit_step(storage, job.id, step, message_id)
    if committed is None:
        return []
    _log_commit(committed)
    if all(s in committed.completed for s in parallel_steps(job)):
        return [ConvertStep(job.id, step_after_images(committed)).to_message()]  # this commit completed the set: fan in
    return []


def _catalog(job: Job, app_files: dict[str, bytes]) -> dict[str, Any]:
    """The edition's catalog card for the book's row: what its OPDS entry says, without reading."""
    from shared.book.webpub import catalog_card

    card = catalog_card(app_files[WEBPUB_MANIFEST]) if WEBPUB_MANIFEST in app_files else {}
    return {"job": job.id, "has_pdf": job.has_pdf, **card} if card else {}


def package(storage: Storage, job: Job, message_id: str, editions_kept: int, changes_page: bool = True) -> list[str]:
    from shared.book.changes import chapter_texts, text_fingerprint
    from shared.book.conversion import app_changes_file, book_parts
    from shared.book.epub import write_epub
    from shared.book.webapp import write_webapp

    before = [*parallel_steps(job), *([PDF_STEP] if job.plan is not None and job.plan.pdf else [])]
    if waits_for(storage, job, PACKAGE_STEP, message_id, before):
        return []
    book, chapters, images = load_book(storage, job)
    # What changed since the previous edition: kept with the job, in the EPUB's last page and the app.
    texts = chapter_texts(chapters)
    summary = edition_changes(storage, job, texts)
    fingerprint = text_fingerprint(texts)  # for the next edition's comparison
    del texts  # the book's text as paragraphs: not held while the EPUB and the app are made
    options = replace(options_for(job), changes=summary, changes_page=changes_page)
    parts = book_parts(book, chapters, images, options)

    # Publish: the files first (same bytes on any rerun), then the job turns succeeded. The web
    # app's files go out while the EPUB is being compressed: uploads wait on storage, not the CPU.
    @logs.carrying_ids
    def put_file(name: str, data: bytes, content_type: str) -> None:
        storage.put_blob(BOOK_CONTAINER, book_blob(job.id, name), data, content_type=content_type)

    app_files = write_webapp(
        parts, options.updates_url, options.edition, pdf=job.has_pdf, changes=app_changes_file(options)
    )
    with checkpoints.storage_pool() as pool:
        uploads = [
            pool.submit(put_file, f"app/{name}", data, content_type_for(name)) for name, data in app_files.items()
        ]
        uploads.append(pool.submit(store_edition_text, storage, job.id, fingerprint))
        epub = write_epub(parts)
        put_file("book.epub", epub, "application/epub+zip")
        for upload in uploads:
            upload.result()  # a failed upload fails the step, which the queue retries
    # One use case publishes it: the book's addresses, its feeds, the editions no longer kept, then
    # the job turns succeeded (shared/books/publishing.py).
    published = publish_packaged_edition(
        storage,
        job,
        book.metadata.title,
        book.metadata.feeds,
        editions_kept,
        lambda current: _succeeded(current, message_id, summary),
        lambda: datetime.now(UTC),
        _catalog(job, app_files),
    )
    if published.succeeded is not None:
        _log_commit(published.succeeded)
        log.info(
            "succeeded: EPUB %d bytes, web app %d files; edition %d %s",
            len(epub),
            len(app_files),
            job.edition,
            published.publication.value,
        )
    return []


def load_book(storage: Storage, job: Job) -> tuple[ParsedBook, list[RenderedChapter], dict[str, ProcessedImage]]:
    """What the plan and image steps left: the parsed book, its rendered chapters, its processed images."""
    from shared.book.model import RenderedChapter, unpack_images

    book = checkpoints.load_parsed(storage, job.id)
    assert job.plan is not None  # run_step plans a job first
    names = [checkpoints.CHAPTERS] + [checkpoints.image_batch_name(i) for i in range(len(job.plan.images))]
    chapters_json, *packed = checkpoints.in_parallel(lambda name: checkpoints.read(storage, job.id, name), names)
    chapters = [RenderedChapter.from_dict(data) for data in json.loads(chapters_json)]
    images = {image.key: image for batch in packed for image in unpack_images(batch)}
    return book, chapters, images


def _succeeded(current: Job, message_id: str, changes: dict[str, Any] | None) -> Job | None:
    """The package step's commit: the job succeeded (with what changed since the previous edition),
    unless it ended already or another delivery holds the step."""
    if current.is_terminal or not claims.holds(current, PACKAGE_STEP, message_id):
        return None
    return current.with_changes(
        changes=changes,
        status=JobStatus.SUCCEEDED,
        claims={},
        completed=[*current.completed, PACKAGE_STEP],
        steps_done=current.steps_total,
        updated=datetime.now(UTC),
    )


def waits_for(storage: Storage, job: Job, step: str, message_id: str, before: list[str]) -> bool:
    """Whether a fan-in `step` must wait for steps of `before` not yet committed; it then gives its
    claim up, and the last of them sends it again."""
    missing = [s for s in before if s not in job.completed]
    if missing:
        log.info("%s waits for %d steps", step, len(missing))
        release(storage, job.id, step, message_id)
    return bool(missing)


def release(storage: Storage, job_id: str, step: str, message_id: str) -> None:
    """Give up a claim on a step that ended without committing."""

    def release(current: Job) -> Job | None:
        if step not in current.claims or not claims.holds(current, step, message_id):
            return None
        return current.with_changes(claims=claims.without_claim(current, step))

    update_job(storage, job_id, release)
