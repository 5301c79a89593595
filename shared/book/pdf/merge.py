"""One PDF from the book's typeset parts: the front matter, then each part of the body, as one
document a reader (and a screen reader) cannot tell from a book typeset whole. In memory, by
pikepdf (qpdf): no I/O.

What a part carries that the whole must keep:
- its pages, with their page labels (roman front matter, arabic body, numbered on from part to part);
- its tagged structure (PDF/UA): the parts' top structure elements go under the front's one
  document element, and the parent tree entries pages and annotations point at are renumbered;
- its bookmarks, in order, with their places;
- links to places in other parts, which Typst could only write as `quire-goto:` addresses: they
  become links within the document, to the place the part that holds the target reported.
A part may be preceded by a blank page: in print, a chapter starts on a right-hand page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.book.pdf.targets import PART_LINK


@dataclass(frozen=True)
class Place:
    """Where a label landed in its part: the part's page (from 0), x and y from the page's top-left
    in points, and the page's number as printed."""

    part: int  # 0: the front matter; 1…: the body's parts
    page: int
    x: float
    y: float
    number: int


@dataclass
class TypesetPart:
    pdf: Path  # its file: qpdf reads from it what it copies as it needs it
    blank_before: bool = False  # a blank page goes before it (a right-hand start in print)


def merge(
    front: TypesetPart,
    body: list[TypesetPart],
    places: dict[str, Place],
    descriptions: dict[str, str],
    out: Path,
    print_trim: bool = False,
) -> None:
    """The parts as one PDF, written to `out`; `descriptions` names a link's target for a screen
    reader (a link annotation's /Contents), by label. For a print trim each page states its trim
    box (the whole page: nothing is set in a bleed), which printers' preflight checks read."""
    import pikepdf

    whole = pikepdf.open(front.pdf)
    first_page: list[int] = [0]  # each part's first page in the whole, by part number
    labels = _page_label_entries(whole, 0)
    structure = whole.Root.get("/StructTreeRoot")
    parents = _number_tree(structure.ParentTree) if structure is not None else []
    outline = _outline_items(whole, 0)
    for number, part in enumerate(body, start=1):
        if part.blank_before:
            _blank_page(whole, labels)
        source = pikepdf.open(part.pdf)
        first_page.append(len(whole.pages))
        whole.add_pages_from(source)  # with what the document holds for them (named destinations)
        labels.extend(_page_label_entries(source, first_page[number]))
        outline.extend(_outline_items(source, number))
        if structure is not None:
            parents.extend(_adopt_structure(whole, source, structure, first_page[number], _next_key(parents)))
    if structure is not None:
        structure.ParentTree = pikepdf.Dictionary(
            Nums=pikepdf.Array([x for key, value in parents for x in (key, value)])
        )
        structure.ParentTreeNextKey = _next_key(parents)
    _write_page_labels(whole, labels)
    if print_trim:
        for page in whole.pages:
            page.obj.TrimBox = page.obj.MediaBox
    _write_outline(whole, outline, first_page)
    _link_across_parts(whole, places, first_page, descriptions)
    # The ID from the content: the same book gives the same bytes.
    whole.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def _document_element(structure: Any) -> Any:
    kids = structure.K
    return kids if not _is_array(kids) else kids[0]


def _is_array(value: Any) -> bool:
    import pikepdf

    return isinstance(value, pikepdf.Array)


def _next_key(parents: list[tuple[int, Any]]) -> int:
    return max((key for key, _ in parents), default=-1) + 1


def _adopt_structure(whole: Any, source: Any, structure: Any, first: int, offset: int) -> list[tuple[int, Any]]:
    """The part's structure elements under the whole's document element; its parent tree entries,
    renumbered to follow the whole's (from `offset`), as the pages from `first` now point at them."""
    import pikepdf

    theirs = source.Root.get("/StructTreeRoot")
    if theirs is None:
        return []
    document = _document_element(structure)
    copied = whole.copy_foreign(theirs)  # pages already copied are reused, not copied again
    their_document = _document_element(copied)
    kids = their_document.K if _is_array(their_document.K) else pikepdf.Array([their_document.K])
    if not _is_array(document.K):
        document.K = pikepdf.Array([document.K])
    for kid in kids:
        if isinstance(kid, pikepdf.Dictionary) and "/P" in kid:
            kid.P = document
        document.K.append(kid)
    for page in whole.pages[first:]:
        if "/StructParents" in page.obj:
            page.obj.StructParents = int(page.obj.StructParents) + offset
        for annotation in page.obj.get("/Annots", []):
            if "/StructParent" in annotation:
                annotation.StructParent = int(annotation.StructParent) + offset
    roles = copied.get("/RoleMap")
    if roles is not None:
        mine = structure.get("/RoleMap")
        if mine is None:
            structure.RoleMap = pikepdf.Dictionary()
            mine = structure.RoleMap
        for name, role in roles.items():
            if name not in mine:
                mine[name] = role
    return [(key + offset, value) for key, value in _number_tree(copied.ParentTree)]


