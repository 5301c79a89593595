"""`python -m shared.cli`: outputs on disk, warnings, and clean failures under a memory cap."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests import book_corpus as corpus
from tests.support import ROOT

MEMORY_CAP = 1536 * 1024 * 1024  # a Consumption-plan instance's memory


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
    )


def test_cli_writes_epub_and_app(tmp_path: Path) -> None:
    manuscript = tmp_path / "book.zip"
    manuscript.write_bytes(corpus.full_markdown_zip())
    done = run_cli(str(manuscript), "--out", str(tmp_path / "out"), "--modified", "2026-11-21T09:30:00Z")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "book.epub").read_bytes()[:2] == b"PK"
    assert (tmp_path / "out" / "app" / "index.html").exists()
    assert (tmp_path / "out" / "app" / "sw.js").exists()
    again = run_cli(str(manuscript), "--out", str(tmp_path / "again"), "--modified", "2026-11-21T09:30:00Z")
    assert again.returncode == 0
    assert (tmp_path / "out" / "book.epub").read_bytes() == (tmp_path / "again" / "book.epub").read_bytes()
    assert (tmp_path / "out" / "book.pdf").read_bytes() == (tmp_path / "again" / "book.pdf").read_bytes()
    assert (tmp_path / "out" / "book.pdf").read_bytes().startswith(b"%PDF-")
    assert b"Download PDF" in (tmp_path / "out" / "app" / "index.html").read_bytes()
    without = run_cli(str(manuscript), "--out", str(tmp_path / "no-pdf"), "--no-pdf")
    assert without.returncode == 0 and not (tmp_path / "no-pdf" / "book.pdf").exists()
    assert b"Download PDF" not in (tmp_path / "no-pdf" / "app" / "index.html").read_bytes()


def test_cli_prints_warnings(tmp_path: Path) -> None:
    manuscript = tmp_path / "book.md"
    manuscript.write_text("# One\n\n[gone](#nowhere)\n")
    done = run_cli(str(manuscript), "--out", str(tmp_path / "out"))
    assert done.returncode == 0
    assert "warning: A link to '#nowhere'" in done.stderr


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("bomb.zip", corpus.zip_bomb),
        ("liar.zip", corpus.lying_zip),
        ("slip.zip", corpus.zip_slip),
        ("huge-image.zip", corpus.image_bomb_zip),
        ("xxe.docx", corpus.xxe_docx),
        ("laughs.docx", corpus.billion_laughs_docx),
        ("book.pdf", lambda: b"%PDF-1.7 not a book"),
    ],
)
def test_cli_rejects_hostile_input_under_a_memory_cap_without_a_traceback(tmp_path: Path, name: str, make) -> None:
    manuscript = tmp_path / name
    manuscript.write_bytes(make())
    done = run_cli(str(manuscript), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_cli_starts_chapters_at_a_deep_heading_level(tmp_path: Path) -> None:
    manuscript = tmp_path / "book.md"
    manuscript.write_text("# Part A\n\na\n\n#### One\n\n1\n\n#### Two\n\n2\n\n# Part B\n\nb\n\n#### Three\n\n3\n")
    done = run_cli(str(manuscript), "--out", str(tmp_path / "out"), "--split-level", "4")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out" / "app" / "chapters").iterdir())) == 5  # at level 1: two
    refused = run_cli(str(manuscript), "--out", str(tmp_path / "out"), "--split-level", "7")
    assert refused.returncode == 2 and "--split-level" in refused.stderr


def test_cli_takes_a_pdf_page_size_as_the_api_does(tmp_path: Path) -> None:
    manuscript = tmp_path / "book.md"
    manuscript.write_text("# One\n\nText.\n")
    done = run_cli(str(manuscript), "--out", str(tmp_path / "out"), "--pdf-page", " 6X9 ")
    assert done.returncode == 0, done.stderr
    refused = run_cli(str(manuscript), "--out", str(tmp_path / "out"), "--pdf-page", "a5")
    assert refused.returncode == 2 and "a4, letter, 6x9, 5.5x8.5, 5x8" in refused.stderr


def test_cli_takes_release_notes_and_what_changed_as_a_jobs_status_gives_them(tmp_path: Path) -> None:
    manuscript = tmp_path / "book.md"
    manuscript.write_text("# One\n\nHigh water.\n\n# Two\n\nLow water.\n")
    changes = tmp_path / "changes.json"
    summary = {
        "previous_edition": 1,
        "added": [{"title": "Two", "chapter": "ch002"}],
        "removed": [],
        "changed": [],
        "unchanged": 1,
        "counts": {"added": 1, "removed": 0, "changed": 0, "unchanged": 1},
    }
    changes.write_text(json.dumps(summary))
    out = tmp_path / "out"
    done = run_cli(
        str(manuscript), "--out", str(out), "--no-pdf", "--release-notes", "A & B", "--changes", str(changes)
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out / "book.epub") as epub:
        page = epub.read("OEBPS/text/edition-changes.xhtml").decode()
    assert "A &amp; B" in page and '<a href="ch002.xhtml">Two</a> (new)' in page
    assert json.loads((out / "app" / "changes.json").read_text()) == {"release_notes": "A & B", "changes": summary}
    off = run_cli(
        str(manuscript), "--out", str(tmp_path / "off"), "--no-pdf", "--changes", str(changes), "--no-changes-page"
    )
    with zipfile.ZipFile(tmp_path / "off" / "book.epub") as epub:
        assert off.returncode == 0 and "OEBPS/text/edition-changes.xhtml" not in epub.namelist()
    changes.write_text("{not json")
    broken = run_cli(str(manuscript), "--out", str(tmp_path / "broken"), "--changes", str(changes))
    assert broken.returncode == 1 and broken.stderr.startswith("error: ")
