"""`write_pdf`: the book's chapters and images typeset by Typst into one PDF.

The Typst source is made in memory (document.py, markup.py); the images are written to a private
temporary folder, since Typst reads images only from files. The PDF claims PDF/UA-1 when Typst's
own check of that standard passes: every image described, every character in a font, the
structure tagged. When it does not, the PDF is still made, without the claim, and the warning says
what was missing. The same book gives the same bytes: the date is the upload's.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from shared.book.epub import BookParts
from shared.book.model import RenderedChapter
from shared.book.pdf import document
from shared.book.pdf.fonts import font_folders
from shared.book.pdf.markup import ChapterWriter, PlacedImage
from shared.book.pdf.targets import BookTargets, chapter_label
from shared.book.pdf.text import local, parse_body, string

UA_STANDARD = "ua-1"
# What Typst holds while it typesets, measured (bench/pdf.py): about 300 bytes for each byte of
# Typst source (a 288-page book of 1.1 MB of source took 340 MB), and each image decoded to pixels.
TYPST_BYTES_PER_SOURCE_BYTE = 320
TYPST_BASE_BYTES = 40 * 1024 * 1024
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


@dataclass
class PdfResult:
    pdf: bytes | None  # None: Typst could not typeset the book (the warning says why)
    page: str  # the page size used (document.PAGES)
    pdf_ua: bool  # the PDF claims PDF/UA-1
    warnings: list[str] = field(default_factory=list)
    pdf_a: bool = False  # the PDF claims PDF/A-2 (archival; asked for by the PDF_ARCHIVAL setting)


def typst_source(parts: BookParts, page: document.PageSpec, images: dict[str, PlacedImage]) -> tuple[str, list[str]]:
    """The whole book as Typst markup, and what it could not carry."""
    trees = [(chapter, parse_body(chapter.body)) for chapter in parts.chapters]
    targets = BookTargets()
    for chapter, root in trees:
        targets.scan(root, chapter.file_stem)
    cover = images.get(parts.cover.key)
    out = [document.preamble(parts.metadata, page, parts.modified)]
    out.append(document.title_pages(parts.metadata, page, cover.path if cover else ""))
    out.append(document.body_start(page))
    warnings: list[str] = []
    for chapter, root in trees:
        anchor = chapter_label(chapter.file_stem)
        out.append(
            document.chapter_start(
                chapter.number, chapter.title, anchor if targets.labelled(anchor) else "", page.print_trim
            )
        )
        levels = _heading_levels(chapter, root)
        if levels.title_in_body is None:
            out.append(f"#heading(level: {levels.chapter_level})[#{string(chapter.title)}]\n\n")
        writer = ChapterWriter(targets, images, _formula, page.print_trim, levels.level_of, page.code_columns)
        out.append(writer.chapter(root))
        warnings.extend(writer.warnings)
        out.append(document.chapter_end(chapter.number))
    return targets.resolve("".join(out)), list(dict.fromkeys(warnings))


@dataclass
class _Levels:
    """Where each heading of a chapter sits in the book's outline, as the EPUB's nav places it: the
    chapter's own title at its depth, the headings the nav lists nested below, the rest unlisted."""

    chapter_level: int
    title_in_body: Any  # the heading element that titles the chapter, if the body has one
    listed: dict[str, int]  # heading id → level
    base: int  # the HTML level of the chapter's title

    def level_of(self, element: Any) -> tuple[int, bool] | None:
        if element is self.title_in_body:
            return self.chapter_level, True
        identifier = element.get("id", "")
        if identifier in self.listed:
            return self.listed[identifier], True
        html_level = int(local(element)[1])
        return max(self.chapter_level + 1, self.chapter_level + html_level - self.base), False


def _heading_levels(chapter: RenderedChapter, root: Any) -> _Levels:
    chapter_level = chapter.depth + 1
    listed_ids = {heading.id for heading in chapter.headings}
    first = next((e for e in root.iter() if local(e) in _HEADINGS), None)
    title = first if first is not None and first.get("id", "") not in listed_ids else None
    base = int(local(title)[1]) if title is not None else 1
    listed: dict[str, int] = {}
    stack: list[int] = []  # the HTML levels of the listed headings above this one
    for heading in chapter.headings:
        while stack and stack[-1] >= heading.level:
            stack.pop()
        stack.append(heading.level)
        listed[heading.id] = chapter_level + len(stack)
    return _Levels(chapter_level, title, listed, base)


def _formula(element: Any) -> tuple[str, list[str]]:
    from shared.book.typst_math import mathml_to_typst

    math = mathml_to_typst(element)
    if not math.source.strip():  # nothing to set: an empty equation would have no alternative text
        return (f"#{string(math.alt)}" if math.alt.strip() else ""), list(math.unconverted)
    block = "true" if math.block else "false"
    return f"#math.equation(block: {block}, alt: {string(math.alt)}, ${math.source}$)", list(math.unconverted)


