"""Code blocks that name their language are highlighted; the text is never changed."""

from __future__ import annotations

from lxml import html as lxml_html

from shared.book.conversion import render
from shared.book.highlight import MAX_HIGHLIGHTED_CHARS, highlight_code_blocks
from shared.book.readers import parse_manuscript


def highlighted(markup: str) -> str:
    root = lxml_html.fragment_fromstring(markup, create_parent="div")
    before = root.text_content()
    highlight_code_blocks(root)
    assert root.text_content() == before  # spans only: not a character added or lost
    return "".join(lxml_html.tostring(child, encoding="unicode") for child in root)


def test_a_fenced_block_is_split_into_token_classes() -> None:
    body = render(parse_manuscript(b"# Code\n\n```python\ndef f(x):  # one\n    return 'a' + 1\n```\n", "markdown"))[
        0
    ].body
    assert '<span class="tok-k">def</span> <span class="tok-f">f</span>(x):  <span class="tok-c"># one</span>' in body
    assert '<span class="tok-s">\'a\'</span> + <span class="tok-n">1</span>' in body


def test_html_code_classes_as_exporters_write_them() -> None:
    out = highlighted('<pre><code class="sourceCode lang-js">let x = "s"; // c</code></pre>')
    assert '<span class="tok-k">let</span>' in out and '<span class="tok-c">// c</span>' in out


def test_what_is_left_plain() -> None:
    for markup in (
        '<pre><code class="language-nosuchlanguage">a = 1</code></pre>',  # unknown language
        "<pre><code>a = 1</code></pre>",  # no language named
        '<p><code class="language-python">a = 1</code></p>',  # inline code
        '<pre><code class="language-python">a = <b>1</b></code></pre>',  # the author's own markup
        f'<pre><code class="language-python">{"a = 1\n" * (MAX_HIGHLIGHTED_CHARS // 6 + 1)}</code></pre>',
    ):
        assert "tok-" not in highlighted(markup)
