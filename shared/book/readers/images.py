"""The images a manuscript references: each one in the upload gets a content key. One that is not
stays out of the book: the render step puts its description in its place, with a warning."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from shared.book.archive import normalise_reference
from shared.book.errors import ADD_IMAGES_ADVICE, ManuscriptError
from shared.book.images import declared_size, image_key
from shared.book.model import ParsedBook
from shared.book.svg import SvgError, is_svg, sanitize_svg
from shared.formats import IMAGE_EXTENSIONS


class FilesByKey(Mapping[str, bytes]):
    """Image bytes by content key, a view over the upload's files: an archive read from disk is read
    again on each access instead of being held (ArchiveFiles), so a book of large photos never sits
    in memory whole."""

    def __init__(self, files: Mapping[str, bytes], paths: dict[str, str]) -> None:
        self._files = files
        self._paths = paths

    def __getitem__(self, key: str) -> bytes:
        return self._files[self._paths[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def attach_images(book: ParsedBook, files: Mapping[str, bytes], base_dir: str) -> dict[str, tuple[int, int]]:
    """Find every image the text references and give each one in the upload a key. Returns each
    image's size in pixels as its header declares it (read in the same pass as its key)."""
    paths: dict[str, str] = {}  # key → the first path holding those bytes
    keys: dict[str, str] = {}  # path → key
    dimensions: dict[str, tuple[int, int]] = {}
    book.image_sources = FilesByKey(files, paths)
    references = _image_references(book)
    cover_ref = book.metadata.cover_image
    if cover_ref:
        references.append(cover_ref)
    for reference in references:
        if re.match(r"^[a-z][a-z0-9+.-]*:", reference, re.I) and not reference.lower().startswith("file:"):
            continue  # remote or data URLs: the render step drops them with a warning
        path = normalise_reference(reference, base_dir) if not reference.startswith("docx-images/") else reference
        if path is None or path not in files:
            continue
        if posixpath.splitext(path.lower())[1] not in IMAGE_EXTENSIONS and not path.startswith("docx-images/"):
            raise ManuscriptError(f"'{reference}' is not an image Quire can use (JPEG, PNG, GIF, WebP or SVG).")
        if is_svg(path) and path not in keys:
            problem = _unsafe_svg(files[path])
            if problem:
                book.warnings.append(
                    f"The SVG image '{reference}' cannot be carried in the book: {problem}. Its description "
                    "stands in its place. Re-export it from the drawing program as plain SVG, or as PNG."
                )
                book.image_refs[reference] = ""  # in the upload, but left out: render uses its description
                continue
        if path not in keys:
            keys[path] = _read_key(book, paths, dimensions, files, path)
        book.image_refs[reference] = key = keys[path]
        book.image_names.setdefault(key, reference)
    if cover_ref in book.image_refs and is_svg(cover_ref):
        book.warnings.append(
            f"The cover image '{cover_ref}' is a drawing (SVG); a cover also makes the app's icons, which "
            "need pixels, so the book has a generated cover. Export the cover as PNG or JPEG."
        )
    elif cover_ref in book.image_refs:
        book.cover_key = book.image_refs[cover_ref]
    elif cover_ref:
        book.warnings.append(
            f"The cover image '{cover_ref}' is not in the upload, so the book has a generated cover. {ADD_IMAGES_ADVICE}"
        )
    return dimensions


def _unsafe_svg(data: bytes) -> str:
    """Why an SVG cannot be made safe to carry; '' when it can."""
    try:
        sanitize_svg(data)
    except SvgError as error:
        return str(error)
    return ""


def _read_key(
    book: ParsedBook,
    paths: dict[str, str],
    dimensions: dict[str, tuple[int, int]],
    files: Mapping[str, bytes],
    path: str,
) -> str:
    """The image's content key, its bytes read once for the key, the size and the declared dimensions."""
    data = files[path]
    key = image_key(data)
    if key not in paths:
        paths[key] = path
        book.image_sizes[key] = len(data)
        # A drawing is not decoded to pixels: nothing to count against the pixel budget.
        dimensions[key] = (0, 0) if is_svg(path) else declared_size(data)
    return key


def _image_references(book: ParsedBook) -> list[str]:
    """What the text shows as images, and what it links to that is an image (a thumbnail's
    full-size picture): both are carried in the book."""
    references: list[str] = []
    for chapter in book.chapters:
        if chapter.format == "tokens":
            for tokens in [chapter.body] + [note["body"] for note in chapter.footnotes]:
                for token in tokens:
                    for child in token.children or ():
                        if child.type == "image":
                            references.append(str(child.attrs.get("src", "")))
                        elif child.type == "link_open" and links_to_image(str(child.attrs.get("href", ""))):
                            references.append(str(child.attrs["href"]))
                        elif child.type == "html_inline":
                            references.extend(html_image_sources(child.content))
                    if token.type == "html_block":
                        references.extend(html_image_sources(token.content))
        else:
            references.extend(html_image_sources(chapter.body))
    return [r for r in references if r]


def links_to_image(href: str) -> bool:
    """Whether a link names an image file (by its extension), which the book may carry."""
    try:
        path = urlsplit(href).path
    except ValueError:
        return False  # not a URL at all ('http://[x'): the link checks name it, not this one
    return posixpath.splitext(path.lower())[1] in IMAGE_EXTENSIONS


# An href's value, whatever it names: nothing after it is required, so no match backtracks (one
# that had to end in an image extension rescanned the rest of the text for every "href=").
_HREF_VALUE = re.compile(r"href\s*=\s*[\"']?([^\"'>\s]*)", re.I)


def html_image_sources(html: str) -> list[str]:
    """The images an HTML fragment shows, and the images it links to."""
    if "<img" not in html.lower() and not any(links_to_image(m.group(1)) for m in _HREF_VALUE.finditer(html)):
        return []  # parsing every chapter with links again would cost as much as sanitising it
    from shared.book.sanitize import sanitized_fragment

    root = sanitized_fragment(html)
    shown = [img.get("src", "") for img in root.iter("img")]
    return shown + [a.get("href", "") for a in root.iter("a") if links_to_image(a.get("href", ""))]
