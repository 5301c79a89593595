"""Lighthouse on the web-app book: its contents page and a chapter, at phone size, on simulated slow 4G.

Builds the every-feature book of the tests with the CLI, serves its web-app book with the headers
Quire's host gives a book's files, and runs Lighthouse (npm `lighthouse`, package.json) with
Debian's Chromium (all as tests/lighthouse_support.py does for tests/browser/test_lighthouse.py) on
the contents page (index.html) and on chapter 1 (chapters/ch002.html: the dedication is ch001). Prints
each page's category scores (performance, accessibility, best practices, SEO; #39's targets, at
phone size: accessibility 100, best practices ≥ 95, performance ≥ 95), its metrics, and the title
of every audit that did not pass. Beside each run's wall time, the CPU time (user + system) of the
Chromium it drives (every Chromium process) and of Lighthouse's own node process: the processes
under this one are sampled every 50 ms while a run lasts, since Lighthouse kills Chromium's whole
process group at the end, where no wait of ours could count it (what a process does in its last
50 ms is missed).

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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

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


class DescendantsCpu:
    """Samples the CPU time of every process under this one (Lighthouse's node process, and the
    Chromium processes it starts) every 50 ms, each process's own (not its reaped children's, which
    are sampled themselves), keeping the last figure seen of each."""

    def __init__(self) -> None:
        self.last: dict[tuple[int, float], tuple[str, float]] = {}  # (pid, start time) → name, CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for process in psutil.Process().children(recursive=True):
            try:
                with process.oneshot():
                    self.last[(process.pid, process.create_time())] = (process.name(), sum(process.cpu_times()[:2]))
            except psutil.NoSuchProcess:
                continue

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> DescendantsCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def totals(self) -> tuple[float, float]:
        """CPU seconds of Chromium's processes, and of Lighthouse's node process."""
        node = sum(cpu for name, cpu in self.last.values() if name == "node")
        return sum(cpu for _, cpu in self.last.values()) - node, node


Run = tuple[dict[str, object], float, float, float]  # the report, wall seconds, Chromium's and node's CPU


def measured_run(url: str) -> Run:
    with DescendantsCpu() as cpu:
        started = time.perf_counter()
        report = lighthouse(url)
        wall = time.perf_counter() - started
    return report, wall, *cpu.totals()


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
                runs = [measured_run(base + page) for _ in range(args.runs)]
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for number, (report, *_) in enumerate(runs, start=1):
                        name = page.replace("/", "-").removesuffix(".html")
                        (args.keep / f"{name}-{number}.json").write_text(json.dumps(report), encoding="utf-8")
                report_page(page, runs)
    finally:
        shutil.rmtree(work)


def report_page(page: str, measured: list[Run]) -> None:
    runs = [report for report, *_ in measured]
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
    for number, (_, wall, chromium, node) in enumerate(measured, start=1):
        print(
            f"  run {number}: {wall:5.1f} s wall; CPU: Chromium {chromium:5.1f} s, Lighthouse (node) {node:5.1f} s,"
            f" together {chromium + node:5.1f} s (CPU/wall {(chromium + node) / wall:.2f})"
        )
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
