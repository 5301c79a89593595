"""The print PDF of every book in the corpus, checked with qpdf and poppler as readers' software
reads it: a sound file, every chapter's text in order, the outline the EPUB's contents has, the
PDF/UA-1 claim exactly when Typst's check passed, the page size asked for."""

from __future__ import annotations

import re

import pytest

from shared.book import Conversion, convert
from shared.book.pdf.typeset import write_pdf
from tests import book_corpus as corpus
from tests.book.conftest import GOOD_BOOKS, options
from tests.book.pdf_tools import (
    chapter_words,
    claims_pdf_ua,
    missing_in_order,
    nav_of,
    outline_of,
    page_info,
    pdf_a_part,
    pdf_words,
    qpdf_check,
    text_of,
    word_boxes,
)

pytestmark = pytest.mark.tools
ARABIC = re.compile("[\u0600-\u06ff]")

PAGE_POINTS = {
    "a4": "595.276 x 841.89",
    "letter": "612 x 792",
    "6x9": "432 x 648",
    "5.5x8.5": "396 x 612",
    "5x8": "360 x 576",
}


def check_pdf(result: Conversion) -> None:
    assert result.pdf is not None, result.warnings
    code, report = qpdf_check(result.pdf)
    assert code == 0, report
    words = pdf_words(result.pdf)
    # Arabic is left out: poppler gives its joined letters back doubled ("الأأول"), whatever set them.
    expected = [word for chapter in chapter_words(result.epub) for word in chapter if not ARABIC.search(word)]
    assert expected and missing_in_order(expected, words) == []
    assert outline_of(result.pdf) == nav_of(result.epub)
    said_not_ua = any("does not claim PDF/UA-1" in w for w in result.warnings)
    assert claims_pdf_ua(result.pdf) is not said_not_ua


@pytest.mark.parametrize("name", sorted(GOOD_BOOKS))
def test_every_book_in_the_corpus_makes_a_sound_pdf_with_its_text_and_contents(
    name: str, converted: dict[str, Conversion]
) -> None:
    check_pdf(converted[name])


def test_a_described_book_claims_pdf_ua_and_an_undescribed_image_says_why_not(
    converted: dict[str, Conversion],
) -> None:
    assert claims_pdf_ua(converted["html"].pdf or b"")
    undescribed = converted["undescribed-image"]
    assert not claims_pdf_ua(undescribed.pdf or b"")
    assert "The PDF does not claim PDF/UA-1 (accessible PDF): 1 image(s) have no description." in undescribed.warnings


def test_an_archival_pdf_claims_pdf_a_as_well() -> None:
    from shared.book.conversion import book_parts, parse, process, render

    def typeset(name: str) -> tuple[bool, str, list[str]]:
        data, kind = GOOD_BOOKS[name]()
        opts = options(kind)
        book = parse(data, opts)
        images = {key: process(book, key) for key in book.image_sources}
        result = write_pdf(book_parts(book, render(book), images, opts), "a4", archival=True)
        assert result.pdf is not None and result.pdf_a
        return claims_pdf_ua(result.pdf), pdf_a_part(result.pdf), result.warnings

    assert typeset("captioned-figure") == (True, "2A", [])
    ua, part, warnings = typeset("undescribed-image")
    assert (ua, part) == (False, "2B") and warnings == [
        "The PDF does not claim PDF/UA-1 (accessible PDF): 1 image(s) have no description."
    ]
    assert pdf_a_part(convert(corpus.PLAIN_TEXT.encode(), options("text")).pdf or b"") == ""


@pytest.mark.parametrize("page", sorted(PAGE_POINTS))
def test_the_page_size_is_the_one_asked_for(page: str) -> None:
    result = convert(corpus.PLAIN_TEXT.encode(), options("text", pdf_page=page))
    assert result.pdf is not None
    assert page_info(result.pdf)["Page size"].startswith(PAGE_POINTS[page])


