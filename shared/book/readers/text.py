"""Plain text: headings recognised by their shape, and the line structure the author meant.

Blocks are separated by blank lines. A block is
- a heading: a line underlined with =, *, -, ~ (levels in the order the characters first appear,
  as texinfo's and reStructuredText's plain text use them), a numbered line ("2.1 Moorings"), a
  named one ("Chapter IV", "Letter 12", "XIV", "Prologue"), or a short line in capitals, but only
  in a text whose chapters are not named so: in a book of "CHAPTER I"s, a salutation or a
  signature in capitals is part of the chapter;
- preformatted (commands, ASCII tables, diagrams): indented lines that do not read as prose, or
  lines with columns of spaces or table borders;
- a quotation: indented prose;
- a list: lines that begin with bullets or numbers;
- verse (an address, a stanza): lines mostly well short of the text's usual width, kept as lines;
- a paragraph: its hard-wrapped lines joined into one.
_Underscores_ and *asterisks* around words are emphasis, within a paragraph.
A Project Gutenberg file gives its metadata; its licence becomes the last chapter (gutenberg.py).
"""

from __future__ import annotations

import itertools
import re
from html import escape
from textwrap import dedent

from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.book.readers.gutenberg import LICENCE_TITLE, split_gutenberg
from shared.book.readers.outline import split_level_for

_NAMED_HEADING = re.compile(
    r"^(?:(?:chapter|part|book|letter)\s+(?:[0-9]+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|[a-z]+teen|twenty[- a-z]*|thirty[- a-z]*)\b.*|prologue|epilogue|preface|introduction|"
    r"afterword|foreword|appendix\b.*)$",
    re.IGNORECASE,
)
_ROMAN_ALONE = re.compile(r"^(?=[IVXLCDM])M{0,3}(?:C[MD]|D?C{0,3})(?:X[CL]|L?X{0,3})(?:I[XV]|V?I{0,3})\.?$")
_CHAPTER_PATTERN = re.compile(r"^(?:chapter|part|book|letter)\s+\S", re.IGNORECASE)
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?![\s*])([^*]+?)(?<![\s*])\*(?![\w*])|(?<![\w_])_(?![\s_])([^_]+?)(?<![\s_])_(?![\w_])"
)
_UNDERLINE = re.compile(r"^([=*\-~^#+])\1{2,}\s*$")
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_BULLET = re.compile(r"^\s{0,3}([-*+•])\s+\S")
_NUMBERED_ITEM = re.compile(r"^\s{0,3}\d{1,3}[.)]\s+\S")
_TABLE_LINE = re.compile(r"^\s*[+|].*[+|]\s*$|\S {3,}\S")
_CODE_SIGNS = re.compile(r"--|[=/\\$@#*{}<>|`~^]|\w\(|[;:]$|^\s*[>%]", re.MULTILINE)
HEADING_MAX_CHARS = 72
CAPITALS = -1  # the level of a line in capitals: decided by the headings around it


def read_text(text: str, split_level: int = 1) -> ParsedBook:
    gutenberg = split_gutenberg(text)
    blocks = _blocks(gutenberg.book if gutenberg else text)
    width = _usual_width(blocks)
    underline_chars: list[str] = []
    parts: list[tuple[int, str]] = []  # (heading level, title) or (0, html)
    for block in blocks:
        heading = _heading(block, underline_chars)
        if heading is None:
            parts.append((0, _block_html(block, width)))
            continue
        level, title, rest = heading
        parts.append((level, title))
        if rest.strip():
            parts.append((0, _block_html(rest, width)))

    _place_lines_in_capitals(parts, width, any(_names_a_chapter(block.split("\n")[0]) for block in blocks))
    chapter_level = split_level_for([level for level, _ in parts if level > 0], split_level)
    chapters: list[ChapterSource] = []
    title = ""
    body: list[str] = []
    for level, content in parts:
        if level and level <= chapter_level:
            if body:
                chapters.append(ChapterSource(len(chapters) + 1, title, "html", "".join(body)))
            title, body = content, []
        if level:
            tag = f"h{min(level, 6)}"
            body.append(f"<{tag}>{escape(content)}</{tag}>")
        else:
            body.append(content)
    if body:
        chapters.append(ChapterSource(len(chapters) + 1, title, "html", "".join(body)))
    licence = _blocks(gutenberg.licence) if gutenberg else []
    if licence:  # back matter: the last chapter, never in the book's own flow
        tag = f"h{min(chapter_level, 6)}"
        html = f"<{tag}>{LICENCE_TITLE}</{tag}>" + "".join(_block_html(b, _usual_width(licence)) for b in licence)
        chapters.append(ChapterSource(len(chapters) + 1, LICENCE_TITLE, "html", html))
    metadata = gutenberg.metadata if gutenberg else Metadata()
    return ParsedBook(metadata=metadata, chapters=chapters, image_refs={}, split_level=chapter_level)


def _blocks(text: str) -> list[str]:
    """The text's blocks: what blank lines separate."""
    blocks = [block.rstrip() for block in re.split(r"\n[ \t]*\n", text.expandtabs(8)) if block.strip()]
    return [block.lstrip("\n") for block in blocks]


