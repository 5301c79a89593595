"""Where links lead in the PDF: the ids links point at, made Typst labels once each. Pure.

A label nothing reaches costs Typst time; a link to a label that does not exist is an error. So
the book is scanned for its link targets first, and a link is written as a marker that `resolve`
makes a link when its label was written, and plain text when not (its target sat where no label
can go, as inside an SVG drawing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shared.book.pdf.text import local, string

CHAPTER_LINK = "quire-chapter:"
PART_LINK = "quire-goto:"  # a link to a label in another part of the book (merge.py makes it one)
_LINK_MARKER = re.compile("\x01([0-9]+)\x02")  # control characters: never in a string() of the text


def link_target(href: str) -> str:
    """The id a book-internal link reaches ('' for none): `#id`, or another chapter's
    `quire-chapter:chNNN#id`, or that chapter's start (`quire-chapter:chNNN`)."""
    if href.startswith("#"):
        return href[1:]
    if href.startswith(CHAPTER_LINK):
        rest = href[len(CHAPTER_LINK) :]
        stem, _, fragment = rest.partition("#")
        return fragment or chapter_label(stem)
    return ""


def chapter_label(stem: str) -> str:
    return f"quire-{stem}"


@dataclass
class BookTargets:
    """The ids links point at, and the ids the book has: a label is written where both meet, once."""

    linked: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    chapter: int = 0  # the chapter being written: a label is written in it
    written_in: dict[str, int] = field(default_factory=dict)  # label → its chapter's number
    _links: list[str] = field(default_factory=list)

    def scan(self, root: Any, stem: str) -> None:
        self.present.add(chapter_label(stem))
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if element.get("id"):
                self.present.add(element.get("id"))
            if local(element) == "a" and element.get("role") != "doc-backlink":
                target = link_target(element.get("href", ""))
                if target:
                    self.linked.add(target)

    def labelled(self, identifier: str) -> bool:
        return identifier in self.linked and identifier in self.present

    def claim(self, identifier: str) -> str:
        """The label for `identifier` the first time a link needs it here, else ''."""
        if not identifier or not self.labelled(identifier) or identifier in self.written:
            return ""
        self.written.add(identifier)
        self.written_in[identifier] = self.chapter
        return label(identifier)

    def link_to(self, identifier: str) -> str:
        self._links.append(identifier)
        return f"\x01{len(self._links) - 1}\x02"

    def resolve(self, source: str, chapters: set[int] | None = None, elsewhere: set[str] | None = None) -> str:
        """The links in `source`, a part of the book holding `chapters` (None: the whole book): to
        a label of this part, a link; to one of another part, a `quire-goto:` address the merge
        makes a link (each added to `elsewhere`); to a place no label marks, the text alone."""

        def link(match: re.Match[str]) -> str:
            identifier = self._links[int(match.group(1))]
            if identifier not in self.written:
                return "#"
            if chapters is None or self.written_in[identifier] in chapters:
                return f"#link({label_value(identifier)})"
            if elsewhere is not None:
                elsewhere.add(identifier)
            return f"#link({string(PART_LINK + identifier)})"

        return _LINK_MARKER.sub(link, source)


def label(identifier: str) -> str:
    return f"#label({string(identifier)})"


def label_value(identifier: str) -> str:
    return f"label({string(identifier)})"
