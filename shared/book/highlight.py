"""Syntax highlighting for code blocks that name their language. Pure.

`<pre><code class="language-python">` (what Markdown fences and most HTML exporters write) gets its
text split into `<span class="tok-…">` by Pygments' lexer for that language, after sanitising,
so no markup from the manuscript is involved. The classes are few and coarse (keyword, string,
comment, number, name of a function or class, built-in, operator): the stylesheets give them
colours with at least 4.5:1 contrast, light and dark, and shapes (bold, italic) on e-readers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Longer code is left plain: lexing is linear but not cheap, and a listing this long is data.
MAX_HIGHLIGHTED_CHARS = 50_000
_CLASSES = (  # the first matching token type gives the class
    ("Comment", "tok-c"),
    ("Keyword", "tok-k"),
    ("Literal.String", "tok-s"),
    ("Literal.Number", "tok-n"),
    ("Name.Builtin", "tok-b"),
    ("Name.Function", "tok-f"),
    ("Name.Class", "tok-f"),
    ("Name.Decorator", "tok-f"),
    ("Name.Tag", "tok-k"),
    ("Name.Attribute", "tok-b"),
    ("Operator.Word", "tok-k"),
    ("Generic.Deleted", "tok-del"),
    ("Generic.Inserted", "tok-ins"),
    ("Generic.Heading", "tok-k"),
)


def highlight_code_blocks(root: Any) -> None:
    """Highlight every `pre > code.language-*` under `root` (an lxml tree) in place."""
    for code in root.iter("code"):
        parent = code.getparent()
        language = _language(code.get("class", ""))
        if parent is None or parent.tag != "pre" or not language or len(code):
            continue  # only plain text inside: markup there is the author's own
        source = code.text or ""
        lexer = _lexer(language)
        if lexer is None or not source or len(source) > MAX_HIGHLIGHTED_CHARS:
            continue
        _fill(code, _runs(lexer, source))


def _language(classes: str) -> str:
    for name in classes.split():
        for prefix in ("language-", "lang-", "sourceCode-"):
            if name.startswith(prefix) and len(name) > len(prefix):
                return name[len(prefix) :].lower()
    return ""


@lru_cache(maxsize=64)
def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _runs(lexer: Any, source: str) -> list[tuple[str, str]]:
    """(class, text) runs, neighbours with the same class merged; '' for plain text."""
    runs: list[tuple[str, str]] = []
    for token_type, value in lexer.get_tokens(source):
        css = _class_of(token_type)
        if runs and runs[-1][0] == css:
            runs[-1] = (css, runs[-1][1] + value)
        else:
            runs.append((css, value))
    return runs


@lru_cache(maxsize=512)
def _class_of(token_type: Any) -> str:
    name = str(token_type).removeprefix("Token.")
    for prefix, css in _CLASSES:
        if name == prefix or name.startswith(prefix + "."):
            return css
    return ""


def _fill(code: Any, runs: list[tuple[str, str]]) -> None:
    from lxml import etree

    code.text = ""
    last = None
    for css, text in runs:
        if not css:
            if last is None:
                code.text += text
            else:
                last.tail = (last.tail or "") + text
            continue
        last = etree.SubElement(code, "span")
        last.set("class", css)
        last.text = text
