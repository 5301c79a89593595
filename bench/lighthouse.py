"""Lighthouse on the web-app book: its contents page and a chapter, at phone size, on simulated slow 4G.

Builds the every-feature book of the tests (tests/book_corpus.py's `full_markdown_zip`: a cover,
photos, a table, code, footnotes, headings in two levels) with the CLI (`python -m shared.cli BOOK
--out DIR --no-pdf`), serves DIR/app/ over local HTTP with the headers Quire's host gives a book's
files (shared/web/books.py's `serve_app_file`: its Content-Type, Content-Security-Policy and cache
headers), and runs Lighthouse (npm `lighthouse`, package.json) with Debian's Chromium on the
contents page (index.html) and on chapter 1 (chapters/ch002.html: the dedication is ch001). Prints
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
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.formats import content_type_for  # noqa: E402
from shared.web.books import APP_CSP, IMMUTABLE, REVALIDATE  # noqa: E402
from shared.web.responses import BOOK_FILE_HEADERS  # noqa: E402

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 95}
PAGES = ("index.html", "chapters/ch002.html")
METRICS = ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking"


class BookFiles(SimpleHTTPRequestHandler):
    """A web-app book's folder, served as Quire's host serves a book's files."""

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return content_type_for(str(path))

    def end_headers(self) -> None:
        cache = IMMUTABLE if "/images/" in self.path else REVALIDATE
        for name, value in {"Cache-Control": cache, "Content-Security-Policy": APP_CSP, **BOOK_FILE_HEADERS}.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def build_book(out: Path) -> Path:
    from tests.book_corpus import full_markdown_zip

    manuscript = out / "harbour.zip"
    manuscript.write_bytes(full_markdown_zip())
    subprocess.run(
        [sys.executable, "-m", "shared.cli", str(manuscript), "--out", str(out), "--no-pdf"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out / "app"


def lighthouse(url: str) -> dict[str, Any]:
    chrome = os.environ.get("CHROME_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": chrome}, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url}:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def scores(report: dict[str, Any]) -> dict[str, int]:
    return {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}


def failing(report: dict[str, Any]) -> dict[str, float]:
    """The audits of the categories that did not pass (a score under 0.9): '[category] title' → score."""
    found = {}
    for name in CATEGORIES:
        for ref in report["categories"][name]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if audit["scoreDisplayMode"] in ("binary", "numeric", "metric") and (audit["score"] or 0) < 0.9:
                found[f"[{name}] {audit['title']}"] = audit["score"] or 0
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the reports (JSON) into this folder")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit(f"{LIGHTHOUSE} is missing: run `make setup` (npm ci)")
    work = Path(tempfile.mkdtemp(prefix="quire-lighthouse-"))
    app = build_book(work)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(BookFiles, directory=str(app)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    version = subprocess.run([str(LIGHTHOUSE), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"Lighthouse {version}, mobile (simulated slow 4G, 4× CPU slowdown), the every-feature book served at {base}")
    try:
        for page in PAGES:
            runs = [lighthouse(base + page) for _ in range(args.runs)]
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for number, report in enumerate(runs, start=1):
                    name = page.replace("/", "-").removesuffix(".html")
                    (args.keep / f"{name}-{number}.json").write_text(json.dumps(report), encoding="utf-8")
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
                audits = report["audits"]
                print("  " + ", ".join(f"{audits[m]['title']} {audits[m]['displayValue']}" for m in METRICS))
            failed: dict[str, list[float]] = {}
            for report in runs:
                for title, score in failing(report).items():
                    failed.setdefault(title, []).append(score)
            for title, scores_of in failed.items():
                print(
                    f"  not passed: {title} (score {', '.join(f'{s:g}' for s in scores_of)}; in {len(scores_of)} of {len(runs)} runs)"
                )
    finally:
        server.shutdown()
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
