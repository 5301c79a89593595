"""What changed, through the running app: two editions published (release notes with the second, as
a form field), the summary in the status answer and the book's JSON, the EPUB's "Changes in this
edition" page (EPUBCheck passes), the web app's changes.json; a third edition by direct upload, its
notes in the JSON request, compared with the second."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.book.conftest import epubcheck_command, message_counts
from tests.e2e.test_api import multipart
from tests.e2e.test_direct_upload import bearer, granted, submit, upload
from tests.pipeline_support import create_book, follow, http_json
from tests.support import AppHost, http

QUAY = "\n\n".join(
    f"Paragraph {n} of the quay, where the ropes creak and the gulls wait for the boats." for n in range(40)
)


def manuscript(second: bool) -> bytes:
    quay = QUAY.replace("Paragraph 7 of the quay", "Paragraph seven of the old quay") if second else QUAY
    text = f"---\ntitle: Quay Book\n---\n# Arrival\n\nThe boats come in.\n\n# The Long Quay\n\n{quay}\n"
    text += "\n# Harbour Lights\n\nThe lamps are lit.\n" if second else "\n# Departure\n\nThe boats leave.\n"
    return text.encode()


NOTES = "Fixed the <tide> tables & a typo.\r\n\r\nThanks to every reader who wrote."
STORED_NOTES = "Fixed the <tide> tables & a typo.\n\nThanks to every reader who wrote."


def epub_of(base: str, book: str) -> bytes:
    status, _, epub = http("GET", f"{base}/api/books/{book}/book.epub")
    assert status == 200
    return epub


@pytest.mark.tools  # EPUBCheck on the edition with its changes page
def test_an_edition_is_compared_with_the_previous_one_and_readers_see_what_changed(
    app: AppHost, tmp_path: Path
) -> None:
    base = app.base_url
    book, key = create_book(base, manuscript(second=False), "quay.md")
    first = follow(base, book, timeout=60)
    assert first["status"] == "succeeded" and "changes" not in first and "release_notes" not in first, first

    body, headers = multipart("quay.md", manuscript(second=True), release_notes=NOTES)
    status, queued = http_json("POST", f"{base}/api/books/{book}/editions", body, {**headers, **bearer(key)})
    assert status == 202 and queued["release_notes"] == STORED_NOTES, queued
    job = follow(base, queued["id"], timeout=60)
    assert job["status"] == "succeeded", job
    changes = job["changes"]
    assert changes["previous_edition"] == 1
    assert changes["added"] == [{"title": "Harbour Lights", "chapter": "ch003"}]
    assert changes["removed"] == [{"title": "Departure"}]
    [quay] = changes["changed"]
    assert quay["title"] == "The Long Quay" and quay["chapter"] == "ch002" and 0 < quay["percent"] < 5, quay
    assert changes["unchanged"] == 1
    assert changes["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}

    status, book_json = http_json("GET", f"{base}/api/books/{book}")
    assert status == 200 and book_json["published_edition"] == 2
    assert book_json["release_notes"] == STORED_NOTES and book_json["changes"] == changes

    # The EPUB ends with the page, in the spine and the contents; the notes are text, not markup.
    epub = epub_of(base, book)
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        opf = archive.read("OEBPS/content.opf").decode()
        nav = archive.read("OEBPS/nav.xhtml").decode()
        page = archive.read("OEBPS/text/edition-changes.xhtml").decode()
    spine = re.findall(r'<itemref idref="([^"]+)"/>', opf)
    assert spine[-1] == "edition-changes", spine
    assert '<a href="text/edition-changes.xhtml">Changes in this edition</a>' in nav
    assert "Fixed the &lt;tide&gt; tables &amp; a typo." in page and "<tide>" not in page
    assert '<a href="ch003.xhtml">Harbour Lights</a> (new)' in page
    assert f'<a href="ch002.xhtml">The Long Quay</a> (about {quay["percent"]}% of its words changed)' in page
    assert "<li>Departure</li>" in page and "1 other chapter is unchanged." in page
    path = tmp_path / "edition-2.epub"
    path.write_bytes(epub)
    report = subprocess.run(epubcheck_command(path), capture_output=True, text=True, timeout=300).stdout
    assert message_counts(report) == (0, 0, 0), report

    # The web app carries the same, for the update offer of an installed book.
    status, _, app_changes = http("GET", f"{base}/api/books/{book}/app/changes.json")
    assert status == 200 and json.loads(app_changes) == {"release_notes": STORED_NOTES, "changes": changes}

    # A third edition by direct upload, its notes in the JSON request: compared with the second.
    third = manuscript(second=True)
    grant = granted(
        base, "quay.md", len(third), path=f"/api/books/{book}/uploads", headers=bearer(key), release_notes="Reissue."
    )
    upload(grant, third)
    status, direct = submit(base, grant, key)
    assert status == 202 and direct["release_notes"] == "Reissue.", direct
    job = follow(base, direct["id"], timeout=60)
    assert job["status"] == "succeeded" and job["release_notes"] == "Reissue.", job
    assert job["changes"]["previous_edition"] == 2 and job["changes"]["counts"] == {
        "added": 0,
        "removed": 0,
        "changed": 0,
        "unchanged": 3,
    }
    with zipfile.ZipFile(io.BytesIO(epub_of(base, book))) as archive:
        page = archive.read("OEBPS/text/edition-changes.xhtml").decode()
    assert "Reissue." in page and "The text of every chapter is the same as in the previous edition." in page
