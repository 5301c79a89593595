"""Word's XML parts, read before mammoth sees them. Pure.

mammoth maps paragraph styles by name only, and knows nothing of Word's equations. Here the
document is prepared: headings are found through the styles they are based on and through
outline levels, and each equation is taken out for shared/book/omml.py, a mark left in its place.
"""

from __future__ import annotations

import re
from typing import Any

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
M = "http://schemas.openxmlformats.org/officeDocument/2006/math"
_W = f"{{{W}}}"
_HEADING_NAME = re.compile(r"heading ([1-9])", re.I)
# The text standing for an equation while mammoth reads the document (D: displayed, I: inline).
EQUATION_MARK = "QUIRE{display}EQUATION{}X"
# The style given to paragraphs whose own properties carry an outline level.
OUTLINE_STYLE = "QuireOutlineLevel{}"


def parse_part(content: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    return etree.fromstring(content, parser)


def heading_levels(styles: Any) -> dict[str, tuple[str, int]]:
    """Paragraph styles that are headings, by style id: their name and level. A style is a heading
    when it is named 'heading N', carries an outline level, or is based (at any remove) on one."""
    found: dict[str, tuple[str, str, int | None]] = {}  # id: name, based on, own level
    for style in styles.iter(f"{_W}style"):
        if style.get(f"{_W}type") != "paragraph" or not style.get(f"{_W}styleId"):
            continue
        name = _value(style.find(f"{_W}name")) or ""
        heading = _HEADING_NAME.fullmatch(name.strip())
        level = int(heading.group(1)) if heading else _outline_level(style.find(f"{_W}pPr"))
        found[style.get(f"{_W}styleId")] = (name, _value(style.find(f"{_W}basedOn")) or "", level)
    levels: dict[str, tuple[str, int]] = {}
    for style_id, (name, _, _) in found.items():
        seen, current = set(), style_id
        while current in found and current not in seen:  # a loop of basedOn ends the search
            seen.add(current)
            _, based_on, level = found[current]
            if level is not None:
                if level <= 6:
                    levels[style_id] = (name, level)
                break
            current = based_on
    return levels


def style_map(levels: dict[str, tuple[str, int]]) -> str:
    """mammoth style-map lines for headings mammoth would not recognise by name."""
    lines = [f"p[style-name='{OUTLINE_STYLE.format(n)}'] => h{n}:fresh" for n in range(1, 7)]
    for name, level in sorted(levels.values()):
        if name and "'" not in name and "\\" not in name and not _HEADING_NAME.fullmatch(name.strip()):
            lines.append(f"p[style-name='{name}'] => h{level}:fresh")
    return "\n".join(lines)


def outline_styles() -> bytes:
    """Styles for paragraphs given an outline level directly, to append to styles.xml."""
    return "".join(
        f'<w:style xmlns:w="{W}" w:type="paragraph" w:styleId="{OUTLINE_STYLE.format(n)}">'
        f'<w:name w:val="{OUTLINE_STYLE.format(n)}"/></w:style>'
        for n in range(1, 7)
    ).encode()


def mark_outline_levels(document: Any) -> None:
    """A paragraph with an outline level of its own (levels 1 to 6) takes the matching outline style."""
    from lxml import etree

    for properties in document.iter(f"{_W}pPr"):
        level = _outline_level(properties)
        if level is None or level > 6 or properties.getparent().tag != f"{_W}p":
            continue
        style = properties.find(f"{_W}pStyle")
        if style is None:
            style = etree.Element(f"{_W}pStyle")
            properties.insert(0, style)
        style.set(f"{_W}val", OUTLINE_STYLE.format(level))


def _outline_level(properties: Any) -> int | None:
    if properties is None:
        return None
    value = _value(properties.find(f"{_W}outlineLvl"))
    if value is None or not value.isdigit() or int(value) > 8:
        return None  # 9 is body text
    return int(value) + 1


def _value(element: Any) -> str | None:
    return None if element is None else element.get(f"{_W}val")


def take_equations(part: Any, start: int) -> list[tuple[Any, bool]]:
    """Take each equation (m:oMathPara: displayed; m:oMath elsewhere: inline) out of a part, a run
    holding its mark in its place; return them in mark order, numbered from start."""
    from lxml import etree

    taken: list[tuple[Any, bool]] = []
    for equation in list(part.iter(f"{{{M}}}oMathPara", f"{{{M}}}oMath")):
        if equation.getparent() is None or any(
            ancestor.tag in (f"{{{M}}}oMathPara", f"{{{M}}}oMath") for ancestor in equation.iterancestors()
        ):
            continue  # inside one already taken
        display = equation.tag == f"{{{M}}}oMathPara"
        run = etree.Element(f"{_W}r")
        etree.SubElement(run, f"{_W}t").text = EQUATION_MARK.format(start + len(taken), display="D" if display else "I")
        equation.getparent().replace(equation, run)
        taken.append((equation, display))
    return taken


def revisions_and_text_boxes(document: Any) -> list[str]:
    """Warnings for what mammoth reads without a word: tracked changes (insertions are kept,
    deletions dropped, as if accepted) and text boxes (their text stands where they are anchored)."""
    marks = {f"{_W}rPr", f"{_W}pPr", f"{_W}trPr", f"{_W}tcPr"}  # a changed paragraph mark or row, not text
    counts = {"ins": 0, "del": 0}
    for kind, tags in (("ins", ("ins", "moveTo")), ("del", ("del", "moveFrom"))):
        for change in document.iter(*(f"{_W}{tag}" for tag in tags)):
            if change.getparent() is not None and change.getparent().tag not in marks:
                counts[kind] += 1
    # A text box is written twice, for new and old Word (mc:Choice, mc:Fallback): counted once.
    fallback = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
    boxes = sum(
        1
        for box in document.iter(f"{_W}txbxContent")
        if not any(ancestor.tag == fallback for ancestor in box.iterancestors())
    )
    warnings = []
    if counts["ins"] or counts["del"]:
        warnings.append(
            f"Word document: it has tracked changes ({counts['ins']} insertion{'s' if counts['ins'] != 1 else ''}, "
            f"{counts['del']} deletion{'s' if counts['del'] != 1 else ''}); the book shows them accepted: inserted "
            "text kept, deleted text left out. Accept or reject them in Word if that is not what you mean."
        )
    if boxes:
        warnings.append(
            f"Word document: the text of its {boxes} text box{'es' if boxes > 1 else ''} stands in the book where "
            f"{'they are' if boxes > 1 else 'it is'} anchored, as ordinary paragraphs; check that place."
        )
    return warnings
