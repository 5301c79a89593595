"""Formats: one truth about files for the upload checks, the book core and the web tier.

The manuscript kinds Quire reads and the names that mark them, which file in a zip is the
manuscript, how manuscript text is decoded, what a language tag looks like, the print PDF's page
sizes, the media type of each file the app writes or serves, and how timestamps are written; and how text from outside is read
(a number, a JSON body) and cleaned for display (a title). Pure and free of any SDK.
"""

from __future__ import annotations

import json
import posixpath
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ManuscriptType:
    kind: str
    content_type: str
    extensions: tuple[str, ...]


MARKDOWN = ManuscriptType("markdown", "text/markdown; charset=utf-8", (".md", ".markdown", ".mdown", ".mkd"))
TEXT = ManuscriptType("text", "text/plain; charset=utf-8", (".txt", ".text"))
HTML = ManuscriptType("html", "text/html; charset=utf-8", (".html", ".htm", ".xhtml"))
DOCX = ManuscriptType(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    (".docx",),
)
ZIP = ManuscriptType("zip", "application/zip", (".zip",))
EPUB = ManuscriptType("epub", "application/epub+zip", (".epub",))
MANUSCRIPT_TYPES = (MARKDOWN, TEXT, HTML, DOCX, ZIP, EPUB)
# The kinds that are zip archives of many files, read entry by entry and allowed past the form limit.
ARCHIVE_TYPES = (ZIP, EPUB)
# Quarto (.qmd) and R Markdown (.Rmd, bookdown's) sources: Markdown with executable code cells. They
# are read inside a zip (a Quarto or bookdown project), not uploaded on their own.
PANDOC_MARKDOWN_EXTENSIONS = (".qmd", ".rmd")
# What a zip may hold as its one manuscript (beside its images), by extension.
KIND_IN_ZIP = {extension: t.kind for t in (MARKDOWN, TEXT, HTML, DOCX) for extension in t.extensions} | {
    extension: MARKDOWN.kind for extension in PANDOC_MARKDOWN_EXTENSIONS
}
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg"})

_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def manuscripts_in_zip(names: Iterable[str]) -> list[str]:
    """The entries of a zip that could be its manuscript (macOS metadata and hidden files aside)."""
    return [
        name
        for name in names
        if not name.endswith("/")
        and not name.startswith("__MACOSX/")
        and not posixpath.basename(name).startswith(".")
        and posixpath.splitext(name.lower())[1] in KIND_IN_ZIP
    ]


# The files that make a zip a book project, where each tool puts them, in the order they are looked
# for: mdBook/GitBook's SUMMARY.md (at the project's root, or in mdBook's src/), Leanpub's Book.txt
# (in manuscript/, or at the root), Quarto's _quarto.yml and bookdown's _bookdown.yml (at the root).
PROJECT_FILES = ("SUMMARY.md", "src/SUMMARY.md", "manuscript/Book.txt", "Book.txt", "_quarto.yml", "_bookdown.yml")
# The project files that list no text of their own: a zip with one of them and one chapter is a project.
SETTINGS_PROJECT_FILES = ("_quarto.yml", "_bookdown.yml")


def is_pandoc_markdown(name: str) -> bool:
    """Whether a file is Quarto or R Markdown source (its code cells and attributes read as such)."""
    return posixpath.splitext(name.lower())[1] in PANDOC_MARKDOWN_EXTENSIONS


def _zip_roots(names: Iterable[str]) -> tuple[set[str], list[str]]:
    """A zip's entries (macOS metadata aside), and where a book's own files may start: at the zip's
    root ('') and, when one folder holds everything (a zipped folder), in that folder ('book/')."""
    present = {name for name in names if not name.startswith("__MACOSX/")}
    tops = {name.split("/", 1)[0] for name in present if name.strip("/")}
    return present, [""] + ([f"{next(iter(tops))}/"] if len(tops) == 1 else [])


def project_file_in_zip(names: Iterable[str]) -> str | None:
    """The zip entry that lists a book project's files in order, if there is one: at the zip's root,
    or inside the one folder that holds everything (a zipped project folder)."""
    present, prefixes = _zip_roots(names)
    for prefix in prefixes:
        for project_file in PROJECT_FILES:
            if prefix + project_file in present:
                return prefix + project_file
        if prefix + "book.toml" in present:  # mdBook with its `src` set to another folder
            summaries = [n for n in present if re.fullmatch(re.escape(prefix) + r"[^/]+/SUMMARY\.md", n)]
            if len(summaries) == 1:
                return summaries[0]
    return None


# Where an EPUB's container sits, below its root: at the zip's root (an .epub, or an unpacked one
# zipped from inside), or in Standard Ebooks' source layout, whose EPUB root is `src/`.
EPUB_CONTAINERS = ("META-INF/container.xml", "src/META-INF/container.xml")
EPUB_MIMETYPE = b"application/epub+zip"


def epub_container_in_zip(names: Iterable[str]) -> str | None:
    """The zip entry that is an EPUB's META-INF/container.xml, if there is one: at the zip's root,
    or inside the one folder that holds everything (a zipped EPUB folder)."""
    present, prefixes = _zip_roots(names)
    return next((p + c for p in prefixes for c in EPUB_CONTAINERS if p + c in present), None)


def archive_name(kind: ManuscriptType | str) -> str:
    """What an archive of this kind is called in messages to its author."""
    return "EPUB" if getattr(kind, "kind", kind) == EPUB.kind else "zip archive"


