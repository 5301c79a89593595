"""The book as Typst markup, in parts: the front matter (title pages and contents) and the body cut
at chapter boundaries into parts of a bounded length, each typeset on its own (typeset.py). Pure.

Links between parts are written as `quire-goto:` addresses (targets.py), and each part reports
where the labels others link to, and the contents' entries, landed (part_process.py), so the
contents can be written with its page numbers last and the merge (merge.py) can join the links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.book.epub import BookParts
from shared.book.model import RenderedChapter
from shared.book.pdf import document
from shared.book.pdf.markup import ChapterWriter, PlacedImage
from shared.book.pdf.targets import BookTargets, chapter_label
from shared.book.pdf.text import local, parse_body, string

# Typst source a part holds at most (a longer chapter is a part alone). A part's process holds
# about 40 MB and 300 bytes for each byte of source (bench/pdf.py): a part this long, some 35 pages
# of prose, about 85 MB; and each part costs about 0.05 s of CPU more (a process, its fonts).
PART_SOURCE_BYTES = 150_000
# An image counts towards its part's length as the Typst source that takes the memory its pixels do.
PIXEL_BYTES_PER_SOURCE_BYTE = 80
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


@dataclass(frozen=True)
class NavEntry:
    level: int
    title: str
    label: str


@dataclass
class BodyPart:
    chapters: str  # the Typst of its chapters, links resolved
    labels: list[str]  # the labels whose places it reports: those linked from other parts, and the contents'
    images: list[tuple[int, int]] = field(default_factory=list)  # pixel sizes of the images it sets


@dataclass
class BookSource:
    preamble: str
    title_pages: str
    body: list[BodyPart]
    nav: list[NavEntry]  # the contents, as the EPUB's nav has it, each entry with the label it links to
    warnings: list[str]


def book_source(
    parts: BookParts,
    page: document.PageSpec,
    images: dict[str, PlacedImage],
    part_bytes: int = PART_SOURCE_BYTES,
) -> BookSource:
    """The book's Typst: the chapters written once, then cut into parts and their links resolved."""
    targets = BookTargets()
    # Each chapter is parsed twice (to find the link targets, then to write it), rather than all
    # held at once: a 5 MB book's parsed chapters took 130 MB more than its Typst.
    for chapter in parts.chapters:
        targets.scan(parse_body(chapter.body), chapter.file_stem)
        targets.linked.update(heading.id for heading in chapter.headings)  # the contents links to them
    cover = images.get(parts.cover.key)
    nav: list[NavEntry] = []
    written: list[tuple[int, str, list[tuple[int, int]]]] = []  # chapter number, its Typst, its images
    warnings: list[str] = []
    for chapter in parts.chapters:
        root = parse_body(chapter.body)
        targets.chapter = chapter.number
        anchor = chapter_label(chapter.file_stem)
        out = [
            document.chapter_start(
                chapter.number, chapter.title, anchor if targets.claim(anchor) else "", page.print_trim
            )
        ]
        levels = _heading_levels(chapter, root)
        nav.append(NavEntry(levels.chapter_level, chapter.title, f"quire-start-{chapter.number}"))
        nav.extend(NavEntry(levels.listed[h.id], h.text, h.id) for h in chapter.headings if h.id in targets.present)
        if levels.title_in_body is None:
            out.append(f"#heading(level: {levels.chapter_level})[#{string(chapter.title)}]\n\n")
        writer = ChapterWriter(targets, images, _formula, page.print_trim, levels.level_of, page.code_columns)
        out.append(writer.chapter(root))
        warnings.extend(writer.warnings)
        out.append(document.chapter_end(chapter.number))
        sizes = [(images[k].width, images[k].height) for k in dict.fromkeys(chapter.image_keys) if k in images]
        written.append((chapter.number, "".join(out), sizes))
    groups = _cut(written, part_bytes)
    crossing: list[set[str]] = [set() for _ in groups]
    body = []
    for group, elsewhere in zip(groups, crossing, strict=True):
        numbers = {number for number, _, _ in group}
        source = "".join(targets.resolve(text, numbers, elsewhere) for _, text, _ in group)
        body.append(BodyPart(source, [], [size for _, _, sizes in group for size in sizes]))
    # A part reports where the labels it holds landed, of those wanted: linked from another part,
    # or listed in the contents (a chapter's entry is its start's label).
    wanted = set().union(*crossing) | {entry.label for entry in nav}
    home = {**targets.written_in, **{f"quire-start-{chapter.number}": chapter.number for chapter in parts.chapters}}
    for group, part in zip(groups, body, strict=True):
        numbers = {number for number, _, _ in group}
        part.labels = sorted(label for label in wanted if home.get(label) in numbers)
    return BookSource(
        document.preamble(parts.metadata, page, parts.modified),
        document.title_pages(parts.metadata, page, cover.path if cover else ""),
        body,
        nav,
        list(dict.fromkeys(warnings)),
    )


def _cut(
    written: list[tuple[int, str, list[tuple[int, int]]]], part_bytes: int
) -> list[list[tuple[int, str, list[tuple[int, int]]]]]:
    """Chapters in runs of at most `part_bytes` (counting images' pixels), in order."""
    groups: list[list[tuple[int, str, list[tuple[int, int]]]]] = []
    length = 0
    for chapter in written:
        size = len(chapter[1]) + sum(4 * w * h for w, h in chapter[2]) // PIXEL_BYTES_PER_SOURCE_BYTE
        if not groups or length + size > part_bytes:
            groups.append([])
            length = 0
        groups[-1].append(chapter)
        length += size
    return groups


@dataclass
class _Levels:
    """Where each heading of a chapter sits in the book's outline, as the EPUB's nav places it: the
    chapter's own title at its depth, the headings the nav lists nested below, the rest unlisted."""

    chapter_level: int
    title_in_body: Any  # the heading element that titles the chapter, if the body has one
    listed: dict[str, int]  # heading id → level
    base: int  # the HTML level of the chapter's title

    def level_of(self, element: Any) -> tuple[int, bool] | None:
        if element is self.title_in_body:
            return self.chapter_level, True
        identifier = element.get("id", "")
        if identifier in self.listed:
            return self.listed[identifier], True
        html_level = int(local(element)[1])
        return max(self.chapter_level + 1, self.chapter_level + html_level - self.base), False


def _heading_levels(chapter: RenderedChapter, root: Any) -> _Levels:
    chapter_level = chapter.depth + 1
    listed_ids = {heading.id for heading in chapter.headings}
    first = next((e for e in root.iter() if local(e) in _HEADINGS), None)
    title = first if first is not None and first.get("id", "") not in listed_ids else None
    base = int(local(title)[1]) if title is not None else 1
    listed: dict[str, int] = {}
    stack: list[int] = []  # the HTML levels of the listed headings above this one
    for heading in chapter.headings:
        while stack and stack[-1] >= heading.level:
            stack.pop()
        stack.append(heading.level)
        listed[heading.id] = chapter_level + len(stack)
    return _Levels(chapter_level, title, listed, base)


def _formula(element: Any) -> tuple[str, list[str]]:
    from shared.book.typst_math import mathml_to_typst

    math = mathml_to_typst(element)
    if not math.source.strip():  # nothing to set: an empty equation would have no alternative text
        return (f"#{string(math.alt)}" if math.alt.strip() else ""), list(math.unconverted)
    block = "true" if math.block else "false"
    return f"#math.equation(block: {block}, alt: {string(math.alt)}, ${math.source}$)", list(math.unconverted)
