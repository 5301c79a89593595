"""Direct uploads (the valet key): reading a request for one, and checking what arrived in Blob
Storage with the same rules as a form upload. Pure: the blob is read through a file object the
caller opens (a zip's central directory is a few ranged reads from its end, never the whole blob).
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from shared.book.archive import STREAMED_LIMITS, check_names
from shared.book.errors import ManuscriptError
from shared.formats import (
    ARCHIVE_TYPES,
    DOCX,
    MANUSCRIPT_TYPES,
    JSONRefused,
    ManuscriptType,
    archive_name,
    bounded_json,
)
from shared.intake import (
    Upload,
    checked_language,
    checked_pdf_page,
    checked_release_notes,
    checked_split_level,
    clean_filename,
    epub_mimetype,
    identify,
    metadata_value,
    named_type,
    unsupported,
    zip_type,
)
from shared.intake.rejections import Refusal, UploadRejected, human_size, too_large

ZIP_SIGNATURE = b"PK\x03\x04"


@dataclass(frozen=True)
class DirectUploadRequest:
    """What a client declares before it uploads: the file's name and exact size, and the metadata
    a form upload would send beside the file."""

    filename: str
    size: int
    title: str = ""
    author: str = ""
    language: str = ""
    split_level: int = 1
    pdf_page: str = ""
    release_notes: str = ""

    def to_upload(self, data: bytes = b"") -> Upload:
        return Upload(
            self.filename,
            data,
            self.title,
            self.author,
            self.language,
            self.split_level,
            self.pdf_page,
            self.release_notes,
        )


@dataclass(frozen=True)
class ArrivedManuscript:
    """A direct upload that passed its checks: its type, and its digest when the web tier read it
    whole (a zip's is computed by the worker, which reads it anyway)."""

    request: DirectUploadRequest
    type: ManuscriptType
    sha256: str = ""


def read_direct_request(body: bytes, max_upload_bytes: int, max_direct_bytes: int) -> DirectUploadRequest:
    """The JSON request for a direct upload: `filename` and `size` (bytes), and optionally `title`,
    `author`, `language`, `split_level`, `pdf_page` and `release_notes`. Only a zip or an EPUB may be larger than a form upload (`max_upload_bytes`)."""
    example = (
        'Send a JSON object naming the file and its exact size in bytes: {"filename": "book.zip", "size": 123456}.'
    )
    try:
        fields = bounded_json(body or b"null")
    except JSONRefused as refused:
        raise UploadRejected(Refusal.MALFORMED, "Malformed upload request", f"{refused} {example}") from None
    if not isinstance(fields, dict):
        raise UploadRejected(Refusal.MALFORMED, "Malformed upload request", example)
    filename = fields.get("filename")
    size = fields.get("size")
    if not isinstance(filename, str) or not clean_filename(filename):
        raise UploadRejected(Refusal.MALFORMED, "File name required", "Name the file: 'filename', e.g. \"book.zip\".")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise UploadRejected(
            Refusal.MALFORMED, "Size required", "Give the file's exact size in bytes as 'size', a whole number above 0."
        )
    name = clean_filename(filename)
    extension = posixpath.splitext(name.lower())[1]
    named = next((t for t in MANUSCRIPT_TYPES if extension in t.extensions), None)
    if named is None:
        raise unsupported(f"Files ending in '{extension or name}' are not manuscripts Quire can read.")
    if size > max_direct_bytes:
        raise too_large(max_direct_bytes)
    if named not in ARCHIVE_TYPES and size > max_upload_bytes:
        raise UploadRejected(
            Refusal.TOO_LARGE,
            "Manuscript too large",
            f"Only a .zip (a manuscript with its images) or an .epub may be larger than "
            f"{human_size(max_upload_bytes)}; "
            f"this {extension} file is {human_size(size)}. Zip the manuscript with its images, or shrink them.",
        )
    metadata = {key: fields.get(key) for key in ("title", "author", "language")}
    if any(value is not None and not isinstance(value, str) for value in metadata.values()):
        raise UploadRejected(Refusal.MALFORMED, "Malformed metadata", "'title', 'author' and 'language' are strings.")
    texts = {key: value or "" for key, value in metadata.items() if isinstance(value, str) or value is None}
    return DirectUploadRequest(
        filename=name,
        size=size,
        title=metadata_value(texts, {}, "title"),
        author=metadata_value(texts, {}, "author"),
        language=checked_language(metadata_value(texts, {}, "language")),
        split_level=checked_split_level("" if fields.get("split_level") is None else fields["split_level"]),
        pdf_page=checked_pdf_page(fields.get("pdf_page")),
        release_notes=checked_release_notes(fields.get("release_notes")),
    )


def check_arrived_size(declared: int, arrived: int) -> None:
    """The committed blob must be exactly as large as declared: smaller means the upload has not
    finished (the client may still commit the rest); larger is refused outright."""
    if arrived < declared:
        raise UploadRejected(
            Refusal.INCOMPLETE,
            "Upload not finished",
            f"{arrived:,} of the {declared:,} bytes declared have arrived. Upload every block and commit "
            "the block list (Put Block List), then submit again.",
        )
    if arrived > declared:
        raise UploadRejected(
            Refusal.TOO_LARGE,
            "More than declared",
            f"{arrived:,} bytes arrived, more than the {declared:,} declared. The upload is discarded; "
            "ask for a new one with the file's exact size.",
        )


def check_arrived_by_upload(copied: bool, readable: bool) -> None:
    """The blob must hold the client's own blocks, readable now. The SAS lets its holder copy
    another blob into it (Copy Blob) or move it to the archive tier; neither is an upload: a copy
    could carry bytes the client was never allowed to read, and an archived blob cannot be read."""
    if copied:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Not an upload",
            "The blob was filled by copying another blob, which Quire does not accept. Upload the file's "
            "bytes in blocks (Put Block, then Put Block List) with a new upload.",
        )
    if not readable:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Upload archived",
            "The uploaded blob was moved to the archive tier and cannot be read. Ask for a new upload and "
            "send the file again without changing its tier.",
        )