def memory_needed(source_length: int, images: list[tuple[int, int]]) -> int:
    """An estimate of what typesetting a source this long, with images of these pixel sizes, takes."""
    return TYPST_BASE_BYTES + TYPST_BYTES_PER_SOURCE_BYTE * source_length + sum(4 * w * h for w, h in images)


def _too_long(needed: int, memory_left: int, source_length: int) -> str:
    pages = source_length // 4000  # about 4 KB of source a page of text
    return (
        f"The PDF was not made: a book this long (about {pages} pages) needs about {needed // 2**20} MB to "
        f"typeset, more than a conversion step may use ({memory_left // 2**20} MB left of PDF_STEP_MEMORY_MB). "
        "The EPUB and the web-app book are complete."
    )


def write_pdf(
    parts: BookParts, page_choice: str = "", archival: bool = False, memory_left: int | None = None
) -> PdfResult:
    """The book's PDF. `memory_left`: what the process may still allocate (a step's budget); a book
    that would need more is not typeset (Typst would be stopped mid-way) and a warning says so."""
    import typst

    page = document.page_for(page_choice, parts.metadata.language)
    used = dict.fromkeys(key for chapter in parts.chapters for key in chapter.image_keys)
    chosen = {key: parts.images[key] for key in used if key in parts.images}
    if not page.print_trim:
        chosen[parts.cover.key] = parts.cover
    placed = {
        key: PlacedImage(
            f"/images/{key}.{image.extension}", image.width, image.height, image.media_type == "image/svg+xml"
        )
        for key, image in chosen.items()
    }
    sizes = [(i.width, i.height) for i in chosen.values()]
    # The chapters' XHTML is about as long as the Typst made of it: a book far too long is told so
    # before its chapters are parsed (63 MB of text would take gigabytes only to be refused).
    body_length = sum(len(chapter.body) for chapter in parts.chapters)
    if memory_left is not None and memory_needed(body_length, sizes) > 2 * memory_left:
        needed = memory_needed(body_length, sizes)
        return PdfResult(None, page.name, False, [_too_long(needed, memory_left, body_length)])
    try:
        source, warnings = typst_source(parts, page, placed)
    except etree.XMLSyntaxError as unreadable:  # nesting deeper than libxml2 reads (2,048 levels)
        return PdfResult(
            None, page.name, False, [f"The PDF could not be made: a chapter is nested too deeply ({unreadable})."]
        )
    needed = memory_needed(len(source), sizes)
    if memory_left is not None and needed > memory_left:
        return PdfResult(None, page.name, False, [*warnings, _too_long(needed, memory_left, len(source))])
    undescribed = sum(chapter.images_without_alt for chapter in parts.chapters)
    with tempfile.TemporaryDirectory(prefix="quire-pdf-") as folder:
        (Path(folder) / "images").mkdir()
        for key, image in chosen.items():
            (Path(folder) / placed[key].path.lstrip("/")).write_bytes(image.data)

        def compile_pdf(standards: list[Any]) -> bytes:
            pdf = typst.compile(  # type: ignore[misc]  # the stub ties the input's type to the font paths'
                source.encode("utf-8"),
                root=folder,
                font_paths=list(font_folders()),
                pdf_standards=standards,
                timestamp=int(parts.modified.timestamp()),
            )
            assert isinstance(pdf, bytes)  # one PDF, since no output path was given
            return pdf

        if undescribed:
            warnings.append(
                f"The PDF does not claim PDF/UA-1 (accessible PDF): {undescribed} image(s) have no description."
            )
        for standards in _attempts(not undescribed, archival):
            try:
                pdf = compile_pdf(standards)
            except typst.TypstError as refused:
                if not re.search(r"PDF/(UA|A)", refused.message) or not standards:
                    return PdfResult(
                        None, page.name, False, [*warnings, f"The PDF could not be made: {refused.message}"]
                    )
                claim = "PDF/UA-1 (accessible PDF)" if UA_STANDARD in standards else "PDF/A-2 (archival PDF)"
                warnings.append(f"The PDF does not claim {claim}: {refused.message}")
                continue
            return PdfResult(
                pdf, page.name, UA_STANDARD in standards, warnings, pdf_a=any(s.startswith("a-") for s in standards)
            )
        raise AssertionError("the last attempt claims no standard, so it returns")  # pragma: no cover


def _attempts(accessible: bool, archival: bool) -> list[list[str]]:
    """The standards to try, most first: Typst checks each as it writes, and refuses what breaks it.
    PDF/A-2a asks for the tagged structure PDF/UA has; PDF/A-2b for the look alone."""
    attempts = [[UA_STANDARD, *(["a-2a"] if archival else [])]] if accessible else []
    if archival:
        attempts.append(["a-2b"])
    return [*attempts, []]
