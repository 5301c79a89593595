"""How a manuscript's headings cut it into chapters, and what the book is called. Pure.

Shared by the readers: each lists the levels of the headings that may start a chapter (headings
at the top of the text, or inside wrappers like <div> and <section>), and the requested split
level is lowered to where the text really divides. A document with one top heading (its title)
is split at the next level instead of becoming one long chapter; that heading names the book
unless its metadata does, and starts no chapter of its own (with nothing else before the first
chapter, it joins the first chapter).
"""

from __future__ import annotations

import re
from typing import Any

MAX_HEADING_LEVEL = 6
TITLE_MAX_CHARS = 120


def split_level_for(levels: list[int], requested: int) -> int:
    """The level to split at: `requested`, or deeper while at most one heading would start a
    chapter (a title alone divides nothing) and deeper headings exist."""
    level = requested
    while sum(1 for found in levels if found <= level) <= 1:
        deeper = [found for found in levels if level < found <= MAX_HEADING_LEVEL]
        if not deeper:
            break
        level = min(deeper)
    return level


def title_from_first_line(text: str) -> str:
    """A title from a text's first non-blank line, if it reads like one: short, and not a sentence
    or a clause (ending in . , ; :). '' when the first line is ordinary text."""
    for line in text.splitlines():
        words = " ".join(line.split())
        if words and re.search(r"\w", words):
            if len(words) > TITLE_MAX_CHARS or (words[-1] in ".,;:" and not words.endswith("...")):
                return ""
            return words
    return ""


def title_from_file_name(file_name: str) -> str:
    """'the-harbour_standards.v2.html' → 'the harbour standards.v2': the last resort for a title."""
    stem = file_name.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return " ".join(re.sub(r"[-_]+", " ", stem).split())


def inline_text(token: Any) -> str:
    """A Markdown inline token (a heading's, a link's) as the plain text a title is made of."""
    if token.type != "inline":
        return ""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("math_inline", "math_inline_double"):
            parts.append(child.content.strip())  # the TeX as written: a title is plain text
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())
