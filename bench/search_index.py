"""Search index size: the web-app book's `search.json`, gzip-compressed, against the book's text.

Books: every book of the test corpus (tests/book/conftest.py's GOOD_BOOKS: tests/book_corpus.py,
tests/real_world_corpus.py, the projects, Word, EPUB and pandoc books), converted as the tests
convert them; then two longer ones: this repository's own docs/*.md as one Markdown book (real
English prose, a chapter a file), and bench/convert.py's 1 MB book (prose drawn from a list of 34
words: far fewer distinct words than a real book, so its ratio flatters the index).
For each: the book's text (the chapters' text as the index reads it, white space runs counted
once, UTF-8 bytes), the index's size, raw and gzip-compressed (level 6, what servers use on the
fly), their ratio, and how long building the index took: wall time, and beside it this process's
CPU time (user + system; the build runs in this process alone). Target (#39): gzip size ≤ 30 % of
the text.

Run: `.venv/bin/python bench/search_index.py`
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.book import convert  # noqa: E402
from shared.book.search_index import SEARCH_INDEX, IndexedChapter, build_index, text_size  # noqa: E402

TARGET = 0.30


def articles(app_files: dict[str, bytes]) -> list[IndexedChapter]:
    """The chapters of a web-app book as its index read them: each page's <article>."""
    found = []
    for path in sorted(p for p in app_files if p.startswith("chapters/")):
        page = app_files[path].decode("utf-8")
        # The reader's tools (settings, search box) come before the article in <main>.
        body = re.search(r'<main id="content">.*?<article>(.*)</article>\n<nav class="pager"', page, re.S)
        assert body is not None, path
        found.append(IndexedChapter(href=path, title="", body=body.group(1)))
    return found


def measure(name: str, app_files: dict[str, bytes]) -> tuple[int, int]:
    chapters = articles(app_files)
    text = text_size(chapters)
    index = app_files[SEARCH_INDEX]
    language = json.loads(index)["language"]
    packed = len(gzip.compress(index, compresslevel=6))
    started, cpu_started = time.perf_counter(), time.process_time()
    build_index(chapters, language)
    cpu, took = time.process_time() - cpu_started, time.perf_counter() - started
    ratio = packed / text if text else 0.0
    print(
        f"{name:28} {text:>9,} {len(index):>9,} {packed:>8,} {ratio:>7.1%} {took * 1000:>8.1f} ms {cpu * 1000:>8.1f} ms"
        f" {cpu / took:>8.2f}"
    )
    return text, packed


def main() -> None:
    from tests.book.conftest import GOOD_BOOKS, convert_good_book, options

    print(
        f"{'book':28} {'text B':>9} {'index B':>9} {'gzip B':>8} {'ratio':>7} {'build':>11} {'build CPU':>11} {'CPU/wall':>8}"
    )
    total_text = total_packed = 0
    for name in sorted(GOOD_BOOKS):
        result = convert_good_book(name)
        text, packed = measure(name, result.app_files)
        total_text += text
        total_packed += packed
    print(f"{'the corpus, together':28} {total_text:>9,} {'':>9} {total_packed:>8,} {total_packed / total_text:>7.1%}")

    docs = sorted((ROOT / "docs").glob("*.md"))
    zipped = _zip({f"{i:02d}-{path.name}": path.read_bytes() for i, path in enumerate(docs)})
    result = convert(zipped, options("zip"))
    measure("docs/*.md (real prose)", result.app_files)

    sys.path.insert(0, str(ROOT / "bench"))
    from convert import book_markdown  # type: ignore[import-not-found]

    markdown = book_markdown(1_000_000, 40, [], "images")  # no images: the text is what counts
    result = convert(markdown.encode(), options("markdown"))
    measure("bench/convert 1 MB (34 words)", result.app_files)
    print(f"target: gzip size ≤ {TARGET:.0%} of the text")


def _zip(entries: dict[str, bytes]) -> bytes:
    from tests.book_corpus import zip_of

    return zip_of(entries)


if __name__ == "__main__":
    main()