def starts_as_zip(head: bytes) -> bool:
    return head.startswith(ZIP_SIGNATURE)


def identify_archive(request: DirectUploadRequest, blob: BinaryIO, max_upload_bytes: int) -> ArrivedManuscript:
    """A blob that starts as a zip: a Word document, an EPUB, or a zip of a manuscript and its images,
    told apart and checked for safety (names, entry count, sizes, compression ratio) from its central
    directory alone. A Word document is parsed whole in memory, so it is held to the form limit."""
    try:
        with zipfile.ZipFile(blob) as archive:
            infos = archive.infolist()
            mimetype = epub_mimetype(archive)
    except (zipfile.BadZipFile, ValueError, OSError):
        raise unsupported("This zip archive is damaged and cannot be opened.") from None
    sniffed = zip_type([info.filename for info in infos], mimetype)
    chosen = named_type(sniffed, request.filename, has_markup=False)
    if chosen is DOCX and request.size > max_upload_bytes:
        raise too_large(max_upload_bytes)
    if chosen in ARCHIVE_TYPES:
        try:
            check_names(infos, archive_name(chosen), STREAMED_LIMITS)
        except ManuscriptError as unsafe:
            raise UploadRejected(Refusal.UNSAFE_ARCHIVE, "Unsafe zip archive", str(unsafe)) from None
    return ArrivedManuscript(request=request, type=chosen)


def identify_small(request: DirectUploadRequest, data: bytes) -> ArrivedManuscript:
    """A blob that is not a zip, read whole (it is within the form limit): exactly a form upload's checks."""
    manuscript = identify(request.to_upload(data))
    return ArrivedManuscript(request=request, type=manuscript.type, sha256=manuscript.sha256)
