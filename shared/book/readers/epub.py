"""EPUB as a manuscript: an EPUB's package read as a book project of XHTML files. Pure.

    META-INF/container.xml        the package document (OPF) it names first
    OPF metadata                  title (and subtitle), creators in order, language, description,
                                  publisher, rights, date, the unique identifier, the cover image
    OPF spine                     the chapters in reading order; `linear="no"` items after the
                                  linear ones (notes, answers: reached by links, and links still
                                  reach them there, while the reading order stays the author's)
    nav `toc` (EPUB 3) or NCX     a chapter's title when its file has no heading of its own

Left out, because Quire makes its own: the EPUB's nav document, a cover page that only shows the
cover image (its image becomes the book's cover), and a title page. Left out because Quire styles
the book itself: stylesheets, fonts and scripts.

The result is a `Project` that readers/project.py reads like any other: each file by the HTML
reader, its images rebased from its folder, its links to other files (`../text/ch2.xhtml#sec`)
settled by links.py. XML here is read with no entities, no DTD and no network.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from shared.book.archive import normalise_reference
from shared.book.errors import ManuscriptError
from shared.book.model import Metadata
from shared.book.readers.html import html_parser, text_from_html
from shared.book.readers.project_model import Entry, Project
from shared.formats import IMAGE_EXTENSIONS, clean_text, epub_container_in_zip, is_language_tag

CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
OPF_NS = "http://www.idpf.org/2007/opf"
DC_NS = "http://purl.org/dc/elements/1.1/"
NCX_NS = "http://www.daisy.org/z3986/2005/ncx/"
CHAPTER_TYPES = {"application/xhtml+xml", "text/html"}
FONT_EXTENSIONS = (".otf", ".ttf", ".woff", ".woff2")
REPACK_ADVICE = "Export the EPUB again from the program that made it, or check it with EPUBCheck."


def find_epub(files: Mapping[str, bytes]) -> Project:
    """The book project an EPUB's files hold: its spine in order, its metadata, its cover."""
    container = epub_container_in_zip(files)
    if container is None:
        raise ManuscriptError(
            f"The EPUB has no META-INF/container.xml, which names its package document. {REPACK_ADVICE}"
        )
    root = posixpath.dirname(posixpath.dirname(container))  # the folder that holds META-INF
    opf_path = _rootfile(files, container, root)
    package = _xml(files[opf_path], opf_path)
    opf_dir = posixpath.dirname(opf_path)
    manifest = _manifest(package, opf_dir)
    project = Project([], metadata=_metadata(package))
    cover_image, cover_note = _cover_image(package, manifest, files)
    titles, landmarks = _navigation(files, package, manifest, opf_dir, project.warnings)
    linear: list[Entry] = []
    extra: list[Entry] = []
    seen: set[str] = set()
    for itemref in package.iterfind(f"{{{OPF_NS}}}spine/{{{OPF_NS}}}itemref"):
        item = manifest.get(itemref.get("idref", ""))
        if item is None or item["media-type"] not in CHAPTER_TYPES or "nav" in item["properties"].split():
            continue
        path = item["path"]
        if path not in files:
            project.warnings.append(f"'{item['href']}', in the EPUB's spine, is not in the EPUB; left out.")
            continue
        if path in seen:
            continue
        seen.add(path)
        page = _page(files[path])
        shown_image = _only_image(page, posixpath.dirname(path))
        # A page that only shows a picture is the cover page when the EPUB says so, when it shows
        # the cover image, or when it opens a book that names no cover image (then it is the cover).
        # Elsewhere it is a full-page illustration, and stays.
        if shown_image is not None and (
            landmarks.get(path) == "cover" or shown_image == cover_image or not (cover_image or linear or extra)
        ):
            cover_image = cover_image or shown_image
            continue
        if landmarks.get(path) == "titlepage" or _typed(page, "titlepage") or _changes_page(page):
            continue
        entry = Entry(path, titles.get(path, ""), kind="html")
        (extra if itemref.get("linear", "yes").strip() == "no" else linear).append(entry)
    project.entries = linear + extra
    if not project.entries:
        raise ManuscriptError(f"The EPUB's spine lists no chapter file that is in the EPUB. {REPACK_ADVICE}")
    if cover_image and (problem := _cover_problem(cover_image, files)):
        cover_note = cover_note or f"The EPUB's cover page shows '{cover_image}', which {problem}"
        cover_image = ""
    if cover_note:
        outcome = "the image its cover page shows is the cover" if cover_image else "the book has a generated cover"
        project.warnings.append(f"{cover_note}, so {outcome}. {REPACK_ADVICE}")
    if cover_image:
        project.metadata.cover_image = quote(cover_image)  # a reference; image lookup unquotes it
    # Fonts are a choice an author sees gone; stylesheets go unremarked (every book is laid out anew).
    if any(
        "font" in item["media-type"] or item["path"].lower().endswith(FONT_EXTENSIONS) for item in manifest.values()
    ):
        project.warnings.append(
            "The EPUB's own fonts and stylesheets were not kept: Quire lays out the book in its own style."
        )
    return project


