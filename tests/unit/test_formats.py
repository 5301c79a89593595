"""Reading text from outside, pure: whole numbers, bounded JSON bodies, titles cleaned for display,
the print PDF's page sizes."""

from __future__ import annotations

import pytest

from shared.formats import (
    PDF_PAGE_SIZES,
    JSONRefused,
    bounded_json,
    clean_text,
    json_depth,
    pdf_page_size,
    whole_number,
)


@pytest.mark.parametrize(
    ("text", "number"),
    [("0", 0), ("2", 2), ("007", 7), ("999999999", 999_999_999)],
)
def test_whole_numbers_are_ascii_digits(text: str, number: int) -> None:
    assert whole_number(text) == number


@pytest.mark.parametrize(
    "text",
    ["", "²", "¹", "٣", "１", "1²", " 1", "1 ", "+1", "-1", "1.0", "1_000", "1e3", "0x1", "1" * 10, "9" * 5000],
)
def test_anything_else_is_not_a_number(text: str) -> None:
    # str.isdigit() says yes to '²', '¹' and '٣', and int() of 5,000 digits raises: neither may reach int().
    assert whole_number(text) is None


def test_the_digit_bound_is_the_callers() -> None:
    assert whole_number("1" * 18, max_digits=18) == int("1" * 18)
    assert whole_number("1" * 19, max_digits=18) is None


def test_small_shallow_json_is_read() -> None:
    assert bounded_json(b'{"feeds": ["https://example.com/a?x=[[[["], "n": {"m": [1, 2]}}') == {
        "feeds": ["https://example.com/a?x=[[[["],
        "n": {"m": [1, 2]},
    }
    assert bounded_json(b"[" * 32 + b"]" * 32) is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000, "at most"),
        (b"[" * 10_000, "nests deeper"),
        (b"{}" + b" " * 70_000, "at most"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "nests deeper"),
        (b"[" * 33 + b"]" * 33, "nests deeper"),
        (b'{"title": "\xe9"}', "not UTF-8"),
        (b"{'feeds': []}", "not JSON"),
        (b"", "not JSON"),
    ],
)
def test_large_deep_or_broken_json_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(JSONRefused, match=reason):
        bounded_json(body)


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'["[[[", "\\"[[[", {"a": [1]}]') == 3
    assert json_depth(b'"\\\\"[[') == 2  # an escaped backslash ends before the quote that closes
    assert json_depth(b"") == 0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("The Harbour", "The Harbour"),
        ("\u202eruobraH ehT", "ruobraH ehT"),
        ("A\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u061cB", "AB"),
        ("Tides\x00\x07\x1b[31m", "Tides[31m"),
        ("  One\t\ttwo\r\nthree\u2028four\u00a0five  ", "One two three four five"),
        ("Lone \ud800surrogate", "Lone surrogate"),
        ("A \u202e B", "A B"),
        # Joiners are part of the words they join: Persian's ZWNJ, emoji sequences.
        ("می\u200cخواهم", "می\u200cخواهم"),
        ("👩\u200d👩\u200d👧", "👩\u200d👩\u200d👧"),
        ("\u202e\u202c", ""),
    ],
)
def test_text_for_display_loses_controls_and_bidi_overrides(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_a_project_file_is_found_at_the_root_in_src_or_in_the_one_folder_zipped() -> None:
    from shared.formats import manuscripts_in_zip, natural_key, project_file_in_zip, zip_is_readable

    assert project_file_in_zip(["SUMMARY.md", "a.md"]) == "SUMMARY.md"
    assert project_file_in_zip(["guide/book.toml", "guide/src/SUMMARY.md"]) == "guide/src/SUMMARY.md"
    assert project_file_in_zip(["book/manuscript/Book.txt", "book/manuscript/a.md"]) == "book/manuscript/Book.txt"
    assert project_file_in_zip(["g/book.toml", "g/pages/SUMMARY.md"]) == "g/pages/SUMMARY.md"  # book.src
    assert project_file_in_zip(["a/SUMMARY.md", "b/x.md"]) is None  # two folders: neither is the project
    assert project_file_in_zip(["book/_quarto.yml", "book/index.qmd"]) == "book/_quarto.yml"
    assert project_file_in_zip(["_bookdown.yml", "index.Rmd", "01-a.Rmd"]) == "_bookdown.yml"
    assert project_file_in_zip(["SUMMARY.md", "_quarto.yml", "a.md"]) == "SUMMARY.md"  # the order looked in
    assert project_file_in_zip(["book/x/_quarto.yml", "book/index.qmd"]) is None  # not at the project's root
    assert manuscripts_in_zip(["a.qmd", "b.Rmd", "c.RMD", "_quarto.yml", "d.ipynb"]) == ["a.qmd", "b.Rmd", "c.RMD"]
    assert sorted(["ch10.md", "ch2.md", "Ch1.md"], key=natural_key) == ["Ch1.md", "ch2.md", "ch10.md"]
    assert zip_is_readable(["a.md", "b.md"]) and not zip_is_readable(["a.md", "b.docx"])
    assert zip_is_readable(["SUMMARY.md", "a.md", "b.docx"]) and not zip_is_readable(["a.png"])


def test_an_epub_container_is_found_where_a_project_file_would_be() -> None:
    from shared.formats import epub_container_in_zip, project_file_in_zip

    assert epub_container_in_zip(["mimetype", "META-INF/container.xml"]) == "META-INF/container.xml"
    assert epub_container_in_zip(["src/META-INF/container.xml", "README.md"]) == "src/META-INF/container.xml"
    assert epub_container_in_zip(["b/META-INF/container.xml", "b/x.opf"]) == "b/META-INF/container.xml"
    assert epub_container_in_zip(["b/src/META-INF/container.xml"]) == "b/src/META-INF/container.xml"
    assert epub_container_in_zip(["a/META-INF/container.xml", "b/x.opf"]) is None  # two folders
    assert epub_container_in_zip(["a/b/META-INF/container.xml"]) is None  # too deep to be an EPUB's root
    # macOS's metadata folder is no second folder, and never the place: for both kinds of book alike.
    mac = "__MACOSX/b/._x"
    assert epub_container_in_zip(["b/META-INF/container.xml", mac]) == "b/META-INF/container.xml"
    assert project_file_in_zip(["b/SUMMARY.md", mac]) == "b/SUMMARY.md"
    assert epub_container_in_zip(["__MACOSX/META-INF/container.xml"]) is None
    assert project_file_in_zip(["__MACOSX/SUMMARY.md"]) is None


@pytest.mark.parametrize(
    ("given", "stored"),
    [("", ""), ("   ", ""), ("a4", "a4"), (" A4 ", "a4"), ("Letter", "letter"), ("6X9", "6x9"), ("5.5x8.5", "5.5x8.5")],
)
def test_a_pdf_page_size_is_read_whatever_its_case_and_spaces(given: str, stored: str) -> None:
    assert pdf_page_size(given) == stored


@pytest.mark.parametrize("given", ["a5", "A 4", "6 x 9", "6×9", "5,5x8,5", "letter-size", "default", "a4\x00"])
def test_any_other_pdf_page_size_is_none(given: str) -> None:
    assert pdf_page_size(given) is None


def test_every_pdf_page_size_reads_as_itself() -> None:
    assert [pdf_page_size(size) for size in PDF_PAGE_SIZES] == list(PDF_PAGE_SIZES)
