"""Tables, lists and definition lists in Typst markup. Pure.

A table keeps its header rows at the top of every page it runs onto (`table.header`), its cells'
spans and alignment; a wide table is set smaller so it fits the text block.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.book.pdf.text import local as _local


class ChapterWriter(Protocol):
    """What a table or list needs from the chapter's writer (markup.py) for its cells and items."""

    def blocks(self, parent: Any) -> str: ...

    def anchor(self, element: Any) -> str: ...


_ALIGN = {"align-left": "left", "align-right": "right", "align-center": "center"}
_MAX_SPAN = 1000  # colspan/rowspan beyond any real table: a hostile value is not a layout request


def write_list(writer: ChapterWriter, element: Any, ordered: bool) -> str:
    items = [child for child in element if _local(child) == "li"]
    body = ", ".join(f"[{writer.blocks(item).strip()}]" for item in items)
    if not body:
        return ""
    if ordered:
        start = element.get("start", "1")
        first = int(start) if start.lstrip("-").isdigit() and abs(int(start)) < 1_000_000 else 1
        numbering = {"a": '"a."', "A": '"A."', "i": '"i."', "I": '"I."'}.get(element.get("type", ""), '"1."')
        return f"\n\n#enum(start: {max(first, 0)}, numbering: {numbering}, {body})\n\n"
    return f"\n\n#list({body})\n\n"


def write_terms(writer: ChapterWriter, element: Any) -> str:
    items: list[str] = []
    term = ""
    for child in element:
        name = _local(child)
        if name == "dt":
            term = writer.blocks(child).strip()
        elif name == "dd":
            items.append(f"terms.item[{term}][{writer.blocks(child).strip()}]")
            term = ""
    return f"\n\n#terms({', '.join(items)})\n\n" if items else ""


def write_table(writer: ChapterWriter, element: Any) -> str:
    header_rows: list[Any] = []
    body_rows: list[Any] = []
    caption = None
    for child in element:
        name = _local(child)
        if name == "thead":
            header_rows.extend(r for r in child if _local(r) == "tr")
        elif name in ("tbody", "tfoot"):
            body_rows.extend(r for r in child if _local(r) == "tr")
        elif name == "tr":
            body_rows.append(child)
        elif name == "caption":
            caption = child
    if not header_rows and body_rows and all(_local(c) == "th" for c in body_rows[0] if isinstance(c.tag, str)):
        header_rows, body_rows = body_rows[:1], body_rows[1:]
    columns = max((_width(row) for row in header_rows + body_rows), default=0)
    if columns == 0:
        return ""
    # Rows and cells are written whole, not through writer.element: their labels go before the table.
    anchors = "".join(
        writer.anchor(e) for e in (*header_rows, *body_rows, *(c for r in header_rows + body_rows for c in _cells(r)))
    )
    cells = []
    if header_rows:
        header = ", ".join(_cell(writer, c, strong=True) for row in header_rows for c in _cells(row))
        cells.append(f"table.header({header})")
    cells.extend(_cell(writer, c) for row in body_rows for c in _cells(row))
    size = "" if columns <= 4 else f"#set text(size: {max(6.5, 10 - 0.5 * (columns - 4)):.1f}pt)\n"
    table = f"table(columns: {columns}, inset: 4pt, stroke: 0.4pt + luma(170), {', '.join(cells)})"
    if caption is not None:
        return f"\n\n{anchors}#[{size}#figure(kind: table, {table}, caption: [{writer.blocks(caption).strip()}])]\n\n"
    return f"\n\n{anchors}#[{size}#{table}]\n\n"


def _cells(row: Any) -> list[Any]:
    return [c for c in row if _local(c) in ("td", "th")]


def _width(row: Any) -> int:
    return sum(_span(c, "colspan") for c in _cells(row))


def _span(cell: Any, name: str) -> int:
    value = cell.get(name, "1")
    return min(int(value), _MAX_SPAN) if value.isdigit() and int(value) > 0 else 1


def _cell(writer: ChapterWriter, cell: Any, strong: bool = False) -> str:
    inner = writer.blocks(cell).strip()
    if strong or _local(cell) == "th":
        inner = f"#strong[{inner}]" if inner else ""
    options = []
    if (span := _span(cell, "colspan")) > 1:
        options.append(f"colspan: {span}")
    if (span := _span(cell, "rowspan")) > 1:
        options.append(f"rowspan: {span}")
    align = next((_ALIGN[c] for c in cell.get("class", "").split() if c in _ALIGN), "")
    if align:
        options.append(f"align: {align}")
    if not options:
        return f"[{inner}]"
    return f"table.cell({', '.join(options)})[{inner}]"
