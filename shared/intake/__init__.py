"""Intake: from an HTTP upload's parts to a Manuscript of a known type. Pure: no I/O.

It reads the upload (multipart field `file`, or a raw body named by `Content-Disposition` or
`?filename=`), checks its size and metadata, and decides its type by sniffing its bytes (a zip is
opened to see that it is a Word document, an EPUB, or holds one manuscript or a book project of
several; zip safety itself is the book core's, shared/book/archive.py). Storing it is shared/jobs/manuscripts.py's.

Every rejection is an `UploadRejected`: the kind of refusal (the web tier maps it to an HTTP status)
and a message an author can act on.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from shared.book.limits import DEEPEST_SPLIT_LEVEL
from shared.formats import (
    DOCX,
    EPUB,
    EPUB_MIMETYPE,
    HTML,
    MANUSCRIPT_TYPES,
    MARKDOWN,
    PDF_PAGE_SIZES,
    TEXT,
    ZIP,
    ManuscriptType,
    clean_text,
    decode_text,
    epub_container_in_zip,
    is_language_tag,
    manuscripts_in_zip,
    pdf_page_size,
    whole_number,
    zip_is_readable,
)
from shared.intake.multipart import filename_from_disposition, read_multipart
from shared.intake.rejections import Refusal, UploadRejected, too_large

# Multipart framing (boundaries, part headers, metadata fields) on top of the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_METADATA_CHARS = 300
# Release notes are a few paragraphs an author writes about an edition, shown to readers offered it.
MAX_RELEASE_NOTES_CHARS = 2000
MAX_FILENAME_CHARS = 200
# Enough digits for any length a client could send (an exabyte); the host refuses a malformed one.
CONTENT_LENGTH_DIGITS = 18

ACCEPTED_TYPES_TEXT = (
    "Markdown (.md), plain text (.txt), HTML (.html), Word (.docx), an EPUB (.epub), "
    "or a .zip holding one manuscript plus the images it uses"
)


# Signatures of common files that are not manuscripts, so the error can say what was sent.
_KNOWN_BINARIES = (
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Word (.doc) or other Office 97 file"),
    (b"{\\rtf", "an RTF document"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"PK\x05\x06", "an empty zip archive"),
)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    title: str = ""
    author: str = ""
    language: str = ""
    split_level: int = 1  # the heading level chapters start at (h1–h6)
    pdf_page: str = ""  # the print PDF's page size (formats.PDF_PAGE_SIZES); "": the language's
    release_notes: str = ""  # the author's notes on this edition: plain text, paragraphs by blank lines


@dataclass(frozen=True)
class Manuscript:
    upload: Upload
    type: ManuscriptType
    sha256: str


# -- reading the request --------------------------------------------------------------------------


def check_declared_size(headers: Mapping[str, str], max_upload_bytes: int) -> None:
    """Reject by Content-Length before the body is read."""
    declared = whole_number(headers.get("content-length", "").strip(), max_digits=CONTENT_LENGTH_DIGITS)
    if declared is not None and declared > max_upload_bytes + MULTIPART_OVERHEAD_BYTES:
        raise too_large(max_upload_bytes)


def read_upload(headers: Mapping[str, str], params: Mapping[str, str], body: bytes, max_upload_bytes: int) -> Upload:
    """Turn the request into an Upload: multipart field `file`, or the raw body."""
    content_type = headers.get("content-type", "")
    fields: dict[str, str] = {}
    if not body and "chunked" in headers.get("transfer-encoding", "").lower():
        # The Functions host hands a function only bodies with a Content-Length.
        raise UploadRejected(
            Refusal.LENGTH_REQUIRED,
            "Length required",
            "The upload was sent in chunks, without a Content-Length, and such bodies do not reach Quire. "
            "Send the file with its length: a browser form, curl -F file=@book.md, or curl --data-binary @book.md.",
        )
    if content_type.lower().startswith("multipart/form-data"):
        filename, data, fields = read_multipart(content_type, body, max_upload_bytes)
    else:
        if len(body) > max_upload_bytes:
            raise too_large(max_upload_bytes)
        data = body
        filename = filename_from_disposition(headers.get("content-disposition", "")) or params.get("filename", "")
    if not data:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Empty upload",
            "The upload was empty. Attach your manuscript as the form field 'file', "
            "or send the file itself as the request body.",
        )
    return Upload(
        filename=clean_filename(filename),
        data=data,
        title=metadata_value(fields, params, "title"),
        author=metadata_value(fields, params, "author"),
        language=checked_language(metadata_value(fields, params, "language")),
        split_level=checked_split_level(fields.get("split_level") or params.get("split_level") or ""),
        pdf_page=checked_pdf_page(fields.get("pdf_page") or params.get("pdf_page") or ""),
        release_notes=checked_release_notes(fields.get("release_notes") or params.get("release_notes") or ""),
    )


def checked_split_level(value: str | int) -> int:
    """The heading level chapters start at, 1 (h1, the default) to 6."""
    if value == "":
        return 1
    level = value if isinstance(value, int) and not isinstance(value, bool) else whole_number(str(value).strip(), 1)
    if level is None or not 1 <= level <= DEEPEST_SPLIT_LEVEL:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Unknown split level",
            f"'split_level' is the heading level chapters start at: a whole number from 1 (h1) to "
            f"{DEEPEST_SPLIT_LEVEL} (h{DEEPEST_SPLIT_LEVEL}).",
        )
    return level


def checked_pdf_page(value: object) -> str:
    """The print PDF's page size as stored: one of PDF_PAGE_SIZES, or "" (none given, or JSON null)
    for the default, which the book's language chooses."""
    chosen = "" if value is None else pdf_page_size(value) if isinstance(value, str) else None
    if chosen is None:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Unknown PDF page size",
            f"'pdf_page' is the print PDF's page size: one of {', '.join(PDF_PAGE_SIZES)}. Leave it out, or "
            "empty, to let the book's language choose.",
        )
    return chosen


