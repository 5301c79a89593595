"""Readers: each manuscript format becomes one ParsedBook (metadata, chapter sources, images).

    markdown.py, front_matter.py, text.py, html.py, docx.py   one module per format
    images.py                                                  the images the text references

This is the parse step. It splits the book into chapters but renders nothing: chapters are
rendered (and sanitised) by the render step, in batches. Every image the text references must be
in the upload; the parse step checks that, so a missing image fails the job at once, naming it.
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid

from shared.book.archive import read_archive
from shared.book.errors import ManuscriptError
from shared.book.images import declared_size
from shared.book.limits import check_book_pixels, check_chapters
from shared.book.model import ParsedBook
from shared.book.readers.docx import read_docx
from shared.book.readers.html import read_html
from shared.book.readers.images import attach_images
from shared.book.readers.markdown import read_markdown
from shared.book.readers.text import read_text
from shared.formats import decode_text, kind_in_zip, manuscripts_in_zip

ISBN_NAMESPACE = uuid.UUID("6f1d3c4e-7d47-4f2a-9a57-0c7bb3c0a001")  # Quire's namespace for derived ids


def parse_manuscript(
    data: bytes,
    kind: str,
    *,
    title: str = "",
    author: str = "",
    language: str = "",
    split_level: int = 1,
    file_name: str = "",
) -> ParsedBook:
    """The parse step: manuscript bytes of a known kind → ParsedBook. `file_name`: the name the
    manuscript was uploaded as, which its own links may use."""
    if not 1 <= split_level <= 3:
        raise ValueError("split_level must be 1, 2 or 3")
    files: dict[str, bytes] = {}
    base_dir = ""
    own_names = {posixpath.basename(file_name.replace("\\", "/"))} - {""}
    if kind == "zip":
        files = read_archive(data, "zip archive")
        name, kind = _manuscript_in(files)
        data = files[name]
        base_dir = posixpath.dirname(name)
        own_names = {name, posixpath.basename(name)}
    if kind == "markdown":
        book = read_markdown(_decode(data), split_level)
    elif kind == "text":
        book = read_text(_decode(data))
    elif kind == "html":
        book = read_html(_decode(data), split_level)
    elif kind == "docx":
        book, docx_images = read_docx(data, split_level)
        files.update(docx_images)
    else:
        raise ManuscriptError(f"Quire cannot read '{kind}' manuscripts.")

    meta = book.metadata
    meta.title = title or meta.title or (book.chapters[0].title if book.chapters else "") or "Untitled"
    if author:
        meta.authors = [a.strip() for a in author.split(";") if a.strip()] or [author]
    meta.language = language or meta.language or "en"
    if not meta.identifier:
        meta.identifier = f"urn:uuid:{uuid.uuid5(ISBN_NAMESPACE, hashlib.sha256(data).hexdigest())}"
    if not book.chapters:
        raise ManuscriptError("The manuscript has no text. Check that you uploaded the right file.")
    check_chapters(len(book.chapters))
    for chapter in book.chapters:
        chapter.title = chapter.title or meta.title
    book.own_names = frozenset(own_names)
    attach_images(book, files, base_dir)
    check_book_pixels({key: declared_size(data) for key, data in book.image_sources.items()})
    return book


def _decode(data: bytes) -> str:
    text = decode_text(data)
    if text is None:
        raise ManuscriptError("The manuscript is not UTF-8 text. Save it as UTF-8 and upload it again.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _manuscript_in(files: dict[str, bytes]) -> tuple[str, str]:
    candidates = manuscripts_in_zip(files)
    if len(candidates) != 1:
        found = ", ".join(sorted(candidates)[:5]) or "none"
        raise ManuscriptError(
            f"The zip archive must hold exactly one manuscript (.md, .txt, .html or .docx); found {found}."
        )
    name = candidates[0]
    return name, kind_in_zip(name)
