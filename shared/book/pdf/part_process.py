"""Typesets one part of a book in a process of its own: `python -m shared.book.pdf.part_process
FOLDER NAME REQUEST`: FOLDER/NAME.typ, REQUEST a JSON object (standards, timestamp, font folders,
the CPU seconds and bytes the process may use).

Typst keeps everything it laid out until its process ends (its caches have no eviction the
binding reaches): typeset whole, a 500-page book held 580 MB. A part in a process that then exits
holds only its own pages, and gives them all back. Writes FOLDER/NAME.pdf and FOLDER/NAME.json
(`places`: [label, page from 1, x, y, printed page number] for each label the part's query
reported; `pages`; `peak_bytes`: the most memory the process held), or FOLDER/NAME.error (Typst's
message) and exits 3. With `merge` in REQUEST (a file holding the plan: the body's parts, where
their labels landed), it typesets nothing: it joins NAME.pdf, the front matter, and the parts into
the book, written as FOLDER/book.pdf.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

PLACES_LABEL = "quire-places"
REFUSED = 3


def places_query(labels: list[str]) -> str:
    """Typst that reports where each label landed, and the part's page count (the report sits on
    its last page), as metadata the process queries after typesetting."""
    names = "".join(json.dumps(label) + ", " for label in labels)
    return (
        f"\n#context [#metadata((pages: here().page(), places: ({names}).map(l => {{ let found = query(label(l)); "
        "if found.len() == 0 { none } else { let at = found.first().location(); let p = at.position(); "
        f"(l, p.page, p.x.pt(), p.y.pt(), counter(page).at(at).first()) }} }})))<{PLACES_LABEL}>]\n"
    )


def _limit(kind: int, amount: int | None) -> None:
    if amount:
        resource.setrlimit(kind, (amount, resource.getrlimit(kind)[1]))


def main(folder: Path, name: str, request: dict[str, Any]) -> int:
    _limit(resource.RLIMIT_CPU, request.get("cpu_seconds"))
    _limit(resource.RLIMIT_DATA, request.get("data_bytes"))
    if "merge" in request:
        return _join(folder, name, json.loads((folder / str(request["merge"])).read_text()))
    import typst

    # Only the fonts the app brings: the PDF comes out the same here and on Azure, which has no others.
    compiler = typst.Compiler(
        str(folder / f"{name}.typ"), root=str(folder), font_paths=list(request["fonts"]), ignore_system_fonts=True
    )
    try:
        pdf = compiler.compile(pdf_standards=request["standards"], timestamp=request["timestamp"])
        found = json.loads(compiler.query(f"<{PLACES_LABEL}>", field="value", one=True))
    except typst.TypstError as refused:
        (folder / f"{name}.error").write_text(refused.message)
        return REFUSED
    assert isinstance(pdf, bytes)
    (folder / f"{name}.pdf").write_bytes(pdf)
    report = {
        "places": [place for place in found["places"] if place],
        "pages": found["pages"],
        "peak_bytes": resident("VmHWM"),
    }
    (folder / f"{name}.json").write_text(json.dumps(report))
    return 0


def _join(folder: Path, name: str, plan: dict[str, Any]) -> int:
    """The front matter (NAME.pdf) and the body's parts, from their files, as one PDF, book.pdf
    (merge.py): in a process of its own too, since the whole book is held while it is
    joined, and given back when the process exits."""
    from shared.book.pdf.merge import Place, TypesetPart, merge

    front = folder / f"{name}.pdf"
    body = [TypesetPart(folder / f"{part}.pdf", blank) for part, blank in plan["body"]]
    places = {label: Place(*place) for label, place in plan["places"].items()}
    merge(TypesetPart(front), body, places, plan["descriptions"], folder / "book.pdf", plan["print_trim"])
    (folder / f"{name}.json").write_text(json.dumps({"places": [], "pages": 0, "peak_bytes": resident("VmHWM")}))
    return 0


def resident(field: str) -> int:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM: its own, where getrusage
    would count the parent's from before the exec), in bytes; 0 where /proc is unknown."""
    try:
        with open("/proc/self/status", "rb") as status:
            line = next(line for line in status if line.startswith(field.encode() + b":"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])))
