"""What the web-app book's search index and an edition's change summary add to a conversion (#39:
each ≤ 10 % of it), for one of bench/convert.py's books, which runs this module in a process of its
own (fresh caches, as the CLI has) after timing the CLI on the book:
`python bench/added_cost.py FOLDER --runs N` prints one JSON line.

FOLDER holds book.zip and the CLI's output (quire/app/). Timed, each the median of N, wall and CPU
(this process's user + system time):
- the index: `build_index` over the chapters of the CLI's web-app book (each page's <article>, the
  HTML write_webapp gave it; the bytes it builds are checked to be the CLI's search.json). The CLI's
  time already holds it: this is the share of it that the index is. Its size is search.json gzipped
  (level 6, what servers use on the fly) against the book's text (`text_size`).
- the change summary: what the package step does with it (shared/worker/steps.py's `package`) but
  storage: the chapters' text from their XHTML (`chapter_texts`), the previous edition's text read
  back (`read_fingerprint`), the comparison (`compare`) and this edition's text kept for the next
  (`text_fingerprint`). The previous edition is the book with one sentence in 50 edited, as
  bench/changes.py makes it; both are parsed and rendered first, untimed. The CLI makes no summary
  (it has no previous edition): this is added to the pipeline's conversion.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.changes import edited, timed  # noqa: E402
from bench.search_index import articles  # noqa: E402
from shared.book.changes import chapter_texts, compare, read_fingerprint, text_fingerprint  # noqa: E402
from shared.book.conversion import ConvertOptions, parse, render  # noqa: E402
from shared.book.model import RenderedChapter  # noqa: E402
from shared.book.search_index import SEARCH_INDEX, build_index, text_size  # noqa: E402

TARGET = 0.10  # of the conversion's time
EDIT_EVERY = 50  # one sentence in this many edited for the previous edition


def previous_edition(manuscript: bytes) -> bytes:
    """The zip with one sentence in EDIT_EVERY of each chapter file edited (front matter and
    mdBook's SUMMARY.md and book.toml left alone), the rest as it was."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(manuscript)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".md") and Path(info.filename).name != "SUMMARY.md":
                text = data.decode("utf-8")
                head, body = "", text
                if text.startswith("---\n"):
                    end = text.index("\n---\n", 4) + len("\n---\n")
                    head, body = text[:end], text[end:]
                data = (head + edited(body, EDIT_EVERY)).encode("utf-8")
            target.writestr(info, data)
    return out.getvalue()


def rendered(manuscript: bytes) -> list[RenderedChapter]:
    options = ConvertOptions(kind="zip", modified=datetime(2026, 11, 21, tzinfo=UTC))
    return render(parse(manuscript, options))


def measure(folder: Path, runs: int) -> dict[str, Any]:
    app = folder / "quire" / "app"
    files = {str(p.relative_to(app)): p.read_bytes() for p in (app / "chapters").glob("*.html")}
    built = (app / SEARCH_INDEX).read_bytes()
    index = json.loads(built)
    pages = {chapter.href: chapter for chapter in articles(files)}
    chapters = [replace(pages[c["href"]], title=c["title"]) for c in index["chapters"]]
    index_wall, index_cpu, rebuilt = timed(lambda: build_index(chapters, index["language"]), runs)
    if rebuilt != built:
        raise SystemExit(f"{folder}: the index built here is not the CLI's search.json")

    manuscript = (folder / "book.zip").read_bytes()
    new = rendered(manuscript)
    old_fingerprint = text_fingerprint(chapter_texts(rendered(previous_edition(manuscript))))

    def summarise() -> dict[str, object]:
        texts = chapter_texts(new)
        old = read_fingerprint(old_fingerprint)
        assert old is not None
        summary = compare(old, texts, 1)
        text_fingerprint(texts)
        return summary

    changes_wall, changes_cpu, summary = timed(summarise, runs)
    assert isinstance(summary, dict)
    return {
        "index_time": index_wall,
        "index_cpu": index_cpu,
        "index_bytes": len(built),
        "index_gzip": len(gzip.compress(built, compresslevel=6)),
        "text_bytes": text_size(chapters),
        "changes_time": changes_wall,
        "changes_cpu": changes_cpu,
        "changes_counts": summary["counts"],
    }


def report(measured: dict[str, Any], quire_time: float, quire_cpu: float) -> list[str]:
    """bench/convert.py's lines for one book: each cost as a share of Quire's conversion of it."""
    lines = []
    for name, label, note in (
        ("index", "search index ", "inside the CLI's time"),
        ("changes", "what changed ", f"added in the package step; {measured['changes_counts']}"),
    ):
        wall, cpu = measured[f"{name}_time"], measured[f"{name}_cpu"]
        verdict = "holds" if max(wall / quire_time, cpu / quire_cpu) <= TARGET else "MISSED"
        lines.append(
            f"  {label}: {wall:5.3f} s ({wall / quire_time:5.1%} of the conversion's time), CPU {cpu:5.3f} s "
            f"({cpu / quire_cpu:5.1%} of its CPU); target ≤ {TARGET:.0%} of both: {verdict}  ({note})"
        )
    text, packed = measured["text_bytes"], measured["index_gzip"]
    lines.append(
        f"  index size   : {measured['index_bytes']:,} bytes, {packed:,} gzipped = {packed / text:.1%} "
        f"of the book's {text:,} bytes of text (#39: ≤ 30 %)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.folder, args.runs)))


if __name__ == "__main__":
    main()
