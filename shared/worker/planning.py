"""The plan step's work on the manuscript: parse it, render its chapters while threads process the
first images, and checkpoint the parse, the chapters, those images and the sources of the images
handed on to other workers (shared/worker/steps.py commits the plan)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, BinaryIO

from shared import logs
from shared.jobs.record import Job
from shared.storage import Storage
from shared.worker import checkpoints

if TYPE_CHECKING:
    from shared.book.conversion import ConvertOptions
    from shared.book.model import ParsedBook, ProcessedImage, RenderedChapter

# Image sources handed on to other workers are read from the manuscript as they are written: at
# most about this many bytes of them are in memory at once.
SOURCES_IN_FLIGHT = 96 * 1024 * 1024


def batches_within(batches: list[list[str]], sizes: dict[str, int], budget: int) -> int:
    """How many leading batches fit in `budget` bytes of image sources."""
    used = 0
    for count, batch in enumerate(batches):
        used += sum(sizes[key] for key in batch)
        if used > budget:
            return count
    return len(batches)


def sha256_of(file: BinaryIO) -> str:
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def parse_and_render(
    storage: Storage, job: Job, manuscript: BinaryIO, options: ConvertOptions, images_in_plan_bytes: int
) -> tuple[list[RenderedChapter], list[ProcessedImage], ParsedBook, list[list[str]], int]:
    """Parse, then render the chapters while threads process the first images; checkpoint the
    parse, the chapters, the processed images and the sources of the images fanned out."""
    from shared.book.conversion import image_batches, parse, render_while_processing

    book = parse(manuscript, options)
    batches = image_batches(book)
    in_plan = batches_within(batches, book.image_sizes, images_in_plan_bytes)
    keys = [key for batch in batches[:in_plan] for key in batch]

    @logs.carrying_ids
    def write(item: tuple[str, bytes, str]) -> None:
        checkpoints.write_once(storage, job.id, *item)

    with checkpoints.storage_pool() as writer:
        # The parse and the chapters go out while the images are still being processed.
        # Each source is read when its write runs, so at most one per storage thread is in memory.
        fanned_out = [key for batch in batches[in_plan:] for key in batch]

        @logs.carrying_ids
        def write_source(key: str) -> None:
            checkpoints.write_once(
                storage, job.id, checkpoints.source_name(key), book.image_sources[key], "application/octet-stream"
            )

        largest = max((book.image_sizes[key] for key in fanned_out), default=1)
        source_pool = ThreadPoolExecutor(
            max_workers=max(1, min(checkpoints.STORAGE_THREADS, SOURCES_IN_FLIGHT // largest))
        )
        writes = [
            writer.submit(write, (checkpoints.PARSED, checkpoints.json_bytes(book.plain_meta()), "application/json")),
            *(source_pool.submit(write_source, key) for key in fanned_out),
        ]

        def write_chapters(rendered: list[RenderedChapter]) -> None:
            chapters_json = checkpoints.json_bytes([c.to_dict() for c in rendered])
            writes.append(writer.submit(write, (checkpoints.CHAPTERS, chapters_json, "application/json")))

        chapters, images = render_while_processing(book, keys, on_rendered=write_chapters)
        by_key = {image.key: image for image in images}
        writes += [
            writer.submit(write, checkpoints.packed_image_batch(index, [by_key[key] for key in batch]))
            for index, batch in enumerate(batches[:in_plan])
        ]
        try:
            for pending in writes:
                pending.result()  # a failed write fails the step, which the queue retries
        finally:
            source_pool.shutdown(cancel_futures=True)
    return chapters, images, book, batches, in_plan
