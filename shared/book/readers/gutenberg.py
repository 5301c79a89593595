"""Project Gutenberg's frame around a plain-text book. Pure.

A Gutenberg file opens with a header (Title:, Author:, Language:, Release Date: lines and a few
words on the licence), then `*** START OF THE PROJECT GUTENBERG EBOOK … ***`; the book follows, up
to `*** END OF THE PROJECT GUTENBERG EBOOK … ***`, and the full licence after that. The header
gives the book's metadata, the text between the markers is the book, and the licence is kept for
the back of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.book.model import Metadata

LICENCE_TITLE = "The Project Gutenberg License"

_MARKER = r"^\*{3}\s*{which} OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK\b[^\n]*$"
_START = re.compile(_MARKER.replace("{which}", "START"), re.IGNORECASE | re.MULTILINE)
_END = re.compile(_MARKER.replace("{which}", "END"), re.IGNORECASE | re.MULTILINE)
_FIELD = re.compile(r"^(title|author|language|release date)\s*:\s*(.*)$", re.IGNORECASE)
# Older files close the book with this line just before the END marker.
_CLOSING_LINE = re.compile(r"\n\s*End of (?:the )?Project Gutenberg\b[^\n]*\s*$", re.IGNORECASE)
_MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip
_LANGUAGES = {
    "arabic": "ar", "catalan": "ca", "chinese": "zh", "czech": "cs", "danish": "da", "dutch": "nl",
    "english": "en", "esperanto": "eo", "finnish": "fi", "french": "fr", "german": "de", "greek": "el",
    "hebrew": "he", "hungarian": "hu", "italian": "it", "japanese": "ja", "latin": "la",
    "norwegian": "no", "polish": "pl", "portuguese": "pt", "russian": "ru", "spanish": "es",
    "swedish": "sv", "tagalog": "tl", "welsh": "cy",
}  # fmt: skip


@dataclass
class GutenbergText:
    metadata: Metadata
    book: str  # the text between the START and END markers
    licence: str  # what follows the END marker


def split_gutenberg(text: str) -> GutenbergText | None:
    """The book, its metadata and its licence, if `text` is a Project Gutenberg file; else None."""
    start = _START.search(text)
    if start is None:
        return None
    end = _END.search(text, start.end())
    book = text[start.end() : end.start() if end else len(text)]
    fields = _header_fields(text[: start.start()])
    metadata = Metadata(
        title=fields.get("title", ""),
        authors=[fields["author"]] if fields.get("author") else [],
        date=_iso_date(fields.get("release date", "")),
    )
    language = _LANGUAGES.get(re.split(r"[,;/ ]", fields.get("language", "").strip().lower())[0], "")
    if language:
        metadata.language = language
    return GutenbergText(metadata, _CLOSING_LINE.sub("\n", book), text[end.end() :] if end else "")


def _header_fields(header: str) -> dict[str, str]:
    """Title, Author, Language and Release Date, lower-cased names to values; a value may go on
    over indented lines after its own."""
    fields: dict[str, str] = {}
    name = ""
    for line in header.splitlines():
        found = _FIELD.match(line.strip())
        if found:
            name = found.group(1).lower()
            fields.setdefault(name, " ".join(found.group(2).split()))
        elif name and line.startswith((" ", "\t")) and line.strip() and ":" not in line:
            fields[name] = f"{fields[name]} {' '.join(line.split())}".strip()
        else:
            name = ""
    return fields


def _iso_date(release: str) -> str:
    """'August 26, 2008 [EBook #1342]' → '2008-08-26'; a month and year, or a year alone, as far as
    they go; '' when there is no year."""
    release = release.split("[")[0]
    year = re.search(r"\b(1[5-9]\d\d|2\d\d\d)\b", release)
    if year is None:
        return ""
    month = next((n for n, name in enumerate(_MONTHS, 1) if re.search(rf"\b{name[:3]}", release, re.I)), 0)
    day = re.search(r"\b([0-3]?\d)(?:st|nd|rd|th)?\b(?!\d)", release[: year.start()])
    if not month:
        return year.group(1)
    if day and 1 <= int(day.group(1)) <= 31:
        return f"{year.group(1)}-{month:02d}-{int(day.group(1)):02d}"
    return f"{year.group(1)}-{month:02d}"
