"""Book projects: a zip holding a whole book of many files, joined into one ParsedBook. Pure.

Which files, in which order:

    SUMMARY.md (mdBook, GitBook)   its links, in order; `# Part` headings become part pages;
                                   prefix and suffix chapters (links outside the list) in place;
                                   draft chapters `[Title]()` left out with a warning
    Book.txt (Leanpub)             one file name a line
    _quarto.yml, _bookdown.yml     Quarto's and bookdown's chapter lists (pandoc_projects.py); the
                                   _quarto.yml of a website or another project that is no book
                                   orders nothing
    none of these                  every manuscript file, in natural file-name order, with a
                                   warning that says how to set the order
    an EPUB's spine                its XHTML files in reading order (readers/epub.py)

Each file is read by its format's reader and starts a chapter (its first heading is the chapter's
title, else the link text, else its file name). Its images and links are read relative to its own
folder: image references become archive paths here; links are settled by the render step
(links.py), which knows each chapter's file. mdBook's `book.toml` gives the title, authors,
language and description. Quarto and bookdown chapters (.qmd, .Rmd, and .md in their projects)
are read with the syntax those tools add (pandoc_markdown.py).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tomllib
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.book.archive import DEFAULT_LIMITS, normalise_reference
from shared.book.errors import ManuscriptError
from shared.book.limits import check_markdown
from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.book.readers.html import read_html
from shared.book.readers.images import links_to_image
from shared.book.readers.markdown import markdown_parser, read_markdown
from shared.book.readers.outline import inline_text, title_from_file_name
from shared.book.readers.pandoc_markdown import PART_META, label_cross_references, titled
from shared.book.readers.pandoc_projects import (
    BOOKDOWN_ADVICE,
    QUARTO_ADVICE,
    bookdown_project,
    is_quarto_book,
    quarto_project,
)
from shared.book.readers.project_model import Entry, Project, add_file, project_text
from shared.book.readers.text import read_text
from shared.formats import (
    KIND_IN_ZIP,
    is_pandoc_markdown,
    kind_in_zip,
    manuscripts_in_zip,
    natural_key,
    project_file_in_zip,
)

# All of a book's files together hold no more text than one manuscript file may.
MAX_PROJECT_TEXT_BYTES = DEFAULT_LIMITS.max_entry_bytes
ORDER_ADVICE = (
    "To set the order, add a SUMMARY.md to the zip that lists them, one a line: '- [Chapter title](file.md)'."
)
# What to write in each project file, by its name, when it lists no file the zip holds.
LISTING_ADVICE = {
    "SUMMARY.md": "List each chapter in SUMMARY.md as '- [Chapter title](file.md)', its path relative to SUMMARY.md.",
    "Book.txt": "List each chapter's file name in Book.txt, one a line, relative to Book.txt's folder.",
    "_quarto.yml": QUARTO_ADVICE,
    "_bookdown.yml": BOOKDOWN_ADVICE,
}


def project_listing(files: Mapping[str, bytes]) -> str | None:
    """The zip entry that orders the book's files, if any: a project file, unless it is the
    _quarto.yml of a Quarto project that is no book (a website, a manuscript)."""
    listing = project_file_in_zip(files)
    if listing is not None and posixpath.basename(listing) == "_quarto.yml" and not is_quarto_book(listing, files):
        return None
    return listing


def find_project(files: Mapping[str, bytes]) -> Project:
    """The project a zip of several manuscripts holds, its files in order."""
    names = list(files)
    listing = project_listing(files)
    if listing is not None and posixpath.basename(listing) == "SUMMARY.md":
        project = _summary(listing, files)
        # book.toml sits beside SUMMARY.md, or one folder up (mdBook's `src`, or another it names).
        folder = posixpath.dirname(listing)
        beside, above = posixpath.join(folder, "book.toml"), posixpath.join(posixpath.dirname(folder), "book.toml")
        book_toml = beside if beside in files or not folder else above
        if book_toml in files:
            project.metadata = _book_toml(files[book_toml], project.warnings)
    elif listing is not None and posixpath.basename(listing) in ("_quarto.yml", "_bookdown.yml"):
        project = (quarto_project if listing.endswith("_quarto.yml") else bookdown_project)(listing, files)
    elif listing is not None:
        project = _book_txt(listing, files)
    else:
        candidates = sorted(manuscripts_in_zip(names), key=natural_key)
        if any(kind_in_zip(name) == "docx" for name in candidates):
            raise ManuscriptError(
                f"The zip archive holds {len(candidates)} manuscripts ({', '.join(candidates[:5])}) and one is a "
                "Word document; Quire joins several files only when they are Markdown, text or HTML. "
                "Put the Word document in a zip of its own."
            )
        project = Project([Entry(name) for name in candidates])
        project.warnings.append(
            f"The zip holds {len(candidates)} manuscript files and nothing that orders them, so they were joined "
            f"in file-name order ({', '.join(candidates[:5])}{', …' if len(candidates) > 5 else ''}). "
            # A Quarto project that is no book (yet) becomes one with a chapter list.
            + (QUARTO_ADVICE if project_file_in_zip(names) else ORDER_ADVICE)
        )
    if not any(entry.path for entry in project.entries):
        advice = LISTING_ADVICE.get(posixpath.basename(listing or ""), ORDER_ADVICE)
        raise ManuscriptError(f"{listing or 'The book project'} lists no chapter file that is in the zip. {advice}")
    return project


_LINK_LINE = re.compile(r"^(?P<indent>\s*)(?P<bullet>[-*+]\s+)?\[(?P<title>.*)\]\((?P<target>[^)]*)\)\s*$")
_HEADING_LINE = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


def _summary(listing: str, files: Mapping[str, bytes]) -> Project:
    """mdBook's SUMMARY.md: an optional title, prefix chapters, then parts (`# Part`) of nested
    numbered chapters, then suffix chapters, all in reading order."""
    project = Project([])
    base = posixpath.dirname(listing)
    seen_anything = in_part = False
    indents: list[int] = []  # the indentation of each enclosing list level
    for line in project_text(files[listing], listing).splitlines():
        heading = _HEADING_LINE.match(line)
        if heading:
            if seen_anything:  # the first heading, before any chapter, is the summary's own title
                project.entries.append(Entry("", _inline_text(heading.group("title")), part=True))
                in_part = True
            seen_anything = True
            indents = []
            continue
        link = _LINK_LINE.match(line)
        if not link:
            continue
        seen_anything = True
        depth = 0
        if link.group("bullet"):  # a numbered chapter; prefix and suffix chapters are not in a list
            indent = len(link.group("indent").expandtabs(4))
            while indents and indents[-1] > indent:
                indents.pop()
            if not indents or indents[-1] < indent:
                indents.append(indent)
            depth = len(indents) - 1 + in_part
        else:
            indents = []
        title, target = _inline_text(link.group("title")), link.group("target").strip().strip("<>")
        if not target:
            project.warnings.append(f"The chapter '{title}' in {listing} is a draft (it has no file); left out.")
            continue
        add_file(project, base, unquote(urlsplit(target).path), title, listing, files, depth)
    return project


def _inline_text(markdown: str) -> str:
    """A link text or part title as plain text (`code` and *emphasis* without their marks)."""
    tokens = markdown_parser().parseInline(markdown.strip())
    return inline_text(tokens[0]) if tokens else markdown.strip()


def _book_txt(listing: str, files: Mapping[str, bytes]) -> Project:
    """Leanpub's Book.txt: one file name a line, relative to its own folder."""
    project = Project([], leanpub=True)
    base = posixpath.dirname(listing)
    for line in project_text(files[listing], listing).splitlines():
        name = line.strip()
        if name and not name.startswith("#"):
            add_file(project, base, name, "", listing, files)
    return project


