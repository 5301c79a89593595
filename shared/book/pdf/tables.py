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
    placed = _placed(header_rows + body_rows, len(header_rows))
    if not placed:
        return ""
    columns = max(x + colspan for _, x, _, colspan, _ in placed)
    # Rows and cells are written whole, not through writer.element: their labels go before the table.
    anchors = "".join(writer.anchor(e) for e in (*header_rows, *body_rows, *(c for c, *_ in placed)))
    head = [_cell(writer, *place, strong=True) for place in placed if place[2] < len(header_rows)]
    cells = [_cell(writer, *place) for place in placed if place[2] >= len(header_rows)]
    if head:
        cells.insert(0, f"table.header({', '.join(head)})")
    size = "" if columns <= 4 else f"#set text(size: {max(6.5, 10 - 0.5 * (columns - 4)):.1f}pt)\n"
    table = f"table(columns: {columns}, inset: 4pt, stroke: 0.4pt + luma(170), {', '.join(cells)})"
    if caption is not None:
        return f"\n\n{anchors}#[{size}#figure(kind: table, {table}, caption: [{writer.blocks(caption).strip()}])]\n\n"
    return f"\n\n{anchors}#[{size}#{table}]\n\n"


def _placed(rows: list[Any], header_rows: int) -> list[tuple[Any, int, int, int, int]]:
    """Each cell with its column, row and spans, placed as a browser places it: in the first column
    no cell from a row above holds, a span cut at the table's (or its header's) last row. Typst is given the places,
    since it knows nothing of the HTML rows and would run one row's cells into the next."""
    taken: dict[int, set[int]] = {}  # row → the columns cells from rows above hold in it
    placed = []
    for y, row in enumerate(rows):
        x = 0
        for cell in _cells(row):
            while x in taken.get(y, ()):
                x += 1
            last = header_rows if y < header_rows else len(rows)
            colspan, rowspan = _span(cell, "colspan"), min(_span(cell, "rowspan"), last - y)
            for below in range(y, y + rowspan):
                taken.setdefault(below, set()).update(range(x, x + colspan))
            placed.append((cell, x, y, colspan, rowspan))
            x += colspan
    return placed


def _cells(row: Any) -> list[Any]:
    return [c for c in row if _local(c) in ("td", "th")]


def _span(cell: Any, name: str) -> int:
    value = cell.get(name, "1")
    return min(int(value), _MAX_SPAN) if value.isdigit() and int(value) > 0 else 1


def _cell(writer: ChapterWriter, cell: Any, x: int, y: int, colspan: int, rowspan: int, strong: bool = False) -> str:
    inner = writer.blocks(cell).strip()
    if (strong or _local(cell) == "th") and inner:
        inner = f"#strong[{inner}]"
    options = [f"x: {x}", f"y: {y}"]
    if colspan > 1:
        options.append(f"colspan: {colspan}")
    if rowspan > 1:
        options.append(f"rowspan: {rowspan}")
    align = next((_ALIGN[c] for c in cell.get("class", "").split() if c in _ALIGN), "")
    if align:
        options.append(f"align: {align}")
    return f"table.cell({', '.join(options)})[{inner}]"
