"""Make sanitised HTML valid XHTML content, whatever the manuscript's HTML looked like. Pure.

The sanitiser decides what may stay; this decides where it may stand. Real HTML (DocBook and
texinfo output, Word via mammoth, raw HTML in Markdown) breaks content models that browsers
forgive and EPUBCheck does not. Each repair keeps the text and as much structure as is valid:

    block inside a paragraph        the paragraph becomes a div
    block inside other inline text  the block (and what it holds) becomes inline spans
    <dl> without any <dd>           a list: <ul> of <li>
    <dt> with no <dd> after it      an empty <dd> follows it
    stray children of lists         wrapped in the item before them, or in a new one
    <li>, <dt>, <dd>, <figcaption>, <summary>, <caption> out of place
                                    a paragraph (or a div, when it holds blocks)
    a link inside a link            its text, unlinked
    presentational attributes       align → class "align-…"; values a schema rejects are dropped
"""

from __future__ import annotations

import re
from typing import Any

from shared.formats import is_language_tag

# Elements whose content must be phrasing (inline) content.
PHRASING_ONLY = {
    "p", "span", "em", "strong", "b", "i", "u", "s", "small", "code", "kbd", "samp", "var", "sub",
    "sup", "abbr", "cite", "dfn", "q", "mark", "time", "bdi", "bdo", "ruby", "rt", "rp",
    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "summary",
}  # fmt: skip
# Content models that take the parent's: inside phrasing they are phrasing too.
TRANSPARENT = {"a", "ins", "del"}
FLOW_ONLY = {
    "div", "p", "section", "aside", "blockquote", "figure", "figcaption", "ul", "ol", "li", "dl",
    "dt", "dd", "table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "td", "th",
    "hr", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "details", "summary",
}  # fmt: skip
# Where each list-like element may stand, and what it becomes elsewhere.
ONLY_INSIDE = {"li": {"ul", "ol"}, "figcaption": {"figure"}, "summary": {"details"}, "caption": {"table"}}
ARIA_ROLES = {
    "doc-noteref", "doc-footnote", "doc-endnotes", "doc-backlink", "doc-pagebreak", "doc-epigraph",
    "doc-example", "doc-tip", "doc-notice", "doc-pullquote", "doc-subtitle", "doc-credit",
    "doc-dedication", "doc-glossary", "doc-bibliography", "doc-toc", "doc-chapter", "doc-part",
    "doc-introduction", "doc-conclusion", "doc-epilogue", "doc-prologue", "doc-preface",
    "doc-foreword", "doc-afterword", "doc-appendix", "doc-colophon", "doc-abstract",
    "doc-acknowledgments", "doc-index", "doc-errata", "doc-qna", "doc-biblioentry",
    "doc-endnote", "doc-glossref", "doc-biblioref", "doc-cover",
    "note", "presentation", "none", "figure", "img", "list", "listitem", "table", "row", "cell",
    "heading", "region", "complementary", "contentinfo", "banner", "main", "navigation", "search",
    "separator", "term", "definition", "math", "group", "alert", "status", "code",
}  # fmt: skip
_ALIGN = re.compile(r"^\s*(left|right|center|justify)\s*$", re.I)
_NON_NEGATIVE = re.compile(r"^\s*\d+\s*$")


def repair(root: Any) -> Any:
    """Repair `root` (a container element) in place; returns it."""
    _fix_attributes(root)
    _unnest_links(root)
    _fix_lists(root)
    _fix_misplaced(root)
    _fix_blocks_in_phrasing(root)
    return root


def _elements(root: Any) -> list[Any]:
    return [e for e in root.iter() if isinstance(e.tag, str) and e is not root]


def _fix_attributes(root: Any) -> None:
    for element in _elements(root):
        attributes = element.attrib
        if "align" in attributes:
            align = _ALIGN.match(attributes.pop("align"))
            if align:
                classes = attributes.get("class", "").split()
                attributes["class"] = " ".join([*classes, f"align-{align.group(1).lower()}"])
        for name in ("width", "height", "colspan", "rowspan", "span", "start", "value"):
            if name in attributes and not _NON_NEGATIVE.match(attributes[name]):
                del attributes[name]
        for name in ("colspan", "span"):
            if attributes.get(name, "1").strip() == "0":
                del attributes[name]
        if "type" in attributes and attributes["type"] not in ("1", "a", "A", "i", "I"):
            del attributes["type"]
        if "dir" in attributes and attributes["dir"].lower() not in ("ltr", "rtl", "auto"):
            del attributes["dir"]
        if "lang" in attributes and not is_language_tag(attributes["lang"]):
            del attributes["lang"]
        if "role" in attributes:
            roles = [r for r in attributes["role"].split() if r in ARIA_ROLES]
            if roles:
                attributes["role"] = roles[0]
            else:
                del attributes["role"]
        if "cite" in attributes:
            del attributes["cite"]  # a URL no reader follows, and not checked by the sanitiser
        if "datetime" in attributes and not re.match(
            r"^\d{4}(-\d\d(-\d\d)?)?([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$", attributes["datetime"]
        ):
            del attributes["datetime"]
        if element.tag == "img" and not element.get("src"):
            _replace_by_text(element, element.get("alt", ""))


