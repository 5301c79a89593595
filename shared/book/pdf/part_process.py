"""Typesets one part of a book in a process of its own: `python -m shared.book.pdf.part_process
FOLDER NAME REQUEST`: FOLDER/NAME.typ, REQUEST a JSON object (standards, timestamp, font folders,
the CPU seconds and bytes the process may use).

Typst keeps everything it laid out until its process ends (its caches have no eviction the
binding reaches): typeset whole, a 500-page book held 580 MB. A part in a process that then exits
holds only its own pages, and gives them all back. Writes FOLDER/NAME.pdf and FOLDER/NAME.json
(`places`: [label, page from 1, x, y, printed page number] for each label the part's query
reported; `peak_bytes`: the most memory the process held), or FOLDER/NAME.error (Typst's message)
and exits 3.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

PLACES_LABEL = "quire-places"
REFUSED = 3


def places_query(labels: list[str]) -> str:
    """Typst that reports where each label landed, as metadata the process queries after typesetting."""
    names = "".join(json.dumps(label) + ", " for label in labels)
    return (
        f"\n#context [#metadata(({names}).map(l => {{ let found = query(label(l)); if found.len() == 0 {{ none }} "
        "else { let at = found.first().location(); let p = at.position(); "
        f"(l, p.page, p.x.pt(), p.y.pt(), counter(page).at(at).first()) }} }}))<{PLACES_LABEL}>]\n"
    )


def _limit(kind: int, amount: int | None) -> None:
    if amount:
        resource.setrlimit(kind, (amount, resource.getrlimit(kind)[1]))


def main(folder: Path, name: str, request: dict[str, object]) -> int:
    _limit(resource.RLIMIT_CPU, request.get("cpu_seconds"))  # type: ignore[arg-type]
    _limit(resource.RLIMIT_DATA, request.get("data_bytes"))  # type: ignore[arg-type]
    import typst

    compiler = typst.Compiler(str(folder / f"{name}.typ"), root=str(folder), font_paths=list(request["fonts"]))  # type: ignore[call-overload]
    try:
        pdf = compiler.compile(pdf_standards=request["standards"], timestamp=request["timestamp"])  # type: ignore[arg-type]
        found = json.loads(compiler.query(f"<{PLACES_LABEL}>", field="value", one=True))
    except typst.TypstError as refused:
        (folder / f"{name}.error").write_text(refused.message)
        return REFUSED
    assert isinstance(pdf, bytes)
    (folder / f"{name}.pdf").write_bytes(pdf)
    report = {"places": [place for place in found if place], "peak_bytes": resident("VmHWM")}
    (folder / f"{name}.json").write_text(json.dumps(report))
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
