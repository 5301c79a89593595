"""The EPUB 3 writer: an OCF zip built byte-for-byte deterministically.

`mimetype` first and stored; images stored (they are already compressed); everything else
deflated; entries in a fixed order with a fixed timestamp. The package carries the metadata the
stores and EPUBCheck 5 want: dcterms:modified from the given time (never the clock), schema.org
accessibility metadata, a cover image item and cover page, a title page, a nav document with
landmarks and h1–h3 nesting, and an NCX for older readers.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from shared.book.links import chapter_hrefs, image_page_hrefs
from shared.book.model import Metadata, ProcessedImage, RenderedChapter
from shared.book.render import image_files
from shared.book.styles import EPUB_CSS

ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed: the same input gives the same bytes


@dataclass
class BookParts:
    """Everything a writer needs, already rendered and processed."""

    metadata: Metadata
    chapters: list[RenderedChapter]
    images: dict[str, ProcessedImage]  # by key
    cover: ProcessedImage
    modified: datetime
    # Pages after the last chapter, in the reading order and the contents (the edition's changes).
    back_matter: list[BackPage] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class BackPage:
    """A page at the back of the EPUB: its file stem (text/{stem}.xhtml), title, and XHTML body
    content (a <section>, its text escaped by whoever made it)."""

    stem: str
    title: str
    body: str


def _e(text: str) -> str:
    return escape(text, quote=True)


# The dates dc:date may hold (W3CDTF): '2026', '2026-11', '2026-11-21', with a time or not.
_W3C_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(chapter: RenderedChapter, images: dict[str, ProcessedImage]) -> str:
    body = image_page_hrefs(chapter_hrefs(chapter.body, "xhtml"), lambda key: f"{key}.xhtml")
    return image_files(body, images)


def _image_page(image: ProcessedImage, alt: str, meta: Metadata) -> str:
    """The page a link to a full-size image leads to, outside the reading order (linear="no")."""
    return _xhtml_page(
        alt,
        f'<figure class="image-page"><img src="../images/{image.file_name}" alt="{_e(alt)}" '
        f'width="{image.width}" height="{image.height}"/></figure>',
        meta,
    )


def _xhtml_page(title: str, body: str, meta: Metadata, css: str = "../css/book.css", body_type: str = "") -> str:
    lang = _e(meta.language)
    epub_type = f' epub:type="{body_type}"' if body_type else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
        f'lang="{lang}" xml:lang="{lang}" dir="{meta.direction}">\n'
        f'<head>\n<meta charset="utf-8"/>\n<title>{_e(title)}</title>\n'
        f'<link rel="stylesheet" type="text/css" href="{css}"/>\n</head>\n'
        f"<body{epub_type}>\n{body}\n</body>\n</html>\n"
    )


@dataclass
class OutlineEntry:
    label: str
    href: str
    level: int
    children: list[OutlineEntry]


def outline(chapters: list[RenderedChapter], extension: str) -> list[OutlineEntry]:
    """Chapters with their h2/h3 nested by level, as the table of contents shows them; a chapter of
    a book project nested under its part or its parent chapter (its depth)."""
    entries: list[OutlineEntry] = []
    parents: list[tuple[int, OutlineEntry]] = []  # the chapters a deeper one may sit under
    for chapter in chapters:
        page = f"{chapter.file_stem}.{extension}"
        top = OutlineEntry(chapter.title, page, 0, [])
        stack = [top]
        for heading in chapter.headings:
            entry = OutlineEntry(heading.text, f"{page}#{heading.id}", heading.level, [])
            while len(stack) > 1 and stack[-1].level >= heading.level:
                stack.pop()
            stack[-1].children.append(entry)
            stack.append(entry)
        while parents and parents[-1][0] >= chapter.depth:
            parents.pop()
        (parents[-1][1].children if parents else entries).append(top)
        parents.append((chapter.depth, top))
    return entries


def _nav_list(entries: list[OutlineEntry], prefix: str) -> str:
    """A nested <ol>; a list is only written when it has items, so it is never empty."""
    items = "".join(
        f'<li><a href="{prefix}{e.href}">{_e(e.label)}</a>{_nav_list(e.children, prefix) if e.children else ""}</li>'
        for e in entries
    )
    return f"<ol>{items}</ol>"


def _ncx_points(entries: list[OutlineEntry], counter: list[int], depth: int = 1) -> tuple[str, int]:
    out = []
    deepest = depth
    for entry in entries:
        counter[0] += 1
        order = counter[0]
        inner, inner_depth = _ncx_points(entry.children, counter, depth + 1) if entry.children else ("", depth)
        deepest = max(deepest, inner_depth)
        out.append(
            f'<navPoint id="np{order}" playOrder="{order}"><navLabel><text>{_e(entry.label)}</text></navLabel>'
            f'<content src="text/{entry.href}"/>{inner}</navPoint>'
        )
    return "".join(out), deepest


def _title_page(meta: Metadata) -> str:
    parts = [f'<section class="titlepage" epub:type="titlepage"><h1 class="title">{_e(meta.title)}</h1>']
    if meta.subtitle:
        parts.append(f'<p class="subtitle">{_e(meta.subtitle)}</p>')
    if meta.authors:
        parts.append(f'<p class="author">{_e(", ".join(meta.authors))}</p>')
    if meta.publisher:
        parts.append(f'<p class="publisher">{_e(meta.publisher)}</p>')
    if meta.date:
        parts.append(f'<p class="date">{_e(meta.date)}</p>')
    if meta.rights:
        parts.append(f'<p class="rights">{_e(meta.rights)}</p>')
    parts.append("</section>")
    return "".join(parts)


# The claim rests on what Quire builds into every book (structure, navigation, language, sanitised
# and repaired markup, checked by EPUBCheck and Ace by DAISY over its test corpus) and on the one
# thing that rests on the author: it is made only for books whose every image is described.
CONFORMANCE = "EPUB Accessibility 1.1 - WCAG 2.2 Level AA"
CERTIFIER = "Quire automated checks"


def _accessibility(parts: BookParts, has_images: bool, all_alt: bool) -> list[str]:
    features = ["structuralNavigation", "tableOfContents", "readingOrder"]
    if has_images and all_alt:
        features.append("alternativeText")
    lines = ['<meta property="schema:accessMode">textual</meta>']
    if has_images:
        lines.append('<meta property="schema:accessMode">visual</meta>')
    if all_alt:
        lines.append('<meta property="schema:accessModeSufficient">textual</meta>')
    if has_images:
        lines.append('<meta property="schema:accessModeSufficient">textual,visual</meta>')
    lines += [f'<meta property="schema:accessibilityFeature">{f}</meta>' for f in features]
    lines.append('<meta property="schema:accessibilityHazard">none</meta>')
    summary = "Text with a navigable table of contents and headings"
    summary += (
        (
            "; images have text alternatives."
            if all_alt
            else "; some images are not described, so the text alone does not carry everything."
        )
        if has_images
        else "."
    )
    lines.append(f'<meta property="schema:accessibilitySummary">{_e(summary)}</meta>')
    if all_alt:
        lines.append(f'<meta property="dcterms:conformsTo">{CONFORMANCE}</meta>')
        lines.append(f'<meta property="a11y:certifiedBy">{CERTIFIER}</meta>')
    return lines


def write_epub(parts: BookParts) -> bytes:
    meta = parts.metadata
    chapters = parts.chapters
    used_keys = [key for chapter in chapters for key in chapter.image_keys]
    image_list = [parts.images[key] for key in dict.fromkeys(used_keys)]
    all_alt = not any(chapter.images_without_alt for chapter in chapters)
    image_pages: dict[str, str] = {}
    for chapter in chapters:
        image_pages = {**chapter.image_pages, **image_pages}  # the first chapter's alt text wins
    cover = parts.cover

    files: list[tuple[str, bytes, bool]] = []  # (name, data, compress)

    def add(name: str, text: str) -> None:
        files.append((name, text.encode("utf-8"), True))

    add(
        "META-INF/container.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">\n'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>\n'
        "</container>\n",
    )

    manifest = [
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
        '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>',
        '<item id="css" href="css/book.css" media-type="text/css"/>',
        f'<item id="cover-image" href="images/{cover.file_name}" media-type="{cover.media_type}" properties="cover-image"/>',
        '<item id="cover" href="text/cover.xhtml" media-type="application/xhtml+xml"/>',
        '<item id="titlepage" href="text/title.xhtml" media-type="application/xhtml+xml"/>',
    ]
    manifest += [
        f'<item id="ch{c.number:03d}" href="text/{c.file_stem}.xhtml" media-type="application/xhtml+xml"'
        + (' properties="mathml"/>' if "<math " in c.body else "/>")
        for c in chapters
    ]
    manifest += [
        f'<item id="{image.key}" href="images/{image.file_name}" media-type="{image.media_type}"/>'
        for image in image_list
    ]
    spine = ['<itemref idref="cover"/>', '<itemref idref="titlepage"/>', '<itemref idref="nav"/>']
    spine += [f'<itemref idref="ch{c.number:03d}"/>' for c in chapters]
    manifest += [
        f'<item id="{p.stem}" href="text/{p.stem}.xhtml" media-type="application/xhtml+xml"/>'
        for p in parts.back_matter
    ]
    spine += [f'<itemref idref="{p.stem}"/>' for p in parts.back_matter]
    manifest += [
        f'<item id="page-{key}" href="text/{key}.xhtml" media-type="application/xhtml+xml"/>' for key in image_pages
    ]
    spine += [f'<itemref idref="page-{key}" linear="no"/>' for key in image_pages]
    direction = ' page-progression-direction="rtl"' if meta.direction == "rtl" else ""

    dc = [
        f'<dc:identifier id="book-id">{_e(meta.identifier)}</dc:identifier>',
        f"<dc:title>{_e(meta.title)}</dc:title>",
    ]
    if meta.subtitle:
        dc.append(f'<meta property="dcterms:alternative">{_e(meta.subtitle)}</meta>')
    for index, author in enumerate(meta.authors, start=1):
        dc.append(f'<dc:creator id="creator{index}">{_e(author)}</dc:creator>')
        dc.append(f'<meta refines="#creator{index}" property="role" scheme="marc:relators">aut</meta>')
    dc.append(f"<dc:language>{_e(meta.language)}</dc:language>")
    if meta.identifier.startswith("urn:isbn:"):
        dc.append('<meta refines="#book-id" property="identifier-type" scheme="onix:codelist5">15</meta>')
    for field, value in (
        ("date", meta.date if _W3C_DATE.match(meta.date) else ""),  # other dates show on the title page only
        ("publisher", meta.publisher),
        ("rights", meta.rights),
        ("description", meta.description),
    ):
        if value:
            dc.append(f"<dc:{field}>{_e(value)}</dc:{field}>")
    dc.append(f'<meta property="dcterms:modified">{_iso(parts.modified)}</meta>')
    dc.append('<meta name="cover" content="cover-image"/>')
    dc += _accessibility(parts, bool(image_list), all_alt)

    add(
        "OEBPS/content.opf",
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="book-id" '
        f'xml:lang="{_e(meta.language)}" dir="{meta.direction}" '
        'prefix="schema: http://schema.org/ marc: http://id.loc.gov/vocabulary/ onix: http://www.editeur.org/ONIX/book/codelists/current.html#">\n'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n' + "\n".join(dc) + "\n</metadata>\n"
        "<manifest>\n" + "\n".join(manifest) + "\n</manifest>\n"
        f'<spine toc="ncx"{direction}>\n' + "\n".join(spine) + "\n</spine>\n</package>\n",
    )

    toc_title = "Contents"
    entries = outline(chapters, "xhtml") + [OutlineEntry(p.title, f"{p.stem}.xhtml", 0, []) for p in parts.back_matter]
    nav_body = (
        f'<nav epub:type="toc" id="toc" role="doc-toc"><h1>{toc_title}</h1>{_nav_list(entries, "text/")}</nav>\n'
        '<nav epub:type="landmarks" id="landmarks" hidden="hidden"><h2>Landmarks</h2><ol>'
        '<li><a epub:type="cover" href="text/cover.xhtml">Cover</a></li>'
        '<li><a epub:type="titlepage" href="text/title.xhtml">Title page</a></li>'
        '<li><a epub:type="toc" href="nav.xhtml#toc">Contents</a></li>'
        f'<li><a epub:type="bodymatter" href="text/{chapters[0].file_stem}.xhtml">Start of content</a></li>'
        "</ol></nav>"
    )
    add("OEBPS/nav.xhtml", _xhtml_page(toc_title, nav_body, meta, css="css/book.css"))
    points, depth = _ncx_points(entries, [0])
    add(
        "OEBPS/toc.ncx",
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1" xml:lang="{_e(meta.language)}">\n'
        f'<head><meta name="dtb:uid" content="{_e(meta.identifier)}"/><meta name="dtb:depth" content="{depth}"/>'
        '<meta name="dtb:totalPageCount" content="0"/><meta name="dtb:maxPageNumber" content="0"/></head>\n'
        f"<docTitle><text>{_e(meta.title)}</text></docTitle>\n<navMap>{points}</navMap>\n</ncx>\n",
    )
    add("OEBPS/css/book.css", EPUB_CSS)
    add(
        "OEBPS/text/cover.xhtml",
        _xhtml_page(
            meta.title,
            f'<section class="cover" epub:type="cover"><img src="../images/{cover.file_name}" '
            f'alt="{_e("Cover of " + meta.title)}"/></section>',
            meta,
        ),
    )
    add("OEBPS/text/title.xhtml", _xhtml_page(meta.title, _title_page(meta), meta, body_type="frontmatter"))
    for chapter in chapters:
        kind = "part" if chapter.part else "chapter"
        add(
            f"OEBPS/text/{chapter.file_stem}.xhtml",
            _xhtml_page(
                chapter.title,
                f'<section epub:type="{kind}" role="doc-{kind}">{_body(chapter, parts.images)}</section>',
                meta,
                body_type="bodymatter",
            ),
        )
    for page in parts.back_matter:
        add(f"OEBPS/text/{page.stem}.xhtml", _xhtml_page(page.title, page.body, meta, body_type="backmatter"))
    for key, alt in image_pages.items():
        add(f"OEBPS/text/{key}.xhtml", _image_page(parts.images[key], alt, meta))
    files.append((f"OEBPS/images/{cover.file_name}", cover.data, False))
    files.extend((f"OEBPS/images/{image.file_name}", image.data, False) for image in image_list)

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        mimetype = zipfile.ZipInfo("mimetype", date_time=ZIP_TIME)
        mimetype.compress_type = zipfile.ZIP_STORED
        archive.writestr(mimetype, b"application/epub+zip")
        for name, data, compress in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=6 if compress else None)
    return out.getvalue()