def _unnest_links(root: Any) -> None:
    for link in _elements(root):
        if link.tag == "a" and any(a.tag == "a" for a in link.iterancestors()):
            link.tag = "span"
            for name in ("href", "rel", "title"):
                link.attrib.pop(name, None)


def _fix_lists(root: Any) -> None:
    from lxml import etree

    for element in _elements(root):
        if element.tag == "dl":
            children = [c for c in element if isinstance(c.tag, str)]
            if not any(c.tag == "dd" or (c.tag == "div" and c.find("dd") is not None) for c in children):
                element.tag = "ul"
                for child in children:
                    child.tag = "li"
                continue
            for child in children:
                if child.tag not in ("dt", "dd", "div"):
                    _wrap_in_item(child, "dd")
            items = [c for c in element if isinstance(c.tag, str)]
            for index, child in enumerate(items):
                following = items[index + 1].tag if index + 1 < len(items) else None
                if child.tag == "dt" and following not in ("dt", "dd"):
                    child.addnext(etree.Element("dd"))
        elif element.tag in ("ul", "ol"):
            for child in list(element):
                if isinstance(child.tag, str) and child.tag != "li":
                    _wrap_in_item(child, "li")
            _wrap_loose_text(element, "li")


def _wrap_in_item(child: Any, item_tag: str) -> None:
    """Move a stray child of a list into the item before it, or into a new item."""
    from lxml import etree

    previous = child.getprevious()
    while previous is not None and not isinstance(previous.tag, str):
        previous = previous.getprevious()
    if previous is not None and previous.tag == item_tag:
        previous.append(child)
        return
    item = etree.Element(item_tag)
    child.addprevious(item)
    item.append(child)


def _wrap_loose_text(element: Any, item_tag: str) -> None:
    from lxml import etree

    if (element.text or "").strip():
        item = etree.Element(item_tag)
        item.text, element.text = element.text, None
        element.insert(0, item)
    for child in list(element):
        if (child.tail or "").strip():
            if child.tag == item_tag:
                child.append(_span(child.tail))
            else:
                item = etree.Element(item_tag)
                item.text = child.tail
                child.addnext(item)
            child.tail = None


def _span(text: str) -> Any:
    from lxml import etree

    span = etree.Element("span")
    span.text = text
    return span


def _fix_misplaced(root: Any) -> None:
    for element in _elements(root):
        parent = element.getparent()
        allowed = ONLY_INSIDE.get(element.tag) or ({"dl", "div"} if element.tag in ("dt", "dd") else None)
        if allowed is None or parent is None or parent.tag in allowed:
            continue
        grandparent = parent.getparent()
        if element.tag in ("dt", "dd") and parent.tag == "div" and grandparent is not None and grandparent.tag == "dl":
            continue  # <dl><div><dt>…<dd>…</div></dl> is a valid group
        holds_blocks = any(isinstance(c.tag, str) and c.tag in FLOW_ONLY for c in element.iter() if c is not element)
        element.tag = "div" if holds_blocks else "p"


def _phrasing_context(element: Any) -> bool:
    """Whether `element` stands where only phrasing content may."""
    parent = element.getparent()
    while parent is not None and parent.tag in TRANSPARENT:
        parent = parent.getparent()
    return parent is not None and parent.tag in PHRASING_ONLY


def _fix_blocks_in_phrasing(root: Any) -> None:
    # Document order: a repair of an element is seen by the checks of everything inside it.
    for element in _elements(root):
        if element.tag not in FLOW_ONLY or not _phrasing_context(element):
            continue
        parent = element.getparent()
        while parent.tag in TRANSPARENT:
            parent = parent.getparent()
        if parent.tag == "p" and not _phrasing_context(parent):
            parent.tag = "div"  # a paragraph that holds blocks: a div holds both
        else:
            _make_inline(element)


def _make_inline(element: Any) -> None:
    """Turn a block, and every block it holds, into spans (keeping their text)."""
    for inner in [element, *(e for e in element.iter() if e is not element and isinstance(e.tag, str))]:
        if inner.tag == "hr":
            _replace_by_text(inner, "")
        elif inner.tag in FLOW_ONLY:
            kept = {name: inner.get(name) for name in ("id", "class", "lang", "dir") if inner.get(name) is not None}
            inner.attrib.clear()
            inner.attrib.update(kept)
            inner.tag = "span"
            if (inner.tail or "") == "" and inner.getnext() is not None:
                inner.tail = " "  # blocks were apart; their text should not run together


def _replace_by_text(element: Any, text: str) -> None:
    parent = element.getparent()
    if parent is None:
        return
    joined = text + (element.tail or "")
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(element)
