"""Anchors and internal links, across the whole book. Pure.

Chapters are rendered one by one, but a link may point at any chapter, so links are settled in two
passes:

1. While a chapter renders, `BookAnchors.claim` gives every heading a readable id (its slug, made
   unique in the book) and keeps the author's own ids; each internal link (`#target`, or the
   manuscript's own file name with or without `#target`) becomes `quire-link:<target>`.
2. `resolve_links` then rewrites each placeholder to the element that holds its target: `#id` in
   the same chapter, `quire-chapter:chNNN#id` in another (each writer turns that into its own file
   name). A target that exists nowhere loses its `href` (the text stays) and is named in a warning.

A link to an image the book carries (a thumbnail's full-size picture, `[![Map](small.png)](large.png)`)
leads to a page each writer makes for that image: a hyperlink in an EPUB must reach a content
document, never a bare image (EPUBCheck RSC-011).

Authors write targets as the ids they gave, or as the slug a Markdown tool (GitHub, GitLab,
pandoc) makes of a heading's text; both reach the heading.

In a book of many files (an mdBook or Leanpub project), a link names a file and an id in it
(`../guide/other.md#setup`, or `#setup` in the file itself). Two files may both have a heading
'Setup': the book gives them different ids, and each file's names are kept apart (`BookAnchors.begin`),
so the link reaches the heading of the file it names.
"""

from __future__ import annotations

import html
import posixpath
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from shared.book.model import RenderedChapter

LINK_PLACEHOLDER = "quire-link:"
IMAGE_PAGE_PLACEHOLDER = "quire-image-page:"
_IMAGE_PAGE_HREF = re.compile(r'href="' + re.escape(IMAGE_PAGE_PLACEHOLDER) + r'([^"]+)"')
CHAPTER_PLACEHOLDER = "quire-chapter:"
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# Ids this module never hands out: the render step's own note ids (`c3-fn1`, `c3-fnref1-2`).
_RESERVED = re.compile(r"^c\d+-fn")
_PLACEHOLDER_HREF = re.compile(r' href="' + re.escape(LINK_PLACEHOLDER) + r'([^"]*)"')
_EXTERNAL = re.compile(r"^(https?:|mailto:)", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# The "special" schemes of WHATWG URL parsing, in which browsers read `\\` as `/`.
_SLASH_SCHEMES = {"http", "https", "ftp", "ws", "wss", "file"}
# A placeholder target that names a file of a many-file book: FILE_TARGET + quoted path + '#' + id.
FILE_TARGET = "quire-file/"


def slug(text: str) -> str:
    """An ASCII id from a heading's text: 'Ünïcode & Co.' → 'unicode-co'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    made = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not made:
        return "section"
    return made if made[0].isalpha() else f"s-{made}"


def markdown_slug(text: str) -> str:
    """The id GitHub, GitLab and markdown-it-anchor give a heading: lower case, punctuation
    dropped, spaces to hyphens, letters of any script kept."""
    kept = "".join(ch for ch in text.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


@dataclass
class BookAnchors:
    """Every id of the book so far (id → chapter number), and the other names authors use for them."""

    ids: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    _alias_counts: dict[str, int] = field(default_factory=dict)
    # A many-file book: the file whose chapters are being rendered, each file's first chapter, and
    # the names each file's own links use (file, name) → id.
    scope: str = ""
    file_chapters: dict[str, int] = field(default_factory=dict)
    scoped: dict[tuple[str, str], str] = field(default_factory=dict)
    _scoped_counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def begin(self, source_file: str, chapter: int) -> None:
        """The chapter about to be rendered comes from `source_file` ('' for a one-file manuscript)."""
        self.scope = source_file
        if source_file:
            self.file_chapters.setdefault(source_file, chapter)

    def claim(self, chapter: int, wanted: str) -> str:
        """A unique id for an element, as close to `wanted` as ids allow."""
        candidate = wanted if _NCNAME.match(wanted) else slug(wanted)
        if _RESERVED.match(candidate):
            candidate = f"id-{candidate}"
        unique, suffix = candidate, 1
        while unique in self.ids:
            unique, suffix = f"{candidate}-{suffix}", suffix + 1
        self.ids[unique] = chapter
        if unique != wanted:
            self.alias(wanted, unique)
        if self.scope:
            self.scoped.setdefault((self.scope, wanted), unique)
            self.scoped.setdefault((self.scope, unique), unique)
        return unique

    def keep(self, chapter: int, author_id: str) -> str | None:
        """The author's id if the book can keep it as written, else a valid one that links to it
        still reach; None for a duplicate (the first element with an id keeps it). An id the author
        wrote wins over a slug that only Markdown tools would give a heading."""
        if author_id in self.ids:
            return None
        return self.claim(chapter, author_id)

    def heading(self, chapter: int, text: str, author_id: str | None) -> str:
        """The id of a heading, recording the slug that Markdown tools would give it."""
        kept = self.keep(chapter, author_id) if author_id else None
        heading_id = kept or self.claim(chapter, slug(text))
        # Markdown tools number repeated headings: 'notes', 'notes-1', 'notes-2'.
        base = markdown_slug(text)
        seen = self._alias_counts.get(base, 0)
        self._alias_counts[base] = seen + 1
        self.alias(base if seen == 0 else f"{base}-{seen}", heading_id)
        if self.scope:
            # The same numbering, counted within the file, as the Markdown tool saw it: that is the
            # name the file's author linked to, so it wins over the book's own (renumbered) ids.
            own = self._scoped_counts.get((self.scope, base), 0)
            self._scoped_counts[(self.scope, base)] = own + 1
            self.scoped[(self.scope, base if own == 0 else f"{base}-{own}")] = heading_id
            self.scoped.setdefault((self.scope, slug(text)), heading_id)
        return heading_id

    def alias(self, name: str, target: str) -> None:
        if name and name not in self.ids:
            self.aliases.setdefault(name, target)

    def find(self, target: str) -> str | None:
        """The id a link's target names, if the book has it."""
        for name in (target, target.lower()):
            if name in self.ids:
                return name
            if name in self.aliases:
                return self.aliases[name]
        return None

    def find_in(self, source_file: str, target: str) -> str | None:
        """The id a link to `source_file#target` names: that file's own heading or id first, then
        any in the book (an id the author gave is unique wherever it is)."""
        for name in (target, target.lower()):
            if (source_file, name) in self.scoped:
                return self.scoped[(source_file, name)]
        return self.find(target)


def backslashes_read(url: str) -> str:
    """A URL as a browser reads its backslashes, so the book never carries one (EPUBCheck rejects
    them). A relative reference is a Windows path (`images\\map.png` → `images/map.png`); http(s),
    ftp and file URLs read `\\` as `/` before their query, as WHATWG URL parsing does. `\\#` is an
    escaped `#` as Markdown writes one (a path does not end in a backslash before its fragment).
    Elsewhere (a query, a fragment, mailto:) a backslash is percent-encoded."""
    if "\\" not in url:
        return url
    url = url.replace("\\#", "#")
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1).lower() not in _SLASH_SCHEMES:
        return url.replace("\\", "%5C")
    cut = min((at for at in (url.find("?"), url.find("#")) if at >= 0), default=len(url))
    return url[:cut].replace("\\", "/") + url[cut:].replace("\\", "%5C")


