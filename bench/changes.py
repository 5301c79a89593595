"""What-changed benchmark: the package step's comparison of an edition with the previous one
(shared/book/changes.py), on the 5 MB book of bench/convert.py (40 chapters of prose).

Each book is parsed and rendered as the plan step does it; then, timed: its text taken from the
rendered chapters (`chapter_texts`), its fingerprint written (`text_fingerprint`, gzipped JSON: its
size is what each edition keeps in storage) and read back, and the comparison (`compare`) with
- the same book (nothing changed),
- the book with one sentence in every 50 edited (every chapter changed a little),
- the book of another seed: every chapter rewritten (the worst case: every run of paragraphs is
  compared word by word, up to WORD_DIFF_LIMIT).
Median of --runs, wall time and this process's CPU time (user + system) beside it, and their ratio
(all of it runs in this one process: CPU/wall below 1 is time the machine gave to others).

Run: `.venv/bin/python bench/changes.py [--runs 3]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.convert import book_markdown
from shared.book.changes import ChapterText, chapter_texts, compare, read_fingerprint, text_fingerprint
from shared.book.conversion import ConvertOptions, parse, render
from shared.book.model import RenderedChapter

FIVE_MB = 5_000_000
CHAPTERS = 40


def rendered(markdown: str) -> list[RenderedChapter]:
    options = ConvertOptions(kind="markdown", modified=datetime(2026, 12, 5, tzinfo=UTC))
    return render(parse(markdown.encode(), options))


def texts_of(markdown: str) -> list[ChapterText]:
    return chapter_texts(rendered(markdown))


def edited(markdown: str, every: int, seed: int = 7) -> str:
    """One sentence in `every` changed by a word, as an author's corrections would."""
    rng = random.Random(seed)
    sentences = markdown.split(". ")
    for index in range(0, len(sentences), every):
        words = sentences[index].split(" ")
        words[rng.randrange(len(words))] = "corrected"
        sentences[index] = " ".join(words)
    return ". ".join(sentences)


def timed(work: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of `runs` runs of `work`, and its last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), result


def seconds(wall: float, cpu: float, digits: int = 3) -> str:
    return f"{wall:.{digits}f} s, CPU {cpu:.{digits}f} s (CPU/wall {cpu / wall:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    markdown = book_markdown(FIVE_MB, CHAPTERS, [])
    old = texts_of(markdown)
    text_bytes = sum(len(p.encode()) + 1 for c in old for p in c.paragraphs)
    print(f"5 MB book: {len(markdown.encode()):,} bytes of Markdown, {text_bytes:,} bytes of text, {len(old)} chapters")

    wall, cpu, chapters = timed(lambda: rendered(markdown), 1)
    print(f"parse and render (for scale, the plan step's): {seconds(wall, cpu, 2)}")
    wall, cpu, _ = timed(lambda: chapter_texts(chapters), args.runs)  # type: ignore[arg-type]
    print(f"the chapters' text from their XHTML: {seconds(wall, cpu)}")
    wall, cpu, fingerprint = timed(lambda: text_fingerprint(old), args.runs)
    assert isinstance(fingerprint, bytes)
    print(
        f"fingerprint: {len(fingerprint):,} bytes ({len(fingerprint) / text_bytes:.0%} of the text), {seconds(wall, cpu)}"
    )
    wall, cpu, _ = timed(lambda: read_fingerprint(fingerprint), args.runs)
    print(f"fingerprint read back: {seconds(wall, cpu)}")

    for name, new in (
        ("the same book", old),
        ("one sentence in 50 edited", texts_of(edited(markdown, 50))),
        ("every chapter rewritten", texts_of(book_markdown(FIVE_MB, CHAPTERS, [], seed=2))),
    ):
        wall, cpu, summary = timed(lambda new=new: compare(old, new, 1), args.runs)  # type: ignore[misc]
        counts = summary["counts"] if isinstance(summary, dict) else {}
        percents = [c["percent"] for c in summary["changed"]] if isinstance(summary, dict) else []
        spread = f", percent {min(percents)}–{max(percents)}" if percents else ""
        print(f"compare, {name}: {seconds(wall, cpu)} ({counts}{spread})")


if __name__ == "__main__":
    main()
