"""A rendered chapter's XHTML → Typst markup. Pure.

Elements become calls (`#strong[…]`, `#link(…)[…]`) around the author's text as string literals
(text.py); ids become labels where links reach them (targets.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.book.links import IMAGE_PAGE_PLACEHOLDER
from shared.book.pdf import tables
from shared.book.pdf.targets import BookTargets, label_value, link_target
from shared.book.pdf.text import EPUB, MATHML, SVG, XHTML, flow, local, string, text_run

IMAGE_PLACEHOLDER = "quire-image:"
# Colours of the EPUB's light theme (shared/book/styles.py), so code reads the same on paper.
TOKEN_STYLES = {
    "tok-k": 'fill: rgb("#a0213a"), weight: "bold"',
    "tok-s": 'fill: rgb("#0a4a1f")',
    "tok-c": 'fill: rgb("#5c5549"), style: "italic"',
    "tok-n": 'fill: rgb("#0b4f8a")',
    "tok-f": 'fill: rgb("#6a2fb0"), weight: "bold"',
    "tok-b": 'fill: rgb("#8a3b00")',
    "tok-del": 'fill: rgb("#a0213a")',
    "tok-ins": 'fill: rgb("#0a4a1f")',
}
_INLINE_CALLS = {
    "em": "emph", "i": "emph", "cite": "emph", "dfn": "emph", "var": "emph",
    "strong": "strong", "b": "strong",
    "s": "strike", "del": "strike", "strike": "strike",
    "u": "underline", "ins": "underline",
    "sup": "super", "sub": "sub", "mark": "highlight", "small": "smallcaps",
}  # fmt: skip
MAX_DEPTH = 100
INLINE_IMAGE_SHARE = 0.35  # of the text block's width, for a picture within a paragraph or note
INLINE_IMAGE_MAX_HEIGHT_PT = 14.0  # an image no taller than a line of text stays in the line
_SKIPPED = {"script", "style", "head", "title", "template", "noscript", "button", "input", "select", "textarea"}


@dataclass(frozen=True)
class PlacedImage:
    path: str  # inside the typesetting folder
    width: int
    height: int
    svg: bool = False


@dataclass
class ChapterWriter:
    """Writes one chapter; `warnings` gathers what the PDF could not carry as the EPUB does."""

    targets: BookTargets
    images: dict[str, PlacedImage]
    math: Callable[[Any], tuple[str, list[str]]]  # a <math> element → (Typst markup, unconverted names)
    show_urls: bool
    heading_level: Callable[[Any], tuple[int, bool] | None]  # a heading → (level, in the outline)
    code_columns: int = 80  # characters of code a line of the page holds at the listing's usual size
    warnings: list[str] = field(default_factory=list)
    footnotes: dict[str, Any] = field(default_factory=dict)
    _noted: set[str] = field(default_factory=set)
    _quiet: bool = False  # inside a heading: its labels were placed before it
    _depth: int = 0

    def chapter(self, root: Any) -> str:
        for aside in root.iter(f"{{{XHTML}}}aside"):
            if aside.get(f"{{{EPUB}}}type") in ("footnote", "endnote", "rearnote") and aside.get("id"):
                self.footnotes[aside.get("id")] = aside
        return self.blocks(root)

    # Blocks ---------------------------------------------------------------------------------

    def blocks(self, parent: Any) -> str:
        """The children of `parent`: blocks separated by paragraph breaks, loose text kept in line.
        Past MAX_DEPTH elements deep the rest is its text alone: nesting that deep is no layout an
        author meant, and would take Python's stack (and Typst's) with it."""
        if self._depth >= MAX_DEPTH:
            return text_run(flow(parent.xpath("string()")))
        self._depth += 1
        out: list[str] = [text_run(flow(parent.text))]
        for child in parent:
            out.append(self.element(child))
            out.append(text_run(flow(child.tail)))
        self._depth -= 1
        return "".join(out)

    def element(self, element: Any) -> str:
        if not isinstance(element.tag, str):
            return ""
        if element.tag.startswith(f"{{{MATHML}}}"):
            return self.formula(element)
        name = local(element)
        if name in _SKIPPED or element.tag.startswith(f"{{{SVG}}}"):
            return ""
        anchor = self.anchor(element) if name not in ("h1", "h2", "h3", "h4", "h5", "h6") else ""
        return anchor + self._element(element, name)

    def _element(self, element: Any, name: str) -> str:
        if name == "p":
            return f"\n\n{self.blocks(element)}\n\n"
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            return self.heading(element)
        if name == "section" and "footnotes" in element.get("class", "").split():
            return self.unreached_notes(element)
        if name == "aside" and element.get("id") in self.footnotes:
            return ""  # set at its reference, at the foot of the page
        if name == "pre":
            return self.code_block(element)
        if name == "blockquote":
            return f"\n\n#quote(block: true)[{self.blocks(element)}]\n\n"
        if name == "hr":
            return '\n\n#align(center, block(above: 1.2em, below: 1.2em, text(tracking: 0.6em, "* * *")))\n\n'
        if name in ("ul", "ol"):
            return tables.write_list(self, element, ordered=name == "ol")
        if name == "dl":
            return tables.write_terms(self, element)
        if name == "table":
            return tables.write_table(self, element)
        if name == "figure":
            return self.figure(element)
        if name == "br":
            return "#linebreak()"
        if name == "img":
            return self.image(element)
        if name == "a":
            return self.link(element)
        if name == "code":
            return "#raw(" + string(flow(element.xpath("string()"))) + ")"
        if name == "q":
            return f"#quote[{self.blocks(element)}]"
        if name in ("kbd", "samp", "tt"):
            return "#raw(" + string(element.xpath("string()")) + ")"
        if name == "sup" and self._only_noteref(element):
            return self.link(element[0])  # a note's number is raised already
        if name in _INLINE_CALLS:
            inner = self.blocks(element)
            return f"#{_INLINE_CALLS[name]}[{inner}]" if inner else ""
        if name == "aside" or "callout" in element.get("class", ""):
            return f"\n\n#block(stroke: (left: 2pt + luma(150)), inset: (left: 8pt, y: 4pt), width: 100%)[{self.blocks(element)}]\n\n"
        return self.languaged(element, self.blocks(element))

    def _only_noteref(self, element: Any) -> bool:
        children = [c for c in element if isinstance(c.tag, str)]
        return (
            len(children) == 1
            and local(children[0]) == "a"
            and children[0].get(f"{{{EPUB}}}type") == "noteref"
            and link_target(children[0].get("href", "")) in self.footnotes
            and not (element.text or "").strip()
            and not (children[0].tail or "").strip()
        )

    def languaged(self, element: Any, inner: str) -> str:
        """Content in another language or direction than the book's (`lang`, `dir`)."""
        language = element.get("lang") or element.get("{http://www.w3.org/XML/1998/namespace}lang") or ""
        direction = element.get("dir", "")
        settings = []
        if re.fullmatch(r"[A-Za-z]{2,3}", language.split("-")[0]):
            settings.append(f"lang: {string(language.split('-')[0].lower())}")
        if direction in ("rtl", "ltr"):
            settings.append(f"dir: {direction}")
        if not settings or not inner:
            return inner
        return f"#text({', '.join(settings)})[{inner}]"

    def anchor(self, element: Any) -> str:
        claimed = "" if self._quiet else self.targets.claim(element.get("id", ""))
        return f"#metadata(none){claimed}" if claimed else ""

    def anchors_within(self, element: Any) -> str:
        """Labels for the ids inside something written whole (a heading, code, a formula): placed
        before it, since a label inside a heading would be copied into the contents."""
        return "".join(self.anchor(e) for e in element.iterdescendants() if isinstance(e.tag, str))

    def heading(self, element: Any) -> str:
        placed = self.heading_level(element)
        before = self.anchors_within(element)
        self._quiet = True
        inner = self.blocks(element).strip()
        self._quiet = False
        tail = self.targets.claim(element.get("id", ""))
        if placed is None or not inner:
            return (
                f"\n\n{before}#metadata(none){tail}#strong[{inner}]\n\n"
                if tail
                else f"\n\n{before}#strong[{inner}]\n\n"
            )
        level, outlined = placed
        flags = "" if outlined else ", outlined: false, bookmarked: false"
        return f"\n\n{before}#heading(level: {level}{flags})[{inner}]{tail}\n\n"

    def code_block(self, element: Any) -> str:
        runs: list[str] = []

        def walk(node: Any, style: str) -> None:
            if node.text:
                runs.append(_styled(node.text, style))
            for child in node:
                classes = child.get("class", "").split() if isinstance(child.tag, str) else []
                walk(child, next((TOKEN_STYLES[c] for c in classes if c in TOKEN_STYLES), style))
                if child.tail:
                    runs.append(_styled(child.tail, style))

        walk(element, "")
        code = "".join(runs).rstrip("\n") if runs else ""
        # Code wraps at its spaces; a word longer than a line (a long string, a URL) would run off the
        # page, so the listing is set smaller until it fits, down to just over half size.
        longest = max((len(word) for word in element.xpath("string()").split()), default=0)
        size = 0.8 * max(min(1.0, self.code_columns / longest), 0.55) if longest else 0.8
        return (
            f"\n\n{self.anchors_within(element)}#block(fill: luma(246), inset: 6pt, radius: 2pt, width: 100%, breakable: true)"
            f"[#set par(justify: false, first-line-indent: 0pt); #set text(font: code-fonts, size: {size:.3f}em, hyphenate: false); {code}]\n\n"
        )

    def figure(self, element: Any) -> str:
        caption = element.find(f"{{{XHTML}}}figcaption")
        images = [i for i in element.iter(f"{{{XHTML}}}img")]
        if caption is not None:
            element.remove(caption)
            caption_text = flow(caption.xpath("string()")).strip()
            for img in images:
                if not (img.get("alt") or "").strip():
                    img.set("alt", caption_text)  # the caption describes it (render.py: alt="" under a caption)
        body = self.blocks(element)
        if caption is None:
            return f"\n\n{body}\n\n"
        kind = "table" if element.find(f".//{{{XHTML}}}table") is not None else "image"
        return f"\n\n#figure(kind: {kind}, [{body}], caption: [{self.blocks(caption)}])\n\n"

    def image(self, element: Any) -> str:
        src = element.get("src", "")
        placed = self.images.get(src[len(IMAGE_PLACEHOLDER) :]) if src.startswith(IMAGE_PLACEHOLDER) else None
        alt = flow(element.get("alt") or "").strip()
        if placed is None:
            return text_run(alt)
        points = placed.width * 72 / 150  # a photo's pixels at 150 dpi: sharp enough on paper
        ratio = placed.height / placed.width if placed.width else 1
        in_text = self._in_text(element)
        if in_text and points * ratio <= INLINE_IMAGE_MAX_HEIGHT_PT:
            # An icon within a line of text stays in the line.
            return f"#box(book-image-inline({string(placed.path)}, {points:.1f}pt, {string(alt)}))"
        # A picture within text (or a note) is set between its lines, smaller, as print books do:
        # stood in the line, it would push the lines apart and stretch the words around it.
        share = INLINE_IMAGE_SHARE if in_text else 1.0
        return f"#book-image({string(placed.path)}, {points:.1f}pt, {ratio:.4f}, {string(alt)}, share: {share})"

    def _in_text(self, element: Any) -> bool:
        if any(local(a) == "aside" for a in element.iterancestors()):
            return True
        parent = element.getparent()
        if parent is None or local(parent) not in ("p", "span", "a", "li", "td", "dd"):
            return False
        words = (
            (parent.text or "")
            + "".join((c.tail or "") for c in parent)
            + "".join(c.xpath("string()") for c in parent if c is not element and isinstance(c.tag, str))
        )
        return bool(words.strip())

    def formula(self, element: Any) -> str:
        markup, unconverted = self.math(element)
        markup = self.anchors_within(element) + markup
        if unconverted:
            self.warnings.append(
                "The PDF shows part of a formula as text: Quire cannot typeset MathML "
                + ", ".join(f"<{name}>" for name in unconverted)
                + f" ({flow(element.get('alttext') or element.xpath('string()')).strip()[:80]})."
            )
        return markup

    # Links and notes ------------------------------------------------------------------------

    def link(self, element: Any) -> str:
        href = element.get("href", "")
        if element.get("role") == "doc-backlink":
            return ""
        note = link_target(href) if element.get(f"{{{EPUB}}}type") == "noteref" else ""
        if note in self.footnotes:
            return self.footnote(note)
        inner = self.blocks(element)
        target = link_target(href)
        if target:
            return f"{self.targets.link_to(target)}[{inner}]" if self.targets.labelled(target) else inner
        if href.startswith(IMAGE_PAGE_PLACEHOLDER) or not re.match(r"^(https?|mailto|tel):", href, re.I):
            return inner
        shown = href.split(":", 1)[1] if href.lower().startswith("mailto:") else href
        linked = f"#link({string(href)})[{inner}]"
        if self.show_urls and flow(element.xpath("string()")).strip() not in (href, shown):
            return f"{linked}#footnote[#link({string(href)})[#raw({string(shown)})]]"
        return linked

    def footnote(self, identifier: str) -> str:
        if identifier in self._noted:  # a second reference to the same note
            return f"#footnote({label_value(identifier)})" if identifier in self.targets.written else ""
        self._noted.add(identifier)
        self.targets.linked.add(identifier)
        tail = self.targets.claim(identifier)
        aside = self.footnotes[identifier]
        body = re.sub(r'^#"\s+', '#"', self.blocks(aside).strip())  # the space after the dropped back link
        return f"#footnote[{body}]{tail}"

    def unreached_notes(self, section: Any) -> str:
        """Notes no reference in the text points at: kept, after the chapter, as the EPUB keeps them."""
        left = [a for a in section if local(a) == "aside" and a.get("id") not in self._noted]
        return "".join(f"\n\n{self.anchor(a)}{self.blocks(a)}\n\n" for a in left)


def _styled(text: str, style: str) -> str:
    text = text.replace("\t", "    ")
    return f"#text({style}, {string(text)})" if style else text_run(text)
