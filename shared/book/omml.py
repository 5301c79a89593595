"""Word's equations (Office MathML, OMML) turned into MathML. Pure.

The common constructs are converted; an equation holding anything else raises Unconvertible, and
the reader keeps its linear text instead (all its m:t text), with a warning. The output follows
shared/book/mathml.py's conventions: a <math> without namespace (the sanitiser declares it), the
equation's linear text as alttext, display="block" for a display equation.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_INTEGRALS = set("∫∬∭∮∯∰")
# Word's accents are combining characters; MathML wants the spacing ones over its base.
_SPACING_ACCENT = {"\u0302": "^", "\u0303": "~", "\u0307": "˙", "\u0308": "¨", "\u0304": "¯", "\u0305": "¯",
                   "\u20d7": "→", "\u0301": "´", "\u0300": "`", "\u030c": "ˇ", "\u0306": "˘"}  # fmt: skip
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]|\s+|.", re.S)


class Unconvertible(Exception):
    """The equation holds a construct this converter does not know (its name is the message)."""


def linear_text(equation: Any) -> str:
    return "".join(t.text or "" for t in equation.iter(f"{M}t", f"{W}t"))


def omml_to_mathml(equation: Any, display: bool) -> str:
    """MathML for an m:oMath element. Raises Unconvertible."""
    alttext = escape(" ".join(linear_text(equation).split()), quote=True)
    mode = "block" if display else "inline"
    return f'<math display="{mode}" alttext="{alttext}">{_row(equation)}</math>'


def _name(element: Any) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _child(element: Any, name: str) -> Any:
    return element.find(f"{M}{name}")


def _prop(element: Any, properties: str, name: str, default: str | None = None) -> str | None:
    """The m:val of a property (m:chr, m:pos…) in the element's properties, or the default."""
    holder = element.find(f"{M}{properties}")
    found = holder.find(f"{M}{name}") if holder is not None else None
    if found is None:
        return default
    return found.get(f"{M}val", "")  # present without a value: none (an empty delimiter)


def _on(element: Any, properties: str, name: str) -> bool:
    return _prop(element, properties, name, "0") in ("1", "on", "true", "")


def _row(container: Any) -> str:
    """The children of an argument (m:e, m:num, m:sub…) as one <mrow>."""
    if container is None:
        return "<mrow></mrow>"
    parts = [_node(child) for child in container]
    return f"<mrow>{''.join(parts)}</mrow>"


def _mo(text: str, **attributes: str) -> str:
    extra = "".join(f' {key}="{value}"' for key, value in attributes.items())
    return f"<mo{extra}>{escape(text)}</mo>"


