"""A book typeset in parts (shared/book/pdf/typeset.py) reads as one book: the same pages, text and
outline as typeset whole, the contents' page numbers where the chapters are, links between parts
landing on their targets, page numbers running on, and one tagged structure whose parent tree
every page and link points into (what a screen reader walks). Read back by qpdf, poppler and pikepdf."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from typing import Any

import pikepdf
import pytest

from shared.book.conversion import book_parts, parse, render
from shared.book.pdf.typeset import PdfResult, write_pdf
from tests.book.conftest import options
from tests.book.pdf_tools import claims_pdf_ua, missing_in_order, outline_of, pdf_words, qpdf_check, text_of
from tests.support import ROOT

pytestmark = pytest.mark.tools
WORDS = "The tide came in over the harbour wall and went out again before the boats were home."


def linked_book() -> bytes:
    """Twelve chapters with sections, as HTML; the first links to a section of the tenth, the
    tenth back to the first chapter and to the eleventh's last section."""
    chapters = []
    for n in range(1, 13):
        body = "".join(f"<p>{WORDS} Chapter {n} paragraph {p}.</p>" for p in range(14))
        links = ""
        if n == 1:
            links = '<p>See <a href="#harbour-10">the tenth\'s harbour</a>.</p>'
        if n == 10:
            links = (
                '<p>Back to <a href="#chapter-1">the first chapter</a> or on to <a href="#storm-11">the storm</a>.</p>'
            )
        chapters.append(
            f'<h1 id="chapter-{n}">Chapter {n}</h1>{links}{body}<h2 id="harbour-{n}">Harbour {n}</h2>{body}'
            f'<h2 id="storm-{n}">Storm {n}</h2><p>{WORDS}</p>'
        )
    return ("<html><head><title>Parts</title></head><body>" + "".join(chapters) + "</body></html>").encode()


def typeset(data: bytes, page: str, part_bytes: int, kind: str = "html") -> PdfResult:
    opts = options(kind, pdf_page=page)
    book = parse(data, opts)
    return write_pdf(book_parts(book, render(book), {}, opts), page, part_bytes=part_bytes)


def link_targets(pdf: pikepdf.Pdf) -> list[tuple[int, int]]:
    """(page with the link, page it leads to), from 0, for every link within the document."""
    pages: dict[Any, int] = {page.objgen: index for index, page in enumerate(pdf.pages)}
    named: Any = pikepdf.NameTree(pdf.Root.Names.Dests) if "/Names" in pdf.Root else {}
    found = []
    for index, page in enumerate(pdf.pages):
        for annotation in page.obj.get("/Annots", []):
            action = annotation.get("/A")
            assert action is None or not str(action.get("/URI", "")).startswith("quire-goto:")
            if "/Dest" in annotation:
                destination = named[str(annotation.Dest)]
                found.append((index, pages[destination.D[0].objgen]))
    return found


def structure_faults(pdf: pikepdf.Pdf) -> list[str]:
    """What breaks the tagged structure: a page or link whose parent tree key is missing, an element
    on a page the document does not have, a top element not under the one document element."""
    root = pdf.Root.StructTreeRoot
    values = list(root.ParentTree.Nums)
    keys = [int(values[i]) for i in range(0, len(values), 2)]
    faults = [f"{len(keys) - len(set(keys))} keys twice"] if len(set(keys)) != len(keys) else []
    if int(root.ParentTreeNextKey) <= max(keys, default=-1):
        faults.append("ParentTreeNextKey below a key")
    pages = {page.objgen for page in pdf.pages}
    for index, page in enumerate(pdf.pages):
        if "/StructParents" in page.obj and int(page.obj.StructParents) not in keys:
            faults.append(f"page {index}: StructParents not in the parent tree")
        for annotation in page.obj.get("/Annots", []):
            if int(annotation.get("/StructParent", -1)) not in keys:
                faults.append(f"page {index}: a link without its parent tree entry")
    document = root.K if isinstance(root.K, pikepdf.Dictionary) else root.K[0]
    seen = 0

    def walk(element: Any) -> None:
        nonlocal seen
        seen += 1
        if "/Pg" in element and element.Pg.objgen not in pages:
            faults.append(f"{element.S} on a page not in the document")
        kids = element.get("/K")
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else []:
            if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                if kid.P.objgen != element.objgen:
                    faults.append(f"{kid.S} under another parent")
                walk(kid)

    walk(document)
    return faults if seen > 1 else ["no structure"]


