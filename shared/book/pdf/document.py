"""The book around its chapters, in Typst: page size and margins, type, the title page, the
contents, running heads and page numbers. Pure.

Print trims (6 × 9 in and smaller) are set as a printer wants them: mirrored margins, chapters on
a right-hand page, no cover (a printer takes it separately), and a link's address in a footnote,
since paper cannot be clicked. A4 and US Letter are for reading on a screen or a home printer: a
cover page, chapters on the next page, links clickable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.book.model import Metadata
from shared.book.pdf.fonts import body_fonts, code_fonts
from shared.book.pdf.targets import PART_LINK
from shared.book.pdf.text import string


@dataclass(frozen=True)
class PageSpec:
    name: str
    width: str
    height: str
    margins: str  # a Typst margin dictionary
    text_size: str
    print_trim: bool
    code_columns: (
        int  # characters of code a line holds: the text block's width over DejaVu Sans Mono's 0.6 em at 0.8 × text_size
    )


PAGES = {
    "a4": PageSpec("a4", "210mm", "297mm", "(x: 25mm, top: 25mm, bottom: 28mm)", "11pt", False, 83),
    "letter": PageSpec("letter", "8.5in", "11in", "(x: 1in, top: 1in, bottom: 1.1in)", "11pt", False, 86),
    "6x9": PageSpec("6x9", "6in", "9in", "(inside: 0.875in, outside: 0.625in, top: 0.75in, bottom: 0.8in)", "10.5pt", True, 61),
    "5.5x8.5": PageSpec("5.5x8.5", "5.5in", "8.5in", "(inside: 0.8in, outside: 0.55in, top: 0.7in, bottom: 0.75in)", "10pt", True, 59),
    "5x8": PageSpec("5x8", "5in", "8in", "(inside: 0.75in, outside: 0.5in, top: 0.65in, bottom: 0.7in)", "10pt", True, 53),
}  # fmt: skip
# Where US Letter is the paper in the drawer; everywhere else, A4.
LETTER_REGIONS = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PR", "DO", "PA", "SV", "NI", "HN"})


def page_for(choice: str, language: str) -> PageSpec:
    """The author's choice, else A4 or US Letter by the book's language region (en-US: Letter)."""
    if choice in PAGES:
        return PAGES[choice]
    parts = language.replace("_", "-").split("-")
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), "")
    return PAGES["letter" if region in LETTER_REGIONS else "a4"]


def language_settings(language: str) -> str:
    parts = language.replace("_", "-").split("-")
    lang = parts[0].lower() if parts and parts[0].isalpha() and 2 <= len(parts[0]) <= 3 else "en"
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), "")
    return f"lang: {string(lang)}" + (f", region: {string(region)}" if region else "")


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "(" + "".join(f"{string(v)}, " for v in values) + ")"


def preamble(meta: Metadata, page: PageSpec, modified: datetime) -> str:
    """Document settings and the helpers the chapters' markup calls (`book-image`, `code-fonts`)."""
    date = f"datetime(year: {modified.year}, month: {modified.month}, day: {modified.day})"
    binding = "right" if meta.direction == "rtl" else "left"
    return f"""#set document(title: {string(meta.title or "Untitled")}, author: {_array(meta.authors)}, date: {date})
#set text(font: {_array(body_fonts())}, size: {page.text_size}, {language_settings(meta.language)}, hyphenate: auto, costs: (widow: 100%, orphan: 100%))
#set par(justify: true, leading: 0.62em, spacing: 0.9em)
#let code-fonts = {_array(code_fonts())}
#show raw: set text(font: code-fonts, size: 0.85em)
#show heading: set block(above: 1.4em, below: 0.8em)
#show heading: set par(justify: false)
#show heading.where(level: 1): set text(size: 1.6em)
#show figure: set block(breakable: true)
#show link: it => if type(it.dest) == str and not it.dest.starts-with({string(PART_LINK)}) {{ underline(stroke: 0.4pt + luma(120), offset: 2pt, it) }} else {{ it }}
#let book-image(path, natural, ratio, alt, share: 1.0) = layout(size => {{
  let most = calc.min(natural, share * size.width, 0.72 * {page.height} / ratio)
  if alt == "" {{ pdf.artifact(image(path, width: most)) }} else {{ image(path, width: most, alt: alt) }}
}})
#let book-image-inline(path, width, alt) = if alt == "" {{ pdf.artifact(image(path, width: width)) }} else {{ image(path, width: width, alt: alt) }}
// Odd pages are right-hand ones by their number: the book is typeset in parts, each from its page 1.
// Each part of the book (the contents, then each chapter) sets its own page head and foot. A
// page is bare when it opens the part (a chapter's first page carries its title already) or comes
// after the part's end (the page left blank so the next chapter starts on a right-hand page).
// Located by the part's own labels: one lookup a page, where querying every chapter on every page
// cost Typst 110 MB more on a 560-page book.
#let part-pages(title, start, end) = (
  header: context {{
    let here-page = here().page()
    if title == none or here-page == locate(start).page() or here-page > locate(end).page() {{ return }}
    set text(size: 0.85em, style: "italic")
    align(if calc.odd(counter(page).get().first()) {{ right }} else {{ left }}, title)
  }},
  footer: context {{
    if here().page() > locate(end).page() {{ return }}
    align(center, text(size: 0.85em, counter(page).display()))
  }},
)
#set page(width: {page.width}, height: {page.height}, margin: {page.margins}, binding: {binding})
"""