def leaves_the_book(href: str) -> bool:
    """Whether a link goes to the web or to mail (kept as written)."""
    return bool(_EXTERNAL.match(href))


def internal_target(
    href: str, own_names: frozenset[str], current_file: str = "", book_files: frozenset[str] = frozenset()
) -> str | None:
    """The target an internal link names ('' for the start of the book), or None for a link that
    leaves the book (the web, mail, or another file). In a many-file book (`book_files`, the link
    written in `current_file`), a link to one of its files or to an id is a `file_target`."""
    if book_files:
        found = _book_file_target(href, current_file, book_files)
        if found is not None:
            return found
    if href.startswith("#"):
        return unquote(href[1:])
    if leaves_the_book(href):
        return None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or parts.query:
        return None
    path = posixpath.normpath(unquote(parts.path)).lstrip("./") if parts.path else ""
    # The whole path, never its last part alone: `docs/README.md` is another folder's README, not
    # the manuscript README.md itself.
    if path and path not in own_names:
        return None
    return unquote(parts.fragment)


def file_target(source_file: str, target: str) -> str:
    return f"{FILE_TARGET}{quote(source_file)}#{target}"


def _book_file_target(href: str, current_file: str, book_files: frozenset[str]) -> str | None:
    if href.startswith("#"):
        return file_target(current_file, unquote(href[1:]))
    if leaves_the_book(href):
        return None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or parts.query or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(current_file), unquote(parts.path)))
    stem, extension = posixpath.splitext(path)
    candidates = [path]
    if extension.lower() in (".html", ".htm"):  # mdBook writes chapter.md as chapter.html
        candidates.append(stem + ".md")
    if parts.path.endswith("/") or not extension:
        candidates += [posixpath.join(path, "README.md"), posixpath.join(path, "index.md")]
    for candidate in candidates:
        if candidate in book_files:
            return file_target(candidate, unquote(parts.fragment))
    return None


