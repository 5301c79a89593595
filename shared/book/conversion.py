"""The conversion as small pure steps, and `convert()` running them all.

    parse           manuscript bytes → ParsedBook (metadata, chapter sources, image sources)
    render          chapter sources → RenderedChapters
    process_image   one image's bytes → ProcessedImage (also the cover)
    assemble        rendered chapters + processed images → print PDF, EPUB bytes and web-app files

Rendered chapters and processed images are plain data, so a worker can checkpoint them and run
independent steps (batches of images) in parallel. Running the steps one by one gives the same
bytes as `convert()`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, BinaryIO

from shared.book.changes_pages import app_changes, back_matter
from shared.book.epub import BookParts, write_epub
from shared.book.images import generate_cover, process_image
from shared.book.links import BookAnchors, resolve_links
from shared.book.model import ParsedBook, ProcessedImage, RenderedChapter
from shared.book.readers import parse_manuscript
from shared.book.render import render_chapter
from shared.book.webapp import write_webapp

# An image batch is bounded by source bytes, so one step stays around a second; smaller batches
# would spend more time on queue hops and commits than on images.
IMAGE_BATCH_BYTES = 3_000_000
COVER_KEY = "cover"
# A cover also makes the app's icons, which are drawn from its pixels: an SVG cover cannot (the parse
# step warns, readers/images.py).
RASTER_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True)
class ConvertOptions:
    kind: str  # markdown, text, html, docx, zip
    modified: datetime  # the upload time: the only time that reaches the outputs
    title: str = ""
    author: str = ""
    language: str = ""
    split_level: int = 1
    # The print PDF's page size (shared/formats.py PDF_PAGE_SIZES); "": the book's language chooses.
    pdf_page: str = ""
    updates_url: str = ""
    file_name: str = ""  # as uploaded: the manuscript's links may use it to point inside the book
    # The edition of the book these files are (0: not part of a served book, as from the CLI). The
    # web-app book's service worker asks for exactly its own edition's files by this number.
    edition: int = 0
    # The author's notes on this edition, and what changed since the previous one (shared/book/changes.py
    # `compare`; None: nothing to compare with): the EPUB's last page and the web app's changes.json.
    release_notes: str = ""
    changes: dict[str, Any] | None = None
    changes_page: bool = True  # the EPUB's "Changes in this edition" page (the EPUB_CHANGES_PAGE setting)


@dataclass
class Conversion:
    epub: bytes
    app_files: dict[str, bytes]
    warnings: list[str] = field(default_factory=list)
    pdf: bytes | None = None  # None: not asked for, or Typst could not typeset the book (a warning says why)


def parse(manuscript: bytes | BinaryIO, options: ConvertOptions) -> ParsedBook:
    with cycle_collector_paused():
        return parse_manuscript(
            manuscript,
            options.kind,
            title=options.title,
            author=options.author,
            language=options.language,
            split_level=options.split_level,
            file_name=options.file_name,
        )


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a parse allocates its tokens.

    A parse makes hundreds of thousands of small objects that all stay alive, so each collection it
    triggers traverses them (and the whole heap of a long-running worker) again and finds nothing:
    the 5 MB book parsed in 0.9 s instead of 0.65 s in the CLI, and in 1.2 s instead of 0.7 s in a
    worker. Whoever saw the collector on turns it back on, so it is never off for longer than one
    parse, whatever other threads do meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def render(book: ParsedBook) -> list[RenderedChapter]:
    """Every chapter, in order (ids are unique in the book), with links settled across chapters."""
    anchors = BookAnchors()
    files = frozenset(c.source_file for c in book.chapters if c.source_file)
    chapters = [
        render_chapter(c, book.image_refs, book.split_level, anchors, book.own_names, files) for c in book.chapters
    ]
    return resolve_links(chapters, anchors)


def image_batches(book: ParsedBook) -> list[list[str]]:
    """The keys of the images to process, in a fixed order, grouped into steps of bounded size.
    The cover is one of them if the author gave one."""
    batches: list[list[str]] = [[]]
    size = 0
    for key in sorted(book.image_sources):
        weight = book.image_sizes.get(key) or len(book.image_sources[key])
        if batches[-1] and size + weight > IMAGE_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(key)
        size += weight
    return [batch for batch in batches if batch]


def process(book: ParsedBook, key: str) -> ProcessedImage:
    return process_image(book.image_sources[key], book.image_names.get(key, key), key=key)


def cover_for(book: ParsedBook, images: dict[str, ProcessedImage]) -> ProcessedImage:
    if book.cover_key and images[book.cover_key].media_type in RASTER_TYPES:
        return replace(images[book.cover_key], key=COVER_KEY)
    return generate_cover(book.metadata.title, book.metadata.authors, key=COVER_KEY)


def generated_cover(book: ParsedBook) -> ProcessedImage | None:
    """The cover Quire draws for a book whose author named none, known from the metadata alone;
    None when the author named one (cover_for decides once it is processed)."""
    return None if book.cover_key else generate_cover(book.metadata.title, book.metadata.authors, key=COVER_KEY)


def book_parts(
    book: ParsedBook,
    chapters: list[RenderedChapter],
    images: dict[str, ProcessedImage],
    options: ConvertOptions,
    cover: ProcessedImage | None = None,
) -> BookParts:
    """Everything both writers (EPUB and web app) need, chapters in book order. `cover`: one drawn
    already (generated_cover), else it is chosen now."""
    return BookParts(
        metadata=book.metadata,
        chapters=sorted(chapters, key=lambda c: c.number),
        images=images,
        cover=cover or cover_for(book, images),
        modified=options.modified,
        back_matter=back_matter(options.release_notes, options.changes) if options.changes_page else [],
    )


def app_changes_file(options: ConvertOptions) -> bytes | None:
    """The web-app book's changes.json (None: the edition has no notes and nothing to compare)."""
    return app_changes(options.release_notes, options.changes)


