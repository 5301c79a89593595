"""The worker end to end through the running app: upload, progress, download, serving, failure."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from shared.jobs.record import JobStatus
from tests import book_corpus as corpus
from tests import epub_corpus
from tests.book.conftest import epubcheck_command, message_counts
from tests.pipeline_support import (
    create_book,
    follow,
    golden,
    http_json,
    published,
    published_pdf,
    upload,
    work_blobs,
)
from tests.support import ROOT, AppHost, Azurite, http


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return http("GET", url, headers=headers)


@pytest.mark.tools  # EPUBCheck on the published book
def test_upload_converts_to_a_valid_epub_and_web_app(app: AppHost, azurite: Azurite, tmp_path) -> None:
    data = corpus.small_book_zip()
    job_id = upload(app.base_url, data, "small.zip", title="Small & Fine")
    seen: list[int] = []
    job = follow(app.base_url, job_id, timeout=60, seen=seen)
    assert job["status"] == "succeeded", job
    assert seen == sorted(seen), "progress went backwards"
    assert job["progress"]["fraction"] == 1.0 and job["progress"]["steps_done"] == job["progress"]["steps_total"]
    assert job["links"]["epub"] == f"/api/manuscripts/{job_id}/book.epub"
    assert job["links"]["app"] == f"/api/books/{job_id}/app/"

    status, headers, epub = fetch(app.base_url + job["links"]["epub"])
    assert status == 200
    assert headers["Content-Type"] == "application/epub+zip"
    assert 'filename="small-fine.epub"' in headers["Content-Disposition"]
    path = tmp_path / "book.epub"
    path.write_bytes(epub)
    report = subprocess.run(epubcheck_command(path), capture_output=True, text=True).stdout
    assert message_counts(report) == (0, 0, 0), report

    expected = golden(data, "zip", job)
    stored_epub, stored_app = published(azurite.connection_string, job_id)
    assert stored_epub == expected.epub == epub  # byte-identical to the CLI's conversion
    assert stored_app == expected.app_files
    assert expected.pdf is not None and published_pdf(azurite.connection_string, job_id) == expected.pdf
    assert work_blobs(azurite.connection_string, job_id) == []  # checkpoints cleaned up


def run_cli(manuscript: Path, out: Path, *options: str) -> dict[str, bytes]:
    """`python -m shared.cli` in a process of its own, as an author runs it: its outputs, as
    `published()` gives the pipeline's (the EPUB under "book.epub", the web-app files under "app/...")."""
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", str(manuscript), "--out", str(out), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*") if path.is_file()}