def checked_release_notes(value: object) -> str:
    """An edition's release notes as stored: plain text (never markup: every page that shows them
    escapes them), control and bidi characters removed, lines kept (never two blank ones in a row),
    MAX_RELEASE_NOTES_CHARS at most; "" for none (or JSON null)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UploadRejected(Refusal.MALFORMED, "Malformed release notes", "'release_notes' is a string of text.")
    lines = [clean_text(line) for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    notes = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(notes) > MAX_RELEASE_NOTES_CHARS:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Release notes too long",
            f"The release notes are {len(notes):,} characters long; at most {MAX_RELEASE_NOTES_CHARS:,} are kept "
            "with an edition. Shorten them, and link to a longer text if you need one.",
        )
    return notes


def clean_filename(name: str) -> str:
    """Keep only the last path segment, printable characters, and a bounded length."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if ch.isprintable())
    return name.strip().strip(".")[:MAX_FILENAME_CHARS]


def metadata_value(fields: Mapping[str, str], params: Mapping[str, str], name: str) -> str:
    value = clean_text(fields.get(name) or params.get(name) or "")
    if len(value) > MAX_METADATA_CHARS:
        raise UploadRejected(
            Refusal.MALFORMED,
            f"{name.capitalize()} too long",
            f"The {name} is longer than {MAX_METADATA_CHARS} characters. Shorten it.",
        )
    return value


def checked_language(value: str) -> str:
    if value and not is_language_tag(value):
        raise UploadRejected(
            Refusal.MALFORMED,
            "Unknown language",
            f"'{value}' is not a language tag. Use a BCP 47 tag such as 'en', 'fr' or 'pt-BR'.",
        )
    return value


# -- sniffing -------------------------------------------------------------------------------------


def identify(upload: Upload) -> Manuscript:
    """Decide the manuscript's type from its bytes; the name only separates Markdown from text."""
    chosen = named_type(_sniff(upload.data), upload.filename, b"<" in upload.data)
    return Manuscript(upload=upload, type=chosen, sha256=hashlib.sha256(upload.data).hexdigest())


