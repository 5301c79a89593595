"""Lighthouse on the web-app book, for tests/browser/test_lighthouse.py and bench/lighthouse.py.

Builds the every-feature book of the tests (tests/book_corpus.py's `full_markdown_zip`: a cover,
photos, a table, code, footnotes, headings in two levels) with the CLI (`python -m shared.cli BOOK
--out DIR --no-pdf`), serves DIR/app/ over local HTTP with the headers Quire's host gives a book's
files (shared/web/books.py's `serve_app_file`: its Content-Type, Content-Security-Policy and cache
headers), and runs Lighthouse (npm `lighthouse`, package.json) with Debian's Chromium at its
default: a phone (412 × 823 CSS px at 1.75×), simulated slow 4G, 4× CPU slowdown.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shared.formats import content_type_for
from shared.web.books import APP_CSP, IMMUTABLE, REVALIDATE
from shared.web.responses import BOOK_FILE_HEADERS

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# #39's targets at phone size: accessibility 100, best practices ≥ 95, performance ≥ 95.
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 95}
CONTENTS, CHAPTER = "index.html", "chapters/ch002.html"  # chapter 1, with its photo (ch001: the dedication)
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
    """The every-feature book, converted by the CLI into `out`; its web-app book's folder."""
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


@contextmanager
def served(app: Path) -> Iterator[str]:
    """The book's folder on a local port, for as long as the block lasts: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(BookFiles, directory=str(app)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def chrome_path() -> str:
    return os.environ.get("CHROME_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def version() -> str:
    return subprocess.run([str(LIGHTHOUSE), "--version"], capture_output=True, text=True).stdout.strip()


def lighthouse(url: str, chrome: str | None = None) -> dict[str, Any]:
    """Lighthouse's report (JSON) on `url`, mobile (its default); RuntimeError if it fails."""
    command = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    env = {**os.environ, "CHROME_PATH": chrome or chrome_path()}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"lighthouse failed on {url}:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    runtime_error = report.get("runtimeError")
    if runtime_error:
        raise RuntimeError(f"lighthouse could not load {url}: {runtime_error}")
    return report


def scores(report: dict[str, Any]) -> dict[str, int]:
    return {name: round((report["categories"][name]["score"] or 0) * 100) for name in CATEGORIES}


def failing(report: dict[str, Any]) -> dict[str, float]:
    """The audits of the categories that did not pass (a score under 0.9): '[category] title' → score."""
    found = {}
    for name in CATEGORIES:
        for ref in report["categories"][name]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if audit["scoreDisplayMode"] in ("binary", "numeric", "metric") and (audit["score"] or 0) < 0.9:
                found[f"[{name}] {audit['title']}"] = audit["score"] or 0
    return found


def metrics(report: dict[str, Any]) -> str:
    audits = report["audits"]
    return ", ".join(f"{audits[m]['title']} {audits[m].get('displayValue', '?')}" for m in METRICS)