def test_the_cli_given_a_jobs_parameters_writes_the_bytes_the_pipeline_published(
    app: AppHost, azurite: Azurite, tmp_path: Path
) -> None:
    """docs/architecture.md's equivalence ("How a conversion runs"), run for real: a second edition
    (so the edition number counts), with a title, author, language and split level, converted by the
    pipeline and by the CLI's own process."""
    book, owner_key = create_book(
        app.base_url, corpus.small_book_zip(3), "first.zip", title="Harbour & Quay", author="Ada Writer", language="en"
    )
    assert follow(app.base_url, book, timeout=60)["status"] == "succeeded"
    data = corpus.small_book_zip(4)
    metadata = {"title": "Harbour & Quay, Revised", "author": "Ada Writer", "language": "en-GB"}
    query = urllib.parse.urlencode(
        {"filename": "second edition.zip", "split_level": "2", "pdf_page": "5x8", **metadata}
    )
    status, sent = http_json(
        "POST", f"{app.base_url}/api/books/{book}/editions?{query}", data, {"Authorization": f"Bearer {owner_key}"}
    )
    assert status == 202, sent
    job = follow(app.base_url, sent["id"], timeout=60)
    assert job["status"] == "succeeded", job
    assert job["edition"] == 2 and job["metadata"] == metadata and job["manuscript"]["split_level"] == 2

    manuscript = tmp_path / "manuscript"  # not the uploaded name: --file-name gives that
    manuscript.write_bytes(data)
    meta = job["metadata"]
    parameters = [
        *("--modified", job["created"]),
        *("--title", meta["title"], "--author", meta["author"], "--language", meta["language"]),
        *("--file-name", job["manuscript"]["filename"], "--updates-url", "../updates"),
        *("--split-level", str(job["manuscript"]["split_level"]), "--pdf-page", job["manuscript"]["pdf_page"]),
    ]
    # What changed since edition 1, as the package step decided it: the EPUB's last page and the app's changes.json.
    assert job["changes"]["previous_edition"] == 1 and job["changes"]["counts"]["changed"] > 0, job
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps(job["changes"]), encoding="utf-8")
    parameters += ["--changes", str(changes)]
    cli = run_cli(manuscript, tmp_path / "cli", *parameters, "--edition", str(job["edition"]))

    epub, app_files = published(azurite.connection_string, job["id"])
    pdf = published_pdf(azurite.connection_string, job["id"])
    pipeline = {"book.epub": epub, "book.pdf": pdf, **{f"app/{path}": content for path, content in app_files.items()}}
    assert sorted(cli) == sorted(pipeline)
    assert [path for path in pipeline if cli[path] != pipeline[path]] == []
    # Chapters began at h2, as the upload asked: "Part" (an h2 under "Two") is a chapter of its own.
    chapters = sorted(path for path in pipeline if re.match(r"app/chapters/ch\d+\.html$", path))
    assert len(chapters) == 4 and b"<h2" in pipeline[chapters[-1]] and b">Part<" in pipeline[chapters[-1]]
    # The comparison sees the edition: without it, the CLI's service worker asks for no edition,
    # and its index and publication manifest link the book's PDF and EPUB, not this edition's.
    without = run_cli(manuscript, tmp_path / "no-edition", *parameters)
    assert [path for path in pipeline if without[path] != pipeline[path]] == [
        "app/index.html",
        "app/publication.json",
        "app/sw.js",
    ]