def _node(element: Any) -> str:
    name = _name(element)
    if not name or name.endswith("Pr") or (element.tag.startswith(W) and name != "r"):
        return ""  # properties, bookmarks, proofing marks: nothing to show
    if element.tag.startswith(W):  # a Word run inside the equation: ordinary text
        return f"<mtext>{escape(''.join(t.text or '' for t in element.iter(f'{W}t')))}</mtext>"
    if name == "r":
        return _run(element)
    if name in ("e", "oMath", "num", "den", "sub", "sup", "deg", "lim", "fName", "box"):
        return _row(element)
    if name == "f":
        kind = _prop(element, "fPr", "type", "bar")
        num, den = _row(_child(element, "num")), _row(_child(element, "den"))
        if kind == "lin":
            return f"<mrow>{num}{_mo('/')}{den}</mrow>"
        thickness = ' linethickness="0"' if kind == "noBar" else ""
        return f"<mfrac{thickness}>{num}{den}</mfrac>"
    if name == "sSup":
        return f"<msup>{_row(_child(element, 'e'))}{_row(_child(element, 'sup'))}</msup>"
    if name == "sSub":
        return f"<msub>{_row(_child(element, 'e'))}{_row(_child(element, 'sub'))}</msub>"
    if name == "sSubSup":
        base, sub, sup = (_row(_child(element, part)) for part in ("e", "sub", "sup"))
        return f"<msubsup>{base}{sub}{sup}</msubsup>"
    if name == "sPre":
        base, sub, sup = (_row(_child(element, part)) for part in ("e", "sub", "sup"))
        return f"<mmultiscripts>{base}<mprescripts/>{sub}{sup}</mmultiscripts>"
    if name == "rad":
        degree = _child(element, "deg")
        if _on(element, "radPr", "degHide") or degree is None or not linear_text(degree).strip():
            return f"<msqrt>{_row(_child(element, 'e'))}</msqrt>"
        return f"<mroot>{_row(_child(element, 'e'))}{_row(degree)}</mroot>"
    if name == "d":
        begin = _prop(element, "dPr", "begChr", "(") or ""
        end = _prop(element, "dPr", "endChr", ")") or ""
        separator = _prop(element, "dPr", "sepChr", "|") or ""
        inner = _mo(separator).join(_row(part) for part in element.findall(f"{M}e"))
        opening = _mo(begin, fence="true") if begin else ""
        closing = _mo(end, fence="true") if end else ""
        return f"<mrow>{opening}{inner}{closing}</mrow>"
    if name == "nary":
        symbol = _prop(element, "naryPr", "chr", "∫") or "∫"
        location = _prop(element, "naryPr", "limLoc", "subSup" if symbol in _INTEGRALS else "undOvr")
        operator = _mo(symbol, largeop="true")
        sub = "" if _on(element, "naryPr", "subHide") else _limit(_child(element, "sub"))
        sup = "" if _on(element, "naryPr", "supHide") else _limit(_child(element, "sup"))
        tags = ("munder", "mover", "munderover") if location == "undOvr" else ("msub", "msup", "msubsup")
        if sub and sup:
            limited = f"<{tags[2]}>{operator}{sub}{sup}</{tags[2]}>"
        elif sub or sup:
            tag = tags[0] if sub else tags[1]
            limited = f"<{tag}>{operator}{sub or sup}</{tag}>"
        else:
            limited = operator
        return f"<mrow>{limited}{_row(_child(element, 'e'))}</mrow>"
    if name == "func":
        return f"<mrow>{_row(_child(element, 'fName'))}{_mo(chr(0x2061))}{_row(_child(element, 'e'))}</mrow>"
    if name == "acc":
        accent = _prop(element, "accPr", "chr", "\u0302") or "\u0302"
        accent = _SPACING_ACCENT.get(accent, accent)
        return f'<mover accent="true">{_row(_child(element, "e"))}{_mo(accent, stretchy="false")}</mover>'
    if name == "bar":
        if _prop(element, "barPr", "pos", "bot") == "top":
            return f'<mover accent="true">{_row(_child(element, "e"))}{_mo("¯")}</mover>'
        return f'<munder accentunder="true">{_row(_child(element, "e"))}{_mo("_")}</munder>'
    if name == "groupChr":
        symbol = _prop(element, "groupChrPr", "chr", "\u23df") or "\u23df"
        tag = "mover" if _prop(element, "groupChrPr", "pos", "bot") == "top" else "munder"
        return f"<{tag}>{_row(_child(element, 'e'))}{_mo(symbol)}</{tag}>"
    if name in ("limLow", "limUpp"):
        tag = "munder" if name == "limLow" else "mover"
        return f"<{tag}>{_row(_child(element, 'e'))}{_row(_child(element, 'lim'))}</{tag}>"
    if name == "m":
        rows = "".join(
            "<mtr>" + "".join(f"<mtd>{_row(cell)}</mtd>" for cell in row.findall(f"{M}e")) + "</mtr>"
            for row in element.findall(f"{M}mr")
        )
        return f"<mtable>{rows}</mtable>"
    if name == "eqArr":
        rows = "".join(f"<mtr><mtd>{_row(line)}</mtd></mtr>" for line in element.findall(f"{M}e"))
        return f'<mtable columnalign="left">{rows}</mtable>'
    if name == "borderBox":
        return f'<menclose notation="box">{_row(_child(element, "e"))}</menclose>'
    raise Unconvertible(f"m:{name}")


def _limit(limit: Any) -> str:
    """A sum's or integral's limit; '' when Word left it empty."""
    return "" if limit is None or len(limit) == 0 or all(child.tag.endswith("Pr") for child in limit) else _row(limit)


def _run(run: Any) -> str:
    text = "".join(t.text or "" for t in run.iter(f"{M}t"))
    if run.find(f"{M}rPr/{M}nor") is not None:
        return f"<mtext>{escape(text)}</mtext>" if text else ""
    plain = _prop(run, "rPr", "sty") == "p"
    parts = []
    for token in _TOKEN.findall(text):
        if token.isspace():
            continue
        if token[0].isdigit():
            parts.append(f"<mn>{escape(token)}</mn>")
        elif token.isalpha():
            variant = ' mathvariant="normal"' if plain else ""
            parts.append(f"<mi{variant}>{escape(token)}</mi>")
        else:
            parts.append(_mo(token))
    if plain and len(parts) > 1 and all(part.startswith("<mi") for part in parts):
        return f'<mi mathvariant="normal">{escape(text.strip())}</mi>'  # a word such as a function's name: sin, log
    return "".join(parts)
