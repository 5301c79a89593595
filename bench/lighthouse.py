"""Lighthouse on the web-app book: its contents page and a chapter, at phone size, on simulated slow 4G.

Builds the every-feature book of the tests with the CLI, serves its web-app book with the headers
Quire's host gives a book's files, and runs Lighthouse (npm `lighthouse`, package.json) with
Debian's Chromium (all as tests/lighthouse_support.py does for tests/browser/test_lighthouse.py) on
the contents page (index.html) and on chapter 1 (chapters/ch002.html: the dedication is ch001). Prints
each page's category scores (performance, accessibility, best practices, SEO; #39's targets, at
phone size: accessibility 100, best practices ≥ 95, performance ≥ 95), its metrics, and the title
of every audit that did not pass.

Run: `.venv/bin/python bench/lighthouse.py [--runs 1] [--keep DIR]` (needs `npm ci` done, Chromium:
`CHROME_PATH`, else /usr/bin/chromium). Lighthouse's performance score varies from run to run on a
busy machine: --runs N gives each page's lowest and highest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lighthouse_support import (  # noqa: E402
    CATEGORIES,
    CHAPTER,
    CONTENTS,
    LIGHTHOUSE,
    TARGETS,
    build_book,
    failing,
    lighthouse,
    metrics,
    scores,
    served,
    version,
)

PAGES = (CONTENTS, CHAPTER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the reports (JSON) into this folder")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit(f"{LIGHTHOUSE} is missing: run `make setup` (npm ci)")
    work = Path(tempfile.mkdtemp(prefix="quire-lighthouse-"))
    try:
        with served(build_book(work)) as base:
            print(
                f"Lighthouse {version()}, mobile (simulated slow 4G, 4× CPU slowdown), the every-feature book at {base}"
            )
            for page in PAGES:
                runs = [lighthouse(base + page) for _ in range(args.runs)]
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for number, report in enumerate(runs, start=1):
                        name = page.replace("/", "-").removesuffix(".html")
                        (args.keep / f"{name}-{number}.json").write_text(json.dumps(report), encoding="utf-8")
                report_page(page, runs)
    finally:
        shutil.rmtree(work)


def report_page(page: str, runs: list[dict[str, object]]) -> None:
    every = [scores(report) for report in runs]
    print(f"\n{page}:")
    for name in CATEGORIES:
        low, high = min(s[name] for s in every), max(s[name] for s in every)
        shown = f"{low}" if low == high else f"{low}–{high}"
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  (target {'= 100' if target == 100 else f'≥ {target}'}: "
        verdict += "" if target is None else ("holds)" if low >= target else "MISSED)")
        print(f"  {name:15} {shown:>7}{verdict}")
    for report in runs:
        print("  " + metrics(report))
    failed: dict[str, list[float]] = {}
    for report in runs:
        for title, score in failing(report).items():
            failed.setdefault(title, []).append(score)
    for title, scores_of in failed.items():
        print(
            f"  not passed: {title} (score {', '.join(f'{s:g}' for s in scores_of)}; in {len(scores_of)} of {len(runs)} runs)"
        )


if __name__ == "__main__":
    main()
