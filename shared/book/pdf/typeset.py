"""`write_pdf`: the book's chapters and images typeset by Typst into one PDF.

The Typst source is made in memory (source.py) and typeset in parts, each in a process of its own
(part_process.py), since Typst holds all it laid out until its process ends: the body's parts in
order (each numbers its pages on from the last), then the front matter, whose contents needs their
page numbers; then the parts are joined into one PDF (merge.py). Images are written to a private
temporary folder, since Typst reads images only from files. The PDF claims PDF/UA-1 when Typst's
own check of that standard passes for every part: every image described, every character in a
font, the structure tagged. When it does not, the PDF is still made, without the claim, and the
warning says what was missing. The same book gives the same bytes: the date is the upload's.
"""

from __future__ import annotations

import json
import re
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from shared.book.epub import BookParts
from shared.book.pdf import document
from shared.book.pdf.fonts import font_folders
from shared.book.pdf.markup import PlacedImage
from shared.book.pdf.part_process import REFUSED, places_query
from shared.book.pdf.source import PART_SOURCE_BYTES, BookSource, book_source

UA_STANDARD = "ua-1"
# What Typst holds while it typesets a part, measured (bench/pdf.py): about 300 bytes for each byte
# of Typst source (a 288-page book of 1.1 MB of source took 340 MB), and each image decoded to pixels.
TYPST_BYTES_PER_SOURCE_BYTE = 320
TYPST_BASE_BYTES = 40 * 1024 * 1024
# And the CPU it takes, measured (bench/pdf.py): 3.5 s for the 500-page book's 2.2 MB of chapters,
# 11 s for the 5 MB book's 6 MB; a little under, so that only a book surely too long is refused.
TYPST_CPU_SECONDS_PER_MB = 1.5
_APP_ROOT = Path(__file__).resolve().parents[3]  # where `shared` is: the part processes run there


@dataclass
class PdfResult:
    pdf: bytes | None  # None: Typst could not typeset the book (the warning says why)
    page: str  # the page size used (document.PAGES)
    pdf_ua: bool  # the PDF claims PDF/UA-1
    warnings: list[str] = field(default_factory=list)
    pdf_a: bool = False  # the PDF claims PDF/A-2 (archival; asked for by the PDF_ARCHIVAL setting)
    parts: int = 0  # the processes the body was typeset in (parts of at most PART_SOURCE_BYTES)
    part_peak_bytes: int = 0  # the most memory one of those processes held


@dataclass(frozen=True)
class _PartBudget:
    """What the parts' processes may use: the memory this process has left, and the CPU its limit
    leaves less what the parts typeset so far used (its reaped children's CPU was `children_before`
    when the book began)."""

    memory_left: int | None
    children_before: float


class _Refused(Exception):
    """Typst refused a part (its message), or the part's process ended without typesetting it."""

    def __init__(self, message: str, standards_only: bool) -> None:
        super().__init__(message)
        self.message = message
        self.standards_only = standards_only  # a standard's check failed: the part typesets without it


def memory_needed(source_length: int, images: list[tuple[int, int]]) -> int:
    """An estimate of what typesetting a source this long, with images of these pixel sizes, takes."""
    return TYPST_BASE_BYTES + TYPST_BYTES_PER_SOURCE_BYTE * source_length + sum(4 * w * h for w, h in images)


def _too_long(needed: int, memory_left: int, source_length: int) -> str:
    pages = source_length // 4000  # about 4 KB of source a page of text
    return (
        f"The PDF was not made: a part of the book this long (a chapter of about {pages} pages) needs about {needed // 2**20} MB to "
        f"typeset, more than a conversion step may use ({memory_left // 2**20} MB left of PDF_STEP_MEMORY_MB). "
        "The EPUB and the web-app book are complete."
    )


def _too_slow(source_length: int, seconds_left: int) -> str:
    pages = source_length // 4000  # about 4 KB of source a page of text
    needed = TYPST_CPU_SECONDS_PER_MB * source_length / 2**20
    return (
        f"The PDF was not made: a book this long (about {pages} pages) needs about {needed:.0f} s of processing "
        f"to typeset, more than a conversion step may use ({seconds_left} s left of STEP_CPU_SECONDS). "
        "The EPUB and the web-app book are complete."
    )