def _rootfile(files: Mapping[str, bytes], container: str, root: str) -> str:
    document = _xml(files[container], container)
    found = document.find(f".//{{{CONTAINER_NS}}}rootfile")
    full_path = found.get("full-path", "") if found is not None else ""
    opf_path = normalise_reference(full_path, root) if full_path else None
    if opf_path is None or opf_path not in files:
        shown = f"'{full_path}'" if full_path else "no package document"
        raise ManuscriptError(
            f"The EPUB's META-INF/container.xml names {shown}, which is not in the EPUB. {REPACK_ADVICE}"
        )
    return opf_path


# `<!ENTITY` in the encodings a parser tells apart by their first bytes: one byte a character (UTF-8),
# or each character padded with NULs (UTF-16 and UTF-32, either byte order, with a BOM or without).
_ENTITY_DECLARATION = re.compile(rb"\x00{0,3}".join(re.escape(bytes([c])) for c in b"<!ENTITY"), re.I)
_DECLARES_ENTITIES = "declares XML entities, which EPUBs never use"


def _xml(data: bytes, name: str) -> Any:
    root, problem = _parsed_xml(data)
    if root is None:
        raise ManuscriptError(f"The EPUB's '{name}' {problem}. {REPACK_ADVICE}")
    return root


def _parsed_xml(data: bytes) -> tuple[Any, str]:
    """An XML part's root element, or None and what is wrong with it (to follow "The EPUB's 'x' ")."""
    from lxml import etree

    # EPUBs declare no entities (an NCX's DOCTYPE names a DTD, and has no declarations); one that
    # does is made to expand or to reach outside the book. The whole part is searched, before parsing.
    if _ENTITY_DECLARATION.search(data):
        return None, _DECLARES_ENTITIES
    # An EPUB is data from outside: no entity expansion, no DTD, no network, no huge trees.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        return None, f"is not well-formed XML ({error})"
    # The parser's own record of the DOCTYPE sees a declaration in any encoding it decodes (UTF-7
    # writes `<!ENTITY` as `+ADw-+ACE-ENTITY`, which the search above misses): refused by name too.
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        return None, _DECLARES_ENTITIES
    return root, ""


def _manifest(package: Any, opf_dir: str) -> dict[str, dict[str, str]]:
    """Each manifest item by its id: its href as written, its archive path, media type, properties."""
    items: dict[str, dict[str, str]] = {}
    for item in package.iterfind(f"{{{OPF_NS}}}manifest/{{{OPF_NS}}}item"):
        href = item.get("href", "")
        path = normalise_reference(href, opf_dir) if href else None
        if item.get("id") and path is not None:
            items[item.get("id")] = {
                "href": href,
                "path": path,
                "media-type": item.get("media-type", "").strip().lower(),
                "properties": item.get("properties", ""),
            }
    return items