def _number_tree(node: Any) -> list[tuple[int, Any]]:
    entries: list[tuple[int, Any]] = []
    if "/Nums" in node:
        values = list(node.Nums)
        entries.extend((int(values[i]), values[i + 1]) for i in range(0, len(values), 2))
    for kid in node.get("/Kids", []):
        entries.extend(_number_tree(kid))
    return entries


def _page_label_entries(pdf: Any, first: int) -> list[tuple[int, dict[str, Any]]]:
    """Page labels as plain values (they move between documents): style, prefix, first number."""
    labels = pdf.Root.get("/PageLabels")
    entries = _number_tree(labels) if labels is not None else []
    return [
        (index + first, {key: label[key] for key in ("/S", "/P", "/St") if key in label}) for index, label in entries
    ]


def _blank_page(whole: Any, labels: list[tuple[int, dict[str, Any]]]) -> None:
    """A page with nothing on it, the size of the last one, without a printed number."""
    last = whole.pages[-1]
    whole.add_blank_page(page_size=(float(last.mediabox[2]), float(last.mediabox[3])))
    labels.append((len(whole.pages) - 1, {}))


def _write_page_labels(whole: Any, labels: list[tuple[int, dict[str, Any]]]) -> None:
    import pikepdf

    numbers = pikepdf.Array()
    for index, label in sorted(labels, key=lambda entry: entry[0]):
        numbers.append(index)
        numbers.append(
            pikepdf.Dictionary(Type=pikepdf.Name.PageLabel, **{key[1:]: value for key, value in label.items()})
        )
    whole.Root.PageLabels = pikepdf.Dictionary(Nums=numbers)


@dataclass
class _Bookmark:
    title: str
    part: int
    page: int  # in its part, from 0
    top: float | None  # points from the page's bottom, as the PDF gives it
    children: list[_Bookmark]


def _outline_items(pdf: Any, part: int) -> list[_Bookmark]:
    pages = {page.objgen: index for index, page in enumerate(pdf.pages)}

    def walk(items: Any) -> list[_Bookmark]:
        found = []
        for item in items:
            destination = item.destination
            if destination is None and item.action is not None:
                destination = item.action.get("/D")
            page, top = 0, None
            if destination is not None and len(destination) > 0:
                page = pages.get(destination[0].objgen, 0)
                if len(destination) > 3 and str(destination[1]) == "/XYZ" and destination[3] is not None:
                    top = float(destination[3])
            found.append(_Bookmark(str(item.title), part, page, top, walk(item.children)))
        return found

    with pdf.open_outline() as outline:
        return walk(outline.root)


def _write_outline(whole: Any, bookmarks: list[_Bookmark], first_page: list[int]) -> None:
    import pikepdf

    def item(mark: _Bookmark) -> Any:
        index = first_page[mark.part] + mark.page
        made = (
            pikepdf.OutlineItem(mark.title, index, "XYZ", top=mark.top)
            if mark.top is not None
            else pikepdf.OutlineItem(mark.title, index)
        )
        made.children.extend(item(child) for child in mark.children)
        return made

    with whole.open_outline() as outline:
        outline.root.clear()
        outline.root.extend(item(mark) for mark in bookmarks)


def _link_across_parts(
    whole: Any, places: dict[str, Place], first_page: list[int], descriptions: dict[str, str]
) -> None:
    """`quire-goto:label` addresses become links to the label's named destination, as Typst links
    within a part (and describes them: "Chapter 3, page 41")."""
    import pikepdf

    names = whole.Root.get("/Names")
    if names is None:
        whole.Root.Names = names = pikepdf.Dictionary()
    destinations = pikepdf.NameTree(names.Dests) if "/Dests" in names else pikepdf.NameTree.new(whole)
    names.Dests = destinations.obj
    for page in whole.pages:
        for annotation in page.obj.get("/Annots", []):
            action = annotation.get("/A")
            if action is None or action.get("/S") != pikepdf.Name.URI or not str(action.URI).startswith(PART_LINK):
                continue
            del annotation["/A"]
            label = str(action.URI)[len(PART_LINK) :]
            place = places.get(label)
            if place is None:  # its part did not report it: the link goes nowhere rather than out
                continue
            if label not in destinations:
                target = whole.pages[first_page[place.part] + place.page]
                destinations[label] = pikepdf.Dictionary(
                    D=pikepdf.Array([target.obj, pikepdf.Name.XYZ, place.x, float(target.mediabox[3]) - place.y, 0])
                )
            annotation.Dest = pikepdf.String(label)
            described = descriptions.get(label)
            annotation.Contents = pikepdf.String(
                f"{described}, page {place.number}" if described else f"Page {place.number}"
            )