def write_pdf(
    parts: BookParts,
    page_choice: str = "",
    archival: bool = False,
    memory_left: int | None = None,
    part_bytes: int = PART_SOURCE_BYTES,
) -> PdfResult:
    """The book's PDF. `memory_left`: what the process may still allocate (a step's budget); a part
    that would need more is not typeset (Typst would be stopped mid-way) and a warning says so.
    `part_bytes`: the most Typst source a part of the body holds (source.py)."""
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
    # Told before its chapters are even parsed: a book far too long for the step's CPU (48 MB of
    # text would need a minute) gets no PDF at once, rather than after the step's whole budget.
    body_length = sum(len(chapter.body) for chapter in parts.chapters)
    seconds_left = _seconds_left(_cpu(resource.RUSAGE_CHILDREN))
    if seconds_left is not None and TYPST_CPU_SECONDS_PER_MB * body_length / 2**20 > seconds_left:
        return PdfResult(None, page.name, False, [_too_slow(body_length, max(seconds_left, 0))])
    try:
        source = book_source(parts, page, placed, part_bytes)
    except etree.XMLSyntaxError as unreadable:  # nesting deeper than libxml2 reads (2,048 levels)
        return PdfResult(
            None, page.name, False, [f"The PDF could not be made: a chapter is nested too deeply ({unreadable})."]
        )
    warnings = list(source.warnings)
    if memory_left is not None:
        for part in source.body:
            needed = memory_needed(len(part.chapters), part.images)
            if needed > memory_left:
                return PdfResult(
                    None, page.name, False, [*warnings, _too_long(needed, memory_left, len(part.chapters))]
                )
    undescribed = sum(chapter.images_without_alt for chapter in parts.chapters)
    if undescribed:
        warnings.append(
            f"The PDF does not claim PDF/UA-1 (accessible PDF): {undescribed} image(s) have no description."
        )
    with tempfile.TemporaryDirectory(prefix="quire-pdf-") as folder:
        (Path(folder) / "images").mkdir()
        for key, image in chosen.items():
            (Path(folder) / placed[key].path.lstrip("/")).write_bytes(image.data)
        timestamp = int(parts.modified.timestamp())
        for standards in _attempts(not undescribed, archival):
            try:
                budget = _PartBudget(memory_left, _cpu(resource.RUSAGE_CHILDREN))
                pdf, peak = _typeset(Path(folder), source, page.print_trim, standards, timestamp, budget)
            except _Refused as refused:
                if not refused.standards_only or not standards:
                    return PdfResult(
                        None, page.name, False, [*warnings, f"The PDF could not be made: {refused.message}"]
                    )
                claim = "PDF/UA-1 (accessible PDF)" if UA_STANDARD in standards else "PDF/A-2 (archival PDF)"
                warnings.append(f"The PDF does not claim {claim}: {refused.message}")
                continue
            return PdfResult(
                pdf,
                page.name,
                UA_STANDARD in standards,
                warnings,
                pdf_a=any(s.startswith("a-") for s in standards),
                parts=len(source.body),
                part_peak_bytes=peak,
            )
        raise AssertionError("the last attempt claims no standard, so it returns")  # pragma: no cover