def test_web_app_book_is_served_with_types_caching_and_csp(app: AppHost) -> None:
    job_id = upload(app.base_url, corpus.small_book_zip(1), "small.zip")
    job = follow(app.base_url, job_id, timeout=60)
    base = app.base_url + job["links"]["app"]
    status, headers, body = fetch(base)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'rel="manifest"' in body
    for name, value in (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-cache")):
        assert headers[name] == value
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp
    expected = {
        "sw.js": "text/javascript",
        "manifest.webmanifest": "application/manifest+json",
        "css/app.css": "text/css",
        "chapters/ch002.html": "text/html",
        "icons/icon-512.png": "image/png",
    }
    for path, kind in expected.items():
        status, headers, _ = fetch(base + path)
        assert status == 200 and headers["Content-Type"].startswith(kind), path
        assert headers["Content-Security-Policy"] == csp
    # Only images are named by their content; a new edition may change any other file at its name.
    images = re.findall(r'src="(images/[^"]+)"', fetch(base + "index.html")[2].decode())
    assert images and fetch(base + images[0])[1]["Cache-Control"].endswith("immutable")
    assert fetch(base + "css/app.css")[1]["Cache-Control"] == "no-cache"
    status, headers, _ = fetch(base + "index.html")
    assert fetch(base + "index.html", {"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(base + "nothing.html")[0] == 404
    assert fetch(base + "..%2F..%2Fmanuscripts")[0] == 404
    status, headers, _ = fetch(app.base_url + f"/api/books/{job_id}/app")  # no slash: redirected
    assert status == 200 and headers["Content-Type"].startswith("text/html")


def test_nothing_is_served_before_the_job_succeeds(app: AppHost, azurite: Azurite) -> None:
    from datetime import UTC, datetime

    from shared.intake import Upload, identify
    from shared.jobs.manuscripts import store_manuscript
    from shared.jobs.store import book_blob, update_job
    from shared.library.record import Book, Edition
    from shared.storage import Storage
    from shared.storage.names import BOOK_CONTAINER, BOOK_TABLE

    unknown = "A" * 22
    assert fetch(f"{app.base_url}/api/manuscripts/{unknown}/book.epub")[0] == 404
    assert fetch(f"{app.base_url}/api/books/{unknown}/app/")[0] == 404
    assert fetch(f"{app.base_url}/api/books/not-an-id/app/")[0] == 400
    # A running job whose package step has written its files but not yet committed: none served.
    storage = Storage(azurite.connection_string)
    running = "R" * 22  # no conversion message is sent for it: it stays as written here
    now = datetime.now(UTC)
    store_manuscript(storage, identify(Upload(filename="a.md", data=b"# A\n")), running, now, running, 1)
    book = Book(id=running, owner_key_sha256="0" * 64, created=now, updated=now, editions=[Edition(1, running, now)])
    storage.put_entity(BOOK_TABLE, book.to_entity())
    update_job(storage, running, lambda job: job.with_changes(status=JobStatus.RUNNING))
    storage.put_blob(BOOK_CONTAINER, book_blob(running, "book.epub"), b"PK", content_type="application/epub+zip")
    storage.put_blob(BOOK_CONTAINER, book_blob(running, "app/index.html"), b"<p>", content_type="text/html")
    for path in (f"manuscripts/{running}/book.epub", f"books/{running}/app/", f"books/{running}/app/index.html"):
        status, headers, body = fetch(f"{app.base_url}/api/{path}")
        assert status == 404 and b"still being made" in body, (path, status, body)
        assert {name.lower(): value for name, value in headers.items()}["retry-after"] == "5"


def test_a_bad_manuscript_fails_with_a_reason_and_does_not_block_others(app: AppHost, azurite: Azurite) -> None:
    bad = upload(app.base_url, b"---\ntitle: [unclosed\n---\n# A\n", "bad.md")
    good = upload(app.base_url, corpus.small_book_zip(2), "good.zip")
    failed = follow(app.base_url, bad, timeout=60)
    assert failed["status"] == "failed"
    assert "not valid YAML" in failed["error"]
    assert follow(app.base_url, good, timeout=60)["status"] == "succeeded"
    status, problem = http_json("GET", f"{app.base_url}/api/manuscripts/{bad}/book.epub")
    assert status == 404 and "could not be converted" in problem["detail"]
    assert work_blobs(azurite.connection_string, bad) == []


def test_docx_and_hostile_zip_through_the_pipeline(app: AppHost) -> None:
    docx_job = upload(app.base_url, corpus.docx(), "word.docx")
    slip_job = upload(app.base_url, corpus.zip_slip(), "slip.zip")
    assert follow(app.base_url, docx_job, timeout=60)["status"] == "succeeded"
    slip = follow(app.base_url, slip_job, timeout=60)
    assert slip["status"] == "failed" and "climbs out of the archive" in slip["error"]
    status, _, epub = fetch(f"{app.base_url}/api/manuscripts/{docx_job}/book.epub")
    assert status == 200
    assert "OEBPS/text/ch001.xhtml" in zipfile.ZipFile(io.BytesIO(epub)).namelist()


def test_an_epub_upload_converts_whole_and_a_broken_one_fails_with_a_reason(app: AppHost) -> None:
    data = epub_corpus.epub3_book()
    job_id = upload(app.base_url, data, "keeper.epub")
    broken_id = upload(app.base_url, epub_corpus.epub_without_container(), "broken.epub")
    job = follow(app.base_url, job_id, timeout=60)
    assert job["status"] == "succeeded", job
    assert job["manuscript"]["type"] == "epub"
    status, _, epub = fetch(app.base_url + job["links"]["epub"])
    assert status == 200
    assert epub == golden(data, "epub", job).epub  # byte-identical to the CLI's conversion
    chapters = [n for n in zipfile.ZipFile(io.BytesIO(epub)).namelist() if re.match(r"OEBPS/text/ch\d+\.xhtml$", n)]
    assert len(chapters) == 4
    broken = follow(app.base_url, broken_id, timeout=60)
    assert broken["status"] == "failed" and "no META-INF/container.xml" in broken["error"]
