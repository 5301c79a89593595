"""Mathematics reaches the books as MathML, and nothing an author meant to show is lost silently."""

from __future__ import annotations

import re

from shared.book import convert
from shared.book.conversion import render
from shared.book.readers import parse_manuscript
from tests import book_corpus as corpus
from tests.book.conftest import options
from tests.book.test_conversion import text

MATHML = 'xmlns="http://www.w3.org/1998/Math/MathML"'


def test_tex_between_dollars_becomes_mathml_with_its_source_as_alt_text() -> None:
    chapter = render(parse_manuscript(corpus.MATH_MARKDOWN.encode(), "markdown"))[0]
    assert f'<math {MATHML} alttext="\\pi r^2" display="inline">' in chapter.body
    assert "costs $5 and a meal $10, which" in chapter.body  # prices are not formulas
    assert re.search(
        r'<div class="math-display" tabindex="0"><math [^>]*display="block"[^>]*>.*<munderover>', chapter.body
    )
    assert f"<math {MATHML}><mi>E</mi>" in chapter.body  # raw MathML in Markdown
    assert 'alttext="e^{i\\pi} + 1 = 0"' in chapter.body  # in the note too
    assert "<code>\\frac{a}{</code>" in chapter.body
    assert [w for w in chapter.warnings if "'\\frac{a}{'" in w and "shown as written" in w]


def test_mathml_from_html_keeps_the_mathematics_and_loses_everything_else() -> None:
    body = render(parse_manuscript(corpus.MATH_HTML.encode(), "html"))[0].body
    assert f'<math {MATHML} alttext="a over b"><mfrac><mi>a</mi><mi>b</mi></mfrac></math>' in body
    assert "<msqrt><mi>x</mi></msqrt>" in body
    assert '<annotation encoding="application/x-tex">\\sqrt{x}</annotation>' in body
    for gone in ("alert", "onclick", "onerror", "javascript", "style=", "weird", "<img", "annotation-xml", "<script"):
        assert gone not in body
    assert "<mstyle><mi>y</mi></mstyle>" in body


def test_chapters_with_mathml_are_declared_in_the_package() -> None:
    result = convert(corpus.MATH_MARKDOWN.encode(), options("markdown"))
    assert re.search(r'<item id="ch001" [^>]*properties="mathml"/>', text(result, "OEBPS/content.opf"))
    assert "<math " in result.app_files["chapters/ch001.html"].decode()


def test_word_comments_are_named_and_equations_become_mathml() -> None:
    book = parse_manuscript(corpus.docx_with_comments_and_an_equation(), "docx")
    assert [w for w in book.warnings if "2 comments are not part of the book" in w]
    assert not [w for w in book.warnings if "equation" in w]
    body = "".join(chapter.body for chapter in render(book))
    assert f'<math {MATHML} display="inline" alttext="x=1"><mrow><mi>x</mi><mo>=</mo><mn>1</mn></mrow></math>' in body
    assert not [w for w in parse_manuscript(corpus.docx(), "docx").warnings if "comment" in w or "equation" in w]


def test_content_books_cannot_carry_is_named() -> None:
    chapter = render(parse_manuscript(corpus.XSS_HTML.encode(), "html"))[0]
    assert [w for w in chapter.warnings if "1 <script> element (a script)" in w and "left out." in w]
    assert [w for w in chapter.warnings if "1 <object> element (an embedded object)" in w and "Use an image" in w]
    media = b"# Art\n\n<video src='a.mp4'></video>\n\n<video></video>\n\n<iframe src='https://example.com'></iframe>\n"
    warnings = render(parse_manuscript(media, "markdown"))[0].warnings
    assert [w for w in warnings if "'Art' contains 2 <video> elements (a video)" in w]
    assert [w for w in warnings if "1 <iframe> element (an embedded page)" in w]


