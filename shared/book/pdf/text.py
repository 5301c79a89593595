"""Text and elements as the Typst writers need them. Pure.

Every piece of the author's text reaches Typst as a string literal (`#"…"`), never as markup, so
nothing an author writes can be read as Typst code.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

XHTML = "http://www.w3.org/1999/xhtml"
EPUB = "http://www.idpf.org/2007/ops"
MATHML = "http://www.w3.org/1998/Math/MathML"
SVG = "http://www.w3.org/2000/svg"
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def string(text: str) -> str:
    """A Typst string literal holding `text` exactly."""
    return '"' + _CONTROL.sub("", text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def text_run(text: str) -> str:
    """Text as a string literal; white space alone as markup's own space, which Typst drops where
    it would stand alone between blocks (as a string it would make an empty paragraph)."""
    if not text:
        return ""
    return " " if text.isspace() else "#" + string(text)


def local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_body(body: str) -> Any:
    """A chapter body (an XHTML fragment using the epub: prefix) as one element."""
    wrapped = f'<div xmlns="{XHTML}" xmlns:epub="{EPUB}">{body}</div>'
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)
    return etree.fromstring(wrapped.encode("utf-8"), parser)


def flow(text: str | None) -> str:
    """Text as it flows in a paragraph: any run of white space is one space."""
    return _SPACES.sub(" ", text) if text else ""
