"""Quarto and R Markdown source read as Markdown: the pandoc syntax they add, turned into what it
means for a reader. Pure.

    ```{python}  ```{r label, echo=FALSE}     a code block in that language, its `#|` options removed
    ```{=html}                                 raw HTML kept; raw LaTeX and other formats left out
    # Title {#sec-x .unnumbered}               the id kept, the attributes out of the title
    # (PART) Title {-}  # (APPENDIX) Title     a part page (bookdown); the heading's meta says so
    ![Caption](plot.png){#fig-x width=50%}     the id on the image, the attributes out of the text
    : Caption {#tbl-x}   (after a table)       the table's caption and id
    ::: {.callout-note} … :::                  a <div>; a callout is a note with its title
    @sec-x  -@fig-x  \\@ref(x)                  a link to the target (its text set by `label_cross_references`)
    {{< pagebreak >}}                          Quarto shortcodes left out

Code is never run: a cell shows its code, not its output.
"""

from __future__ import annotations

import re
from typing import Any

from shared.book.model import ChapterSource
from shared.book.readers.outline import inline_text

XREF_META = "quire_xref"
PART_META = "quire_part"
CALLOUT_TITLES = {"note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning", "caution": "Caution"}
# Quarto's cross-reference kinds, by the prefix of their ids; a section's link reads as its title.
XREF_KINDS = {
    "sec": "Section",
    "fig": "Figure",
    "tbl": "Table",
    "eq": "Equation",
    "lst": "Listing",
    "thm": "Theorem",
    "lem": "Lemma",
    "cor": "Corollary",
    "prp": "Proposition",
    "cnj": "Conjecture",
    "def": "Definition",
    "exm": "Example",
    "exr": "Exercise",
    "sol": "Solution",
    "rem": "Remark",
}
# A value may be quoted, in straight quotes or in the curly ones the typographer made of them.
_ATTRIBUTE = r"""(?:[#.][\w:.-]+|-|[\w-]+=(?:"[^"]*"|'[^']*'|“[^”]*”|‘[^’]*’|[^\s"'“‘{}]+))"""
# Searched for from each `{` only (no leading \s*: a search from every space of a long run of them
# would be quadratic).
_ATTRIBUTES = re.compile(r"\{\s*(" + _ATTRIBUTE + r"(?:\s+" + _ATTRIBUTE + r")*)\s*\}")
_TRAILING_ATTRIBUTES = re.compile(_ATTRIBUTES.pattern + r"\s*$")
_ONE_ATTRIBUTE = re.compile(_ATTRIBUTE)
_CELL = re.compile(r"^\{\s*\.?([A-Za-z][\w+-]*)")
_RAW = re.compile(r"^\{\s*=\s*([\w-]+)\s*\}$")
# The second run of spaces only after colons (not \s*:*\s*, which tries every split of one run).
_DIV_OPEN = re.compile(r"^:{3,}\s*(\{[^{}]*\}|[\w-]+)\s*(?::+\s*)?$")
_DIV_CLOSE = re.compile(r"^:{3,}\s*$")
_XREF = re.compile(r"(?<![\w@])-?@((?:" + "|".join(XREF_KINDS) + r")-[\w-]*\w)|\\?@ref\(([\w:.-]+)\)")
_SHORTCODE = re.compile(r"\{\{<[^{}]{0,500}?>\}\}")  # bounded: each `{{<` looks no further
_PART_MARK = re.compile(r"^\((PART|APPENDIX)\\?\*?\)\s*")  # `(PART\*)`: a part bookdown does not number


def pandoc_plugin(md: Any) -> None:
    """Fenced divs and the token rewrites above, on a markdown-it parser."""
    md.block.ruler.before("fence", "fenced_div", _fenced_div, {"alt": ["paragraph", "reference", "blockquote", "list"]})
    md.core.ruler.push("pandoc_tokens", _rewrite_tokens)


