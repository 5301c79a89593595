"""Cheap refusals (shared/book/limits.py): each cap refuses just above it and accepts at it."""

from __future__ import annotations

import pytest

from shared.book import limits
from shared.book.errors import ManuscriptError
from shared.book.readers.markdown import markdown_parser


def refused(text: str) -> bool:
    try:
        limits.check_markdown(text)
    except ManuscriptError:
        return True
    return False


@pytest.mark.parametrize(
    ("at_cap", "over_cap"),
    [
        ("|" * limits.MAX_TABLE_CELLS, "|" * (limits.MAX_TABLE_CELLS + 1)),
        ("# H\n" * limits.MAX_HEADINGS, "# H\n" * (limits.MAX_HEADINGS + 1)),
        ("[^1]" * limits.MAX_FOOTNOTE_MARKS, "[^1]" * (limits.MAX_FOOTNOTE_MARKS + 1)),
        ("*" * limits.MAX_DELIMITER_RUN, "*" * (limits.MAX_DELIMITER_RUN + 1)),
        ("[" * limits.MAX_DELIMITER_RUN, "[" * (limits.MAX_DELIMITER_RUN + 1)),
        (">" * limits.MAX_NESTING + " x", ">" * (limits.MAX_NESTING + 1) + " x"),
    ],
)
def test_each_markdown_cap(at_cap: str, over_cap: str) -> None:
    assert not refused(at_cap)
    assert refused(over_cap)


def test_the_nesting_cap_refuses_exactly_what_the_parser_would_drop() -> None:
    md = markdown_parser()
    for quotes in range(0, 22, 3):
        for lists in range(0, 12):
            text = "> " * quotes + "- " * lists + "deep text"
            assert refused(text) == ("deep text" not in md.render(text)), (quotes, lists)


def test_ordinary_markdown_passes() -> None:
    text = (
        "# Title\n\n> A quote\n> > nested\n\n- a\n  - b\n    1. c\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "Some *emphasis*, __strong__, `code`, a note[^1] and ---- a rule:\n\n______\n\n[^1]: The note.\n"
    )
    limits.check_markdown(text * 200)


def test_chapters_docx_parts_and_pixels() -> None:
    limits.check_chapters(limits.MAX_CHAPTERS)
    with pytest.raises(ManuscriptError, match="chapters"):
        limits.check_chapters(limits.MAX_CHAPTERS + 1)
    limits.check_docx_part("word/document.xml", limits.MAX_DOCX_PART_BYTES)
    with pytest.raises(ManuscriptError, match=r"word/document\.xml"):
        limits.check_docx_part("word/document.xml", limits.MAX_DOCX_PART_BYTES + 1)
    limits.check_book_pixels({"a": (40_000, 25_000)})  # exactly 1,000 megapixels
    with pytest.raises(ManuscriptError, match="1,001 megapixels"):
        limits.check_book_pixels({"a": (40_000, 25_000), "b": (1000, 1000)})
