"""The web-app book: static files that install as an app and read offline.

An index with the cover and the table of contents, a page per chapter, the images (a photo with its
phone-sized copies in a `srcset`, images.py's COPY_WIDTHS, the original its `src`), a phone-first
stylesheet with dark mode, a manifest with 192 and 512 px icons made from the cover, a service
worker that precaches every file under a content-hashed cache name, the reading position kept in
localStorage, an updates page fed from a URL given at build time (cached for offline use), a
search page over an index of the book's words (search_index.py; precached like every file, read
only when the reader first searches), and footnotes that open in place, in a dialog.
No inline script or style anywhere, so a Content-Security-Policy without 'unsafe-inline' holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from html import escape

from shared.book.epub import BookParts, OutlineEntry, outline
from shared.book.images import make_icons
from shared.book.links import chapter_hrefs, image_page_hrefs
from shared.book.model import Metadata, ProcessedImage, RenderedChapter
from shared.book.render import image_files
from shared.book.search_index import SEARCH_INDEX, IndexedChapter, build_index
from shared.book.styles import APP_CSS
from shared.book.webapp_changes import CHANGES_CSS, CHANGES_JS, SW_CHANGES_JS
from shared.book.webapp_notes import NOTES_CSS
from shared.book.webapp_reader import listen_controls, reader_files, reader_head, reader_tools
from shared.book.webapp_script import APP_JS, SERVICE_WORKER_JS
from shared.book.webapp_search import CHAPTER_BAR_LINK, SEARCH_CSS, search_form, search_page_body
from shared.book.webpub import publication_manifest
from shared.formats import WEBPUB_MANIFEST

THEME_COLOR = "#8a4b14"
BACKGROUND_COLOR = "#fbf8f2"
# The width an image is shown at, at most: the text column (styles.py's APP_CSS: `main`, 38rem wide
# with 1.25rem of padding each side), so a phone picks the copy its screen needs.
IMAGE_SIZES = "(max-width: 40.5rem) calc(100vw - 2.5rem), 38rem"


def _e(text: str) -> str:
    return escape(text, quote=True)


def _page(parts: BookParts, title: str, body: str, root: str, book_key: str, updates_url: str, page_kind: str) -> bytes:
    meta = parts.metadata
    html = (
        "<!DOCTYPE html>\n"
        f'<html lang="{_e(meta.language)}" dir="{meta.direction}" data-book="{book_key}" data-root="{root}" '
        f'data-updates="{_e(updates_url)}" data-page="{page_kind}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        f'<meta name="description" content="{_e(_description(meta))}">\n'
        f'<meta name="theme-color" content="{THEME_COLOR}">\n'
        f'<link rel="manifest" href="{root}manifest.webmanifest">\n'
        f'<link rel="icon" href="{root}icons/icon-192.png" type="image/png">\n'
        f'<link rel="apple-touch-icon" href="{root}icons/icon-192.png">\n'
        f'<link rel="stylesheet" href="{root}css/app.css">\n'
        f"{reader_head(root)}"
        f'<script src="{root}js/app.js" defer></script>\n'
        "</head>\n<body>\n"
        '<a class="skip" href="#content">Skip to text</a>\n'
        f"{body}\n</body>\n</html>\n"
    )
    return html.encode("utf-8")


def _description(meta: Metadata) -> str:
    """The book's description, else its title and authors (the manifest's and every page's)."""
    authors = ", ".join(meta.authors)
    return meta.description or meta.title + (f" by {authors}" if authors else "")


def _toc(entries: list[OutlineEntry], prefix: str) -> str:
    items = "".join(
        f'<li><a href="{prefix}{e.href}">{_e(e.label)}</a>{_toc(e.children, prefix) if e.children else ""}</li>'
        for e in entries
    )
    return f"<ol>{items}</ol>"


def _srcset(image: ProcessedImage, folder: str) -> str:
    """A photo's phone-sized copies and itself as `srcset`, with the column's `sizes`; "" for an
    image without copies."""
    if not image.copies:
        return ""
    candidates = [f"{folder}{image.copy_name(c)} {c.width}w" for c in image.copies]
    candidates.append(f"{folder}{image.file_name} {image.width}w")
    return f' srcset="{", ".join(candidates)}" sizes="{IMAGE_SIZES}"'


def _image_files(image: ProcessedImage) -> dict[str, bytes]:
    return {
        f"images/{image.file_name}": image.data,
        **{f"images/{image.copy_name(c)}": c.data for c in image.copies},
    }


def _chapter_html(chapter: RenderedChapter, parts: BookParts) -> str:
    body = chapter_hrefs(re.sub(r' epub:type="[^"]*"', "", chapter.body), "html")
    # A browser shows an image on its own: a link to a full-size image leads to the image itself.
    body = image_page_hrefs(body, lambda key: f"../images/{parts.images[key].file_name}")
    return image_files(body, parts.images, lambda image: ' loading="lazy"' + _srcset(image, "../images/"))


def _pdf_href(edition: int) -> str:
    """The edition's print PDF, from the index (the edition this book is, as its service worker
    asks for its files; a book that is not served, edition 0, has its PDF beside its folder)."""
    return f"../book.pdf?edition={edition}" if edition else "../book.pdf"


