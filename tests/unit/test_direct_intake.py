"""Direct uploads' intake: the request for one and the check of what arrived. Pure: in-memory files."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from shared.formats import DOCX, EPUB, MARKDOWN, ZIP
from shared.intake.direct_uploads import (
    ArrivedManuscript,
    DirectUploadRequest,
    check_arrived_size,
    identify_archive,
    identify_small,
    read_direct_request,
)
from shared.intake.rejections import Refusal, UploadRejected

FORM_LIMIT = 1024 * 1024
DIRECT_LIMIT = 100 * 1024 * 1024


def request(**fields: object) -> DirectUploadRequest:
    return read_direct_request(json.dumps(fields).encode(), FORM_LIMIT, DIRECT_LIMIT)


def refusal(**fields: object) -> UploadRejected:
    with pytest.raises(UploadRejected) as rejected:
        request(**fields)
    return rejected.value


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_request_names_the_file_its_size_and_metadata() -> None:
    asked = request(
        filename="C:\\books\\Tides.zip", size=5_000_000, title="  Tides ", author="A. Writer", language="en"
    )
    assert asked == DirectUploadRequest("Tides.zip", 5_000_000, "Tides", "A. Writer", "en")
    assert request(filename="t.md", size=9, split_level=2).split_level == 2
    assert request(filename="t.md", size=9, split_level=None).split_level == 1  # JSON null: the default
    assert request(filename="t.md", size=9, pdf_page="A4").pdf_page == "a4"
    assert request(filename="t.md", size=9, pdf_page=None).pdf_page == ""  # JSON null: the language's
    assert request(filename="t.md", size=9).to_upload().pdf_page == ""
    assert request(filename="t.md", size=9, pdf_page="5x8").to_upload(b"# A").pdf_page == "5x8"


@pytest.mark.parametrize(
    ("fields", "kind", "words"),
    [
        ({"size": 10}, Refusal.MALFORMED, "Name the file"),
        ({"filename": "a.md"}, Refusal.MALFORMED, "exact size"),
        ({"filename": "a.md", "size": True}, Refusal.MALFORMED, "exact size"),
        ({"filename": "a.md", "size": -1}, Refusal.MALFORMED, "exact size"),
        ({"filename": "a.md", "size": "10"}, Refusal.MALFORMED, "exact size"),
        ({"filename": "a.pdf", "size": 10}, Refusal.UNSUPPORTED_TYPE, "'.pdf'"),
        ({"filename": "a.md", "size": FORM_LIMIT + 1}, Refusal.TOO_LARGE, "Only a .zip"),
        ({"filename": "a.docx", "size": FORM_LIMIT + 1}, Refusal.TOO_LARGE, "Only a .zip"),
        ({"filename": "a.zip", "size": DIRECT_LIMIT + 1}, Refusal.TOO_LARGE, "100 MiB"),
        ({"filename": "a.epub", "size": DIRECT_LIMIT + 1}, Refusal.TOO_LARGE, "100 MiB"),
        ({"filename": "a.md", "size": 10, "title": 5}, Refusal.MALFORMED, "strings"),
        ({"filename": "a.md", "size": 10, "language": "not a tag"}, Refusal.MALFORMED, "BCP 47"),
        ({"filename": "a.md", "size": 10, "title": "x" * 301}, Refusal.MALFORMED, "300"),
        ({"filename": "a.md", "size": 10, "split_level": 7}, Refusal.MALFORMED, "from 1 (h1) to 6"),
        ({"filename": "a.md", "size": 10, "split_level": True}, Refusal.MALFORMED, "from 1 (h1) to 6"),
        ({"filename": "a.md", "size": 10, "split_level": [2]}, Refusal.MALFORMED, "from 1 (h1) to 6"),
        ({"filename": "a.md", "size": 10, "pdf_page": "a5"}, Refusal.MALFORMED, "one of a4, letter"),
        ({"filename": "a.md", "size": 10, "pdf_page": 4}, Refusal.MALFORMED, "one of a4, letter"),
        ({"filename": "a.md", "size": 10, "pdf_page": ["a4"]}, Refusal.MALFORMED, "one of a4, letter"),
        ({"filename": "a.md", "size": 10, "pdf_page": True}, Refusal.MALFORMED, "one of a4, letter"),
    ],
)
def test_a_bad_request_is_refused_with_a_reason(fields: dict[str, object], kind: Refusal, words: str) -> None:
    refused = refusal(**fields)
    assert refused.refusal is kind and words in refused.detail


@pytest.mark.parametrize("body", [b"", b"[1]", b"{not json", b"\xff\xfe"])
def test_a_body_that_is_no_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(UploadRejected) as rejected:
        read_direct_request(body, FORM_LIMIT, DIRECT_LIMIT)
    assert rejected.value.refusal is Refusal.MALFORMED


def test_what_arrived_must_be_exactly_what_was_declared() -> None:
    check_arrived_size(100, 100)
    with pytest.raises(UploadRejected) as early:
        check_arrived_size(100, 40)
    assert early.value.refusal is Refusal.INCOMPLETE and "40 of the 100" in early.value.detail
    with pytest.raises(UploadRejected) as over:
        check_arrived_size(100, 101)
    assert over.value.refusal is Refusal.TOO_LARGE


def arrived_archive(name: str, data: bytes, size: int | None = None) -> ArrivedManuscript:
    declared = DirectUploadRequest(name, size or len(data))
    return identify_archive(declared, io.BytesIO(data), FORM_LIMIT)


def test_a_zip_is_told_from_a_word_document_by_its_central_directory() -> None:
    book = zip_bytes({"book.md": b"# A\n", "images/a.jpg": b"\xff\xd8\xff"})
    assert arrived_archive("book.zip", book).type is ZIP
    project = zip_bytes({"guide/src/SUMMARY.md": b"- [A](a.md)\n", "guide/src/a.md": b"# A\n", "guide/b.md": b"#\n"})
    assert arrived_archive("guide.zip", project).type is ZIP  # a book of many files, as a form upload takes it
    word = zip_bytes({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<w/>"})
    assert arrived_archive("book.docx", word).type is DOCX
    with pytest.raises(UploadRejected) as big_word:
        arrived_archive("book.docx", word, size=FORM_LIMIT + 1)
    assert big_word.value.refusal is Refusal.TOO_LARGE  # a Word document is parsed whole in memory


def test_an_epub_may_be_as_large_as_a_zip_and_is_told_by_its_entries() -> None:
    assert request(filename="Tides.epub", size=FORM_LIMIT + 1).size == FORM_LIMIT + 1  # its images make it large
    epub = zip_bytes({"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<c/>", "a.opf": b"<p/>"})
    assert arrived_archive("tides.epub", epub, size=FORM_LIMIT + 1).type is EPUB
    unpacked = zip_bytes({"tides/META-INF/container.xml": b"<c/>", "tides/OEBPS/a.opf": b"<p/>"})
    assert arrived_archive("tides.zip", unpacked).type is EPUB
    with pytest.raises(UploadRejected) as unsafe:
        arrived_archive("escape.epub", zip_bytes({"META-INF/container.xml": b"<c/>", "../x.jpg": b"x"}))
    assert unsafe.value.refusal is Refusal.UNSAFE_ARCHIVE and "The EPUB contains a path" in unsafe.value.detail
    with pytest.raises(UploadRejected) as not_epub:
        arrived_archive("tides.epub", zip_bytes({"book.md": b"# A\n"}))
    assert (
        not_epub.value.refusal is Refusal.UNSUPPORTED_TYPE and "its content is a zip archive" in not_epub.value.detail
    )


@pytest.mark.parametrize(
    ("name", "entries", "kind"),
    [
        ("bomb.zip", {"book.md": b"# B\n", "zeros.bin": bytes(20 * 1024 * 1024)}, Refusal.UNSAFE_ARCHIVE),
        ("escape.zip", {"book.md": b"# E\n", "../x.jpg": b"x"}, Refusal.UNSAFE_ARCHIVE),
        ("two.zip", {"a.md": b"# A\n", "b.docx": b"PK"}, Refusal.UNSUPPORTED_TYPE),  # several, one Word
        ("none.zip", {"a.jpg": b"\xff\xd8\xff"}, Refusal.UNSUPPORTED_TYPE),
        ("book.docx", {"book.md": b"# A\n"}, Refusal.UNSUPPORTED_TYPE),  # named Word, holds Markdown
    ],
)
def test_an_unsafe_or_wrong_archive_is_refused(name: str, entries: dict[str, bytes], kind: Refusal) -> None:
    with pytest.raises(UploadRejected) as rejected:
        arrived_archive(name, zip_bytes(entries))
    assert rejected.value.refusal is kind


def test_a_damaged_zip_is_refused() -> None:
    with pytest.raises(UploadRejected) as rejected:
        arrived_archive("book.zip", b"PK\x03\x04" + bytes(100))
    assert rejected.value.refusal is Refusal.UNSUPPORTED_TYPE and "damaged" in rejected.value.detail


def test_a_small_manuscript_is_checked_exactly_as_a_form_upload() -> None:
    text = b"# Tides\n\nText.\n"
    arrived = identify_small(DirectUploadRequest("tides.md", len(text)), text)
    assert arrived.type is MARKDOWN and len(arrived.sha256) == 64
    with pytest.raises(UploadRejected) as rejected:
        identify_small(DirectUploadRequest("tides.md", 8), b"%PDF-1.7")
    assert rejected.value.refusal is Refusal.UNSUPPORTED_TYPE and "PDF" in rejected.value.detail


def test_a_direct_upload_takes_release_notes_as_a_json_string() -> None:
    asked = request(filename="t.md", size=9, release_notes="Second edition.\n\nThanks!")
    assert asked.release_notes == "Second edition.\n\nThanks!"
    assert asked.to_upload(b"# A").release_notes == "Second edition.\n\nThanks!"
    assert request(filename="t.md", size=9, release_notes=None).release_notes == ""
    assert refusal(filename="t.md", size=9, release_notes=["notes"]).title == "Malformed release notes"
    assert refusal(filename="t.md", size=9, release_notes="n" * 2001).title == "Release notes too long"
