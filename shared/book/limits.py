"""Cheap refusals: what makes the parsers super-linear, measured before parsing, with a cap each.

Every conversion step also runs within a CPU and memory budget (shared/budget/), which stops
anything these caps miss; the caps exist so that the common pathological shapes fail in
milliseconds with a reason that names what to change, instead of at the budget. Each cap sits far
above what a real book has, and far below what was measured to hurt (issue #13's corpus).
"""

from __future__ import annotations

import re

from shared.book.errors import ManuscriptError

# The Markdown parser stops at 20 levels of nesting (a block quote is one level, a list two: the
# list and its item) and silently drops what lies deeper; 100,000 levels held a worker for minutes.
MAX_NESTING = 19
# A 2 MB table of 400,000 cells took 1 GB and 8 s to parse; a long book's tables hold a few thousand.
MAX_TABLE_CELLS = 50_000
# 60,000 headings made 60,000 chapters and a 25 MB EPUB; a reference book has a few thousand.
MAX_HEADINGS = 10_000
# Each chapter is a file in the EPUB and in the web-app book, and an entry in the contents.
MAX_CHAPTERS = 2_000
# Footnote references and definitions together; 100,000 references took 600 MB to render.
MAX_FOOTNOTE_MARKS = 20_000
# A 1 MB run of `[` cost 9 s of CPU (the link parser is quadratic in open brackets); real text
# never has a run of a thousand delimiters.
MAX_DELIMITER_RUN = 1_000
# Reading systems lay out a whole chapter file at once; above about 300 KB of XHTML they page
# slowly on phones (the figure publishers' guidelines give).
LONG_CHAPTER_BYTES = 300_000
DEEPEST_SPLIT_LEVEL = 6  # chapters may start at any heading HTML has, h1 to h6
# A Word document's XML parts, decompressed. Word writes about 5 bytes of XML per byte of text, so
# this is about 3 MB of text, several long novels; mammoth needs some 40 times the XML in memory.
MAX_DOCX_PART_BYTES = 16 * 1024 * 1024
# All of a book's images together, decoded: 1,000 megapixels is 3 GB of RGB, far more than the
# step's memory budget could hold at once, and about 40 full-size camera photos.
MAX_BOOK_PIXELS = 1_000_000_000

_NESTED_PREFIX = re.compile(r"^(?:[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))+", re.M)
_LIST_MARKER = re.compile(r"[-+*]|\d{1,9}[.)]")
_HEADING_LINE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)", re.M)
_DELIMITERS = "*_[]<`~"


def check_markdown(text: str) -> None:
    """Refuse Markdown whose shape would make the parser slow or huge. Linear in the text."""
    deepest = max(
        (prefix.count(">") + 2 * len(_LIST_MARKER.findall(prefix)) for prefix in _NESTED_PREFIX.findall(text)),
        default=0,
    )
    if deepest > MAX_NESTING:
        raise ManuscriptError(
            f"The manuscript nests block quotes and lists {deepest:,} levels deep (a list counts twice); "
            f"at most {MAX_NESTING} can be converted, and deeper text would be lost. Flatten the nesting."
        )
    cells = text.count("|")
    if cells > MAX_TABLE_CELLS:
        raise ManuscriptError(
            f"The manuscript's tables are too large to convert ({cells:,} cells; at most {MAX_TABLE_CELLS:,}). "
            "Split very large tables, or attach them as images or a separate document."
        )
    headings = len(_HEADING_LINE.findall(text))
    if headings > MAX_HEADINGS:
        raise ManuscriptError(
            f"The manuscript has {headings:,} headings; a book can have at most {MAX_HEADINGS:,}. "
            "Use headings for chapters and sections only, not for every paragraph."
        )
    marks = text.count("[^")
    if marks > MAX_FOOTNOTE_MARKS:
        raise ManuscriptError(
            f"The manuscript has {marks:,} footnote references and definitions; at most {MAX_FOOTNOTE_MARKS:,} "
            "can be converted. Split it into several books."
        )
    longest = _longest_delimiter_run(text)
    if longest > MAX_DELIMITER_RUN:
        raise ManuscriptError(
            f"The manuscript contains a run of {longest:,} Markdown markup characters (such as * _ [ or `) in a row, "
            f"more than the {MAX_DELIMITER_RUN:,} Quire accepts. Remove it, or put it in a code block."
        )


def _longest_delimiter_run(text: str) -> int:
    """The longest run over the cap, or 0: a substring search per character (C speed, 5 MB in a few
    milliseconds), then the run measured where one was found."""
    longest = 0
    for character in _DELIMITERS:
        found = text.find(character * (MAX_DELIMITER_RUN + 1))
        if found >= 0:
            run = re.compile(re.escape(character) + "+").match(text, found)
            longest = max(longest, len(run.group()) if run else 0)
    return longest


def check_chapters(count: int) -> None:
    if count > MAX_CHAPTERS:
        raise ManuscriptError(
            f"The manuscript would make {count:,} chapters; a book can have at most {MAX_CHAPTERS:,}. "
            "Start chapters at a higher heading level (--split-level), or split it into several books."
        )


def check_docx_part(name: str, size: int) -> None:
    if size > MAX_DOCX_PART_BYTES:
        raise ManuscriptError(
            f"The Word document is too large to convert: its part '{name}' holds {size // (1024 * 1024)} MB of XML "
            f"(at most {MAX_DOCX_PART_BYTES // (1024 * 1024)} MB). Split it into several books."
        )


def check_book_pixels(sizes: dict[str, tuple[int, int]]) -> None:
    """`sizes`: each image's (width, height), as its header declares."""
    total = sum(width * height for width, height in sizes.values())
    if total > MAX_BOOK_PIXELS:
        raise ManuscriptError(
            f"The book's images together are too large to process ({total // 1_000_000:,} megapixels; at most "
            f"{MAX_BOOK_PIXELS // 1_000_000:,}). Export the images at a normal size (a phone screen needs "
            "at most 1600 pixels on the long edge)."
        )


def long_chapter_warnings(title: str, size: int, split_level: int) -> list[str]:
    """A warning for a chapter of `size` bytes of XHTML that pages slowly, advising a split level
    that exists (none past h6)."""
    if size <= LONG_CHAPTER_BYTES:
        return []
    advice = "Give it headings"
    if split_level < DEEPEST_SPLIT_LEVEL:
        deeper = split_level + 1
        advice += (
            f", or start chapters at a deeper heading level, h{deeper} (upload with split_level={deeper}; "
            f"on the command line, --split-level {deeper})"
        )
    return [
        f"The chapter '{title}' is {size // 1000} KB; reading systems turn its pages slowly "
        f"above {LONG_CHAPTER_BYTES // 1000} KB. {advice}."
    ]