def write_webapp(
    parts: BookParts, updates_url: str = "", edition: int = 0, *, pdf: bool = False, changes: bytes | None = None
) -> dict[str, bytes]:
    """All files of the web-app book, by path relative to its root folder. With `pdf`, the index
    links the edition's print PDF, which is served beside the book's folder (`../book.pdf`), not in
    it: the service worker does not cache it, and a reader downloads it only when asked. `changes`:
    the edition's changes.json (shared/book/changes_pages.py), which the update offer shows."""
    meta = parts.metadata
    chapters = parts.chapters
    book_key = hashlib.sha256(meta.identifier.encode()).hexdigest()[:12]
    files: dict[str, bytes] = {}
    cover = parts.cover
    authors = ", ".join(meta.authors)

    index_body = (
        f'<main id="content" class="home">\n<div class="cover"><img src="images/{cover.file_name}" '
        f'alt="{_e("Cover of " + meta.title)}" width="{cover.width}" height="{cover.height}" '
        f'fetchpriority="high"{_srcset(cover, "images/")}></div>\n'
        f"<h1>{_e(meta.title)}</h1>\n"
        + (f'<p class="subtitle">{_e(meta.subtitle)}</p>\n' if meta.subtitle else "")
        + (f'<p class="author">{_e(authors)}</p>\n' if authors else "")
        + '<a class="resume" id="resume" href="#" hidden>Continue reading</a>\n'
        + reader_tools()
        + search_form(hidden=True)
        + f'<nav class="toc" aria-label="Contents"><h2>Contents</h2>{_toc(outline(chapters, "html"), "chapters/")}</nav>\n'
        + '<p><a href="updates.html">News and updates from the author</a></p>\n'
        + (f'<p><a href="{_pdf_href(edition)}" download>Download PDF</a></p>\n' if pdf else "")
        + (
            '<p>Add this book to your reading app, which then gets each new edition: <a href="../opds">OPDS 1.2 '
            'catalog</a> (KOReader, Calibre, Aldiko) · <a href="../opds.json">OPDS 2.0 catalog</a> (Thorium).</p>\n'
            if edition
            else ""  # the command line's book is no served book: it has no catalogs
        )
        + (f"<p>{_e(meta.description)}</p>\n" if meta.description else "")
        + "</main>"
    )
    files["index.html"] = _page(parts, meta.title, index_body, "", book_key, updates_url, "index")

    articles = [_chapter_html(chapter, parts) for chapter in chapters]
    for position, chapter in enumerate(chapters):
        previous = chapters[position - 1] if position > 0 else None
        following = chapters[position + 1] if position + 1 < len(chapters) else None
        pager = '<nav class="pager" aria-label="Chapters">'
        pager += (
            f'<a href="{previous.file_stem}.html" rel="prev">← {_e(previous.title)}</a>'
            if previous
            else "<span></span>"
        )
        pager += (
            f'<a href="{following.file_stem}.html" rel="next">{_e(following.title)} →</a>'
            if following
            else '<a href="../index.html">Contents</a>'
        )
        pager += "</nav>"
        body = (
            f'<header class="bar"><a href="../index.html">☰ Contents</a><span class="book">{_e(meta.title)}</span>'
            f"{CHAPTER_BAR_LINK}{listen_controls()}</header>\n"
            f'<main id="content">{reader_tools()}<article>{articles[position]}</article>\n{pager}</main>'
        )
        files[f"chapters/{chapter.file_stem}.html"] = _page(
            parts, f"{chapter.title} – {meta.title}", body, "../", book_key, updates_url, "chapter"
        )

    updates_body = (
        f'<header class="bar"><a href="index.html">☰ Contents</a><span class="book">{_e(meta.title)}</span></header>\n'
        '<main id="content" class="updates"><h1>News and updates</h1>\n'
        '<p class="status" id="updates-status" role="status" aria-live="polite">Loading…</p>\n'
        '<div id="updates-list"></div></main>'
    )
    files["updates.html"] = _page(parts, f"Updates – {meta.title}", updates_body, "", book_key, updates_url, "updates")
    files["search.html"] = _page(
        parts, f"Search – {meta.title}", search_page_body(meta.title), "", book_key, updates_url, "search"
    )
    files[SEARCH_INDEX] = build_index(
        [
            IndexedChapter(href=f"chapters/{chapter.file_stem}.html", title=chapter.title, body=article)
            for chapter, article in zip(chapters, articles, strict=True)
        ],
        meta.language,
    )
    files["css/app.css"] = (APP_CSS + SEARCH_CSS + NOTES_CSS + CHANGES_CSS).encode("utf-8")
    files["js/app.js"] = (APP_JS + CHANGES_JS).encode("utf-8")
    files.update(reader_files())
    if changes is not None:
        files["changes.json"] = changes
    files.update(_image_files(cover))
    for key in dict.fromkeys(k for c in chapters for k in c.image_keys):
        files.update(_image_files(parts.images[key]))
    for size, data in make_icons(cover).items():
        files[f"icons/icon-{size}.png"] = data
    short_name = meta.title if len(meta.title) <= 12 else meta.title[:11].rstrip() + "…"
    manifest = {
        "id": "./",
        "name": meta.title,
        "short_name": short_name,
        "description": _description(meta),
        "lang": meta.language,
        "dir": meta.direction,
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "background_color": BACKGROUND_COLOR,
        "theme_color": THEME_COLOR,
        "prefer_related_applications": False,
        "icons": [
            {"src": f"icons/icon-{size}.png", "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
            for size in (192, 512)
            for purpose in ("any", "maskable")
        ],
    }
    files["manifest.webmanifest"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    files[WEBPUB_MANIFEST] = publication_manifest(parts, files, edition, pdf)

    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    precache = ["./", *sorted(files)]
    worker = (
        SERVICE_WORKER_JS.replace("__BOOK__", book_key)
        .replace("__VERSION__", digest.hexdigest()[:12])
        .replace("__PRECACHE__", json.dumps(precache))
        .replace("__UPDATES__", json.dumps(updates_url))
        .replace("__EDITION__", str(edition))
    ) + SW_CHANGES_JS
    files["sw.js"] = worker.encode("utf-8")
    return dict(sorted(files.items()))
