"""Sanitised HTML is repaired into valid XHTML content, keeping its text. Pure."""

from __future__ import annotations

import pytest

from shared.book import convert
from shared.book.repair import repair
from shared.book.sanitize import fragment_to_xhtml, sanitized_fragment
from tests.book.conftest import options
from tests.book.test_conversion import text


def repaired(html: str) -> str:
    return fragment_to_xhtml(repair(sanitized_fragment(html)))


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<table><tr><td align="Right" width="50%">x</td></tr></table>', '<td class="align-right">x</td>'),
        ('<table><tr><td align="middle" colspan="x" rowspan="2">x</td></tr></table>', '<td rowspan="2">x</td>'),
        ("<dl><dt>Only</dt><dt>terms</dt></dl>", "<ul><li>Only</li><li>terms</li></ul>"),
        ("<dl><dt>a</dt><dd>b</dd><dt>c</dt></dl>", "<dl><dt>a</dt><dd>b</dd><dt>c</dt><dd/></dl>"),
        ("<dl><dt>a</dt><dt>b</dt><dd>c</dd></dl>", "<dl><dt>a</dt><dt>b</dt><dd>c</dd></dl>"),
        ("<ul><li>a</li><p>b</p></ul>", "<ul><li>a<p>b</p></li></ul>"),
        ("<ul><p>first</p><li>a</li></ul>", "<ul><li><p>first</p></li><li>a</li></ul>"),
        ("<ul><li>an <figcaption>aside</figcaption></li></ul>", "<ul><li>an <p>aside</p></li></ul>"),
        ("<em><p>para</p></em>", "<em><span>para</span></em>"),
        ('<p lang="not a tag" dir="sideways" role="bogus">x</p>', "<p>x</p>"),
        ('<ol type="disc" start="-"><li value="x">a</li></ol>', "<ol><li>a</li></ol>"),
    ],
)
def test_each_repair(html: str, expected: str) -> None:
    assert expected in repaired(html)


def test_a_paragraph_holding_a_list_becomes_a_div() -> None:
    # The sanitiser's parser keeps <ul> inside <p> only when it came through inline markup; the
    # repair sees the tree the writers would write.
    from lxml import etree

    root = sanitized_fragment("<div></div>")
    paragraph = etree.SubElement(root, "p")
    paragraph.text = "lead"
    etree.SubElement(etree.SubElement(paragraph, "ul"), "li").text = "item"
    assert fragment_to_xhtml(repair(root)) == "<div/><div>lead<ul><li>item</li></ul></div>"


def test_a_link_inside_a_link_keeps_its_text_unlinked() -> None:
    # An HTML parser never nests links (it closes the outer one first); a tree built another way
    # (a reader, a filter) can, and XHTML forbids it.
    from lxml import etree

    root = sanitized_fragment("<p></p>")
    outer = etree.SubElement(root[0], "a", href="https://x.example/")
    outer.text = "b "
    inner = etree.SubElement(outer, "a", href="https://y.example/", id="inner")
    inner.text = "c"
    assert fragment_to_xhtml(repair(root)) == '<p><a href="https://x.example/">b <span id="inner">c</span></a></p>'


def test_text_is_kept_whatever_is_repaired() -> None:
    html = "<dl><dt>T</dt></dl><em><div>D<ul><li>L</li></ul></div></em><ul>loose<li>I</li>tail</ul>"
    root = repair(sanitized_fragment(html))
    assert "".join(root.text_content().split()) == "TDLlooseItail"


def test_a_foreign_phrase_keeps_its_language_written_both_ways_in_the_epub() -> None:
    markdown = 'It was <span lang="fr">déjà vu</span>, <i xml:lang="la">ad hoc</i> and <b lang="not a tag">bold</b>.\n'
    html = f"<html><body><h1>Words</h1><p>{markdown.strip()}</p></body></html>"
    for data, kind in ((markdown, "markdown"), (html, "html")):
        result = convert(data.encode(), options(kind))
        chapter = text(result, "OEBPS/text/ch001.xhtml")
        assert '<span lang="fr" xml:lang="fr">déjà vu</span>' in chapter
        assert '<i lang="la" xml:lang="la">ad hoc</i>' in chapter
        assert "<b>bold</b>" in chapter  # not a language tag: dropped
        assert '<i lang="la" xml:lang="la">ad hoc</i>' in result.app_files["chapters/ch001.html"].decode()
