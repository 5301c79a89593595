"""The one sanitiser: every piece of HTML that reaches a book passes through here.

Raw HTML in Markdown, HTML uploads, DOCX converted by mammoth, and feed text all go through the
same nh3 (ammonia) allow-list: no script, no event handlers, no style, no forms or frames, only
http(s) and mailto links. The result is re-serialised as well-formed XHTML with lxml.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from typing import Any

from shared.book.links import backslashes_read
from shared.book.mathml import MATHML_NAMESPACE

ALLOWED_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
    "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt",
    "ruby", "s", "samp", "section", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr", "aside",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    # xml:lang, as XHTML writes a language: read as lang (and written as both, see fragment_to_xhtml).
    "*": {"id", "class", "lang", "xml:lang", "dir", "title", "role"},
    "a": {"href", "name"},  # name: an old-style anchor, made an id below
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
CONTENT_DROPPED = {"script", "style", "template", "noscript", "iframe", "object", "embed", "svg"}
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
XML_LANG_ATTRIBUTE = "xml:lang"  # as the HTML parser names it: no namespace in HTML
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@lru_cache(maxsize=1)
def _cleaner() -> Any:
    import nh3

    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        clean_content_tags=CONTENT_DROPPED,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer",
        attribute_filter=_url_read,
    )


def _url_read(element: str, attribute: str, value: str) -> str:
    """Called by nh3 for every attribute, before it checks URLs: backslashes read as a browser does."""
    return backslashes_read(value) if attribute in ("href", "src") else value


# What the allow-list removes that an author meant to show: named in warnings, not lost silently.
LEFT_OUT_KINDS = {
    "svg": "a drawing",
    "iframe": "an embedded page",
    "object": "an embedded object",
    "embed": "an embedded object",
    "video": "a video",
    "audio": "an audio clip",
    "canvas": "a canvas",
    "form": "a form",
    "script": "a script",
}
_LEFT_OUT_TAG = re.compile(rf"<({'|'.join(LEFT_OUT_KINDS)})\b", re.IGNORECASE)


def left_out(html: str) -> dict[str, int]:
    """The elements sanitising `html` removes although an author meant them to show, by tag."""
    counts: dict[str, int] = {}
    for tag in _LEFT_OUT_TAG.findall(html):
        counts[tag.lower()] = counts.get(tag.lower(), 0) + 1
    return counts


def sanitize_html(html: str) -> str:
    """Allow-listed HTML (still HTML syntax)."""
    return str(_cleaner().clean(html))


def sanitized_fragment(html: str) -> Any:
    """Sanitise HTML and return it parsed as an lxml element (a <div> holding the fragment).
    Formulas (<math>) are set aside, cleaned by shared/book/mathml.py, and put back."""
    from lxml import html as lxml_html

    formulas: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        formulas.append(match.group(0))
        return f"\ue000{len(formulas) - 1}\ue001"

    html = _FORMULA.sub(set_aside, html)
    root = lxml_html.fragment_fromstring(sanitize_html(html) or "", create_parent="div")
    for element in root.iter():
        xml_lang = element.attrib.pop(XML_LANG_ATTRIBUTE, None) if isinstance(element.tag, str) else None
        if xml_lang and not element.get("lang"):
            element.set("lang", xml_lang)
    for anchor in root.iter("a"):
        # `<a name="x">`, as HTML before 5 wrote a link target: the id it stands for.
        name = anchor.attrib.pop("name", None)
        if name and not anchor.get("id"):
            anchor.set("id", name)
    if formulas:
        _put_back(root, [_cleaned_formula(formula) for formula in formulas])
    return root


_FORMULA = re.compile(r"<math\b.*?</math\s*>", re.IGNORECASE | re.DOTALL)
_FORMULA_MARK = re.compile(r"\ue000(\d+)\ue001")


def _cleaned_formula(markup: str) -> Any:
    from lxml import html as lxml_html

    from shared.book.mathml import clean_math

    return clean_math(lxml_html.fragment_fromstring(markup))


def _put_back(root: Any, formulas: list[Any]) -> None:
    """Each formula where its mark stands in the sanitised text (marks nh3 moved into attributes, or
    that the author typed, stay text)."""

    def pieces(text: str) -> tuple[str, list[tuple[Any, str]]]:
        parts = _FORMULA_MARK.split(text)
        return parts[0], [(formulas[int(parts[i])], parts[i + 1]) for i in range(1, len(parts), 2)]

    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        if element.text and _FORMULA_MARK.search(element.text):
            element.text, placed = pieces(element.text)
            for index, (formula, after) in enumerate(placed):
                formula.tail = after
                element.insert(index, formula)
        if element is not root and element.tail and _FORMULA_MARK.search(element.tail):
            element.tail, placed = pieces(element.tail)
            position = element.getparent().index(element)
            for offset, (formula, after) in enumerate(placed, start=1):
                formula.tail = after
                element.getparent().insert(position + offset, formula)


def fragment_to_xhtml(container: Any) -> str:
    from lxml import etree

    _fix_ids(container)
    for element in container.iter():
        # EPUB's convention (and what older reading systems read): the language as xml:lang too.
        if isinstance(element.tag, str) and element.get("lang"):
            element.set(XML_LANG, element.get("lang"))
    parts = [_escape_text(container.text or "")]
    parts.extend(etree.tostring(child, encoding="unicode", method="xml") for child in container)
    # Formulas are built without namespaces; one declaration on each <math> covers its content.
    return _MATH_START.sub(f'<math xmlns="{MATHML_NAMESPACE}"', "".join(parts))


_MATH_START = re.compile(r"<math(?=[\s/>])")


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
    """Text content of an HTML fragment, whitespace collapsed (titles, nav labels, feed text).

    The same parse as the sanitiser's, keeping no tag at all (and nothing inside script, style and
    the other content-dropping elements), then its character references read: what lxml's
    text_content() gives for the sanitised fragment, at a seventh of the CPU (feed items are many).
    """
    if "<" not in html_or_text:
        return " ".join(html_or_text.split())
    return " ".join(unescape(_text_cleaner().clean(html_or_text)).split())


@lru_cache(maxsize=1)
def _text_cleaner() -> Any:
    import nh3

    return nh3.Cleaner(tags=set(), clean_content_tags=CONTENT_DROPPED, attributes={}, strip_comments=True)
