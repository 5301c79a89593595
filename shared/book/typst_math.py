"""MathML turned into Typst math markup, for the print PDF (issue #37). Pure: lxml in, text out.

It reads the vocabulary shared/book/mathml.py lets into a book (MATHML_TAGS); the tokens (letters,
numbers, operators, text, spaces) are written by shared/book/typst_math_tokens.py, the layout here.
The source goes between `$ … $` and is valid there whatever the formula holds: characters Typst
would read as markup are escaped, and brackets pair up only inside the lr(…) calls made here, so
a lone `(` cannot unbalance the parse. What cannot be converted keeps its text, quoted, and its
element is named in `unconverted`. The caller escapes `alt` as a Typst string:

    formula = mathml_to_typst(math_element)
    f"#math.equation(block: {'true' if formula.block else 'false'}, alt: {string(formula.alt)}, $ {formula.source} $)"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice
from typing import Any

from lxml import etree

from shared.book import typst_math_names as names
from shared.book.typst_math_tokens import (
    EMPTY,
    SKIPPED,
    TOKENS,
    Piece,
    chars,
    elements,
    name,
    plain_text,
    quote,
    space,
    styled,
    text,
    token,
)

# Real formulas nest fewer than 30 elements; the bound keeps Python's recursion, and Typst's parser
# (each level may become a call or an lr), far from their limits on hostile input.
MAX_DEPTH = 60
_ROWS = {"math", "mrow", "mpadded", "merror", "mtd", "msqrt", "mphantom", "mstyle", "menclose"}
_SIMPLE_SCRIPT = re.compile(r"[^\W_]|\d+|\\[^\s\w]")  # attaches without parentheses: x^2, x_i, x^\*
_NO_BAR = re.compile(r"0*\.?0*(?:[a-z]+|%)?")  # linethickness="0", "0px", "0em"


@dataclass(frozen=True)
class TypstMath:
    """A formula in Typst. Its source is '' only when it shows nothing: write no equation then."""

    source: str  # Typst math markup, without the surrounding $ … $
    block: bool  # display="block" on <math>
    alt: str  # the alttext, else the TeX annotation, else a plain text form of the formula
    unconverted: tuple[str, ...]  # MathML elements that could not be converted (their text was kept)


def mathml_to_typst(math: etree._Element) -> TypstMath:
    """Typst math for a <math> element (in the MathML namespace or none)."""
    converter = _Converter()
    source = converter.row(math, 0).text
    tex = math.find(".//{*}annotation[@encoding='application/x-tex']")
    alt = math.get("alttext") or (tex.text if tex is not None else None) or plain_text(math, 0, MAX_DEPTH) or source
    block = math.get("display") == "block" or math.get("mode") == "display"
    return TypstMath(source, block, " ".join(alt.split()), tuple(dict.fromkeys(converter.unconverted)))


def _unwrap(element: Any) -> Any:
    """The element an mrow of one element stands for."""
    while name(element) == "mrow" and len(elements(element)) == 1 and not _text_outside(element):
        element = elements(element)[0]
    return element


def _text_outside(element: Any) -> str:
    """Text directly in a container, not in a token (not valid MathML, but shown by browsers)."""
    return "".join([element.text or "", *(child.tail or "" for child in element)]).strip()


def _is_mo(item: Any, *texts: str) -> bool:
    return not isinstance(item, str) and name(item) == "mo" and (not texts or text(item) in texts)


def _bracket(item: Any) -> str:
    """The bracket an <mo> is, if it stretches around its neighbours; '' otherwise."""
    if not _is_mo(item, *names.OPENING, *names.CLOSING, *names.SYMMETRIC) or item.get("stretchy") == "false":
        return ""
    return text(item)


def _bars(items: list[Any]) -> dict[int, str]:
    """Bars that do not stretch (|a|, ‖v‖), paired: Typst spaces a lone one as a relation, as in {x | x > 0}."""
    roles: dict[int, str] = {}
    pending: dict[str, int] = {}
    for index, item in enumerate(items):
        if _is_mo(item, *names.SYMMETRIC) and not _bracket(item):
            if text(item) in pending:
                roles[pending.pop(text(item))], roles[index] = "opening", "closing"
            else:
                pending[text(item)] = index
    return roles


class _Converter:
    def __init__(self) -> None:
        self.unconverted: list[str] = []
        self.cells = 0  # how many table cells the element being converted is in: no line breaks there

    def fallback(self, element: Any) -> Piece:
        """What cannot be converted: its text, quoted, and its name remembered."""
        self.unconverted.append(name(element) or "text")
        content = " ".join("".join(element.itertext()).split())
        return Piece(quote(content), True) if content else EMPTY

    def node(self, element: Any, depth: int) -> Piece:
        kind = name(element)
        if depth > MAX_DEPTH:
            return self.fallback(element)
        if kind in TOKENS:
            return token(element)
        if kind == "mspace":
            return EMPTY if self.cells and element.get("linebreak") == "newline" else space(element)
        if kind in _ROWS:
            return self.container(element, kind, depth)
        if kind in ("none", "mprescripts", *SKIPPED):
            return EMPTY
        method = getattr(self, f"convert_{kind}", None)
        return method(element, depth) if method else self.fallback(element)

    def row(self, element: Any, depth: int) -> Piece:
        """An element's children in a row: brackets that MathML would stretch become lr(…)."""
        items: list[Any] = [element.text.strip()] if (element.text or "").strip() else []
        for child in element:
            items.extend([child] if name(child) and name(child) not in SKIPPED else [])
            items.extend([child.tail.strip()] if (child.tail or "").strip() else [])
        bars = _bars(items)
        frames: list[tuple[str, list[Piece]]] = [("", [])]  # (opening bracket, what follows it)
        index = 0
        while index < len(items):
            item, bracket = items[index], _bracket(items[index])
            if isinstance(item, str):
                frames[-1][1].append(Piece(quote(" ".join(item.split())), True))
            elif special := self.fenced(items, index, depth):
                frames[-1][1].append(special[0])
                index = special[1]
                continue
            elif index in bars:
                frames[-1][1].append(Piece(f'class("{bars[index]}", {chars(text(item))})', True))
            elif bracket:
                while bracket in names.CLOSING and len(frames) > 1 and frames[-1][0] in names.SYMMETRIC:
                    opening, inner = frames.pop()  # a lone | inside ( … ): a bar, not a bracket
                    frames[-1][1].extend([Piece(chars(opening), True), *inner])
                if len(frames) > 1 and (bracket in names.CLOSING or bracket == frames[-1][0] in names.SYMMETRIC):
                    opening, inner = frames.pop()
                    body = " ".join(piece.text for piece in [Piece(chars(opening), True), *inner] if piece.text)
                    frames[-1][1].append(Piece(f"lr({body} {chars(bracket)})", True))
                elif bracket not in names.CLOSING and depth + len(frames) < MAX_DEPTH:
                    frames.append((bracket, []))
                else:
                    frames[-1][1].append(Piece(chars(bracket), True))
            else:
                frames[-1][1].append(self.node(item, depth + 1))
            index += 1
        while len(frames) > 1:  # brackets never closed stay as they are, not stretched
            opening, inner = frames.pop()
            frames[-1][1].extend([Piece(chars(opening), True), *inner])
        pieces = [piece for piece in frames[0][1] if piece.text]
        return pieces[0] if len(pieces) == 1 else Piece(" ".join(piece.text for piece in pieces), not pieces)

    def fenced(self, items: list[Any], index: int, depth: int) -> tuple[Piece, int] | None:
        """A brace before a table (cases), or parentheses around a fraction without a bar (binom):
        the piece and the index after it; None for anything else."""
        if _is_mo(items[index], "{"):
            following = (items[after] for after in range(index + 1, len(items)))
            rest = list(islice((item for item in following if not _is_mo(item, "")), 2))
            if len(rest) == 1 and not isinstance(rest[0], str) and name(_unwrap(rest[0])) == "mtable":
                return Piece(self.table(_unwrap(rest[0]), depth + 1, "cases"), True), len(items)
        if _is_mo(items[index], "(") and index + 2 < len(items) and _is_mo(items[index + 2], ")"):
            fraction = items[index + 1] if isinstance(items[index + 1], str) else _unwrap(items[index + 1])
            if (
                not isinstance(fraction, str)
                and name(fraction) == "mfrac"
                and _NO_BAR.fullmatch(fraction.get("linethickness", "1"))
                and len(elements(fraction)) == 2
            ):
                top, bottom = (self.node(part, depth + 2).text or '""' for part in elements(fraction))
                return Piece(f"binom({top}, {bottom})", True), index + 3
        return None

    def container(self, element: Any, kind: str, depth: int) -> Piece:
        inner = self.row(element, depth)
        if kind == "msqrt":
            return Piece(f"sqrt({inner.text or '""'})", True)
        if not inner.text:
            return inner
        if kind == "mphantom":
            return Piece(f"#hide(${inner.text}$)", False)
        if kind == "menclose":
            content = inner.text
            for notation in element.get("notation", "longdiv").split():
                if notation in names.ENCLOSURES:
                    content = names.ENCLOSURES[notation].format(content)
                else:
                    self.unconverted.append("menclose")  # its content kept, without the enclosure
            return Piece(content, content == inner.text and inner.atomic)
        if kind == "mstyle":
            style = {"true": "display", "false": "inline"}.get(element.get("displaystyle", ""))
            content = styled(element.get("mathvariant"), inner.text)
            content = f"{style}({content})" if style else content
            return Piece(content, inner.atomic or content != inner.text)
        return inner

    def convert_semantics(self, element: Any, depth: int) -> Piece:
        children = elements(element)  # the formula, then annotations (skipped)
        return self.node(children[0], depth + 1) if children else EMPTY

    def parts(self, element: Any, depth: int, count: int) -> list[Piece] | None:
        children = elements(element)
        return [self.node(child, depth + 1) for child in children] if len(children) == count else None

    def attach(self, base: Piece, below: Piece, above: Piece, keys: tuple[str, str] = ("br", "tr")) -> Piece:
        scripts = [(mark, key, piece.text) for mark, key, piece in (("_", keys[0], below), ("^", keys[1], above))]
        scripts = [script for script in scripts if script[2]]
        if not scripts:
            return base
        if base.atomic:
            marks = [
                mark + (script if _SIMPLE_SCRIPT.fullmatch(script) else f"({script})") for mark, _, script in scripts
            ]
            return Piece((base.text or '""') + "".join(marks), True)
        return Piece(f"attach({base.text}, {', '.join(f'{key}: {script}' for _, key, script in scripts)})", True)

    def convert_msub(self, element: Any, depth: int) -> Piece:
        parts = self.parts(element, depth, 2)
        return self.attach(parts[0], parts[1], EMPTY) if parts else self.fallback(element)

    def convert_msup(self, element: Any, depth: int) -> Piece:
        parts = self.parts(element, depth, 2)
        if not parts:
            return self.fallback(element)
        script = text(elements(element)[1]).replace(" ", "")
        if script and all(mark in names.PRIMES for mark in script) and parts[0].atomic and parts[0].text:
            return Piece(parts[0].text + "'" * sum(names.PRIMES[mark] for mark in script), True)  # f'(x)
        return self.attach(parts[0], EMPTY, parts[1])

    def convert_msubsup(self, element: Any, depth: int) -> Piece:
        parts = self.parts(element, depth, 3)
        return self.attach(parts[0], parts[1], parts[2]) if parts else self.fallback(element)

    def limits(self, element: Any, depth: int, below: int, above: int) -> Piece:
        """munder, mover, munderover: accents on a base, or limits under and over it (0: none)."""
        parts = self.parts(element, depth, 1 + bool(below) + bool(above))
        if not parts:
            return self.fallback(element)
        base = parts[0] if parts[0].text else Piece('""', True)
        scripts = {"below": parts[below] if below else EMPTY, "above": parts[above] if above else EMPTY}
        for where, position, accents in (("above", above, names.ACCENTS_OVER), ("below", below, names.ACCENTS_UNDER)):
            mark = _unwrap(elements(element)[position]) if position else None
            if mark is not None and name(mark) in TOKENS and text(mark) in accents:
                base, scripts[where] = Piece(f"{accents[text(mark)]}({base.text})", True), EMPTY
        if not scripts["below"].text and not scripts["above"].text:
            return base
        if base.text not in names.MOVABLE_LIMITS:
            base = Piece(f"limits({base.text})", True)
        return self.attach(base, scripts["below"], scripts["above"], ("b", "t"))

    def convert_munder(self, element: Any, depth: int) -> Piece:
        return self.limits(element, depth, 1, 0)

    def convert_mover(self, element: Any, depth: int) -> Piece:
        return self.limits(element, depth, 0, 1)

    def convert_munderover(self, element: Any, depth: int) -> Piece:
        return self.limits(element, depth, 1, 2)

    def convert_mfrac(self, element: Any, depth: int) -> Piece:
        parts = self.parts(element, depth, 2)
        if not parts:
            return self.fallback(element)
        top, bottom = (part.text or '""' for part in parts)
        if _NO_BAR.fullmatch(element.get("linethickness", "1")):
            return Piece(f"mat(delim: #none, {top}; {bottom})", True)  # a stack without a bar
        return Piece(f"frac({top}, {bottom})", True)

    def convert_mroot(self, element: Any, depth: int) -> Piece:
        parts = self.parts(element, depth, 2)
        if not parts:
            return self.fallback(element)
        return Piece(f"root({parts[1].text or '""'}, {parts[0].text or '""'})", True)

    def convert_mmultiscripts(self, element: Any, depth: int) -> Piece:
        children = elements(element)
        if not children:
            return self.fallback(element)
        base = self.node(children[0], depth + 1)
        keys: dict[str, list[str]] = {"tl": [], "bl": [], "tr": [], "br": []}
        pair, position = ("br", "tr"), 0  # after the base: (subscript, superscript) pairs
        for child in children[1:]:
            if name(child) == "mprescripts":
                pair, position = ("bl", "tl"), 0
                continue
            if script := self.node(child, depth + 1).text:
                keys[pair[position % 2]].append(script)
            position += 1
        named = ", ".join(f"{key}: {' '.join(scripts)}" for key, scripts in keys.items() if scripts)
        return Piece(f"attach({base.text or '""'}, {named})", True) if named else base

    def convert_mfenced(self, element: Any, depth: int) -> Piece:
        opening, closing = element.get("open", "("), element.get("close", ")")
        separators = "".join(element.get("separators", ",").split())
        parts: list[str] = []
        for position, child in enumerate(elements(element)):
            if position and separators:
                parts.append(chars(separators[min(position - 1, len(separators) - 1)]))
            parts.append(self.node(child, depth + 1).text)
        body = " ".join(part for part in parts if part)
        if opening.strip() and closing.strip():
            return Piece(f"lr({chars(opening)} {body} {chars(closing)})", True)
        return Piece(" ".join(part for part in (chars(opening), body, chars(closing)) if part), False)

    def convert_mtable(self, element: Any, depth: int) -> Piece:
        """A matrix; or, columns aligned right then left, equations aligned at `&`."""
        first = element.find("{*}mtr")
        columns = [cell.get("columnalign") for cell in (elements(first) if first is not None else [])]
        aligned = ["right", "left"] in ((element.get("columnalign") or "").split()[:2], columns[:2])
        if not elements(element):
            return EMPTY
        return Piece(self.table(element, depth, "aligned" if aligned else "mat"), not aligned)

    def table(self, element: Any, depth: int, kind: str) -> str:
        kind = "mat" if kind == "aligned" and self.cells else kind
        self.cells += 1
        rows: list[list[str]] = []
        for row in elements(element):
            cells = elements(row) if name(row) in ("mtr", "mlabeledtr") else [row]
            if name(row) == "mlabeledtr" and cells:
                cells = [*cells[1:], cells[0]]  # the equation's label goes last
            rows.append([self.node(cell, depth + 2).text or '""' for cell in cells] or ['""'])
        self.cells -= 1
        if kind == "aligned":
            return " \\ ".join(" & ".join(cells) for cells in rows)
        if kind == "cases":
            return f"cases({', '.join(' & '.join(cells) for cells in rows)})"
        return f"mat(delim: #none, {'; '.join(', '.join(cells) for cells in rows)})"