@pytest.mark.parametrize(
    ("language", "page"), [("en-US", "letter"), ("en-GB", "a4"), ("fr", "a4"), ("es-MX", "letter")]
)
def test_without_a_choice_the_language_region_chooses_a4_or_letter(language: str, page: str) -> None:
    result = convert(corpus.PLAIN_TEXT.encode(), options("text", language=language))
    assert page_info(result.pdf or b"")["Page size"].startswith(PAGE_POINTS[page])


def test_print_trims_start_chapters_on_a_right_hand_page_and_show_link_addresses() -> None:
    book = "# One\n\nSee [the harbour office](https://harbour.example/office).\n\n# Two\n\nMore.\n"
    screen = convert(book.encode(), options("markdown", pdf_page="a4"))
    trim = convert(book.encode(), options("markdown", pdf_page="6x9"))
    assert "harbour.example/office" not in text_of(screen.pdf or b"")
    pages = text_of(trim.pdf or b"").split("\f")[:-1]
    assert "https://harbour.example/office" in pages[4]
    starts = [number for number, page in enumerate(pages, 1) if "See the harbour" in page or "More." in page]
    assert starts == [5, 7]  # right-hand pages; the title page, rights and contents come first
    assert pages[3].strip() == pages[5].strip() == ""  # the left-hand pages left blank show no head or number
    assert pages[4].split()[-1] == "1" and pages[6].split()[-1] == "3"  # odd numbers on right-hand pages


def test_text_that_looks_like_typst_is_printed_as_written() -> None:
    hostile = (
        '#import "/etc/passwd": *  #set page(width: 1pt) $x^2$ = not a heading\n'
        '// not a comment /* nor this */ <label> @ref \\ ] [ } { #eval("1") ~ #pagebreak()\n'
    )
    result = convert(f"Odd Text\n\n{hostile}".encode(), options("text", pdf_page="a4"))
    epub_words = [word for chapter in chapter_words(result.epub) for word in chapter]
    assert {"import", "eval1", "pagebreak"} <= set(epub_words)
    assert missing_in_order(epub_words, pdf_words(result.pdf or b"")) == []
    text = " ".join(text_of(result.pdf or b"").split())
    for piece in ("#set page(width: 1pt) $x^2$ = not a heading", "// not a comment /* nor this */", "<label> @ref"):
        assert piece in text, piece


def test_scripts_typst_does_not_embed_are_set_in_bundled_fonts() -> None:
    book = (
        "# Scripts\n\n日本語のテキスト。中文文本。한국어.\n\n"
        '<p dir="rtl" lang="ar">مرحبا بالعالم</p>\n\n<p dir="rtl" lang="he">שלום עולם</p>\n\n'
        "हिन्दी पाठ. ภาษาไทย. বাংলা. தமிழ். ⚓ ✓\n"
    )
    result = convert(book.encode(), options("markdown", language="en", pdf_page="a4"))
    assert result.pdf is not None
    # Typst's PDF/UA check refuses any character no font could show: the claim means none is a box.
    assert claims_pdf_ua(result.pdf), result.warnings
    text = text_of(result.pdf)
    for word in ("日本語のテキスト", "中文文本", "한국어", "שלום", "हिन्दी", "ภาษาไทย", "தமிழ்"):
        assert word in text, word


def test_a_wide_table_fits_and_a_long_one_repeats_its_header_on_every_page() -> None:
    header = "| " + " | ".join(f"Column {i}" for i in range(1, 11)) + " |\n|" + "---|" * 10 + "\n"
    rows = "".join("| " + " | ".join(f"r{r}c{c}" for c in range(1, 11)) + " |\n" for r in range(1, 121))
    result = convert(f"# Tables\n\n{header}{rows}".encode(), options("markdown", pdf_page="5x8"))
    pages = [" ".join(p.replace("\xad\n", "").split()) for p in text_of(result.pdf or b"").split("\f") if "r" in p]
    table_pages = [p for p in pages if "c10" in p]
    assert len(table_pages) >= 2 and all("Column 10" in p for p in table_pages)
    assert "r120c10" in pages[-1] or any("r120c10" in p for p in pages)