def zip_is_readable(names: Iterable[str]) -> bool:
    """Whether Quire can read a zip's manuscripts as one book: one manuscript, a project file that
    orders them (SUMMARY.md, Book.txt, _quarto.yml, _bookdown.yml), or several Markdown, text or
    HTML files (joined in file-name order)."""
    names = list(names)
    candidates = manuscripts_in_zip(names)
    if len(candidates) == 1 or project_file_in_zip(names) is not None:
        return bool(candidates)
    return bool(candidates) and all(kind_in_zip(name) != DOCX.kind for name in candidates)


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """A file name's sort key in natural order: 'ch2' before 'ch10'."""
    return [(0, int(part)) if part.isdigit() else (1, part.casefold()) for part in re.split(r"(\d+)", name) if part]


def kind_in_zip(name: str) -> str:
    """The manuscript kind of a zip entry that `manuscripts_in_zip` chose."""
    return KIND_IN_ZIP[posixpath.splitext(name.lower())[1]]


def decode_text(data: bytes) -> str | None:
    """Manuscript bytes as text: UTF-16 when it opens with its byte-order mark, else UTF-8 (a BOM
    dropped). None when it is neither."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def is_language_tag(value: str) -> bool:
    """Whether `value` has the shape of a BCP 47 tag ('en', 'fr', 'pt-BR', 'zh-Hant-TW')."""
    return bool(_LANGUAGE_TAG.match(value))


# The print PDF's page sizes an author may choose, as the API, the job row and the CLI spell them:
# ISO A4, US Letter, and the three trim sizes most print-on-demand novels use (inches, width x height).
# No choice ("") leaves it to the book's language.
PDF_PAGE_SIZES = ("a4", "letter", "6x9", "5.5x8.5", "5x8")


def pdf_page_size(value: str) -> str | None:
    """A submitted page size as it is stored: one of PDF_PAGE_SIZES, whatever its case and the
    spaces around it, or "" for none (the book's language chooses); None when it is anything else."""
    chosen = value.strip().lower()
    return chosen if chosen == "" or chosen in PDF_PAGE_SIZES else None


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".epub": "application/epub+zip",
    ".pdf": "application/pdf",
}


# The web-app book's Readium Web Publication Manifest (shared/book/webpub.py), by its name.
WEBPUB_MANIFEST = "publication.json"
WEBPUB_MEDIA_TYPE = "application/webpub+json"


def content_type_for(path: str) -> str:
    """The Content-Type of a book's file or the upload page's, by its name or its extension."""
    if posixpath.basename(path) == WEBPUB_MANIFEST:
        return WEBPUB_MEDIA_TYPE
    return _CONTENT_TYPES.get(posixpath.splitext(path)[1].lower(), "application/octet-stream")


def utc_timestamp(moment: datetime) -> str:
    """A moment as the API and the feeds write it: ISO 8601 in UTC, with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- text from outside: numbers, JSON bodies, titles ----------------------------------------------

# ASCII digits only: str.isdigit() also says yes to '²' and '¹', which int() then refuses.
_WHOLE_NUMBER = re.compile(r"[0-9]+")
# A billion of anything (editions, bytes) is more than Quire counts; more digits are not a number
# it should spend time converting (int() of thousands of digits is slow, and refused past 4300).
MAX_NUMBER_DIGITS = 9


def whole_number(text: str, max_digits: int = MAX_NUMBER_DIGITS) -> int | None:
    """`text` as a whole number when it is 1 to `max_digits` ASCII digits, else None."""
    if not 0 < len(text) <= max_digits or not _WHOLE_NUMBER.fullmatch(text):
        return None
    return int(text)


# A request body's JSON is a small object; the parser recurses once per nesting level, so a body of
# brackets alone would exhaust Python's stack long before any size limit is reached.
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32


class JSONRefused(ValueError):
    """A JSON body Quire will not read; the message says why, for the person who sent it."""


def bounded_json(body: bytes, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> object:
    """A request body parsed as JSON once it is known to be small and shallow: JSONRefused when it
    is too large, nested too deep, not UTF-8, or not JSON."""
    if len(body) > max_bytes:
        raise JSONRefused(f"The JSON body is {len(body):,} bytes; at most {max_bytes:,} are read.")
    if json_depth(body) > max_depth:
        raise JSONRefused(f"The JSON body nests deeper than {max_depth} levels of brackets.")
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise JSONRefused("The JSON body is not UTF-8 text.") from None
    except ValueError as error:
        raise JSONRefused(f"The body is not JSON ({error}).") from None


def json_depth(body: bytes) -> int:
    """The deepest nesting of [ and { in a JSON text, brackets inside strings aside. A linear scan
    with no recursion; it counts, it does not validate (the parser does that afterwards)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


# Characters that change how text around them is shown without being text: the bidi embeddings,
# overrides, isolates and marks (U+202E turns "txt.exe" into "exe.txt" on screen).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(value: str) -> str:
    """A one-line text for display (a title, an author): control characters, lone surrogates and
    bidi controls removed, every run of whitespace one space, no space at either end. The same
    cleaning whether the text came from a form field or from the manuscript itself."""
    kept = "".join(
        ch for ch in value if ch.isspace() or (ch not in BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs"))
    )
    return " ".join(kept.split())
