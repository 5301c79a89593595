"""MathML's tokens (mi, mn, mo, mtext, ms, mspace) as Typst math, and a formula as plain text.
Pure; shared/book/typst_math.py converts the layout around them.

Typst's math reads letters in a row as one name, most ASCII punctuation and every opening bracket
as syntax, and `<=`, `->`, `!=` as shorthands: so a word is quoted or named as one of Typst's
operators, and a character is escaped unless it is a letter, a digit or a mathematical symbol.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NamedTuple

from lxml import etree

from shared.book.typst_math_names import NAMED_WIDTHS, OPERATORS, SPACES, VARIANTS

TOKENS = {"mi", "mn", "mo", "mtext", "ms"}
SKIPPED = {"annotation", "annotation-xml"}  # not shown by a reader of MathML either
INVISIBLE = dict.fromkeys(range(0x2061, 0x2065))  # function application, invisible times, separator, plus
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LENGTH = re.compile(r"(-?\d*\.?\d+)(em|pt|mm|cm|in)")


class Piece(NamedTuple):
    text: str  # Typst math markup
    atomic: bool  # one Typst item, which a script can attach to as it is


EMPTY = Piece("", True)


def name(element: Any) -> str:
    """An element's local name ('' for a comment or processing instruction)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def elements(element: Any) -> list[Any]:
    """The child elements that show something."""
    return [child for child in element if name(child) and name(child) not in SKIPPED]


def text(element: Any) -> str:
    """A token's text as MathML shows it: ends trimmed, runs of white space as one."""
    return re.sub(r"[ \t\n\r]+", " ", "".join(element.itertext())).strip(" ")


def quote(content: str) -> str:
    return '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'


def char(character: str, alone: bool = True) -> str:
    """One character shown as itself: `+ = < >` stay bare only on their own (no shorthand can form);
    white space and invisible characters are quoted, since a backslash before them means a break."""
    category = unicodedata.category(character)
    symbol = ord(character) > 127 and category == "Sm" and character != "⎰"  # the one Typst reads as a bracket
    if character.isalnum() or (alone and character in "+=<>") or symbol:
        return character
    return quote(character) if category[0] in "ZC" else "\\" + character


def chars(content: str) -> str:
    return "".join(char(character, len(content) == 1) for character in content)


def styled(variant: str | None, inner: str) -> str:
    """Markup in a mathvariant: bold(upright(x)), bb(R)."""
    for style in reversed(VARIANTS.get(variant or "", ())):
        inner = f"{style}({inner})"
    return inner


def token(element: Any) -> Piece:
    """An mi, mn, mo, mtext or ms."""
    kind, content, variant = name(element), text(element), element.get("mathvariant")
    if kind == "mo":
        content = content.translate(INVISIBLE).replace("-", "−")  # MathML shows a hyphen operator as minus
    if not content:
        return EMPTY
    if kind in ("mtext", "ms"):
        return Piece(styled(variant, quote(f'"{content}"' if kind == "ms" else content)), True)
    if kind == "mi" and content == "&":
        return Piece("&", False)  # latex2mathml's alignment point in aligned environments
    if content in OPERATORS and kind != "mn" and variant in (None, "normal"):
        return Piece(content, True)
    if len(content) == 1 or (kind == "mn" and _NUMBER.fullmatch(content)):
        return Piece(styled(variant, chars(content) if len(content) == 1 else content), True)
    if any(character.isalpha() for character in content):
        if variant in (None, "normal"):  # a word: upright, as MathML shows a name of several letters
            return Piece(f"{'op' if kind == 'mo' else 'upright'}({quote(content)})", True)
        return Piece(styled(variant, " ".join(chars(character) for character in content)), True)
    return Piece(styled(variant, chars(content)), variant is not None)


def space(element: Any) -> Piece:
    """An mspace: a line break, one of Typst's named spaces, or a space of its width."""
    if element.get("linebreak") == "newline":
        return Piece("\\ ", False)  # the space keeps it a break: `\)` or `\,` would be a character
    width = element.get("width", "").strip()
    em = NAMED_WIDTHS.get(width)
    found = _LENGTH.fullmatch(width)
    if em is None and found and found[2] == "em":
        em = float(found[1])
    named = next((typst for size, typst in SPACES.items() if em is not None and abs(size - em) < 0.01), None)
    if named:
        return Piece(named, False)
    if em is not None:
        return Piece(f"#h({em:g}em)", False) if em else EMPTY
    return Piece(f"#h({float(found[1]):g}{found[2]})", False) if found else EMPTY


def plain_text(element: Any, depth: int, max_depth: int) -> str:
    """A formula as plain text, for its alternative text when it has none: x^2, (a+b)/2, √(x)."""
    kind = name(element)
    if kind in TOKENS or depth > max_depth:
        return " ".join("".join(element.itertext()).translate(INVISIBLE).split())
    parts = [plain_text(child, depth + 1, max_depth) for child in elements(element)]
    grouped = [part if len(part) <= 1 else f"({part})" for part in parts]
    shown = [part for part in parts if part]
    if kind in ("msub", "msup", "msubsup", "munder", "mover", "munderover") and len(parts) >= 2:
        marks = "^" if kind in ("msup", "mover") else "_^"
        return parts[0] + "".join(mark + part for mark, part in zip(marks, grouped[1:], strict=False) if part)
    if kind == "mfrac" and len(parts) == 2:
        return "/".join(grouped)
    if kind == "msqrt":
        return f"√({' '.join(shown)})"
    if kind == "mroot" and len(parts) == 2:
        return f"root {parts[1]} of ({parts[0]})"
    return {"mtable": "; ", "mtr": ", "}.get(kind, " ").join(shown)
