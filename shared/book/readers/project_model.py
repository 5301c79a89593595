"""A book project as plain data: its files and part titles in reading order, and what its listing
says of the book. Pure.

The readers that find a project's files (project.py for SUMMARY.md and Book.txt, pandoc_projects.py
for Quarto and bookdown, epub.py for an EPUB's spine) build a `Project`; project.py reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.book.archive import normalise_reference
from shared.book.errors import ManuscriptError
from shared.book.model import Metadata
from shared.formats import decode_text


@dataclass
class Entry:
    """One item of the project's table of contents: a file (its archive path), or a part: its title
    alone (no path), or a file that is the part's page."""

    path: str
    title: str = ""
    part: bool = False
    depth: int = 0  # in the table of contents: under a part, or nested in the SUMMARY's list
    kind: str = ""  # the file's format when its listing says so (an EPUB's media type), not its name


@dataclass
class Project:
    entries: list[Entry]
    warnings: list[str] = field(default_factory=list)
    metadata: Metadata = field(default_factory=Metadata)
    leanpub: bool = False  # a Book.txt project, whose chapters are Markdown whatever their extension
    pandoc: bool = False  # a Quarto or bookdown project: its Markdown is read with pandoc's syntax
    fallback_title: str = ""  # the book's title when no file names one (bookdown's book_filename)


def add_file(
    project: Project,
    base: str,
    target: str,
    title: str,
    listing: str,
    files: Mapping[str, bytes],
    depth: int = 0,
    *,
    part: bool = False,
) -> None:
    """The file `target`, named in `listing` (relative to its folder `base`), as the next entry;
    `part`: the file is a part's page."""
    path = normalise_reference(target, base) if target else None
    if path is None or path not in files:
        project.warnings.append(f"'{target}', listed in {listing}, is not in the zip; left out.")
    elif any(entry.path == path for entry in project.entries):
        project.warnings.append(f"'{target}' is listed twice in {listing}; the book has it once, where first listed.")
    else:
        project.entries.append(Entry(path, title, part=part, depth=depth))


def project_text(data: bytes, name: str) -> str:
    """A project's file as text, its line ends made `\\n`."""
    text = decode_text(data)
    if text is None:
        raise ManuscriptError(f"'{name}' is not UTF-8 text. Save it as UTF-8 and upload it again.")
    return text.replace("\r\n", "\n").replace("\r", "\n")