def placeholder(target: str) -> str:
    return LINK_PLACEHOLDER + target


def resolve_links(chapters: list[RenderedChapter], anchors: BookAnchors) -> list[RenderedChapter]:
    """Each chapter with its internal links pointing at the file and id that hold their targets."""
    first = min((c.number for c in chapters), default=1)
    resolved: list[RenderedChapter] = []
    for chapter in chapters:
        warnings = list(chapter.warnings)

        def rewrite(match: re.Match[str], chapter: RenderedChapter = chapter, warnings: list[str] = warnings) -> str:
            target = html.unescape(match.group(1))
            if not target:
                return f' href="{CHAPTER_PLACEHOLDER}ch{first:03d}"'
            if target.startswith(FILE_TARGET):
                quoted, _, fragment = target[len(FILE_TARGET) :].partition("#")
                source_file = unquote(quoted)
                start = anchors.file_chapters.get(source_file)
                found = anchors.find_in(source_file, fragment) if fragment and start is not None else None
                if start is not None and not fragment:
                    return f' href="{CHAPTER_PLACEHOLDER}ch{start:03d}"'
                shown = f"{source_file}#{fragment}"
            else:
                found = anchors.find(target)
                shown = f"#{target}"
            if found is None:
                warnings.append(
                    f"A link to '{shown}' in '{chapter.title}' points at nothing in the book; its text was kept."
                )
                return ""
            holder = anchors.ids[found]
            if holder == chapter.number:
                return f' href="#{found}"'
            return f' href="{CHAPTER_PLACEHOLDER}ch{holder:03d}#{found}"'

        if LINK_PLACEHOLDER in chapter.body:
            body = _PLACEHOLDER_HREF.sub(rewrite, chapter.body)
            resolved.append(replace(chapter, body=body, warnings=warnings))
        else:
            resolved.append(chapter)
    return resolved


def chapter_hrefs(body: str, extension: str) -> str:
    """A chapter's links to other chapters as that writer's file names (`ch003.xhtml#id`)."""
    return re.sub(
        r'href="' + re.escape(CHAPTER_PLACEHOLDER) + r"(ch\d+)",
        lambda match: f'href="{match.group(1)}.{extension}',
        body,
    )


@dataclass(frozen=True)
class LinkContext:
    """What a chapter's links are read against: the manuscript's own names, in a many-file
    book the file the chapter came from and the book's files, and the images the book carries
    (reference as written → key; '' for one left out)."""

    own_names: frozenset[str]
    source_file: str = ""
    book_files: frozenset[str] = frozenset()
    images: Mapping[str, str] = field(default_factory=dict)


def mark_links(root: Any, links: LinkContext, title: str, warnings: list[str], image_pages: dict[str, str]) -> Any:
    """Internal links become placeholders for the book-wide pass; a link to an image the book
    carries leads to a page holding it (`image_pages`: key → its alt text, for the writers); links
    to files outside the book lose their `href` (their text stays)."""
    for link in root.iter("a"):
        href = link.get("href")
        if href is None:
            link.attrib.pop("rel", None)  # the sanitiser removed its URL; rel without href is invalid
            continue
        if link.get("class") == "quire-noteref":
            continue  # made by the render step, for a note of this chapter
        key = links.images.get(href)
        target = None if key else internal_target(href, links.own_names, links.source_file, links.book_files)
        if key:
            link.set("href", IMAGE_PAGE_PLACEHOLDER + key)
            image_pages.setdefault(key, _image_description(link, href))
        elif target is not None:
            link.set("href", placeholder(target))
        elif not leaves_the_book(href):
            warnings.append(f"A link to '{href}' in '{title}' points at a file outside the book; its text was kept.")
            link.attrib.pop("href", None)
        else:
            continue
        link.attrib.pop("rel", None)  # rel=noopener only matters for links leaving the book
    return root


def _image_description(link: Any, href: str) -> str:
    """The alt text for a linked image's page: the thumbnail's, else the link's text, else its name."""
    described = [img.get("alt", "").strip() for img in link.iter("img")]
    text = " ".join(link.text_content().split())
    return next((alt for alt in described if alt), "") or text or posixpath.basename(unquote(urlsplit(href).path))


def image_page_hrefs(body: str, href_for: Callable[[str], str]) -> str:
    """Links to a carried image (IMAGE_PAGE_PLACEHOLDER + key) as the writer's own href for it."""
    return _IMAGE_PAGE_HREF.sub(lambda match: f'href="{href_for(match.group(1))}"', body)