def attributes(text: str) -> tuple[str, list[str], dict[str, str]]:
    """`#id .class key=value` → (id, classes, key-values)."""
    found_id, classes, values = "", [], {}
    for item in _ONE_ATTRIBUTE.findall(text):
        if item.startswith("#"):
            found_id = item[1:]
        elif item.startswith("."):
            classes.append(item[1:])
        elif "=" in item:
            key, _, value = item.partition("=")
            values[key] = value.strip("\"'“”‘’")
    return found_id, classes, values


def _fenced_div(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
    """A pandoc fenced div's opening or closing line, each a token of its own: the text between is
    parsed as usual, so a `:::` inside a code block is code."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    line = state.src[state.bMarks[start_line] + state.tShift[start_line] : state.eMarks[start_line]].rstrip()
    opening = _DIV_OPEN.match(line)
    open_divs = state.env.setdefault("quire_open_divs", [0])
    if opening is None and not (_DIV_CLOSE.match(line) and open_divs[0]):
        return False
    if silent:
        return True
    if opening:
        spec = opening.group(1)
        div_id, classes, values = attributes(spec[1:-1]) if spec.startswith("{") else ("", [spec], {})
        token = state.push("fenced_div_open", "div", 1)
        token.attrs = {"id": div_id} if div_id else {}
        token.meta = {"classes": classes, "title": values.get("title", "")}
        open_divs[0] += 1
    else:
        state.push("fenced_div_close", "div", -1)
        open_divs[0] -= 1
    token = state.tokens[-1]
    token.block = True
    token.map = [start_line, start_line + 1]
    state.line = start_line + 1
    return True


def _rewrite_tokens(state: Any) -> None:
    from markdown_it.token import Token

    tokens: list[Any] = []
    source = state.tokens
    for index, token in enumerate(source):
        if token.type == "fence" and token.info.startswith("{"):
            raw = _RAW.match(token.info.strip())
            if raw and raw.group(1).lower() != "html":
                continue  # LaTeX, or another format's raw text: not for this book
            if raw:
                token.type, token.tag = "html_block", ""
            else:
                _code_cell(token)
        elif token.type == "heading_open" and index + 1 < len(source):
            _heading(token, source[index + 1])
        elif token.type == "fenced_div_open":
            _div(token, source, index, tokens, Token)
            continue
        elif token.type == "inline":
            _inline(token, Token)
            if index and source[index - 1].type == "paragraph_open" and _table_caption(tokens, token, Token):
                source[index + 1].meta["caption"] = True  # its paragraph_close goes with it
                continue
        if not (token.type == "paragraph_close" and token.meta.get("caption")):
            tokens.append(token)
    for _ in range(state.env.get("quire_open_divs", [0])[0]):  # a div left open ends with its file, as in pandoc
        tokens.append(Token("fenced_div_close", "div", -1))
    # A paragraph that held only a shortcode is gone.
    empty = {
        i + offset
        for i, token in enumerate(tokens[:-2])
        if token.type == "paragraph_open" and tokens[i + 1].type == "inline" and not tokens[i + 1].children
        for offset in range(3)
    }
    state.tokens = [token for i, token in enumerate(tokens) if i not in empty]


def _table_caption(tokens: list[Any], inline: Any, token_class: Any) -> bool:
    """`: Caption {#tbl-x}` (or `Table: …`) in the paragraph after a table is its caption and id."""
    found = re.match(r"^(?:Table)?:\s+\S", inline.content)
    if not found or len(tokens) < 2 or tokens[-2].type != "table_close":
        return False
    opener = next(token for token in reversed(tokens) if token.type == "table_open")
    tokens.pop()  # the caption's paragraph_open
    _heading(opener, inline)  # its `{#tbl-x}` onto the table
    first = inline.children[0] if inline.children and inline.children[0].type == "text" else None
    if first is not None:
        first.content = re.sub(r"^(?:Table)?:\s+", "", first.content)
    inline.content = inline.content[found.end() - 1 :]
    position = tokens.index(opener) + 1
    tokens[position:position] = [
        token_class("caption_open", "caption", 1),
        inline,
        token_class("caption_close", "caption", -1),
    ]
    return True


def _code_cell(fence: Any) -> None:
    """An executable cell as a code block. A cell that makes a captioned figure is the target of
    its cross-references: `#| label: fig-x` (Quarto), `{r x, fig.cap=…}` as `fig:x` (bookdown)."""
    header = fence.info.strip()
    cell = _CELL.match(header)
    fence.info = cell.group(1).lower() if cell else ""
    lines = fence.content.split("\n")
    options: dict[str, str] = {}
    while lines and lines[0].lstrip().startswith("#|"):
        key, _, value = lines.pop(0).lstrip()[2:].partition(":")
        options[key.strip()] = value.strip().strip("\"'")
    fence.content = "\n".join(lines)
    chunk = re.match(r"^\{\s*\w+[\s,]+([\w-]+)\s*(?:,|\})", header)  # `{r label, …}`: no `=` in the label
    caption = re.search(r"""fig\.cap\s*=\s*(['"])(.*?)\1""", header)
    if options.get("label", "").startswith("fig-"):
        fence.attrs["id"] = options["label"]
        fence.meta["caption"] = options.get("fig-cap", "")
    elif chunk and caption:
        fence.attrs["id"] = f"fig:{chunk.group(1)}"
        fence.meta["caption"] = caption.group(2)


def _heading(opener: Any, inline: Any) -> None:
    """`{#id .class}` at a heading's end: the id kept, the rest dropped; `(PART)` marks a part."""
    marker = _PART_MARK.match(inline.content)
    if marker:
        opener.meta[PART_META] = marker.group(1)
        inline.content = inline.content[marker.end() :]
        if inline.children and inline.children[0].type == "text":
            inline.children[0].content = _PART_MARK.sub("", inline.children[0].content, count=1)
    found = _TRAILING_ATTRIBUTES.search(inline.content)
    if not found:
        return
    heading_id, _, _ = attributes(found.group(1))
    if heading_id:
        opener.attrs["id"] = heading_id
    inline.content = inline.content[: found.start()].rstrip()
    last = inline.children[-1] if inline.children else None
    if last is not None and last.type == "text":
        last.content = _TRAILING_ATTRIBUTES.sub("", last.content).rstrip()
        if not last.content:
            inline.children.pop()


def _div(opener: Any, source: list[Any], index: int, out: list[Any], token_class: Any) -> None:
    """A fenced div as a <div>; a callout as a note: its first heading, its title or its kind's name
    becomes a bold first line (not a heading: Quarto does not number or list it)."""
    classes = opener.meta.get("classes", [])
    kind = next((c.removeprefix("callout-") for c in classes if c.startswith("callout-")), "")
    out.append(opener)
    if not kind:
        if classes:
            opener.attrs["class"] = " ".join(classes)
        return
    opener.attrs["class"] = f"callout callout-{kind}"
    opener.attrs["role"] = "note"
    following = source[index + 1 : index + 4]
    if len(following) == 3 and following[0].type == "heading_open" and following[0].level == opener.level + 1:
        _heading(following[0], following[1])  # its `{#id}` out of the title, like any heading's
        for token, kind_of in zip(following[::2], ("paragraph_open", "paragraph_close"), strict=True):
            token.type, token.tag, token.attrs = kind_of, "p", {"class": "callout-title"}
        _embolden(following[1], token_class)
        return
    title = opener.meta.get("title") or CALLOUT_TITLES.get(kind, kind.capitalize())
    inline = token_class("inline", "", 0)
    inline.content = title
    inline.children = [token_class("text", "", 0)]
    inline.children[0].content = title
    _embolden(inline, token_class)
    opening = token_class("paragraph_open", "p", 1)
    opening.attrs = {"class": "callout-title"}
    out.extend([opening, inline, token_class("paragraph_close", "p", -1)])


def _embolden(inline: Any, token_class: Any) -> None:
    inline.children = [
        token_class("strong_open", "strong", 1),
        *(inline.children or []),
        token_class("strong_close", "strong", -1),
    ]


def _inline(inline: Any, token_class: Any) -> None:
    """Cross-references become links, shortcodes go, an image's `{…}` attributes leave the text."""
    children: list[Any] = []
    in_link = 0
    for child in inline.children or ():
        if child.type == "text" and children and children[-1].type == "image":
            found = _ATTRIBUTES.match(child.content)  # right after the image, as pandoc reads it
            if found:
                image_id, _, _ = attributes(found.group(1))
                if image_id:
                    children[-1].attrs["id"] = image_id
                child.content = child.content[found.end() :]
        if child.type == "text":
            child.content = _SHORTCODE.sub("", child.content)
        in_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
        if child.type != "text" or in_link or not _XREF.search(child.content):
            if child.type != "text" or child.content:
                children.append(child)
            continue
        position = 0
        for match in _XREF.finditer(child.content):
            children.append(_text(token_class, child.content[position : match.start()]))
            target = match.group(1) or match.group(2)
            link = token_class("link_open", "a", 1)
            link.attrs = {"href": f"#{target}"}
            link.meta = {XREF_META: target}
            children += [link, _text(token_class, target), token_class("link_close", "a", -1)]
            position = match.end()
        children.append(_text(token_class, child.content[position:]))
    inline.children = [c for c in children if c.type != "text" or c.content]
    inline.content = _SHORTCODE.sub("", inline.content)


def _text(token_class: Any, content: str) -> Any:
    token = token_class("text", "", 0)
    token.content = content
    return token


def pandoc_id(title: str) -> str:
    """The id pandoc (and so bookdown) gives a heading with none of its own: 'The 2nd Try!' → 'the-2nd-try'."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " _-.")
    return re.sub(r"^[\W\d_]+", "", "-".join(kept.split()))  # up to its first letter


def label_cross_references(bodies: list[list[Any]]) -> None:
    """Give each cross-reference link its text, once every file is read (a link may point forward,
    or into another file): a section's title, a figure's caption, else its kind ('Table')."""
    labels: dict[str, str] = {}
    for body in bodies:
        for index, token in enumerate(body):
            if token.type == "heading_open" and index + 1 < len(body):
                title = inline_text(body[index + 1])
                labels.setdefault(str(token.attrs.get("id") or pandoc_id(title)), title)
            elif token.type == "fence" and token.attrs.get("id"):
                labels.setdefault(str(token.attrs["id"]), token.meta.get("caption", ""))
            elif token.type == "table_open" and token.attrs.get("id") and body[index + 1].type == "caption_open":
                labels.setdefault(str(token.attrs["id"]), inline_text(body[index + 2]))
            for child in token.children or ():
                if child.type == "image" and child.attrs.get("id"):
                    labels.setdefault(str(child.attrs["id"]), child.content)
    for body in bodies:
        for token in body:
            children = token.children or []
            for position, child in enumerate(children):
                target = child.meta.get(XREF_META) if child.type == "link_open" else None
                if target and position + 1 < len(children):
                    kind = XREF_KINDS.get(target.split("-", 1)[0], "")
                    children[position + 1].content = labels.get(target) or kind or target


def titled(chapter: ChapterSource, title: str, level: int) -> None:
    """A chapter whose title is in its front matter (`title:`) opens with it as a heading."""
    from markdown_it.token import Token

    inline = Token("inline", "", 0, content=title, children=[_text(Token, title)])
    chapter.body[:0] = [
        Token("heading_open", f"h{level}", 1, block=True),
        inline,
        Token("heading_close", f"h{level}", -1, block=True),
    ]
    chapter.title = title