# Every way authors write TeX in Markdown: `$$…$$` inline in a sentence (kramdown, Jekyll) and on its
# own lines, LaTeX's \(…\) and \[…\], and formulas in headings.
EVERY_MATH_FORM = r"""# Energy $$E=mc^2$$ and mass

Einstein's $$E=mc^2$$ is famous; so is \(e^{i\pi}+1=0\), and $x_1$ is a subscript.

$$
\int_0^1 x\,dx
$$

\[
\sum_{k=1}^{n} k = \frac{n(n+1)}{2}
\]

Before a display
\[ a^2 + b^2 = c^2 \]
and after it. Escaped brackets \[1\] stay brackets.

## The area \(\pi r^2\) of a circle

Text.

# Chapter $\alpha$ two

More.
"""


def test_every_way_of_writing_tex_becomes_mathml_and_leaves_no_delimiters() -> None:
    chapters = render(parse_manuscript(EVERY_MATH_FORM.encode(), "markdown"))
    first = chapters[0].body
    plain = re.sub(r"<math\b.*?</math>", "", first, flags=re.DOTALL)
    for delimiter in ("$", "\\(", "\\)", "\\[", "\\]"):
        assert delimiter not in plain, (delimiter, plain)
    assert re.search(r'<h1 [^>]*>Energy <math [^>]*alttext="E=mc\^2" display="inline">', first)
    assert re.search(r'<p>Einstein’s <math [^>]*alttext="E=mc\^2" display="inline">', first)
    assert 'alttext="e^{i\\pi}+1=0" display="inline"' in first
    assert 'alttext="x_1" display="inline"' in first
    displays = re.findall(r'<div class="math-display" tabindex="0"><math [^>]*alttext="([^"]*)" display="block"', first)
    assert displays == ["\\int_0^1 x\\,dx", "\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}", "a^2 + b^2 = c^2"]
    assert "<p>Before a display</p>" in first and "and after it. Escaped brackets [1] stay brackets.</p>" in first
    assert re.search(r'<h2 [^>]*>The area <math [^>]*alttext="\\pi r\^2" display="inline">', first)
    assert "<math" in chapters[1].body
    assert not [w for c in chapters for w in c.warnings if "formula" in w]


def test_escaped_brackets_on_their_own_line_around_words_or_a_number_stay_text() -> None:
    # Converters (pandoc among them) escape brackets: transcribed books are full of these lines.
    manuscript = (
        "# Notes\n\n\\[Illustration: the old quay at dawn\\]\n\n\\[12\\]\n\n"
        "\\[ v = \\text{speed of the ship} \\]\n\n\\[x\\]\n"
    )
    body = render(parse_manuscript(manuscript.encode(), "markdown"))[0].body
    assert "<p>[Illustration: the old quay at dawn]</p>" in body and "<p>[12]</p>" in body
    displays = re.findall(r'alttext="([^"]*)" display="block"', body)
    assert displays == ["v = \\text{speed of the ship}", "x"]


def test_headings_with_formulas_reach_the_contents_as_their_tex() -> None:
    chapters = render(parse_manuscript(EVERY_MATH_FORM.encode(), "markdown"))
    assert [c.title for c in chapters] == ["Energy E=mc^2 and mass", "Chapter \\alpha two"]
    assert [h.text for h in chapters[0].headings] == ["The area \\pi r^2 of a circle"]
    result = convert(EVERY_MATH_FORM.encode(), options("markdown"))
    nav = text(result, "OEBPS/nav.xhtml")
    assert ">Energy E=mc^2 and mass</a>" in nav
    assert ">The area \\pi r^2 of a circle</a>" in nav
    assert ">Chapter \\alpha two</a>" in nav
    assert "$" not in nav and "\\(" not in nav and "<math" not in nav
    contents = re.search(r'<nav class="toc".*?</nav>', result.app_files["index.html"].decode(), re.DOTALL)
    assert contents is not None
    assert ">The area \\pi r^2 of a circle</a>" in contents.group(0)
    assert "$" not in contents.group(0) and "<math" not in contents.group(0)


def test_wide_display_formulas_scroll_sideways_in_both_stylesheets() -> None:
    from shared.book.styles import APP_CSS, EPUB_CSS

    # The wrapper scrolls, and keyboards reach it (tabindex, set by render.py): a scrolling <math>
    # itself could not be focused (Ace: scrollable-region-focusable).
    for css in (EPUB_CSS, APP_CSS):
        assert re.search(r"\.math-display \{[^}]*overflow-x: auto; max-width: 100%;", css)
        assert "math[display" not in css