def _heading(block: str, underline_chars: list[str]) -> tuple[int, str, str] | None:
    """(level, title, the rest of the block) if the block begins with a heading."""
    lines = block.split("\n")
    first = " ".join(lines[0].split())
    if not first or len(first) > HEADING_MAX_CHARS or lines[0].startswith((" ", "\t")):
        return None
    underline = _UNDERLINE.match(lines[1]) if len(lines) > 1 else None
    if underline and len(lines[1].strip()) >= len(first) // 2:
        if underline.group(1) not in underline_chars:
            underline_chars.append(underline.group(1))
        return underline_chars.index(underline.group(1)) + 1, first, "\n".join(lines[2:])
    if _NAMED_HEADING.match(first) or (len(lines) == 1 and _ROMAN_ALONE.match(first)):
        return 1, first, "\n".join(lines[1:])
    if len(lines) > 1 or first[-1] in ".,;:!?":
        return None
    numbered = _NUMBERED_HEADING.match(first)
    if numbered and re.search(r"[^\W\d]{2,}", first):
        return numbered.group(1).count(".") + 1, first, ""
    letters = [c for c in first if c.isalpha()]
    if len(letters) >= 3 and all(c.isupper() for c in letters):
        return CAPITALS, first, ""
    return None


def _names_a_chapter(line: str) -> bool:
    """Whether a line is a chapter heading by a recognised pattern: "CHAPTER I", "Part 2",
    "Letter 12", a Roman numeral alone."""
    first = " ".join(line.split())
    return bool(_NAMED_HEADING.match(first) and _CHAPTER_PATTERN.match(first)) or bool(_ROMAN_ALONE.match(first))


def _place_lines_in_capitals(parts: list[tuple[int, str]], width: int, chapters_named: bool) -> None:
    """Lines in capitals are chapter headings in a text that has no other kind, else headings one
    level below the heading before them; in a text whose chapters are named ("CHAPTER I"), they
    are text (a salutation, a signature), and so is one after a line ending in a comma ("Yours
    ever," then a signature)."""
    others = any(level > 0 for level, _ in parts)
    above = 0
    for index, (level, title) in enumerate(parts):
        signed = index > 0 and parts[index - 1][0] == 0 and re.sub(r"<[^>]*>", "", parts[index - 1][1]).endswith(",")
        if level == CAPITALS and (chapters_named or signed):
            parts[index] = (0, _block_html(title, width))
        elif level == CAPITALS:
            parts[index] = (min(above + 1, 6) if others else 1, title)
        elif level > 0:
            above = level


def _block_html(block: str, width: int) -> str:
    lines = block.split("\n")
    if _is_list(lines):
        return _list_html(lines)
    if _is_preformatted(lines):
        return f"<pre>{escape(dedent(block))}</pre>"
    if all(line.startswith("  ") for line in lines):
        quoted = dedent(block).split("\n")
        indent = len(lines[0]) - len(quoted[0])
        return f"<blockquote>{_paragraph(quoted, width - indent)}</blockquote>"
    return _paragraph(lines, width)


def _is_preformatted(lines: list[str]) -> bool:
    if sum(1 for line in lines if _TABLE_LINE.search(line)) >= max(1, len(lines) // 2):
        return True
    if not all(line.startswith("  ") for line in lines):
        return False
    # Indented prose is a quotation: sentences, ending like one. Anything else indented is code.
    return bool(_CODE_SIGNS.search("\n".join(lines))) or not re.search(r"[.!?\"”’)]$", lines[-1])


def _is_list(lines: list[str]) -> bool:
    marker = _BULLET if _BULLET.match(lines[0]) else _NUMBERED_ITEM if _NUMBERED_ITEM.match(lines[0]) else None
    if marker is None or (len(lines) < 2 and marker is _NUMBERED_ITEM):
        return False
    return all(marker.match(line) or line.startswith("  ") for line in lines)


def _list_html(lines: list[str]) -> str:
    ordered = bool(_NUMBERED_ITEM.match(lines[0]))
    marker = _NUMBERED_ITEM if ordered else _BULLET
    items: list[list[str]] = []
    for line in lines:
        if marker.match(line):
            items.append([re.sub(r"^\s*(?:\d{1,3}[.)]|[-*+•])\s+", "", line)])
        else:
            items[-1].append(line.strip())
    tag = "ol" if ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{_emphasis(' '.join(' '.join(i).split()))}</li>" for i in items) + f"</{tag}>"


def _paragraph(lines: list[str], width: int) -> str:
    """A block's lines as one paragraph. Verse (most lines well short of the usual width) keeps
    every break; prose is re-flowed, keeping only a break after a line shorter than half the width
    (a closing, a signature): a hard wrap is never a line break."""
    lines = [line for line in lines if line.strip()]
    verse = _is_verse(lines, width)
    out = escape(" ".join(lines[0].split()))
    for previous, line in itertools.pairwise(lines):
        kept = verse or len(previous.strip()) < width / 2
        out += ("<br/>" if kept else " ") + escape(" ".join(line.split()))
    return f"<p>{_emphasis(out)}</p>"


def _is_verse(lines: list[str], width: int) -> bool:
    """Whether most lines (the last aside: a paragraph's last line is short anyway) end well before
    the width the text is wrapped at."""
    ended = [len(line.rstrip()) for line in lines[:-1]]
    return bool(ended) and 2 * sum(1 for length in ended if length < width * 0.7) > len(ended)


def _emphasis(html: str) -> str:
    """_Words_ and *words* in escaped text as <em>: not inside a word (snake_case), never past the
    paragraph they are in."""
    return _EMPHASIS.sub(lambda match: f"<em>{match.group(1) or match.group(2)}</em>", html)


def _usual_width(blocks: list[str]) -> int:
    """The width the text was wrapped at: nearly the longest of its lines (a few may overrun)."""
    lengths = sorted(len(line.rstrip()) for block in blocks for line in block.split("\n") if line.strip())
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, (len(lengths) * 95) // 100)]
