"""Quarto and bookdown book projects: which files, in which order, and what the book is called. Pure.

    _quarto.yml (Quarto, project type book)   `book: chapters:` in order: file names, and parts
                                              (`- part: "Title"` or `- part: part.qmd`) with their
                                              own `chapters:`; `book: appendices:` as a part
                                              'Appendices'; title, subtitle, author, description
                                              from `book:`, the language from `lang:`
    _bookdown.yml (bookdown)                  `rmd_files:` (a list, or lists by output format:
                                              html first), else every .Rmd beside it in file-name
                                              order, index.Rmd first and `_` files left out as
                                              bookdown leaves them; the title, authors and language
                                              come from index.Rmd's front matter (project.py)

The chapters' text (code cells, `{#id}`, `# (PART)` headings, callouts) is read by
pandoc_markdown.py. YAML is read with yaml.safe_load only.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from shared.book.errors import ManuscriptError
from shared.book.limits import MAX_CHAPTERS
from shared.book.model import Metadata
from shared.book.readers.front_matter import MAX_FRONT_MATTER_BYTES
from shared.book.readers.outline import title_from_file_name
from shared.book.readers.project_model import Entry, Project, add_file, project_text
from shared.formats import KIND_IN_ZIP, is_language_tag, kind_in_zip

APPENDICES_TITLE = "Appendices"
NOTEBOOK_EXTENSION = ".ipynb"  # a chapter Quarto runs and Quire does not read: named, then left out
QUARTO_ADVICE = "List the book's files in _quarto.yml under 'book:' → 'chapters:', such as '- index.qmd'."
BOOKDOWN_ADVICE = (
    "List the book's files in _bookdown.yml under 'rmd_files:', such as 'rmd_files: [index.Rmd, 01-intro.Rmd]', "
    "or put its .Rmd files beside _bookdown.yml."
)


def is_quarto_book(listing: str, files: Mapping[str, bytes]) -> bool:
    """Whether a _quarto.yml makes a book (`book: chapters:`, or `project: type: book`); a website's,
    a manuscript's or a default project's lists no chapters, and its files are read as any zip's."""
    config = _yaml(files[listing], listing)
    book, settings = config.get("book"), config.get("project")
    return (isinstance(book, dict) and "chapters" in book) or (
        isinstance(settings, dict) and settings.get("type") == "book"
    )


def quarto_project(listing: str, files: Mapping[str, bytes]) -> Project:
    """A Quarto book: `book: chapters:` (and `appendices:`) in _quarto.yml."""
    config = _yaml(files[listing], listing)
    book = config.get("book")
    chapters = book.get("chapters") if isinstance(book, dict) else None
    if not isinstance(book, dict) or not isinstance(chapters, list) or not chapters:
        raise ManuscriptError(f"{listing} lists no chapters, so Quire cannot tell the book's order. {QUARTO_ADVICE}")
    project = Project([], pandoc=True)
    _quarto_items(project, chapters, 0, listing, files)
    appendices = book.get("appendices")
    if isinstance(appendices, list) and appendices:
        project.entries.append(Entry("", APPENDICES_TITLE, part=True))
        _quarto_items(project, appendices, 1, listing, files)
    language = _plain(config.get("lang"))
    project.metadata = Metadata(
        title=_plain(book.get("title")),
        subtitle=_plain(book.get("subtitle")),
        authors=_authors(book.get("author", book.get("authors"))),
        description=_plain(book.get("description")),
        language=language if is_language_tag(language) else "",
    )
    if language and not project.metadata.language:
        project.warnings.append(f"'{language}' in {listing} is not a language tag; the book's language is 'en'.")
    return project


def _quarto_items(project: Project, items: list[Any], depth: int, listing: str, files: Mapping[str, bytes]) -> None:
    base = posixpath.dirname(listing)
    for item in items:
        _check_length(project, listing)
        if isinstance(item, dict) and "part" in item and depth > 0:
            # Quarto's parts do not nest; YAML aliases could make them nest forever.
            project.warnings.append(f"A part inside a part in {listing} is not a Quarto book's shape; left out.")
        elif isinstance(item, dict) and "part" in item:
            part = _plain(item["part"])
            if _is_chapter_file(part):  # the part's page is a file of its own
                _add_chapter(project, base, part, depth, listing, files, part=True)
            else:
                project.entries.append(Entry("", part or "Part", part=True, depth=depth))
            nested = item.get("chapters")
            _quarto_items(project, nested if isinstance(nested, list) else [], depth + 1, listing, files)
        elif isinstance(item, dict) and isinstance(item.get("href"), str):
            _add_chapter(project, base, item["href"], depth, listing, files, _plain(item.get("text")))
        elif isinstance(item, str):
            _add_chapter(project, base, item, depth, listing, files)
        else:
            project.warnings.append(f"An entry of {listing}'s chapters is neither a file nor a part; left out.")


