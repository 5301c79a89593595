"""Markdown: one document (reference links and footnotes reach across chapters), split at headings."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from shared.book.limits import check_markdown
from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.book.readers.front_matter import front_matter
from shared.book.readers.outline import split_level_for


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = MarkdownIt("commonmark", {"typographer": True})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.use(footnote_plugin).use(front_matter_plugin)
    # TeX between dollars, as pandoc reads it: no space inside the dollars and no digit after the
    # closing one, so "$5 and $10" stays text.
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, allow_labels=False)
    return md


def read_markdown(text: str, split_level: int, *, deepen: bool = True) -> ParsedBook:
    """`deepen`: split deeper when the text has one top heading (its title); a file of a book
    project is one chapter under its title, so it is split exactly at `split_level`."""
    check_markdown(text)
    md = markdown_parser()
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
    split_tags = {f"h{level}" for level in range(1, chapter_level + 1)}
    groups: list[list[Any]] = [[]]
    for token in body:
        if token.type == "heading_open" and token.level == 0 and token.tag in split_tags and groups[-1]:
            groups.append([])
        groups[-1].append(token)

    chapters: list[ChapterSource] = []
    for group in groups:
        if not any(
            (t.type == "inline" and t.content.strip()) or t.type in ("html_block", "fence", "code_block", "hr")
            for t in group
        ):
            continue
        starts_with_heading = group[0].type == "heading_open" and group[0].tag in split_tags
        title = inline_text(group[1]) if starts_with_heading and len(group) > 1 else ""
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


def inline_text(token: Any) -> str:
    if token.type != "inline":
        return ""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())