def test_a_book_typeset_in_parts_reads_as_the_book_typeset_whole() -> None:
    whole = typeset(linked_book(), "a4", part_bytes=10**9)
    parted = typeset(linked_book(), "a4", part_bytes=20_000)
    assert whole.pdf is not None and parted.pdf is not None, parted.warnings
    assert parted.pdf_ua and claims_pdf_ua(parted.pdf) and parted.warnings == []
    assert qpdf_check(parted.pdf)[0] == 0
    one, split = pikepdf.open(io.BytesIO(whole.pdf)), pikepdf.open(io.BytesIO(parted.pdf))
    assert len(split.pages) == len(one.pages)
    assert [p.label for p in split.pages] == [p.label for p in one.pages]
    assert outline_of(parted.pdf) == outline_of(whole.pdf)
    assert link_targets(split) == link_targets(one) and len(link_targets(one)) == 36 + 3
    assert missing_in_order(pdf_words(whole.pdf), pdf_words(parted.pdf)) == []
    assert structure_faults(split) == [] and structure_faults(one) == []


def test_the_contents_and_the_links_between_parts_lead_where_their_targets_are() -> None:
    result = typeset(linked_book(), "a4", part_bytes=20_000)
    assert result.pdf is not None
    pdf = pikepdf.open(io.BytesIO(result.pdf))
    pages = text_of(result.pdf).split("\f")
    labels = {page.label: index for index, page in enumerate(pdf.pages)}
    contents = next(index for index, text in enumerate(pages) if "Harbour 1 ." in text)
    lines = [line.rsplit(" ", 1) for line in pages[contents].splitlines() if "." in line]
    entries = {title.rstrip(" .").strip(): number for title, number in lines if number.isdigit()}
    assert len(entries) == 36  # 12 chapters, each with two sections
    for title, number in entries.items():
        assert title in pages[labels[number]], f"{title} is not on page {number}"
    links = link_targets(pdf)
    from_contents = [target for page, target in links if page == contents]
    assert sorted(from_contents) == sorted(labels[number] for number in entries.values())
    chapter_one = labels[entries["Chapter 1"]]
    across = {pages[target].split("\n")[0:3][0] for page, target in links if page != contents}
    assert any("Harbour 10" in pages[target] for page, target in links if page == chapter_one)
    assert any("Chapter 1" in pages[target] and target == chapter_one for _, target in links)
    assert any("Storm 11" in pages[target] for page, target in links if page != contents), across


def test_in_print_every_part_starts_its_first_chapter_on_a_right_hand_page() -> None:
    result = typeset(linked_book(), "5x8", part_bytes=20_000)
    assert result.pdf is not None
    pdf = pikepdf.open(io.BytesIO(result.pdf))
    with pdf.open_outline() as outline:
        destinations: list[Any] = [item.destination for item in outline.root]
        starts = [pdf.pages.index(pikepdf.Page(destination[0])) for destination in destinations]
    assert len(starts) == 12
    # From 0: a right-hand page has an even index and an odd number.
    assert all(index % 2 == 0 and int(pdf.pages[index].label) % 2 == 1 for index in starts)
    assert pdf.pages[starts[0]].label == "1"
    # The trim box stated on every page (pikepdf would read a missing one as the media box): 5 × 8 in.
    assert all(list(page.obj.get("/TrimBox", [])) == list(page.mediabox) == [0, 0, 360, 576] for page in pdf.pages)
    assert structure_faults(pdf) == []


def test_a_book_past_the_steps_cpu_budget_gets_no_pdf_at_once_and_says_why() -> None:
    """Run with 3 s of CPU left, a book that needs more is refused before its chapters are parsed:
    no part's process starts, and the warning says what it would need and what was left."""
    probe = (
        "import math, resource, sys\n"
        "from tests.book.test_pdf_parts import WORDS, typeset\n"
        "book = ''.join(f'# Chapter {n}\\n\\n' + '\\n\\n'.join([WORDS * 8] * 40) + '\\n\\n' for n in range(90))\n"
        "used = resource.getrusage(resource.RUSAGE_SELF)\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used.ru_utime + used.ru_stime) + 3, resource.RLIM_INFINITY))\n"
        "result = typeset(book.encode(), 'a4', part_bytes=10**9, kind='markdown')\n"
        "parts = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(result.pdf is None, parts.ru_utime + parts.ru_stime == 0, result.warnings)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    made_none, no_part, warnings = done.stdout.strip().split(" ", 2)
    assert (made_none, no_part) == ("True", "True"), done.stdout
    assert "The PDF was not made: a book this long (about " in warnings
    assert re.search(
        r"needs about \d+ s of processing to typeset, more than a conversion step may use \([123] s left of STEP_CPU_SECONDS\)",
        warnings,
    )