def _is_chapter_file(name: str) -> bool:
    """Whether a part's value names its page's file rather than its title."""
    return posixpath.splitext(name.lower())[1] in (*KIND_IN_ZIP, NOTEBOOK_EXTENSION)


def _add_chapter(
    project: Project,
    base: str,
    name: str,
    depth: int,
    listing: str,
    files: Mapping[str, bytes],
    title: str = "",
    *,
    part: bool = False,
) -> None:
    extension = posixpath.splitext(name.lower())[1]
    if extension not in KIND_IN_ZIP or kind_in_zip(name) not in ("markdown", "text", "html"):
        project.warnings.append(
            f"'{name}', listed in {listing}, is not Markdown (a notebook or another format Quire does not read); "
            "left out."
        )
        return
    add_file(project, base, name, title, listing, files, depth, part=part)


def bookdown_project(listing: str, files: Mapping[str, bytes]) -> Project:
    """A bookdown book: `rmd_files:` in _bookdown.yml, else its folder's .Rmd files by name."""
    config = _yaml(files[listing], listing)
    project = Project([], pandoc=True)
    base = posixpath.dirname(listing)
    listed = config.get("rmd_files")
    if isinstance(listed, dict):  # by output format: the web book's list, else the first one
        listed = listed.get("html") or next((names for names in listed.values() if isinstance(names, list)), None)
    if isinstance(listed, list):
        for name in listed:
            _check_length(project, listing)
            if isinstance(name, str):
                add_file(project, base, name, "", listing, files)
    else:
        prefix = f"{base}/" if base else ""
        names = sorted(
            name[len(prefix) :]
            for name in files
            if name.startswith(prefix)
            and "/" not in name[len(prefix) :]
            and name.lower().endswith(".rmd")
            and not name[len(prefix) :].startswith("_")
        )
        for name in sorted(names, key=lambda name: name.lower() != "index.rmd"):
            add_file(project, base, name, "", listing, files)
    book_filename = _plain(config.get("book_filename"))
    if book_filename:  # the book's file name: its title only when index.Rmd gives none
        project.fallback_title = title_from_file_name(book_filename)
    return project


def _check_length(project: Project, listing: str) -> None:
    """A list longer than any book (YAML aliases repeat a list without lengthening the file)."""
    if len(project.entries) + len(project.warnings) > MAX_CHAPTERS:
        raise ManuscriptError(
            f"{listing} lists more than {MAX_CHAPTERS:,} chapters; a book can have at most that many. "
            "Split it into several books."
        )


def _yaml(data: bytes, listing: str) -> dict[str, Any]:
    import yaml

    if len(data) > MAX_FRONT_MATTER_BYTES:
        raise ManuscriptError(f"{listing} is over {MAX_FRONT_MATTER_BYTES // 1024} KiB; a project file is far smaller.")
    try:
        config = yaml.safe_load(project_text(data, listing))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ManuscriptError(f"{listing} is not valid YAML{where}. Check its indentation and quotes.") from None
    except RecursionError:  # the YAML reader recurses once per level of nesting
        raise ManuscriptError(
            f"{listing} nests lists or mappings hundreds of levels deep; a project file needs a few. "
            "Check its brackets and indentation."
        ) from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        example = (
            "'rmd_files:' followed by the book's files"
            if listing.endswith("_bookdown.yml")
            else "'book:' followed by 'chapters:'"
        )
        raise ManuscriptError(f"{listing} must be 'key: value' lines, such as {example}.")
    return config


def _plain(value: object) -> str:
    """A YAML scalar as one line of text; '' for lists, mappings and nothing (never turned into text:
    a nested value may be an alias bomb)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return " ".join(str(value).split())
    return ""


def _authors(value: object) -> list[str]:
    """Quarto's `author:` as a string, a list of strings, or a list of `{name: …}`."""
    authors = []
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, dict):
            name = entry.get("name")
            if isinstance(name, dict):  # {given: Ada, family: Lovelace}
                name = " ".join(_plain(name.get(part)) for part in ("given", "family") if _plain(name.get(part)))
            entry = name
        if _plain(entry):
            authors.append(_plain(entry))
    return authors
