"""Readers: each manuscript format becomes one ParsedBook (metadata, chapter sources, images).

    markdown.py, front_matter.py, text.py, html.py, docx.py   one module per format
    outline.py                                                 where chapters begin; fallback titles
    project.py                                                 a zip of many files (SUMMARY.md, Book.txt)
    project_model.py                                           a project's files in order, as plain data
    epub.py                                                    an EPUB: its spine, nav and metadata, as a project
    pandoc_markdown.py                                         .qmd and .Rmd: code cells, attributes, divs
    pandoc_projects.py                                         Quarto's and bookdown's chapter lists
    images.py                                                  the images the text references
    inline_svg.py                                              drawings written inline, as image files

This is the parse step. It splits the book into chapters but renders nothing: chapters are
rendered (and sanitised) by the render step. The book is always called something: its metadata,
else its first heading or line, else its file name; its title, subtitle, authors and chapter titles
are cleaned for display (shared.formats.clean_text) whichever of them it came from.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from collections import ChainMap
from collections.abc import Mapping
from typing import Any, BinaryIO

from shared.book.archive import ArchiveFiles, read_archive
from shared.book.errors import ManuscriptError
from shared.book.limits import DEEPEST_SPLIT_LEVEL, check_book_pixels, check_chapters
from shared.book.model import ChapterSource, ParsedBook
from shared.book.readers.docx import read_docx
from shared.book.readers.epub import find_epub
from shared.book.readers.html import html_parser, read_html
from shared.book.readers.images import attach_images
from shared.book.readers.inline_svg import lift_inline_svgs
from shared.book.readers.markdown import read_markdown
from shared.book.readers.outline import inline_text, title_from_file_name, title_from_first_line
from shared.book.readers.pandoc_markdown import label_cross_references
from shared.book.readers.project import find_project, project_listing, read_project
from shared.book.readers.text import read_text
from shared.formats import (
    SETTINGS_PROJECT_FILES,
    archive_name,
    clean_text,
    decode_text,
    epub_container_in_zip,
    is_pandoc_markdown,
    kind_in_zip,
    manuscripts_in_zip,
)

ISBN_NAMESPACE = uuid.UUID("6f1d3c4e-7d47-4f2a-9a57-0c7bb3c0a001")  # Quire's namespace for derived ids


def parse_manuscript(
    manuscript: bytes | BinaryIO,
    kind: str,
    *,
    title: str = "",
    author: str = "",
    language: str = "",
    split_level: int = 1,
    file_name: str = "",
) -> ParsedBook:
    """The parse step: a manuscript of a known kind → ParsedBook. `manuscript`: its bytes, or an
    open file (a zip is then read entry by entry, its images only when processed). `file_name`: the
    name the manuscript was uploaded as, which its own links may use. A zip of several manuscripts
    is a book of many files, joined in order (readers/project.py); so is an EPUB (readers/epub.py),
    whether uploaded as an .epub or unpacked in a zip."""
    if not 1 <= split_level <= DEEPEST_SPLIT_LEVEL:
        raise ValueError(f"split_level must be a heading level, 1 to {DEEPEST_SPLIT_LEVEL}")
    if kind not in ("zip", "epub") and not isinstance(manuscript, bytes):
        manuscript = manuscript.read()
    data = manuscript if isinstance(manuscript, bytes) else b""
    files: Mapping[str, bytes] = {}
    base_dir = ""
    own_names = {posixpath.basename(file_name.replace("\\", "/"))} - {""}
    base_name = ""  # the manuscript's name inside a zip
    if kind in ("zip", "epub"):
        what = archive_name(kind)
        files = read_archive(manuscript, what) if isinstance(manuscript, bytes) else ArchiveFiles(manuscript, what)
        candidates = manuscripts_in_zip(files)
        listing = project_listing(files)
        if kind == "epub" or epub_container_in_zip(files) is not None:
            book, data = read_project(find_epub(files), files, split_level)
            own_names = set()  # its links name its files by their paths, as a project's do
            kind = "project"
        # A Quarto or bookdown project is one even with a single chapter: its settings name the book.
        elif len(candidates) > 1 or (listing is not None and listing.endswith(SETTINGS_PROJECT_FILES)):
            project = find_project(files)
            book, data = read_project(project, files, split_level)
            # Its links name its files by their paths (links.py), never by a base name alone: a link to
            # another folder's README.md is not one to the first chapter.
            own_names = set()
            kind = "project"
        else:
            name, kind = _manuscript_in(candidates)
            data = files[name]
            base_dir = posixpath.dirname(name)
            base_name = name
            own_names = {name, posixpath.basename(name)}
    if kind == "project":
        pass  # read above, file by file
    elif kind == "markdown":
        pandoc = is_pandoc_markdown(base_name or file_name)
        book = read_markdown(_decode(data), split_level, pandoc=pandoc)
        if pandoc:
            label_cross_references([chapter.body for chapter in book.chapters])
    elif kind == "text":
        book = read_text(_decode(data), split_level)
    elif kind == "html":
        book = read_html(_decode(data), split_level)
    elif kind == "docx":
        book, docx_images = read_docx(data, split_level)
        files = ChainMap(docx_images, files)  # type: ignore[arg-type]  # read-only use; not read whole
    else:
        raise ManuscriptError(f"Quire cannot read '{kind}' manuscripts.")

    meta = book.metadata
    _merge_empty_opening(book.chapters)
    # Each candidate is cleaned before it is chosen: one made only of controls names nothing.
    meta.title = (
        clean_text(title)
        or clean_text(meta.title)
        or (clean_text(_opening_line(book.chapters[0])) if book.chapters else "")
        or clean_text(title_from_file_name(file_name))
        or "Untitled"
    )
    meta.subtitle = clean_text(meta.subtitle)
    if author:
        meta.authors = [a.strip() for a in author.split(";") if a.strip()] or [author]
    meta.authors = [name for name in map(clean_text, meta.authors) if name]
    meta.language = language or meta.language or "en"
    if not meta.identifier:
        meta.identifier = f"urn:uuid:{uuid.uuid5(ISBN_NAMESPACE, hashlib.sha256(data).hexdigest())}"
    if not book.chapters:
        raise ManuscriptError("The manuscript has no text. Check that you uploaded the right file.")
    check_chapters(len(book.chapters))
    for chapter in book.chapters:
        chapter.title = clean_text(chapter.title) or meta.title
    book.own_names = frozenset(own_names)
    drawings = lift_inline_svgs(book, base_dir)
    if drawings:
        files = ChainMap(drawings, files)  # type: ignore[arg-type]  # read-only use, as for Word's images
    check_book_pixels(attach_images(book, files, base_dir))
    return book


def _merge_empty_opening(chapters: list[ChapterSource]) -> None:
    """Text before the first heading that shows nothing (a Word bookmark, an empty anchor) is not a
    chapter: it joins the next one, so the ids in it still lead somewhere."""
    if len(chapters) < 2 or chapters[0].title or chapters[0].format != "html" or _shows_anything(chapters[0].body):
        return
    opening, following = chapters.pop(0), chapters[0]
    following.body = opening.body + following.body
    following.footnotes = opening.footnotes + following.footnotes
    for number, chapter in enumerate(chapters, start=1):
        chapter.number = number


def _shows_anything(html: str) -> bool:
    root = _fragment(html)
    return bool(root.text_content().strip()) or any(True for _ in root.iter("img", "table", "hr", "pre"))


def _opening_line(chapter: ChapterSource) -> str:
    """The chapter's title, or the first line of its text: what a reader takes for the book's title
    when nothing names it."""
    if chapter.title:
        return chapter.title
    if chapter.format == "tokens":
        return next((title_from_first_line(inline_text(t)) for t in chapter.body if t.type == "inline"), "")
    root = _fragment(chapter.body)
    for line_break in root.iter("br"):
        line_break.tail = "\n" + (line_break.tail or "")
    for block in root.iter(*_BLOCKS_WITH_TEXT):
        line = title_from_first_line(block.text_content())
        if line:
            return line
    return title_from_first_line(root.text_content())


_BLOCKS_WITH_TEXT = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "th", "td", "pre", "blockquote")


def _fragment(html: str) -> Any:
    from lxml import html as lxml_html

    return lxml_html.fragment_fromstring(html or "<p></p>", create_parent="div", parser=html_parser())


def _decode(data: bytes) -> str:
    text = decode_text(data)
    if text is None:
        raise ManuscriptError("The manuscript is not UTF-8 text. Save it as UTF-8 and upload it again.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _manuscript_in(candidates: list[str]) -> tuple[str, str]:
    """The zip's one manuscript (several are a book project, read by readers/project.py)."""
    if len(candidates) != 1:
        raise ManuscriptError(
            "The zip archive holds no manuscript (.md, .txt, .html or .docx, or the .qmd or .Rmd chapters of a "
            "Quarto or bookdown book). Add it next to its images."
        )
    name = candidates[0]
    return name, kind_in_zip(name)