def _book_toml(data: bytes, warnings: list[str]) -> Metadata:
    metadata = Metadata()
    try:
        book = tomllib.loads(project_text(data, "book.toml")).get("book", {})
    except tomllib.TOMLDecodeError as error:
        warnings.append(f"book.toml cannot be read ({error}); the book's title and authors come from elsewhere.")
        return metadata
    if not isinstance(book, dict):
        return metadata
    metadata.title = str(book.get("title") or "")
    authors = book.get("authors") or []
    metadata.authors = [str(a) for a in authors] if isinstance(authors, list) else [str(authors)]
    metadata.language = str(book.get("language") or "")
    metadata.description = str(book.get("description") or "")
    return metadata


def read_project(project: Project, files: Mapping[str, bytes], split_level: int) -> tuple[ParsedBook, bytes]:
    """The project's files joined into one book, in order; and a digest of its text (for the id)."""
    chapters: list[ChapterSource] = []
    digest = hashlib.sha256()
    metadata = project.metadata
    warnings = list(project.warnings)
    texts: dict[str, tuple[str, str]] = {}  # path → (kind, text)
    total = 0
    under_part = 0  # 1 after a bookdown `# (PART)` heading: the chapters that follow are in it
    for entry in project.entries:
        if not entry.path:  # a part's title alone
            continue
        data = files[entry.path]
        total += len(data)
        if total > MAX_PROJECT_TEXT_BYTES:
            raise ManuscriptError(
                f"The book's files hold more than {MAX_PROJECT_TEXT_BYTES // 2**20} MiB of text, the most one "
                "manuscript may hold. Split the book in two."
            )
        digest.update(entry.path.encode() + b"\0" + data + b"\0")
        extension = posixpath.splitext(entry.path.lower())[1]
        # Leanpub's chapters are Markdown (Markua) whatever their extension.
        kind = entry.kind or (
            "markdown" if project.leanpub else kind_in_zip(entry.path) if extension in KIND_IN_ZIP else "markdown"
        )
        texts[entry.path] = (kind, project_text(data, entry.path))
    # The book as a whole is held to the limits one Markdown manuscript is held to (tables, headings).
    check_markdown("\n\n".join(text for kind, text in texts.values() if kind == "markdown"))
    for entry in project.entries:
        if not entry.path:
            body = f"<h{split_level}>{escape(entry.title)}</h{split_level}>"
            chapters.append(ChapterSource(0, entry.title, "html", body, depth=entry.depth, part=True))
            continue
        kind, text = texts[entry.path]
        if kind == "markdown":
            pandoc = project.pandoc or is_pandoc_markdown(entry.path)
            part = read_markdown(text, split_level, deepen=False, pandoc=pandoc)
            if (
                pandoc
                and part.chapters
                and not part.chapters[0].title
                and part.metadata.title
                and (chapters or metadata.title)
            ):
                titled(part.chapters[0], part.metadata.title, split_level)  # Quarto shows `title:` as a heading
        elif kind == "text":
            part = read_text(text, split_level)
        elif kind == "html":
            part = read_html(text, split_level, deepen=False)
        else:
            raise ManuscriptError(f"'{entry.path}' is a Word document; a book project's chapters are Markdown.")
        if not metadata.title and part.metadata.title and not chapters:
            metadata = part.metadata  # the first file's front matter, when the project names nothing
            if project.pandoc and "`" in metadata.date:
                metadata.date = ""  # `r Sys.Date()`: code, which Quire does not run
        folder = posixpath.dirname(entry.path)
        for number, chapter in enumerate(part.chapters):
            if number == 0 and not chapter.title:
                chapter.title = entry.title or title_from_file_name(entry.path)
            chapter.source_file = entry.path
            if chapter.format == "tokens" and chapter.body and chapter.body[0].meta.get(PART_META):
                under_part = 1
                chapter.depth, chapter.part = entry.depth, True
            elif number == 0 and entry.part:  # the file is a part's page (Quarto's `- part: part.qmd`)
                chapter.depth, chapter.part = entry.depth, True
            else:
                chapter.depth = entry.depth + under_part
            _rebase_images(chapter, folder)
            chapters.append(chapter)
        if not part.chapters:
            warnings.append(f"'{entry.path}' has no text; left out.")
    for number, chapter in enumerate(chapters, start=1):
        chapter.number = number
    label_cross_references([chapter.body for chapter in chapters if chapter.format == "tokens"])
    if not metadata.title and project.fallback_title:
        metadata.title = project.fallback_title
    book = ParsedBook(metadata=metadata, chapters=chapters, image_refs={}, split_level=split_level, warnings=warnings)
    return book, digest.digest()


