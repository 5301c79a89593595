"""YAML front matter: the book's metadata as the author wrote it at the top of a Markdown file."""

from __future__ import annotations

import re

from shared.book.errors import ManuscriptError
from shared.book.model import Metadata
from shared.formats import is_language_tag

MAX_FRONT_MATTER_BYTES = 64 * 1024


def front_matter(raw: str) -> Metadata:
    import yaml

    if len(raw.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise ManuscriptError("The front matter (between the --- lines) is over 64 KiB. Shorten it.")
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        raise ManuscriptError(
            f"The front matter is not valid YAML{where}. Check the lines between the --- markers."
        ) from None
    except RecursionError:  # the YAML reader recurses once per level of nesting
        raise ManuscriptError(
            "The front matter nests lists or mappings hundreds of levels deep. "
            "Check the brackets and indentation between the --- markers."
        ) from None
    if not isinstance(data, dict):
        raise ManuscriptError("The front matter must be 'key: value' lines, such as 'title: My Book'.")
    lowered = {str(k).lower().replace("_", "-"): v for k, v in data.items()}

    def text(*keys: str) -> str:
        for key in keys:
            value = lowered.get(key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return " ".join(str(value).split())
            if value is not None and hasattr(value, "isoformat"):
                return str(value.isoformat())  # YAML dates
        return ""

    authors_raw = lowered.get("authors", lowered.get("author", lowered.get("creator", [])))
    if isinstance(authors_raw, (str, dict)):
        authors_raw = [authors_raw]
    authors = []
    for entry in authors_raw or []:
        if isinstance(entry, dict):
            entry = entry.get("name") or entry.get("text") or ""
        if isinstance(entry, str) and entry.strip():
            authors.append(" ".join(entry.split()))
    feeds_raw = lowered.get("feeds", [])
    # Only plain strings are read: a YAML alias bomb expands when a nested value is turned into text.
    feeds = [
        f.strip()
        for f in (feeds_raw if isinstance(feeds_raw, list) else [feeds_raw])
        if isinstance(f, str) and f.strip()
    ]
    identifier = text("identifier")
    isbn = re.sub(r"[^0-9Xx]", "", text("isbn"))
    if isbn:
        if len(isbn) not in (10, 13):
            raise ManuscriptError(f"The ISBN '{text('isbn')}' does not have 10 or 13 digits.")
        identifier = f"urn:isbn:{isbn.upper()}"
    language = text("language", "lang")
    if language and not is_language_tag(language):
        raise ManuscriptError(f"'{language}' is not a language tag. Use one such as 'en', 'fr' or 'pt-BR'.")
    return Metadata(
        title=text("title"),
        subtitle=text("subtitle"),
        authors=authors,
        language=language,
        date=text("date"),
        publisher=text("publisher"),
        rights=text("rights", "copyright"),
        description=text("description", "abstract"),
        identifier=identifier,
        cover_image=text("cover-image", "cover"),
        feeds=feeds,
    )
