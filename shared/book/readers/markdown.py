"""Markdown: one document (reference links and footnotes reach across chapters), split at headings."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from shared.book.limits import check_markdown
from shared.book.links import backslashes_read
from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.book.readers.front_matter import front_matter
from shared.book.readers.outline import inline_text, split_level_for
from shared.book.readers.pandoc_markdown import pandoc_plugin

# A \[…\] formula longer than this is not looked for: the search stays linear in the text.
MAX_FORMULA_LINES = 200


@lru_cache(maxsize=2)
def markdown_parser(pandoc: bool = False) -> Any:
    """The Markdown parser; `pandoc`: with the syntax Quarto and R Markdown add (pandoc_markdown.py)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = MarkdownIt("commonmark", {"typographer": True})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.use(footnote_plugin).use(front_matter_plugin)
    # A link or image written with backslashes (`images\\map.png`) would otherwise be percent-encoded.
    normalize_link = md.normalizeLink
    md.normalizeLink = lambda url: normalize_link(backslashes_read(url))  # type: ignore[method-assign]  # its hook
    # TeX between dollars, as pandoc reads it: no space inside the dollars and no digit after the
    # closing one, so "$5 and $10" stays text.
    # `$$…$$` on a line with text is inline (kramdown, Jekyll); on its own lines, display.
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, allow_labels=False, double_inline=True)
    # LaTeX's own delimiters: \(…\) inline, \[…\] display. Before "escape", which would read \( as "(".
    md.inline.ruler.before("escape", "math_inline_parens", _parens_math)
    md.block.ruler.before(
        "fence", "math_block_brackets", _brackets_math, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    if pandoc:
        md.use(pandoc_plugin)
    return md


def _parens_math(state: Any, silent: bool) -> bool:
    r"""\(TeX\) inside a paragraph: a math_inline token, as `$TeX$` makes."""
    start = state.pos
    if not state.src.startswith("\\(", start):
        return False
    if start >= getattr(state, "quire_unclosed_from", len(state.src) + 1):
        return False  # no \) after an earlier \(: none after this one either (no quadratic search)
    end = state.src.find("\\)", start + 2)
    if end < 0:
        state.quire_unclosed_from = start
        return False
    if not state.src[start + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = state.src[start + 2 : end]
        token.markup = "\\("
    state.pos = end + 2
    return True


def _brackets_math(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
    r"""\[TeX\] display math: opened at a line's start and closed at a line's end, on one line or
    several (no blank line between, as in LaTeX). A `\[1\]` inside a sentence stays escaped brackets."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False  # indented code
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if not state.src.startswith("\\[", begin):
        return False
    line = start_line
    while line < min(end_line, start_line + MAX_FORMULA_LINES):
        line_start = begin + 2 if line == start_line else state.bMarks[line] + state.tShift[line]
        text = state.src[line_start : state.eMarks[line]].rstrip()
        if line != start_line and (not text or text.startswith("\\[")):
            return False  # a blank line, or another \[: not one formula (and no quadratic scan)
        if text.endswith("\\]"):
            content = state.src[begin + 2 : line_start + len(text) - 2]
            break
        line += 1
    else:
        return False
    if not looks_like_tex(content):
        return False
    if not silent:
        token = state.push("math_block", "math", 0)
        token.block = True
        token.content = content
        token.markup = "\\["
        token.map = [start_line, line + 1]
    state.line = line + 1
    return True


_TEX_MARKS = re.compile(r"\\[A-Za-z]+|[\^_=<>{}+*/|]")
_TEXT_COMMANDS = re.compile(r"\\(?:text|mathrm|textit|textbf|mbox|operatorname)\s*\{[^{}]*\}")
# Tried only where a word begins, and possessively: a long run of letters is scanned once, not once
# for each of its letters.
_WORDS = re.compile(r"\b[^\W\d_]{2,}+[\s,.;:]++[^\W\d_]{2,}+[\s,.;:]++[^\W\d_]{2,}+")


def looks_like_tex(content: str) -> bool:
    r"""Whether text between \[ and \] is a formula rather than escaped brackets around words or a
    number, as converters write them (`\[Illustration: the quay\]`, `\[1\]`): a formula has a TeX
    command or an operator, or is a lone symbol, and is not a run of words outside \text{…}."""
    text = content.strip()
    if not text or text.isdigit():
        return False
    if _WORDS.search(_TEXT_COMMANDS.sub(" ", text)):
        return False
    return bool(_TEX_MARKS.search(text)) or (len(text.split()) == 1 and not text.isalpha()) or len(text) <= 2


def read_markdown(text: str, split_level: int, *, deepen: bool = True, pandoc: bool = False) -> ParsedBook:
    """`deepen`: split deeper when the text has one top heading (its title); a file of a book
    project is one chapter under its title, so it is split exactly at `split_level`. `pandoc`: the
    text is Quarto or R Markdown source."""
    check_markdown(text)
    md = markdown_parser(pandoc)
    env: dict[str, Any] = {}
    tokens = md.parse(text, env)
    metadata = Metadata()
    if tokens and tokens[0].type == "front_matter":
        metadata = front_matter(tokens[0].content)
        tokens = tokens[1:]

    footnotes: dict[int, list[Any]] = {}
    labels: dict[int, str] = {}
    body: list[Any] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "footnote_block_open":
            index += 1
            while index < len(tokens) and tokens[index].type != "footnote_block_close":
                opener = tokens[index]
                if opener.type == "footnote_open":
                    note_id = opener.meta["id"]
                    labels[note_id] = str(opener.meta.get("label", note_id))
                    inner = []
                    index += 1
                    while tokens[index].type != "footnote_close":
                        if tokens[index].type != "footnote_anchor":
                            inner.append(tokens[index])
                        index += 1
                    footnotes[note_id] = inner
                index += 1
            index += 1
            continue
        body.append(token)
        index += 1

    top_levels = [int(t.tag[1]) for t in body if t.type == "heading_open" and t.level == 0]
    chapter_level = split_level_for(top_levels, split_level) if deepen else split_level
    # When the split goes past a lone title heading, that heading starts no chapter (outline.py).
    deepened = chapter_level > split_level
    split_tags = {f"h{chapter_level}"} if deepened else {f"h{level}" for level in range(1, chapter_level + 1)}
    groups: list[list[Any]] = [[]]
    titles = [""]
    for index, token in enumerate(body):
        if token.type == "heading_open" and token.level == 0 and token.tag in split_tags:
            if groups[-1]:
                groups.append([])
                titles.append("")
            titles[-1] = inline_text(body[index + 1])
        groups[-1].append(token)
    if deepened:
        _open_under_title(groups, titles, metadata, chapter_level)

    chapters: list[ChapterSource] = []
    for group, title in zip(groups, titles, strict=True):
        if not _shows_anything(group):
            continue
        note_ids: list[int] = []
        for token in group:
            for child in token.children or ():
                if child.type == "footnote_ref" and child.meta["id"] not in note_ids:
                    note_ids.append(child.meta["id"])
        for token in group:
            # Table alignment comes as style="text-align:…"; styles are not allowed, classes are.
            if token.type in ("th_open", "td_open") and token.attrs.get("style"):
                match = re.search(r"text-align:\s*(left|right|center)", str(token.attrs.pop("style")))
                if match:
                    token.attrs["class"] = f"align-{match.group(1)}"
        notes: list[dict[str, Any]] = [
            {"id": n, "label": labels.get(n, str(n)), "body": footnotes.get(n, [])} for n in note_ids
        ]
        chapters.append(
            ChapterSource(
                number=len(chapters) + 1,
                title=title,
                format="tokens",
                body=group,
                footnotes=notes,
            )
        )
    return ParsedBook(metadata=metadata, chapters=chapters, image_refs={}, split_level=chapter_level)


def _shows_anything(tokens: list[Any]) -> bool:
    return any(
        (t.type == "inline" and t.content.strip()) or t.type in ("html_block", "fence", "code_block", "hr")
        for t in tokens
    )


def _open_under_title(groups: list[list[Any]], titles: list[str], metadata: Metadata, chapter_level: int) -> None:
    """The lone title heading before the first chapter: it names the book (unless front matter
    does) and the opening it stands in; a title with nothing but itself joins the first chapter."""
    opening = groups[0]
    found = next(
        (
            at
            for at, t in enumerate(opening)
            if t.type == "heading_open" and t.level == 0 and int(t.tag[1]) < chapter_level
        ),
        None,
    )
    if found is None:
        return
    title = inline_text(opening[found + 1])
    metadata.title = metadata.title or title
    titles[0] = title
    if len(groups) > 1 and not _shows_anything(opening[:found] + opening[found + 3 :]):
        groups.pop(0)
        titles.pop(0)
        groups[0][:0] = opening