def title_pages(meta: Metadata, page: PageSpec, cover: str) -> str:
    """The cover (screen pages only), the title page, the rights page and the contents, numbered
    in roman; the chapters then start again at 1."""
    out = []
    if cover and not page.print_trim:
        out.append(
            f'#page(margin: 0pt, header: none, numbering: none)[#image({string(cover)}, width: 100%, height: 100%, fit: "contain", alt: {string("Cover: " + (meta.title or "Untitled"))})]\n'
        )
    lines = [f'#text(size: 2.2em, weight: "bold")[#{string(meta.title or "Untitled")}]']
    if meta.subtitle:
        lines.append(f"#text(size: 1.3em)[#{string(meta.subtitle)}]")
    if meta.authors:
        lines.append(f"#v(2em)#text(size: 1.2em)[#{string(', '.join(meta.authors))}]")
    if meta.publisher:
        lines.append(f"#v(1fr)#{string(meta.publisher)}")
    out.append(
        "#page(header: none, numbering: none)[#set par(justify: false)\n#v(20%)\n#align(center)[\n"
        + "\n\n".join(lines)
        + "\n]]\n"
    )
    rights = [s for s in (meta.rights, meta.identifier, meta.date) if s]
    if rights:
        out.append(
            "#page(header: none, numbering: none)[#set text(size: 0.85em)\n#v(1fr)\n"
            + "\n\n".join(f"#{string(s)}" for s in rights)
            + "]\n"
        )
    return "\n".join(out)


@dataclass(frozen=True)
class ContentsEntry:
    level: int  # 1: a top-level chapter
    title: str
    label: str  # where it links to, in a part of the body
    number: int  # the page number printed there


def contents(entries: list[ContentsEntry]) -> str:
    """The contents, numbered in roman. The body is typeset apart (in parts), so its entries are
    written out, with the page numbers the parts reported; the title is Typst's own outline's, in
    the book's language (an outline of nothing: no figure has that kind)."""
    lines = [
        f"#block(above: 0.7em, below: 0.7em)[#h({1.4 * (entry.level - 1):.1f}em)"
        f"#link({string(PART_LINK + entry.label)})[#{string(entry.title)} "
        f"#box(width: 1fr, repeat(gap: 0.35em)[.]) {entry.number}]]\n"
        for entry in entries
    ]
    return (
        '#set page(numbering: "i", ..part-pages(none, <quire-contents-start>, <quire-contents-end>))\n'
        "#counter(page).update(1)\n#metadata(none) <quire-contents-start>\n"
        '#outline(target: figure.where(kind: "quire-none"))\n'
        "#set par(justify: false)\n" + "".join(lines) + "#metadata(none) <quire-contents-end>\n"
    )


def body_part_start(start: int) -> str:
    """A part of the body begins at page `start` of the book's arabic numbering."""
    return f'#set page(numbering: "1")\n#counter(page).update({start})\n'


def chapter_start(number: int, title: str, anchor: str, print_trim: bool) -> str:
    """A chapter begins a page (a right-hand one in print) with its own running head; `anchor` is
    the label links to the chapter itself reach, if any do."""
    page_break = '#pagebreak(weak: true, to: "odd")' if print_trim else "#pagebreak(weak: true)"
    target = f"#metadata(none)#label({string(anchor)})" if anchor else ""
    return (
        f"{page_break}\n#set page(..part-pages({string(title)}, <quire-start-{number}>, <quire-end-{number}>))\n"
        f"#metadata(none) <quire-start-{number}>{target}\n"
    )


def chapter_end(number: int) -> str:
    return f"\n#metadata(none) <quire-end-{number}>\n"