def _metadata(package: Any) -> Metadata:
    block = package.find(f"{{{OPF_NS}}}metadata")
    if block is None:
        return Metadata()
    refines = _refinements(block)

    def texts(name: str) -> list[Any]:
        return [e for e in block.iterfind(f".//{{{DC_NS}}}{name}") if clean_text(e.text or "")]

    def first(name: str) -> str:
        found = texts(name)
        return clean_text(found[0].text) if found else ""

    titles = texts("title")
    main = [t for t in titles if refines.get((t.get("id", ""), "title-type"), "main") == "main"] or titles
    subtitles = [t for t in titles if refines.get((t.get("id", ""), "title-type")) == "subtitle"]
    subtitles += [e for e in block.iterfind(f"{{{OPF_NS}}}meta[@property='dcterms:alternative']") if e.text]
    authors = [
        clean_text(creator.text)
        for creator in texts("creator")
        # An illustrator or an editor (EPUB 2's opf:role, EPUB 3's refined role) is not an author.
        if (creator.get(f"{{{OPF_NS}}}role") or refines.get((creator.get("id", ""), "role")) or "aut") == "aut"
    ]
    language = first("language")
    descriptions = texts("description")
    # Calibre writes 0101-01-01 when a book has no date; no book was published before the year 1000,
    # so an earlier year is such a placeholder, not a date for the title page or dc:date.
    dates = [date for date in (clean_text(e.text) for e in texts("date")) if not re.match(r"0\d{3}", date)]
    unique = package.get("unique-identifier", "")
    identifiers = texts("identifier")
    identifier = next((i for i in identifiers if i.get("id") == unique), identifiers[0] if identifiers else None)
    identifier_text = clean_text(identifier.text) if identifier is not None else ""
    if identifier is not None and (identifier.get(f"{{{OPF_NS}}}scheme") or "").upper() == "ISBN":
        # EPUB 2 names the scheme beside a bare number; Quire writes identifiers as URNs.
        identifier_text = f"urn:isbn:{identifier_text.removeprefix('urn:isbn:')}"
    return Metadata(
        title=clean_text(main[0].text) if main else "",
        subtitle=clean_text(subtitles[0].text) if subtitles else "",
        authors=authors,
        language=language if is_language_tag(language) else "",
        date=dates[0] if dates else "",
        publisher=first("publisher"),
        rights=first("rights"),
        description=text_from_html(descriptions[0].text) if descriptions else "",  # Calibre's is HTML
        identifier=identifier_text,
    )


def _refinements(block: Any) -> dict[tuple[str, str], str]:
    """EPUB 3's `<meta refines="#id" property="p">value</meta>`, by (id, p); the first one wins."""
    found: dict[tuple[str, str], str] = {}
    for meta in block.iterfind(f"{{{OPF_NS}}}meta[@refines]"):
        key = (meta.get("refines", "").lstrip("#"), meta.get("property", ""))
        found.setdefault(key, clean_text(meta.text or ""))
    return found


def _cover_image(
    package: Any, manifest: Mapping[str, Mapping[str, str]], files: Mapping[str, bytes]
) -> tuple[str, str]:
    """The cover image's archive path: EPUB 3's `cover-image` item, else EPUB 2's `<meta name="cover">`,
    the first that is an image in the EPUB; else '' and why the one named was passed over (for a
    warning: a cover page's image may still be the cover), or '' and '' when none is named."""
    named = [item for item in manifest.values() if "cover-image" in item["properties"].split()]
    meta = package.find(f"{{{OPF_NS}}}metadata/{{{OPF_NS}}}meta[@name='cover']")
    named += [manifest[meta.get("content")]] if meta is not None and meta.get("content") in manifest else []
    usable = next((item["path"] for item in named if not _cover_problem(item["path"], files)), "")
    if usable or not named:
        return usable, ""
    first = named[0]["path"]
    return "", f"The EPUB names '{first}' as its cover image, but it {_cover_problem(first, files)}"


def _cover_problem(path: str, files: Mapping[str, bytes]) -> str:
    """Why the file at `path` cannot be the cover (to follow "it"); '' when it can."""
    if posixpath.splitext(path.lower())[1] not in IMAGE_EXTENSIONS:
        return "is not an image Quire can use (JPEG, PNG, GIF, WebP or SVG)"
    return "" if path in files else "is not in the EPUB"