def assemble(
    book: ParsedBook,
    chapters: list[RenderedChapter],
    images: dict[str, ProcessedImage],
    options: ConvertOptions,
    cover: ProcessedImage | None = None,
    with_pdf: bool = True,
) -> Conversion:
    """Every output, as the pipeline's pdf and package steps make them: the PDF first, since the
    web-app book links it only when there is one."""
    parts = book_parts(book, chapters, images, options, cover)
    warnings = list(book.warnings) + [w for c in parts.chapters for w in c.warnings]
    pdf = None
    if with_pdf:
        from shared.book.pdf.typeset import write_pdf

        typeset = write_pdf(parts, options.pdf_page)
        pdf = typeset.pdf
        warnings.extend(typeset.warnings)
    return Conversion(
        epub=write_epub(parts),
        app_files=write_webapp(
            parts, options.updates_url, options.edition, pdf=pdf is not None, changes=app_changes_file(options)
        ),
        warnings=warnings,
        pdf=pdf,
    )


def convert(manuscript: bytes, options: ConvertOptions, image_threads: int = 1, with_pdf: bool = True) -> Conversion:
    """The whole conversion in one call: every step, in order (images in a thread beside the render)."""
    return finish(parse(manuscript, options), options, image_threads, with_pdf)


def finish(book: ParsedBook, options: ConvertOptions, image_threads: int = 1, with_pdf: bool = True) -> Conversion:
    """Every step after parsing. Callers that own the manuscript bytes can free them first."""
    keys = sorted(book.image_sources)
    # Drawn first, while little else is held: drawn last, its canvas and encoder came on top of
    # everything the images had left (the 1 MB benchmark book peaked 28 MiB higher).
    cover = generated_cover(book)
    chapters, processed = render_while_processing(book, keys, image_threads)
    return assemble(book, chapters, dict(zip(keys, processed, strict=True)), options, cover, with_pdf)


def render_while_processing(
    book: ParsedBook,
    keys: list[str],
    image_threads: int = 1,
    on_rendered: Callable[[list[RenderedChapter]], object] | None = None,
) -> tuple[list[RenderedChapter], list[ProcessedImage]]:
    """Render every chapter while `image_threads` threads process the images `keys` (0: this
    thread processes them after rendering).

    Rendering holds the GIL; Pillow mostly does not, so one image thread uses the core rendering
    leaves idle. A second thread only gains once rendering is done, and doubles the decoded pixels
    held at once: the 1 MB benchmark book peaked at 140 MiB with two, 104 MiB with one, 0.4 s slower.
    `on_rendered` gets the chapters as soon as they are rendered, while the images may still be going.
    """

    def rendered() -> list[RenderedChapter]:
        chapters = render(book)
        if on_rendered is not None:
            on_rendered(chapters)
        return chapters

    if image_threads < 1 or not keys:
        return rendered(), [process(book, key) for key in keys]
    with ThreadPoolExecutor(max_workers=image_threads) as pool:
        pending = [pool.submit(process, book, key) for key in keys]
        return rendered(), [future.result() for future in pending]


def process_in_parallel(book: ParsedBook, keys: list[str], workers: int = 2) -> list[ProcessedImage]:
    """Process images side by side: Pillow releases the GIL while decoding, resizing and encoding."""
    if workers <= 1 or len(keys) <= 1:
        return [process(book, key) for key in keys]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda key: process(book, key), keys))
