"""Formats: one truth about files for the upload checks, the book core and the web tier.

The manuscript kinds Quire reads and the names that mark them, which file in a zip is the
manuscript, how manuscript text is decoded, what a language tag looks like, the media type of each
file the app writes or serves, and how timestamps are written. Pure and free of any SDK.
"""

from __future__ import annotations

import posixpath
import re
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
MANUSCRIPT_TYPES = (MARKDOWN, TEXT, HTML, DOCX, ZIP)
# What a zip may hold as its one manuscript (beside its images), by extension.
KIND_IN_ZIP = {extension: t.kind for t in (MARKDOWN, TEXT, HTML, DOCX) for extension in t.extensions}
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})

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
}


def content_type_for(path: str) -> str:
    """The Content-Type of a book's file or the upload page's, by its extension."""
    return _CONTENT_TYPES.get(posixpath.splitext(path)[1].lower(), "application/octet-stream")


def utc_timestamp(moment: datetime) -> str:
    """A moment as the API and the feeds write it: ISO 8601 in UTC, with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
