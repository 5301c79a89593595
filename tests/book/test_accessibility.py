"""What a book says about its accessibility is true of it; phone reading needs no pointer."""

from __future__ import annotations

import re

from shared.book import convert
from tests import book_corpus as corpus
from tests.book.conftest import options
from tests.book.test_conversion import text

CLAIM = '<meta property="dcterms:conformsTo">EPUB Accessibility 1.1 - WCAG 2.2 Level AA</meta>'


def book_with(markdown: str) -> bytes:
    return corpus.described_image_zip(markdown)


def test_a_book_whose_images_are_all_described_claims_conformance() -> None:
    result = convert(book_with("# One\n\n![Boats at the quay](quay.jpg)\n"), options("zip"))
    opf = text(result, "OEBPS/content.opf")
    assert CLAIM in opf and '<meta property="a11y:certifiedBy">Quire automated checks</meta>' in opf
    assert '<meta property="schema:accessModeSufficient">textual</meta>' in opf
    assert '<meta property="schema:accessibilityFeature">alternativeText</meta>' in opf


def test_an_undescribed_image_is_never_passed_off_as_decorative() -> None:
    result = convert(book_with(corpus.UNDESCRIBED_IMAGE_MARKDOWN), options("zip"))
    chapter = text(result, "OEBPS/text/ch001.xhtml")
    assert 'alt="An image with no description (quay.jpg)"' in chapter
    assert 'alt=""' not in chapter
    opf = text(result, "OEBPS/content.opf")
    assert "dcterms:conformsTo" not in opf
    assert '<meta property="schema:accessModeSufficient">textual</meta>' not in opf
    assert '<meta property="schema:accessModeSufficient">textual,visual</meta>' in opf
    assert "alternativeText" not in opf
    assert [w for w in result.warnings if "'quay.jpg'" in w and "no alt text" in w]


def test_a_figure_caption_describes_its_image() -> None:
    result = convert(corpus.captioned_figure_zip(), options("zip"))
    assert re.search(r'<img [^>]*alt=""', text(result, "OEBPS/text/ch001.xhtml"))
    assert CLAIM in text(result, "OEBPS/content.opf")
    assert not result.warnings


def test_images_keep_their_shape_and_scrolling_blocks_take_the_keyboard() -> None:
    result = convert(book_with(corpus.UNDESCRIBED_IMAGE_MARKDOWN), options("zip"))
    chapter = text(result, "OEBPS/text/ch001.xhtml")
    assert re.search(r'<img [^>]*width="600" height="400"', chapter)
    assert '<pre tabindex="0">' in chapter
    assert '<div class="table-scroll" tabindex="0" role="region" aria-label="Table"><table>' in chapter
    page = result.app_files["chapters/ch001.html"].decode()
    assert re.search(r'<img [^>]*width="600" height="400" loading="lazy"', page)
    # EPUBCheck reads these books too (GOOD_BOOKS in conftest.py).