def named_type(sniffed: ManuscriptType, filename: str, has_markup: bool) -> ManuscriptType:
    """The type the bytes say, reconciled with the file's name: refused when they disagree, except
    where plain text's name decides (Markdown or text) or HTML may pass for Markdown."""
    extension = posixpath.splitext(filename.lower())[1]
    named = next((t for t in MANUSCRIPT_TYPES if extension in t.extensions), None)
    if extension and named is None:
        raise unsupported(f"Files ending in '{extension}' are not manuscripts Quire can read.")
    chosen = sniffed
    if named is not None and named is not sniffed:
        text_kinds = (MARKDOWN, TEXT, HTML)
        if named in (MARKDOWN, TEXT) and sniffed in (MARKDOWN, TEXT):
            chosen = named  # both are plain text; the author's name for it decides
        elif named is HTML and sniffed in text_kinds and has_markup:
            chosen = HTML  # an HTML fragment without <html>
        elif named is MARKDOWN and sniffed is HTML:
            chosen = MARKDOWN  # Markdown may open with raw HTML
        elif named is ZIP and sniffed is EPUB:
            chosen = EPUB  # an unpacked EPUB (or Standard Ebooks' source folder), zipped
        else:
            raise unsupported(
                f"The file is named '{filename}' but its content is {_describe(sniffed)}. "
                "Check that you picked the right file, or rename it to match its content."
            )
    return chosen


def _describe(kind: ManuscriptType) -> str:
    return {
        "markdown": "plain text or Markdown",
        "text": "plain text",
        "html": "HTML",
        "docx": "a Word document",
        "zip": "a zip archive",
        "epub": "an EPUB",
    }[kind.kind]


def unsupported(reason: str) -> UploadRejected:
    return UploadRejected(
        Refusal.UNSUPPORTED_TYPE, "Unsupported manuscript type", f"{reason} Quire accepts {ACCEPTED_TYPES_TEXT}."
    )


def _sniff(data: bytes) -> ManuscriptType:
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    for signature, description in _KNOWN_BINARIES:
        if data.startswith(signature):
            raise unsupported(f"This file is {description}, not a manuscript.")
    text = _decode_text(data)
    if text is None:
        raise unsupported("This file is not text Quire can read (it is binary, or not UTF-8 or UTF-16).")
    head = text.lstrip("\ufeff \t\r\n")[:1024].lower()
    if head.startswith(("<!doctype html", "<html")) or (head.startswith("<?xml") and "<html" in head):
        return HTML
    return MARKDOWN


def _decode_text(data: bytes) -> str | None:
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # binary, whatever else it decodes as
    return decode_text(data)


def _sniff_zip(data: bytes) -> ManuscriptType:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            mimetype = epub_mimetype(archive)
    except (zipfile.BadZipFile, ValueError, OSError):
        raise unsupported("This zip archive is damaged and cannot be opened.") from None
    return zip_type(names, mimetype)


# An EPUB's mimetype entry holds 20 bytes; one much larger is not that entry, and is not read.
_MIMETYPE_MAX_BYTES = 64


def epub_mimetype(archive: zipfile.ZipFile) -> bytes:
    """The first entry's content when it is named `mimetype`, as an EPUB's is; b'' otherwise.
    Only that small entry is read (a direct upload's blob is read by ranges)."""
    infos = archive.infolist()
    if not infos or infos[0].filename != "mimetype" or infos[0].file_size > _MIMETYPE_MAX_BYTES:
        return b""
    try:
        return archive.read(infos[0])[:_MIMETYPE_MAX_BYTES]
    except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError):
        return b""  # damaged or encrypted: the zip safety checks name what is wrong


def zip_type(names: list[str], mimetype: bytes = b"") -> ManuscriptType:
    """A Word document, an EPUB (its `mimetype` first, or a META-INF/container.xml), or a zip holding
    one manuscript (with its images) or a book project of several (a SUMMARY.md, Book.txt,
    _quarto.yml or _bookdown.yml that orders them, or Markdown, text or HTML files joined by name),
    by its entries."""
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        return DOCX
    if mimetype.strip() == EPUB_MIMETYPE or epub_container_in_zip(names) is not None:
        return EPUB
    manuscripts = manuscripts_in_zip(names)
    if not manuscripts:
        raise unsupported(
            "The zip archive holds no manuscript (.md, .txt, .html or .docx, or the .qmd or .Rmd chapters of a "
            "Quarto or bookdown book)."
        )
    if not zip_is_readable(names):
        listed = ", ".join(sorted(manuscripts)[:5])
        raise unsupported(
            f"The zip archive holds {len(manuscripts)} manuscripts ({listed}) and one is a Word document; "
            "put it in a zip of its own, or join Markdown, text or HTML files (ordered by a SUMMARY.md)."
        )
    return ZIP