# An image's src, or a link's href (a link to a full-size picture is rebased as the picture is).
_FILE_ATTRIBUTE = re.compile(r"""(<(img|a)\b[^<>]*?\b(src|href)\s*=\s*)(["'])([^"'<>]*)\4""", re.I)


def _rebased(reference: str, folder: str) -> str:
    """An image reference written in a file of `folder`, as its path from the zip's root."""
    if not folder or not reference or re.match(r"^[a-z][a-z0-9+.-]*:", reference, re.I) or reference.startswith("#"):
        return reference
    return normalise_reference(reference, folder) or reference


def _rebase_html(html: str, folder: str) -> str:
    def rebased(m: re.Match[str]) -> str:
        tag, attribute, value = m.group(2).lower(), m.group(3).lower(), m.group(5)
        if (tag, attribute) == ("img", "src") or ((tag, attribute) == ("a", "href") and links_to_image(value)):
            value = _rebased(value, folder)
        return m.group(1) + m.group(4) + value + m.group(4)

    return _FILE_ATTRIBUTE.sub(rebased, html)


def _rebase_images(chapter: ChapterSource, folder: str) -> None:
    if not folder:
        return
    if chapter.format != "tokens":
        chapter.body = _rebase_html(chapter.body, folder)
        for note in chapter.footnotes:
            note["body"] = _rebase_html(note["body"], folder)
        return
    for tokens in [chapter.body] + [note["body"] for note in chapter.footnotes]:
        for token in tokens:
            _rebase_token(token, folder)


def _rebase_token(token: Any, folder: str) -> None:
    if token.type == "html_block":
        token.content = _rebase_html(token.content, folder)
    for child in token.children or ():
        if child.type == "image":
            child.attrs["src"] = _rebased(str(child.attrs.get("src", "")), folder)
        elif child.type == "link_open" and links_to_image(href := str(child.attrs.get("href", ""))):
            child.attrs["href"] = _rebased(href, folder)
        elif child.type == "html_inline":
            child.content = _rebase_html(child.content, folder)
