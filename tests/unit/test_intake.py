"""Reading uploads and sniffing manuscript types: pure, no storage."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from shared.formats import clean_text
from shared.intake import Upload, UploadRejected, check_declared_size, identify, read_upload
from shared.intake.rejections import Refusal

LIMIT = 1024 * 1024


def _multipart(fields: dict[str, str], file: tuple[str, bytes] | None) -> tuple[dict[str, str], bytes]:
    boundary = "----quireTestBoundary"
    chunks = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    if file:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file[0]}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + file[1]
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return {"content-type": f"multipart/form-data; boundary={boundary}"}, b"".join(chunks)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


# An EPUB's first entry is its `mimetype`; its container.xml names the package document.
_EPUB_PARTS = {"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<container/>", "a.opf": b"<p/>"}


def test_multipart_file_and_metadata_fields() -> None:
    headers, body = _multipart({"title": "Dune", "author": "Frank  Herbert", "language": "en"}, ("dune.md", b"# A\n"))
    upload = read_upload(headers, {}, body, LIMIT)
    assert upload == Upload(filename="dune.md", data=b"# A\n", title="Dune", author="Frank Herbert", language="en")


def test_metadata_fields_are_cleaned_as_a_manuscripts_own_title_is() -> None:
    fields = {"title": "Tides\u202e fdp.exe\x07", "author": " Ada\u200f\tWriter "}
    headers, body = _multipart(fields, ("t.md", b"# A\n"))
    upload = read_upload(headers, {}, body, LIMIT)
    assert (upload.title, upload.author) == ("Tides fdp.exe", "Ada Writer")
    # The same function cleans a title taken from the manuscript (shared/book/readers).
    assert clean_text(fields["title"]) == upload.title


def test_raw_body_named_by_content_disposition_or_query() -> None:
    upload = read_upload({"content-disposition": 'attachment; filename="b.txt"'}, {}, b"hi", LIMIT)
    assert upload.filename == "b.txt"
    upload = read_upload({}, {"filename": "c.md", "title": "T"}, b"hi", LIMIT)
    assert (upload.filename, upload.title) == ("c.md", "T")
    upload = read_upload({"content-disposition": "attachment; filename*=UTF-8''%C3%A9t%C3%A9.md"}, {}, b"x", LIMIT)
    assert upload.filename == "été.md"


def test_filename_is_reduced_to_its_last_segment() -> None:
    upload = read_upload({}, {"filename": "..\\..\\etc/passwd.md"}, b"x", LIMIT)
    assert upload.filename == "passwd.md"


@pytest.mark.parametrize(
    ("headers", "body", "refusal"),
    [
        ({}, b"", Refusal.MALFORMED),
        (_multipart({"title": "x"}, None)[0], _multipart({"title": "x"}, None)[1], Refusal.MALFORMED),
        ({"content-type": "multipart/form-data"}, b"--x\r\n", Refusal.MALFORMED),
        ({}, b"x" * (LIMIT + 1), Refusal.TOO_LARGE),
        ({"transfer-encoding": "chunked"}, b"", Refusal.LENGTH_REQUIRED),
    ],
)
def test_bad_requests_are_rejected_with_their_kind(headers: dict[str, str], body: bytes, refusal: Refusal) -> None:
    with pytest.raises(UploadRejected) as caught:
        read_upload(headers, {}, body, LIMIT)
    assert caught.value.refusal is refusal
    assert caught.value.detail


def test_oversized_multipart_file_is_rejected() -> None:
    headers, body = _multipart({}, ("big.md", b"x" * (LIMIT + 1)))
    with pytest.raises(UploadRejected) as caught:
        read_upload(headers, {}, body, LIMIT)
    assert caught.value.refusal is Refusal.TOO_LARGE


def test_declared_size_is_checked_before_reading() -> None:
    with pytest.raises(UploadRejected) as caught:
        check_declared_size({"content-length": str(LIMIT * 2)}, LIMIT)
    assert caught.value.refusal is Refusal.TOO_LARGE
    check_declared_size({"content-length": str(LIMIT)}, LIMIT)


def test_chapters_start_at_the_heading_level_the_upload_names() -> None:
    headers, body = _multipart({"split_level": "3"}, ("dune.md", b"# A\n"))
    assert read_upload(headers, {}, body, LIMIT).split_level == 3
    assert read_upload({}, {"split_level": "6"}, b"x", LIMIT).split_level == 6
    assert read_upload({}, {}, b"x", LIMIT).split_level == 1
    for wrong in ("7", "0", "two", "-1", "1.5", "99999999999"):
        with pytest.raises(UploadRejected, match="from 1 \\(h1\\) to 6") as refused:
            read_upload({}, {"split_level": wrong}, b"x", LIMIT)
        assert refused.value.refusal is Refusal.MALFORMED


def test_the_pdf_page_size_comes_from_a_form_field_or_the_query() -> None:
    headers, body = _multipart({"pdf_page": " Letter "}, ("dune.md", b"# A\n"))
    assert read_upload(headers, {}, body, LIMIT).pdf_page == "letter"
    assert read_upload({}, {"pdf_page": "6x9"}, b"x", LIMIT).pdf_page == "6x9"
    assert read_upload({}, {}, b"x", LIMIT).pdf_page == ""  # the book's language chooses
    assert read_upload({}, {"pdf_page": ""}, b"x", LIMIT).pdf_page == ""
    for wrong in ("a5", "6 x 9", "legal", "a4;"):
        with pytest.raises(UploadRejected, match=re.escape("a4, letter, 6x9, 5.5x8.5, 5x8")) as refused:
            read_upload({}, {"pdf_page": wrong}, b"x", LIMIT)
        assert refused.value.refusal is Refusal.MALFORMED and refused.value.title == "Unknown PDF page size"


def test_bad_language_and_overlong_title_are_rejected() -> None:
    with pytest.raises(UploadRejected, match="language tag"):
        read_upload({}, {"language": "english please"}, b"x", LIMIT)
    with pytest.raises(UploadRejected, match="longer than"):
        read_upload({}, {"title": "t" * 400}, b"x", LIMIT)


@pytest.mark.parametrize(
    ("filename", "data", "kind"),
    [
        ("book.md", b"# Title\n\nText", "markdown"),
        ("book.txt", b"Chapter 1\n\nText", "text"),
        ("", b"Just words", "markdown"),
        ("book.html", b"<!DOCTYPE html><html><body><h1>A</h1></body></html>", "html"),
        ("", b"\xef\xbb\xbf<html><body>x</body></html>", "html"),
        ("frag.html", b"<h1>A</h1><p>b</p>", "html"),
        ("book.docx", _docx(), "docx"),
        ("", _docx(), "docx"),
        ("book.zip", _zip({"book/book.md": b"# A", "book/img/a.png": b"png"}), "zip"),
        ("book.md", "# Тайтл\n\nمرحبا".encode(), "markdown"),
        ("book.txt", "Hello".encode("utf-16"), "text"),
        # A book of many files: joined by name, or in the order a SUMMARY.md or Book.txt gives.
        ("book.zip", _zip({"ch1.md": b"x", "ch2.md": b"y"}), "zip"),
        ("book.zip", _zip({"src/SUMMARY.md": b"- [A](a.md)", "src/a.md": b"x", "b.docx": b"y"}), "zip"),
        ("book.zip", _zip({"manuscript/Book.txt": b"a.txt", "manuscript/a.txt": b"x"}), "zip"),
        # An EPUB, by its mimetype or its container; unpacked and zipped (in a folder, or as Standard
        # Ebooks keeps its sources, in src/) it is still one.
        ("book.epub", _zip(_EPUB_PARTS), "epub"),
        ("", _zip(_EPUB_PARTS), "epub"),
        ("book.epub", _zip({"mimetype": b"application/epub+zip", "OEBPS/a.xhtml": b"<p/>"}), "epub"),
        ("book.zip", _zip({f"book/{name}": data for name, data in _EPUB_PARTS.items()}), "epub"),
        (
            "tale.zip",
            _zip({"LICENSE.md": b"# CC0", "src/META-INF/container.xml": b"<c/>", "src/a.xhtml": b"x"}),
            "epub",
        ),
        # Quarto and bookdown books: their chapters are .qmd and .Rmd files, whatever the case.
        ("book.zip", _zip({"b/_quarto.yml": b"book:\n  chapters: [index.qmd]", "b/index.qmd": b"# A"}), "zip"),
        ("book.zip", _zip({"_bookdown.yml": b"", "index.Rmd": b"# A", "01-intro.RMD": b"# B"}), "zip"),
    ],
)
def test_types_are_decided_by_content(filename: str, data: bytes, kind: str) -> None:
    manuscript = identify(Upload(filename=filename, data=data))
    assert manuscript.type.kind == kind
    assert len(manuscript.sha256) == 64


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("book.pdf", b"%PDF-1.7\n", "a PDF"),
        ("book.pdf", b"# text", "not manuscripts"),
        ("book.md", b"%PDF-1.7\n", "PDF"),
        ("book.md", b"\x89PNG\r\n\x1a\n....", "PNG"),
        ("book.md", b"\x00\x01\x02binary", "not text"),
        ("book.md", b"\xff\xfe\x00\xd8", "not text"),
        ("book.docx", b"# actually markdown", "content is plain text"),
        ("book.md", _docx(), "Word document"),
        ("book.zip", _zip({"a.png": b"x"}), "no manuscript"),
        ("book.zip", _zip({"_quarto.yml": b"book:", "a.ipynb": b"{}"}), "Quarto or bookdown book"),
        ("book.zip", _zip({"a.md": b"x", "b.docx": b"y"}), "2 manuscripts"),
        ("book.zip", b"PK\x03\x04broken", "damaged"),
        ("book.exe", b"MZ\x90\x00", "Windows program"),
        ("book.epub", _zip({"a.md": b"x", "images/a.png": b"y"}), "named 'book.epub' but its content is a zip archive"),
        ("book.epub", b"# Tides", "named 'book.epub' but its content is plain text"),
        ("book.md", _zip(_EPUB_PARTS), "named 'book.md' but its content is an EPUB"),
    ],
)
def test_unsupported_or_mismatched_types_are_415(filename: str, data: bytes, reason: str) -> None:
    with pytest.raises(UploadRejected) as caught:
        identify(Upload(filename=filename, data=data))
    assert caught.value.refusal is Refusal.UNSUPPORTED_TYPE
    assert reason in caught.value.detail
    assert "Quire accepts" in caught.value.detail and "EPUB (.epub)" in caught.value.detail


def test_release_notes_come_from_a_form_field_or_the_query_as_plain_text_bounded() -> None:
    notes = "Fixed typos in <b>Arrival</b>.\r\n\r\n\r\n\r\nNew chapter:\tDeparture\u202e.\x07"
    headers, body = _multipart({"release_notes": notes}, ("dune.md", b"# A\n"))
    assert read_upload(headers, {}, body, LIMIT).release_notes == (
        "Fixed typos in <b>Arrival</b>.\n\nNew chapter: Departure."  # text, escaped where shown
    )
    assert read_upload({}, {"release_notes": " One line. "}, b"x", LIMIT).release_notes == "One line."
    assert read_upload({}, {}, b"x", LIMIT).release_notes == ""
    assert len(read_upload({}, {"release_notes": "n" * 2000}, b"x", LIMIT).release_notes) == 2000
    with pytest.raises(UploadRejected, match="at most 2,000") as refused:
        read_upload({}, {"release_notes": "n" * 2001}, b"x", LIMIT)
    assert refused.value.refusal is Refusal.MALFORMED and refused.value.title == "Release notes too long"
