"""HTML: the body, sanitised later, split into chapters at headings (nested ones too); metadata from <head>."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from shared.book.errors import ManuscriptError
from shared.book.model import ChapterSource, Metadata, ParsedBook
from shared.book.readers.outline import split_level_for
from shared.formats import clean_text, is_language_tag


def read_html(text: str, split_level: int, *, deepen: bool = True) -> ParsedBook:
    """`deepen`: as for read_markdown (a file of a book project is split exactly at `split_level`)."""
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
    chapters, level, title = split_html(body, split_level, deepen)
    metadata.title = metadata.title or title
    return ParsedBook(metadata=metadata, chapters=chapters, image_refs={}, split_level=level)


def html_parser() -> Any:
    from lxml import html as lxml_html

    # No network, no entity expansion: an HTML upload is data, not a set of instructions.
    return lxml_html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, encoding="utf-8")


def split_html(body: Any, split_level: int, deepen: bool = True) -> tuple[list[ChapterSource], int, str]:
    """The body's chapters, the level it was split at (see outline.split_level_for), and the text
    of the lone title heading the split went past ('' if none): that heading starts no chapter, and
    alone (nothing else before the first chapter) it joins the first chapter.

    Headings nested in wrappers (DocBook's div.section, texinfo's div.chapter-level-extent,
    <section>, <article>) start chapters too: the wrappers around them are taken away, their ids
    kept on the spot where they began.
    """
    from lxml import etree

    _take_navigation_chrome(body)
    _note_roles(body)
    _name_anchors(body)
    headings = list(_chapter_headings(body))
    levels = [int(h.tag[1]) for h in headings]
    level = split_level_for(levels, split_level) if deepen else split_level
    title_heading = next((h for h in headings if int(h.tag[1]) < level), None) if level > split_level else None
    split_tags = {f"h{level}"} if level > split_level else {f"h{n}" for n in range(1, level + 1)}
    _unwrap_around(body, split_tags | ({title_heading.tag} if title_heading is not None else set()))

    groups: list[list[str]] = [[]]
    titles: list[str] = [""]
    lead = (body.text or "").strip()
    if lead:
        groups[0].append(f"<p>{escape_text(lead)}</p>")
    book_title = ""
    for child in body:
        if not isinstance(child.tag, str):
            continue
        if child.tag in split_tags:
            groups.append([])
            titles.append(" ".join(child.text_content().split()))
        elif title_heading is not None and child is title_heading and len(groups) == 1:
            book_title = titles[0] = " ".join(child.text_content().split())
        groups[-1].append(etree.tostring(child, encoding="unicode", method="html", with_tail=False))
        tail = (child.tail or "").strip()
        if tail:
            groups[-1].append(f"<p>{escape_text(tail)}</p>")
    if book_title and len(groups) > 1 and len(groups[0]) == 1:  # the title heading alone
        groups[1][:0] = groups[0]
        groups[0] = []
    chapters = [
        ChapterSource(number=0, title=title, format="html", body="".join(parts))
        for title, parts in zip(titles, groups, strict=True)
        if parts
    ]
    for number, chapter in enumerate(chapters, start=1):
        chapter.number = number
    return chapters, level, book_title


# Page furniture of generated HTML that means nothing in a book: DocBook's Prev/Up/Next tables,
# texinfo's node panels, the "¶" links beside headings that Sphinx and texinfo add.
_CHROME_CLASSES = {"navheader", "navfooter", "nav-panel", "copiable-link", "headerlink"}
_WRAPPERS = {"div", "section", "article", "main", "header", "footer", "hgroup", "body"}
_HEADINGS = {f"h{n}" for n in range(1, 7)}
RENDERED_NOTE_CLASS = "quire-noteref"


def _take_navigation_chrome(body: Any) -> None:
    for element in list(body.iter()):
        if isinstance(element.tag, str) and _CHROME_CLASSES & set((element.get("class") or "").split()):
            element.drop_tree()  # keeps its tail text


# EPUB's semantics for notes (`epub:type`), which the sanitiser drops, as the ARIA roles it keeps
# and that reading systems and screen readers also know: an EPUB's notes stay notes.
_NOTE_ROLES = {"noteref": "doc-noteref", "footnote": "doc-footnote", "endnotes": "doc-endnotes"}


def _note_roles(body: Any) -> None:
    """Notes marked as EPUB marks them keep their roles. A link carrying the class the render step
    gives its own note references (Quire's own EPUB, uploaded again) loses it: the render step
    leaves such links alone, and this one is the manuscript's, whose target must be settled."""
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        classes = (element.get("class") or "").split()
        if RENDERED_NOTE_CLASS in classes:
            element.set("class", " ".join(c for c in classes if c != RENDERED_NOTE_CLASS))
        kind = next((k for k in (element.get("epub:type") or "").split() if k in _NOTE_ROLES), None)
        if kind is not None and not element.get("role"):
            element.set("role", _NOTE_ROLES[kind])


def _name_anchors(body: Any) -> None:
    """Old-style `<a name="x">` targets become ids, so links to them keep working. An empty target
    just before a heading (Word's bookmarks, as mammoth and pandoc write them) moves into the
    heading, so it lands in the heading's chapter and not at the end of the one before."""
    for anchor in list(body.iter("a")):
        name = anchor.get("name")
        if name is not None:
            del anchor.attrib["name"]
            if not anchor.get("id"):
                anchor.set("id", name)
        heading = anchor.getnext()
        if (
            heading is not None
            and heading.tag in _HEADINGS
            and anchor.get("id")
            and anchor.get("href") is None
            and not anchor.text_content().strip()
            and not (anchor.tail or "").strip()
        ):
            anchor.drop_tree()
            if heading.get("id"):
                anchor.tail = heading.text
                heading.text = None
                heading.insert(0, anchor)
            else:
                heading.set("id", anchor.get("id"))


def _chapter_headings(element: Any) -> Iterator[Any]:
    """Headings at the top of the text or inside wrappers only (not in lists, tables, quotes)."""
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag in _HEADINGS:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _chapter_headings(child)


def _unwrap_around(element: Any, split_tags: set[str]) -> None:
    """Take away every wrapper that holds a heading of `split_tags`, innermost first, so those
    headings stand at the top where the text is cut."""
    for child in list(element):
        if not isinstance(child.tag, str) or child.tag not in _WRAPPERS - {"body"}:
            continue
        if not any(h.tag in split_tags for h in _chapter_headings(child)):
            continue
        _unwrap_around(child, split_tags)
        wrapper_id = child.get("id")
        if wrapper_id:
            _keep_id_at_start(child, wrapper_id)
        child.drop_tag()


def _keep_id_at_start(wrapper: Any, wrapper_id: str) -> None:
    from lxml import etree

    first: Any = next((c for c in wrapper if isinstance(c.tag, str)), None)
    holder = wrapper
    if first is not None and first.tag in _HEADINGS and not (wrapper.text or "").strip():
        if not first.get("id"):
            first.set("id", wrapper_id)
            return
        holder = first  # the heading has its own id: the wrapper's goes inside it
    marker = etree.Element("span", id=wrapper_id)
    marker.tail = holder.text
    holder.text = None
    holder.insert(0, marker)


def escape_text(text: str) -> str:
    from html import escape

    return escape(text)


# A tag's opening (`<p`, `</p`, `<!--`): what tells HTML from text that only holds a `<` ("x < y").
_MARKUP = re.compile(r"<[A-Za-z/!]")
# The elements that end a line when HTML becomes plain text.
_LINE_ENDS = ("p", "div", "br", "li", "blockquote", "tr", "dt", "dd", *sorted(_HEADINGS))


def text_from_html(text: str) -> str:
    """Text that may be HTML, as plain text for display: its markup gone and its entities read, a line
    for each paragraph (or other block), each line cleaned. Calibre stores an EPUB's description as
    HTML; a page shows it as text, so its tags would show. Text with no markup is only cleaned."""
    if not _MARKUP.search(text):
        return clean_text(text)
    from lxml import html as lxml_html

    root = lxml_html.fragment_fromstring(text.encode("utf-8"), create_parent="div", parser=html_parser())
    for hidden in root.xpath(".//script | .//style"):
        hidden.drop_tree()  # their text is code, not description (drop_tree keeps what follows)
    for element in root.iter(*_LINE_ENDS):
        element.tail = "\n" + (element.tail or "")
    lines = (clean_text(line) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)
