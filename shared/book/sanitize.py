"""The one sanitiser: every piece of HTML that reaches a book passes through here.

Raw HTML in Markdown, HTML uploads, DOCX converted by mammoth, and feed text all go through the
same nh3 (ammonia) allow-list: no script, no event handlers, no style, no forms or frames, only
http(s) and mailto links. The result is re-serialised as well-formed XHTML with lxml.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

ALLOWED_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
    "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt",
    "ruby", "s", "samp", "section", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr", "aside",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"id", "class", "lang", "dir", "title", "role"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "time": {"datetime"},
    "col": {"span"},
    "colgroup": {"span"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "bdo": {"dir"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@lru_cache(maxsize=1)
def _cleaner() -> Any:
    import nh3

    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )


def sanitize_html(html: str) -> str:
    """Allow-listed HTML (still HTML syntax)."""
    return str(_cleaner().clean(html))


def sanitized_fragment(html: str) -> Any:
    """Sanitise HTML and return it parsed as an lxml element (a <div> holding the fragment)."""
    from lxml import html as lxml_html

    return lxml_html.fragment_fromstring(sanitize_html(html) or "", create_parent="div")


def fragment_to_xhtml(container: Any) -> str:
    from lxml import etree

    _fix_ids(container)
    parts = [_escape_text(container.text or "")]
    parts.extend(etree.tostring(child, encoding="unicode", method="xml") for child in container)
    return "".join(parts)


def _fix_ids(container: Any) -> None:
    """Ids must be XML names and unique; drop the ones that are not."""
    seen: set[str] = set()
    for element in container.iter():
        if not isinstance(element.tag, str):
            continue
        value = element.get("id")
        if value is None:
            continue
        if not _NCNAME.match(value) or value in seen:
            del element.attrib["id"]
        else:
            seen.add(value)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(html_or_text: str) -> str:
    """Text content of an HTML fragment, whitespace collapsed (titles, nav labels)."""
    from lxml import html as lxml_html

    if "<" not in html_or_text:
        return " ".join(html_or_text.split())
    element = lxml_html.fragment_fromstring(sanitize_html(html_or_text) or "", create_parent="div")
    return " ".join(element.text_content().split())
