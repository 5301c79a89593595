"""Word documents: what Word writes beyond plain paragraphs reaches the book, or is named."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from shared.book import convert
from shared.book.conversion import render
from shared.book.errors import ManuscriptError
from shared.book.readers import parse_manuscript
from tests import book_corpus as corpus
from tests.book.conftest import options
from tests.book.test_conversion import text


def test_files_on_the_authors_computer_do_not_refuse_the_document() -> None:
    book = parse_manuscript(corpus.docx_with_local_files(), "docx")
    body = "".join(chapter.body for chapter in render(book))
    assert "See the draft notes for more." in body
    assert "file:" not in body and "Manuscript.dotx" not in " ".join(book.warnings)
    assert [w for w in book.warnings if "'file:///C:/Users/dora/notes.docx'" in w and "without the link" in w]


def test_a_linked_image_still_asks_for_embedding() -> None:
    with pytest.raises(ManuscriptError, match="Embed the images"):
        parse_manuscript(corpus.docx_with_local_files(linked_image=True), "docx")


def test_styles_based_on_headings_and_outline_levels_make_chapters() -> None:
    result = convert(corpus.docx_with_custom_headings(), options("docx"))
    nav = re.findall(r'<a href="text/ch\d+\.xhtml">([^<]+)</a>', text(result, "OEBPS/nav.xhtml"))
    assert nav[-3:] == ["Appendix A: Tides", "Appendix B: Knots", "Glossary"]
    assert "Bowline and hitch." in text(result, "OEBPS/text/ch004.xhtml")


def test_word_equations_become_mathml_where_they_stand() -> None:
    result = convert(corpus.docx_with_equations(), options("docx"))
    chapter = text(result, "OEBPS/text/ch002.xhtml")
    mathml = 'xmlns="http://www.w3.org/1998/Math/MathML"'
    assert re.search(
        rf'<p>The square <math {mathml} display="inline" alttext="x2"><mrow><msup>.*?</msup></mrow></math> grows; '
        r"the ratio is</p>\s*"
        rf'<div class="math-display" tabindex="0"><math {mathml} display="block" alttext="ab"><mrow><mfrac>.*?</mfrac>'
        r"</mrow></math></div>\s*<p>for every reading.</p>",
        chapter,
    )
    assert chapter.count("<math ") == 2
    assert "<p>Hidden: y+1</p>" in chapter
    assert [w for w in result.warnings if "'y+1' uses m:phant" in w and "shown as its text" in w]


def test_tracked_changes_are_accepted_and_text_boxes_kept_each_said() -> None:
    book = parse_manuscript(corpus.docx_with_revisions_and_a_text_box(), "docx")
    body = "".join(chapter.body for chapter in render(book))
    assert "The ship swiftly sailed." in body and "slowly" not in body
    assert body.count("Boxed aside.") == 1
    assert [w for w in book.warnings if "tracked changes (1 insertion, 1 deletion)" in w]
    assert [w for w in book.warnings if "its 1 text box stands in the book where it is anchored" in w]
    assert not [w for w in parse_manuscript(corpus.docx(), "docx").warnings if "tracked" in w or "text box" in w]


def test_an_equation_in_a_footnote_becomes_mathml_too() -> None:
    files = corpus.files_of(corpus.docx())
    equation = f'<m:oMath xmlns:m="{corpus.OMML_NAMESPACE}"><m:r><m:t>y=2</m:t></m:r></m:oMath>'
    files["word/footnotes.xml"] = files["word/footnotes.xml"].replace(
        b"<w:t>The first footnote.</w:t></w:r>", f"<w:t>Note with</w:t></w:r>{equation}".encode()
    )
    body = render(parse_manuscript(corpus.zip_of(files), "docx"))[0].body
    assert re.search(r'role="doc-footnote".*Note with<math [^>]*alttext="y=2"><mrow><mi>y</mi>', body, re.S)


def test_a_research_paper_converts_whole_every_equation_where_it_stood() -> None:
    paper = corpus.word_paper()
    with zipfile.ZipFile(io.BytesIO(paper)) as source:
        equations = source.read("word/document.xml").count(b"<m:oMath>") + source.read("word/document.xml").count(
            b"<m:oMath "
        )
    result = convert(paper, options("docx"))
    chapters = [text(result, f"OEBPS/text/ch{n:03d}.xhtml") for n in range(1, 5)]
    nav = re.findall(r'<a href="text/ch\d+\.xhtml">([^<]+)</a>', text(result, "OEBPS/nav.xhtml"))
    assert nav == ["Chapter One", "Chapter Two", "Method", "Appendix A: Proofs"]
    method = chapters[2]
    assert len(re.findall(r"<math ", method)) == equations == 5
    assert re.search(r'We can reject <math [^>]*display="inline"', method)
    assert re.search(r'<div class="math-display" tabindex="0"><math [^>]*display="block"', method)
    assert "Raw data: the spreadsheet" in method and "file:" not in method
    assert not [w for w in result.warnings if "equation" in w or "Paper.dotx" in w]
    assert [w for w in result.warnings if "data.xlsx" in w]
    assert "The proof is left to the reader." in chapters[3]
