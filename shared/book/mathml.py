"""Mathematics: MathML kept through an allow-list of its own, and TeX turned into MathML. Pure.

EPUB 3 reading systems and browsers (MathML Core) show MathML natively, and screen readers read
it. The general sanitiser (nh3) has no MathML allow-list, so formulas are taken out before it runs
and cleaned here: presentation elements and their layout attributes only; no links, styles,
scripts or foreign content (annotation-xml may carry HTML or SVG).
"""

from __future__ import annotations

import re
from typing import Any

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"
MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
    "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mlabeledtr", "mstyle",
    "merror", "mpadded", "mphantom", "menclose", "mfenced", "mmultiscripts", "mprescripts", "none",
    "semantics", "annotation",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "stretchy", "fence",
    "separator", "lspace", "rspace", "accent", "accentunder", "linethickness", "columnalign",
    "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines", "frame", "notation",
    "encoding", "alttext", "width", "height", "depth", "voffset", "form", "largeop", "movablelimits",
    "symmetric", "minsize", "maxsize", "columnspan", "rowspan", "open", "close", "separators",
    "bevelled", "numalign", "denomalign", "align",
}  # fmt: skip
# Elements whose content is not mathematics to show: dropped whole.
_DROPPED = {"annotation-xml", "script", "style", "mglyph", "malignmark", "maligngroup"}
_MATHVARIANTS = {
    "normal", "bold", "italic", "bold-italic", "double-struck", "bold-fraktur", "script",
    "bold-script", "fraktur", "sans-serif", "bold-sans-serif", "sans-serif-italic",
    "sans-serif-bold-italic", "monospace",
}  # fmt: skip
_ENUMERATED = {"display": {"block", "inline"}, "mathvariant": _MATHVARIANTS, "form": {"prefix", "infix", "postfix"}}
_UNSAFE_VALUE = re.compile(r"javascript:|url\(|expression\(", re.IGNORECASE)


def clean_math(math: Any) -> Any:
    """Clean an lxml <math> element in place: unknown elements lose their tags (their text stays),
    unsafe or unknown attributes go. Returns the element."""
    for element in list(math.iter()):
        if not isinstance(element.tag, str):
            element.getparent().remove(element)  # a comment or processing instruction
            continue
        tag = element.tag.rsplit("}", 1)[-1].lower()
        if tag in _DROPPED:
            element.drop_tree()
            continue
        for name in list(element.attrib):
            value = element.get(name, "")
            allowed = _ENUMERATED.get(name)
            if (
                name not in MATHML_ATTRIBUTES
                or _UNSAFE_VALUE.search(value)
                or (allowed is not None and value not in allowed)
            ):
                del element.attrib[name]
        if tag not in MATHML_TAGS and element is not math:
            element.drop_tag()
        else:
            element.tag = tag
    return math


def tex_to_mathml(tex: str, display: bool) -> tuple[str, str]:
    """MathML for a TeX formula, with the TeX as its alternative text; and a problem to report
    ('' when none). A formula that cannot be converted comes back as '' with the reason."""
    import latex2mathml.converter

    try:
        markup = latex2mathml.converter.convert(tex, display="block" if display else "inline")
    except Exception:  # the converter raises many kinds, all meaning "not TeX it knows"
        return "", "it is incomplete, or its braces or environments do not match"
    unknown = sorted(set(re.findall(r"<mi>(\\[A-Za-z]+)</mi>", markup)))
    alttext = tex.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    markup = markup.replace("<math ", f'<math alttext="{alttext}" ', 1)
    return markup, ", ".join(unknown) and f"unknown commands {', '.join(unknown)}"


def text_with_formulas_as_tex(element: Any) -> str:
    """An element (a heading) as plain text for the contents: a formula in it as its TeX (its alttext), not the
    letters of its MathML run together."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text and node.tag != "math":
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag == "math":
                parts.append(child.get("alttext") or child.text_content())
            elif isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return " ".join("".join(parts).split())
