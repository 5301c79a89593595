"""HTML: the body, sanitised later, split into chapters at headings; metadata from <head>."""

from __future__ import annotations

from typing import Any

from shared.book.errors import ManuscriptError
from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.formats import is_language_tag


def read_html(text: str, split_level: int) -> ParsedBook:
    from lxml import etree
    from lxml import html as lxml_html

    try:
        document = lxml_html.document_fromstring(text.encode("utf-8"), parser=html_parser())
    except (etree.ParserError, ValueError):
        raise ManuscriptError("The HTML file is empty or cannot be read.") from None
    metadata = Metadata(
        title=" ".join((document.findtext(".//title") or "").split()),
        language=(document.get("lang") or document.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip(),
    )
    for meta in document.iter("meta"):
        name, content = (meta.get("name") or "").lower(), " ".join((meta.get("content") or "").split())
        if name == "author" and content:
            metadata.authors.append(content)
        elif name == "description":
            metadata.description = content
    if metadata.language and not is_language_tag(metadata.language):
        metadata.language = ""
    body = document.find("body")
    if body is None:
        body = document
    return ParsedBook(metadata=metadata, chapters=split_html(body, split_level), image_refs={})


def html_parser() -> Any:
    from lxml import html as lxml_html

    # No network, no entity expansion: an HTML upload is data, not a set of instructions.
    return lxml_html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, encoding="utf-8")


def split_html(body: Any, split_level: int) -> list[ChapterSource]:
    from lxml import etree

    split_tags = {f"h{level}" for level in range(1, split_level + 1)}
    container = body
    # Descend through single wrappers (<main>, <article>, <div>) that hold the whole text.
    while True:
        children = [c for c in container if isinstance(c.tag, str)]
        if (
            len(children) == 1
            and children[0].tag in ("main", "article", "div", "section")
            and not (container.text or "").strip()
        ):
            container = children[0]
        else:
            break
    groups: list[list[str]] = [[]]
    titles: list[str] = [""]
    lead = (container.text or "").strip()
    if lead:
        groups[0].append(f"<p>{escape_text(lead)}</p>")
    for child in container:
        if not isinstance(child.tag, str):
            continue
        if child.tag in split_tags:
            groups.append([])
            titles.append(" ".join(child.text_content().split()))
        html = etree.tostring(child, encoding="unicode", method="html", with_tail=False)
        groups[-1].append(html)
        tail = (child.tail or "").strip()
        if tail:
            groups[-1].append(f"<p>{escape_text(tail)}</p>")
    chapters: list[ChapterSource] = []
    for title, parts in zip(titles, groups, strict=True):
        if not parts:
            continue
        body = "".join(parts)
        chapters.append(
            ChapterSource(
                number=len(chapters) + 1,
                title=title or ("Front matter" if len(groups) > 1 else ""),
                format="html",
                body=body,
            )
        )
    return chapters


def escape_text(text: str) -> str:
    from html import escape

    return escape(text)
