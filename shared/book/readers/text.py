"""Plain text: headings recognised by their shape, and the line structure the author meant.

Blocks are separated by blank lines. A block is
- a heading: a line underlined with =, *, -, ~ (levels in the order the characters first appear,
  as texinfo's and reStructuredText's plain text use them), a numbered line ("2.1 Moorings"), a
  named one ("Chapter IV", "Prologue"), or a short line in capitals;
- preformatted (commands, ASCII tables, diagrams): indented lines that do not read as prose, or
  lines with columns of spaces or table borders;
- a quotation: indented prose;
- a list: lines that begin with bullets or numbers;
- a paragraph: its lines joined, except where a line ends well before the text's usual width
  (verse, addresses), which keeps its break.
"""

from __future__ import annotations

import itertools
import re
from html import escape
from textwrap import dedent

from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.book.readers.outline import split_level_for

_NAMED_HEADING = re.compile(
    r"^(?:(?:chapter|part|book)\s+(?:[0-9]+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|[a-z]+teen|twenty[- a-z]*|thirty[- a-z]*)\b.*|prologue|epilogue|preface|introduction|"
    r"afterword|foreword|appendix\b.*)$",
    re.IGNORECASE,
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
    blocks = [block.rstrip() for block in re.split(r"\n[ \t]*\n", text.expandtabs(8)) if block.strip()]
    blocks = [block.lstrip("\n") for block in blocks]
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

    _place_lines_in_capitals(parts)
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
    return ParsedBook(metadata=Metadata(), chapters=chapters, image_refs={}, split_level=chapter_level)


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
    if _NAMED_HEADING.match(first):
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


def _place_lines_in_capitals(parts: list[tuple[int, str]]) -> None:
    """Lines in capitals are chapter headings in a text that has no other kind, else headings one
    level below the heading before them."""
    others = any(level > 0 for level, _ in parts)
    above = 0
    for index, (level, title) in enumerate(parts):
        if level == CAPITALS:
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
    return f"<{tag}>" + "".join(f"<li>{escape(' '.join(' '.join(i).split()))}</li>" for i in items) + f"</{tag}>"


def _paragraph(lines: list[str], width: int) -> str:
    """Lines joined into one paragraph, but a line that ends where the next word would still have
    fitted was broken on purpose (verse, an address): that break stays."""
    out = escape(" ".join(lines[0].split()))
    for previous, line in itertools.pairwise(lines):
        words = line.split()
        if not words:
            continue
        fitted = len(previous.rstrip()) + 1 + len(words[0]) <= width
        out += ("<br/>" if fitted else " ") + escape(" ".join(words))
    return f"<p>{out}</p>"


def _usual_width(blocks: list[str]) -> int:
    """The width the text was wrapped at: nearly the longest of its lines (a few may overrun)."""
    lengths = sorted(len(line.rstrip()) for block in blocks for line in block.split("\n") if line.strip())
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, (len(lengths) * 95) // 100)]