def test_a_five_hundred_page_book_is_one_pdf() -> None:
    paragraph = " ".join(["The tide came in over the harbour wall and went out again."] * 12)
    chapters = "".join(f"# Chapter {n}\n\n" + "\n\n".join([paragraph] * 40) + "\n\n" for n in range(1, 41))
    result = convert(chapters.encode(), options("markdown", pdf_page="5x8"))
    assert result.pdf is not None
    assert int(page_info(result.pdf)["Pages"]) >= 500
    assert len(outline_of(result.pdf)) == 40


def test_tables_with_overlapping_spans_are_laid_out_as_a_browser_lays_them_out() -> None:
    html = (
        "<h1>Spans</h1><table><thead><tr><th rowspan='4'>Head</th><th>Other</th></tr></thead>"
        "<tr><td rowspan='3'>alpha</td><td>beta</td></tr><tr><td colspan='2'>gamma</td></tr>"
        "<tr><td>delta</td><td colspan='5' rowspan='2'>epsilon</td></tr></table>"
        "<table><tr><td rowspan='900'>zeta</td></tr><tr><td>eta</td></tr></table>"
    )
    result = convert(html.encode(), options("html"))
    assert result.pdf is not None, result.warnings
    text = text_of(result.pdf)
    assert all(word in text for word in ("Head", "alpha", "gamma", "epsilon", "zeta", "eta"))


def test_a_book_typst_cannot_typeset_keeps_its_other_outputs_and_says_why() -> None:
    from dataclasses import replace

    from shared.book.conversion import book_parts, parse, process, render

    opts = options("zip")
    book = parse(corpus.full_markdown_zip(), opts)
    images = {key: process(book, key) for key in book.image_sources}
    broken = {key: replace(image, data=b"not an image") for key, image in images.items()}
    result = write_pdf(book_parts(book, render(book), broken, opts), "a4")
    assert result.pdf is None and not result.pdf_ua
    assert any(w.startswith("The PDF could not be made: ") for w in result.warnings), result.warnings


def test_a_book_too_long_for_the_memory_left_gets_no_pdf_and_a_reason() -> None:
    from shared.book.conversion import book_parts, parse, render

    opts = options("text")
    book = parse(corpus.PLAIN_TEXT.encode(), opts)
    parts = book_parts(book, render(book), {}, opts)
    assert write_pdf(parts, "a4", memory_left=None).pdf is not None
    refused = write_pdf(parts, "a4", memory_left=10 * 2**20)
    assert refused.pdf is None and len(refused.warnings) == 1
    assert refused.warnings[0].startswith("The PDF was not made: a part of the book this long (a chapter of about ")
    assert "more than a conversion step may use (10 MB left of PDF_STEP_MEMORY_MB)" in refused.warnings[0]


def test_nesting_no_author_meant_is_set_as_its_text() -> None:
    from shared.book.pdf.markup import ChapterWriter
    from shared.book.pdf.targets import BookTargets
    from shared.book.pdf.text import parse_body

    body = "<div>" * 1500 + "<p>deep <em>text</em></p>" + "</div>" * 1500
    writer = ChapterWriter(BookTargets(), {}, lambda element: ("", []), False, lambda element: None)
    assert writer.chapter(parse_body(body)).strip() == '#"deep text"'
    html = "<html><body><h1>Deep</h1>" + "<div>" * 240 + "<p>deep <em>text</em></p>" + "</div>" * 240 + "</body></html>"
    result = convert(html.encode(), options("html"))
    assert "deep text" in text_of(result.pdf or b"")


def test_code_with_a_word_longer_than_a_line_is_set_smaller_to_stay_on_the_page() -> None:
    token = "'" + "a" * 90 + "'"
    result = convert(f"# Code\n\n```python\nx = {token}\n```\n".encode(), options("markdown", pdf_page="5x8"))
    boxes = [(left, right) for word, left, right in word_boxes(result.pdf or b"") if word == token]
    assert len(boxes) == 1 and boxes[0][1] <= 360 - 0.5 * 72  # within the outer margin of a 5 × 8 in page