def _typeset(
    folder: Path, source: BookSource, print_trim: bool, standards: list[str], timestamp: int, budget: _PartBudget
) -> tuple[bytes, int]:
    """The body's parts in order, then the front matter with the contents, then all joined into one
    PDF, each in a process of its own; and the most memory one of those processes held."""
    places: dict[str, list[Any]] = {}  # label → [part, page from 0, x, y, printed number] (merge.Place)
    body: list[tuple[str, bool]] = []  # each part's name, and whether a blank page goes before it
    start = 1  # the page number the next part starts at
    peak = 0
    for number, part in enumerate(source.body, start=1):
        blank = print_trim and start % 2 == 0 and number > 1  # a chapter starts on a right-hand page
        start += blank
        text = source.preamble + document.body_part_start(start) + part.chapters + places_query(part.labels)
        report = _typeset_part(folder, f"part-{number}", text, standards, timestamp, budget)
        peak = max(peak, report["peak_bytes"])
        places.update({label: [number, page - 1, x, y, printed] for label, page, x, y, printed in report["places"]})
        body.append((f"part-{number}", blank))
        start += report["pages"]
    entries = [
        document.ContentsEntry(entry.level, entry.title, entry.label, places[entry.label][4])
        for entry in source.nav
        if entry.label in places
    ]
    front_text = source.preamble + source.title_pages + document.contents(entries) + places_query([])
    front = _typeset_part(folder, "front", front_text, standards, timestamp, budget)
    if body and print_trim and front["pages"] % 2:
        body[0] = (body[0][0], True)  # page 1 is a right-hand page
    plan = {
        "body": body,
        "print_trim": print_trim,
        "places": places,
        "descriptions": {entry.label: entry.title for entry in source.nav},
    }
    (folder / "merge.json").write_text(json.dumps(plan))
    joined = _typeset_part(folder, "front", "", standards, timestamp, budget, merge="merge.json")
    peak = max(peak, front["peak_bytes"], joined["peak_bytes"])
    return (folder / "book.pdf").read_bytes(), peak


def _typeset_part(
    folder: Path,
    name: str,
    text: str,
    standards: list[str],
    timestamp: int,
    budget: _PartBudget,
    merge: str = "",
) -> dict[str, Any]:
    """One part typeset in a process of its own, within what is left of this process's budget; its
    report (part_process.py). With `merge` (the plan's file), the part typeset already and the
    body's parts are joined instead."""
    if not merge:
        (folder / f"{name}.typ").write_text(text, encoding="utf-8")
    request = {
        "standards": standards,
        "timestamp": timestamp,
        "fonts": list(font_folders()),
        "cpu_seconds": _cpu_left(budget.children_before),
        "data_bytes": budget.memory_left,
        **({"merge": merge} if merge else {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "shared.book.pdf.part_process", str(folder), name, json.dumps(request)],
        cwd=_APP_ROOT,  # `-m` finds the app's package where it runs
        capture_output=True,
        check=False,
    )
    if done.returncode == REFUSED:
        message = (folder / f"{name}.error").read_text()
        raise _Refused(message, standards_only=bool(re.search(r"PDF/(UA|A)", message)))
    if done.returncode != 0:
        raise _Refused(_stopped(done.returncode, done.stderr), standards_only=False)
    report: dict[str, Any] = json.loads((folder / f"{name}.json").read_text())
    return report


def _stopped(code: int, errors: bytes) -> str:
    """Why a part's process ended without typesetting its part, for the author."""
    if code == -signal.SIGXCPU:
        return "typesetting the book took more CPU time than a conversion step may use (STEP_CPU_SECONDS)"
    if code in (-signal.SIGABRT, -signal.SIGKILL) or b"MemoryError" in errors or b"memory allocation" in errors:
        return "typesetting the book took more memory than a conversion step may use (PDF_STEP_MEMORY_MB)"
    return f"typesetting stopped ({f'signal {-code}' if code < 0 else f'exit {code}'})"


def _cpu_left(children_before: float) -> int | None:
    """Whole CPU seconds a part's process may use (`_seconds_left`); None: no limit."""
    left = _seconds_left(children_before)
    if left is not None and left < 1:
        raise _Refused(_stopped(-signal.SIGXCPU, b""), standards_only=False)
    return left


def _seconds_left(children_before: float) -> int | None:
    """What this process's CPU limit leaves, counting the parts typeset since `children_before`
    (its reaped children's CPU then), less a second, so the step as the worker measures it (its
    processes together) stays within its budget; None: no limit."""
    limit = resource.getrlimit(resource.RLIMIT_CPU)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    return int(limit - _cpu(resource.RUSAGE_SELF) - (_cpu(resource.RUSAGE_CHILDREN) - children_before)) - 1


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _attempts(accessible: bool, archival: bool) -> list[list[str]]:
    """The standards to try, most first: Typst checks each as it writes, and refuses what breaks it.
    PDF/A-2a asks for the tagged structure PDF/UA has; PDF/A-2b for the look alone."""
    attempts = [[UA_STANDARD, *(["a-2a"] if archival else [])]] if accessible else []
    if archival:
        attempts.append(["a-2b"])
    return [*attempts, []]