def _navigation(
    files: Mapping[str, bytes],
    package: Any,
    manifest: Mapping[str, Mapping[str, str]],
    opf_dir: str,
    warnings: list[str],
) -> tuple[dict[str, str], dict[str, str]]:
    """Each file's title in the table of contents (the first entry for it), and the files the EPUB
    marks as its cover or title page (nav landmarks, or EPUB 2's guide). Both only name titles and
    pages, so a broken one is skipped with a warning (the nav is read as HTML, which always reads)."""
    titles: dict[str, str] = {}
    landmarks: dict[str, str] = {}
    nav = next((i for i in manifest.values() if "nav" in i["properties"].split() and i["path"] in files), None)
    if nav is not None:
        page = _page(files[nav["path"]])
        folder = posixpath.dirname(nav["path"])
        for element in page.iter("nav"):
            kind = (element.get("epub:type") or "").split()
            for link in element.iter("a"):
                path = _target(link.get("href", ""), folder)
                if path and "toc" in kind:
                    titles.setdefault(path, clean_text(link.text_content()))
                elif path and "landmarks" in kind:
                    landmarks.setdefault(path, (link.get("epub:type") or "").strip())
    spine = package.find(f"{{{OPF_NS}}}spine")
    ncx = manifest.get(spine.get("toc", "")) if spine is not None else None
    if ncx is not None and ncx["path"] in files:
        for path, title in _ncx_titles(files[ncx["path"]], ncx["path"], warnings):
            titles.setdefault(path, title)
    for reference in package.iterfind(f"{{{OPF_NS}}}guide/{{{OPF_NS}}}reference"):
        path = _target(reference.get("href", ""), opf_dir)
        kind = {"cover": "cover", "title-page": "titlepage"}.get(reference.get("type", ""))
        if path and kind:
            landmarks.setdefault(path, kind)
    return titles, landmarks


def _ncx_titles(data: bytes, name: str, warnings: list[str]) -> list[tuple[str, str]]:
    """EPUB 2's table of contents as (archive path, title) in order. One that cannot be read is
    skipped with a warning: it only titles chapters, which their headings or the nav title too."""
    root, problem = _parsed_xml(data)
    if root is None:
        warnings.append(
            f"The EPUB's table of contents '{name}' {problem}, so it was skipped: each chapter takes its title "
            f"from the nav document or its own heading. {REPACK_ADVICE}"
        )
        return []
    found = []
    for point in root.iter(f"{{{NCX_NS}}}navPoint"):
        label = point.findtext(f"{{{NCX_NS}}}navLabel/{{{NCX_NS}}}text") or ""
        content = point.find(f"{{{NCX_NS}}}content")
        path = _target(content.get("src", "") if content is not None else "", posixpath.dirname(name))
        if path:
            found.append((path, clean_text(label)))
    return found


def _target(href: str, folder: str) -> str | None:
    """The archive path of the file a link in `folder` names (its fragment aside)."""
    parts = urlsplit(href)
    return normalise_reference(parts.path, folder) if parts.path and not parts.scheme else None


def _page(data: bytes) -> Any:
    from lxml import etree
    from lxml import html as lxml_html

    try:
        return lxml_html.document_fromstring(data, parser=html_parser())
    except (etree.ParserError, ValueError):
        return lxml_html.fromstring("<html><body></body></html>")


def _only_image(page: Any, folder: str) -> str | None:
    """The archive path of the one image a page shows when it shows nothing else (no text)."""
    body = page.find("body")
    if body is None or body.text_content().strip():
        return None
    sources = [img.get("src", "") for img in body.iter("img")]
    sources += [image.get("xlink:href") or image.get("href") or "" for image in body.iter("image")]
    paths = {path for path in (normalise_reference(s, folder) for s in sources if s) if path}
    return paths.pop() if len(paths) == 1 else None


def _changes_page(page: Any) -> bool:
    """Whether the page is the "Changes in this edition" of Quire's own EPUB (changes_pages.py), no chapter."""
    body = page.find("body")
    first = None if body is None else next((c for c in body if isinstance(c.tag, str)), None)
    return first is not None and first.get("class") == "edition-changes"


def _typed(page: Any, wanted: str) -> bool:
    """Whether the page's body, or the first element in it, carries `epub:type` `wanted`."""
    body = page.find("body")
    if body is None:
        return False
    first = next((child for child in body if isinstance(child.tag, str)), None)
    holders = [body] if first is None else [body, first]
    return any(wanted in (holder.get("epub:type") or "").split() for holder in holders)
