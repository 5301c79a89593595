"""The pdf step: the print PDF typeset from what the plan and image steps left, written beside the
edition's EPUB, then committed with whether there is one.

A book Typst cannot typeset still gets its EPUB and web-app book: the step commits without a PDF
and the job's warnings say why (a PDF is a bonus; an author should not lose the edition for it).
Typst gives the same bytes for the same book, so a rerun writes the blob again unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from shared import logs
from shared.jobs.messages import ConvertStep
from shared.jobs.record import MAX_STORED_WARNINGS, PACKAGE_STEP, PDF_STEP, Job, parallel_steps
from shared.jobs.store import book_blob
from shared.storage import Storage
from shared.storage.names import BOOK_CONTAINER
from shared.worker.steps import commit_step, load_book, options_for, waits_for

log = logs.get_logger(__name__)
PDF_NAME = "book.pdf"


def typeset(storage: Storage, job: Job, message_id: str, archival: bool) -> list[str]:
    from shared.book.conversion import book_parts
    from shared.book.pdf.typeset import write_pdf
    from shared.budget.process import data_bytes_left

    if waits_for(storage, job, PDF_STEP, message_id, parallel_steps(job)):
        return []
    book, chapters, loaded = load_book(storage, job)
    # The photos' phone-sized copies are the web-app book's alone: their memory goes to Typst too.
    images = {key: replace(image, copies=()) for key, image in loaded.items()}
    del loaded
    options = options_for(job)
    parts = book_parts(book, chapters, images, options)
    del book  # the parsed manuscript is not needed past here: its memory goes to Typst
    result = write_pdf(parts, options.pdf_page, archival, memory_left=data_bytes_left())
    if result.pdf is not None:
        storage.put_blob(BOOK_CONTAINER, book_blob(job.id, PDF_NAME), result.pdf, content_type="application/pdf")

    committed = commit_step(
        storage,
        job.id,
        PDF_STEP,
        message_id,
        has_pdf=result.pdf is not None,
        warnings=lambda current: list(dict.fromkeys([*current.warnings, *result.warnings]))[:MAX_STORED_WARNINGS],
    )
    if committed is None:
        return []
    log.info(
        "step committed (%d/%d done): PDF %s, %s pages, PDF/UA-1 %s, PDF/A-2 %s; typeset in %d parts, the largest holding %d MB",
        committed.steps_done,
        committed.steps_total,
        f"{len(result.pdf)} bytes" if result.pdf else "not made",
        result.page,
        "claimed" if result.pdf_ua else "not claimed",
        "claimed" if result.pdf_a else "not claimed",
        result.parts,
        result.part_peak_bytes // 2**20,
    )
    return [ConvertStep(job.id, PACKAGE_STEP).to_message()]
