"""Ace by DAISY, the checker publishers run beside EPUBCheck, finds nothing serious in any book.

Ace runs headless Chromium (Debian's, never a downloaded one) through its Puppeteer runner.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from shared.book.conversion import Conversion
from tests.book.conftest import selected_books
from tests.browser.conftest import chromium_path

ROOT = Path(__file__).resolve().parents[2]
ACE = ROOT / "node_modules" / ".bin" / "ace-puppeteer"
# Every test here runs Ace, which drives Chromium.
pytestmark = [pytest.mark.tools, pytest.mark.browser]
BLOCKING = {"critical", "serious"}
# One book per reader and per real-world shape (each Ace run costs about 5 s of a 2-core machine);
# the hostile books are EPUBCheck's and the sanitiser's business.
ACE_BOOKS = (
    "markdown-zip-every-feature",
    "docx",
    "html",
    "plain-text",
    "texinfo-plain-text",
    "docbook-chapter",
    "texinfo-manual",
    "raw-html-in-markdown",
    "right-to-left",
    "undescribed-image",
    "math-markdown",
    "pandoc-docx",
    "docx-equations",
    "docx-custom-headings",
    "mdbook-project",
    "leanpub-project",
    "gutenberg-text",
    "svg-figures",
    "inline-drawings",
    "word-paper",
    "epub3-book",
    "republished-epub",
    "thumbnail",
    "windows-paths",
    "quarto-book",
    "bookdown-book",
)


def run_ace(epub: bytes, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    (folder / "book.epub").write_bytes(epub)
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": chromium_path(), "PUPPETEER_SKIP_DOWNLOAD": "1"}
    done = subprocess.run(
        [str(ACE), "--silent", "--force", "--outdir", str(folder / "report"), str(folder / "book.epub")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return dict(json.loads((folder / "report" / "report.json").read_text(encoding="utf-8")))


def failures(report: dict[str, Any], impacts: set[str]) -> list[str]:
    return [
        f"{document['earl:testSubject']['url']}: {check['earl:test']['dct:title']} ({check['earl:test']['earl:impact']})"
        for document in report["assertions"]
        for check in document["assertions"]
        if check["earl:result"]["earl:outcome"] == "fail" and check["earl:test"]["earl:impact"] in impacts
    ]


def chapter_files(epub: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        return {
            name.removeprefix("OEBPS/") for name in archive.namelist() if re.match(r"OEBPS/text/ch\d+\.xhtml$", name)
        }


@pytest.fixture(scope="session")
def ace_reports(
    request: pytest.FixtureRequest, converted: dict[str, Conversion], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Ace's report on every book the session tests, two at a time (about 5 s each)."""
    folder = tmp_path_factory.mktemp("ace")
    names = selected_books(request, ACE_BOOKS)
    with ThreadPoolExecutor(2) as pool:
        reports = pool.map(lambda name: run_ace(converted[name].epub, folder / name), names)
        return dict(zip(names, reports, strict=True))


@pytest.mark.parametrize("name", ACE_BOOKS)
def test_ace_finds_nothing_serious(
    name: str, ace_reports: dict[str, dict[str, Any]], converted: dict[str, Conversion]
) -> None:
    report = ace_reports[name]
    checked = {document["earl:testSubject"]["url"] for document in report["assertions"]}
    assert chapter_files(converted[name].epub) <= checked  # every chapter was opened in the browser
    assert failures(report, BLOCKING) == []


def test_ace_does_report_what_it_should(converted: dict[str, Conversion], tmp_path: Path) -> None:
    """The same book with its images' descriptions and its language taken out fails: the reports
    above are read the right way."""
    source = converted["markdown-zip-every-feature"].epub
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as archive, zipfile.ZipFile(out, "w") as broken:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename.endswith(".xhtml"):
                data = re.sub(rb' (alt|lang|xml:lang)="[^"]*"', b"", data)
            broken.writestr(info, data, compress_type=info.compress_type)
    found = failures(run_ace(out.getvalue(), tmp_path / "broken"), BLOCKING)
    assert any("image-alt" in failure for failure in found), found
