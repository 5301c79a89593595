"""Intake: from an HTTP upload to a stored manuscript, a job record and a first message.

The pure half reads the upload (multipart field `file`, or a raw body named by
`Content-Disposition` or `?filename=`) and decides its type by sniffing its bytes. The I/O half
writes in a fixed order, blob then record, so a rejected upload leaves nothing behind and a record
never points at a missing blob. The caller sends the first message through its output binding;
a record whose message never went out is re-driven by the worker's reconciler.

Every rejection is an `UploadRejected` carrying the HTTP status and a message an author can act on.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from shared.jobs import JOB_ROW_KEY, UPLOAD_ROW_KEY, Job, JobStatus
from shared.settings import JOB_TABLE, MANUSCRIPT_CONTAINER
from shared.storage import AlreadyExists, Conflict, NotFound, Storage, StorageUnavailable

# Multipart framing (boundaries, part headers, metadata fields) on top of the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_METADATA_CHARS = 300
MAX_FILENAME_CHARS = 200

ACCEPTED_TYPES_TEXT = (
    "Markdown (.md), plain text (.txt), HTML (.html), Word (.docx), "
    "or a .zip holding one manuscript plus the images it uses"
)


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
_MANUSCRIPT_EXTENSIONS_IN_ZIP = MARKDOWN.extensions + TEXT.extensions + HTML.extensions + DOCX.extensions

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


class UploadRejected(Exception):
    """An upload that cannot be accepted. `status` is the HTTP status; the message is for authors."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    title: str = ""
    author: str = ""
    language: str = ""


@dataclass(frozen=True)
class Manuscript:
    upload: Upload
    type: ManuscriptType
    sha256: str


# -- reading the request --------------------------------------------------------------------------


def check_declared_size(headers: Mapping[str, str], max_upload_bytes: int) -> None:
    """Reject by Content-Length before the body is read."""
    raw = headers.get("content-length", "").strip()
    if raw.isdigit() and int(raw) > max_upload_bytes + MULTIPART_OVERHEAD_BYTES:
        raise _too_large(max_upload_bytes)


def read_upload(headers: Mapping[str, str], params: Mapping[str, str], body: bytes, max_upload_bytes: int) -> Upload:
    """Turn the request into an Upload: multipart field `file`, or the raw body."""
    content_type = headers.get("content-type", "")
    fields: dict[str, str] = {}
    if not body and "chunked" in headers.get("transfer-encoding", "").lower():
        # The Functions host hands a function only bodies with a Content-Length.
        raise UploadRejected(
            411,
            "Length required",
            "The upload was sent in chunks, without a Content-Length, and such bodies do not reach Quire. "
            "Send the file with its length: a browser form, curl -F file=@book.md, or curl --data-binary @book.md.",
        )
    if content_type.lower().startswith("multipart/form-data"):
        filename, data, fields = _read_multipart(content_type, body, max_upload_bytes)
    else:
        if len(body) > max_upload_bytes:
            raise _too_large(max_upload_bytes)
        data = body
        filename = _filename_from_disposition(headers.get("content-disposition", "")) or params.get("filename", "")
    if not data:
        raise UploadRejected(
            400,
            "Empty upload",
            "The upload was empty. Attach your manuscript as the form field 'file', "
            "or send the file itself as the request body.",
        )
    return Upload(
        filename=_clean_filename(filename),
        data=data,
        title=_metadata(fields, params, "title"),
        author=_metadata(fields, params, "author"),
        language=_language(_metadata(fields, params, "language")),
    )


def _read_multipart(content_type: str, body: bytes, max_upload_bytes: int) -> tuple[str, bytes, dict[str, str]]:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadRejected(
            400, "Malformed form", "The form upload has no boundary. Let your browser or curl -F build it."
        )
    parts: list[dict[str, object]] = []
    header_field = bytearray()
    header_value = bytearray()
    current: dict[str, object] = {}

    def on_part_begin() -> None:
        nonlocal current
        current = {"headers": {}, "data": bytearray()}
        parts.append(current)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers = current["headers"]
        assert isinstance(headers, dict)
        # Raw bytes: browsers and curl send file names in UTF-8, not in HTTP's Latin-1.
        headers[bytes(header_field).decode("latin-1").lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        buffer = current["data"]
        assert isinstance(buffer, bytearray)
        buffer.extend(data[start:end])
        if len(buffer) > max_upload_bytes:
            raise _too_large(max_upload_bytes)

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except UploadRejected:
        raise
    except Exception:
        raise UploadRejected(
            400, "Malformed form", "The form upload could not be read. Send it again with curl -F or a browser."
        ) from None

    fields: dict[str, str] = {}
    file_name, file_data = "", b""
    found_file = False
    for part in parts:
        headers = part["headers"]
        assert isinstance(headers, dict)
        _, disposition = parse_options_header(headers.get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        buffer = part["data"]
        assert isinstance(buffer, bytearray)
        data = bytes(buffer)
        if name == "file" and not found_file:
            found_file = True
            file_name = _filename_from_disposition(headers.get("content-disposition", b""))
            file_data = data
        elif name in ("title", "author", "language"):
            fields[name] = data.decode("utf-8", "replace")
    if not found_file:
        raise UploadRejected(
            400,
            "No file in the form",
            "The form has no field named 'file'. Attach your manuscript as 'file' (curl -F file=@book.md).",
        )
    return file_name, file_data, fields


def _filename_from_disposition(value: bytes | str) -> str:
    """The file name of a Content-Disposition, as UTF-8 (RFC 5987 `filename*` first)."""
    raw = value if isinstance(value, bytes) else _header_bytes(value)
    if not raw:
        return ""
    extended = re.search(rb"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)", raw)
    if extended:
        return unquote(extended.group(1).strip().strip(b'"').decode("ascii", "replace"))
    from python_multipart.multipart import parse_options_header

    _, options = parse_options_header(raw)
    return options.get(b"filename", b"").decode("utf-8", "replace")


def _header_bytes(value: str) -> bytes:
    """An HTTP header as the bytes that were sent: servers decode them as Latin-1, or as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _clean_filename(name: str) -> str:
    """Keep only the last path segment, printable characters, and a bounded length."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if ch.isprintable())
    return name.strip().strip(".")[:MAX_FILENAME_CHARS]


def _metadata(fields: Mapping[str, str], params: Mapping[str, str], name: str) -> str:
    value = fields.get(name) or params.get(name) or ""
    value = " ".join("".join(ch for ch in value if ch.isprintable()).split())
    if len(value) > MAX_METADATA_CHARS:
        raise UploadRejected(
            400,
            f"{name.capitalize()} too long",
            f"The {name} is longer than {MAX_METADATA_CHARS} characters. Shorten it.",
        )
    return value


_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _language(value: str) -> str:
    if value and not _LANGUAGE_TAG.match(value):
        raise UploadRejected(
            400,
            "Unknown language",
            f"'{value}' is not a language tag. Use a BCP 47 tag such as 'en', 'fr' or 'pt-BR'.",
        )
    return value


def _too_large(max_upload_bytes: int) -> UploadRejected:
    return UploadRejected(
        413,
        "Manuscript too large",
        f"The manuscript is larger than {_human_size(max_upload_bytes)}. "
        "Shrink its images or split the book, then upload again.",
    )


def _human_size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):g} MiB"
    if count >= 1024:
        return f"{count / 1024:g} KiB"
    return f"{count} bytes"


# -- sniffing -------------------------------------------------------------------------------------


def identify(upload: Upload) -> Manuscript:
    """Decide the manuscript's type from its bytes; the name only separates Markdown from text."""
    sniffed = _sniff(upload.data)
    extension = posixpath.splitext(upload.filename.lower())[1]
    named = next((t for t in MANUSCRIPT_TYPES if extension in t.extensions), None)
    if extension and named is None:
        raise _unsupported(f"Files ending in '{extension}' are not manuscripts Quire can read.")
    chosen = sniffed
    if named is not None and named is not sniffed:
        text_kinds = (MARKDOWN, TEXT, HTML)
        if named in (MARKDOWN, TEXT) and sniffed in (MARKDOWN, TEXT):
            chosen = named  # both are plain text; the author's name for it decides
        elif named is HTML and sniffed in text_kinds and b"<" in upload.data:
            chosen = HTML  # an HTML fragment without <html>
        elif named is MARKDOWN and sniffed is HTML:
            chosen = MARKDOWN  # Markdown may open with raw HTML
        else:
            raise _unsupported(
                f"The file is named '{upload.filename}' but its content is {_describe(sniffed)}. "
                "Check that you picked the right file, or rename it to match its content."
            )
    return Manuscript(upload=upload, type=chosen, sha256=hashlib.sha256(upload.data).hexdigest())


def _describe(kind: ManuscriptType) -> str:
    return {
        "markdown": "plain text or Markdown",
        "text": "plain text",
        "html": "HTML",
        "docx": "a Word document",
        "zip": "a zip archive",
    }[kind.kind]


def _unsupported(reason: str) -> UploadRejected:
    return UploadRejected(415, "Unsupported manuscript type", f"{reason} Quire accepts {ACCEPTED_TYPES_TEXT}.")


def _sniff(data: bytes) -> ManuscriptType:
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    for signature, description in _KNOWN_BINARIES:
        if data.startswith(signature):
            raise _unsupported(f"This file is {description}, not a manuscript.")
    text = _decode_text(data)
    if text is None:
        raise _unsupported("This file is not text Quire can read (it is binary, or not UTF-8 or UTF-16).")
    head = text.lstrip("\ufeff \t\r\n")[:1024].lower()
    if head.startswith(("<!doctype html", "<html")) or (head.startswith("<?xml") and "<html" in head):
        return HTML
    return MARKDOWN


def _decode_text(data: bytes) -> str | None:
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
    if encoding == "utf-8" and b"\x00" in data:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _sniff_zip(data: bytes) -> ManuscriptType:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        raise _unsupported("This zip archive is damaged and cannot be opened.") from None
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        return DOCX
    manuscripts = [
        name
        for name in names
        if not name.endswith("/")
        and not name.startswith("__MACOSX/")
        and not posixpath.basename(name).startswith(".")
        and posixpath.splitext(name.lower())[1] in _MANUSCRIPT_EXTENSIONS_IN_ZIP
    ]
    if not manuscripts:
        raise _unsupported("The zip archive holds no manuscript (.md, .txt, .html or .docx).")
    if len(manuscripts) > 1:
        listed = ", ".join(sorted(manuscripts)[:5])
        raise _unsupported(
            f"The zip archive holds {len(manuscripts)} manuscripts ({listed}); put exactly one in it, "
            "next to its images."
        )
    return ZIP


# -- storing --------------------------------------------------------------------------------------


def manuscript_blob_name(job_id: str) -> str:
    return f"{job_id}/original"


def store_manuscript(storage: Storage, manuscript: Manuscript, job_id: str, now: datetime) -> Job:
    """Record that the upload started, write the blob, then the queued job record in the same
    transaction that removes the upload's marker. Nothing is left behind: on failure here it is
    deleted at once; if the process dies, the marker names the blob, and the reconciler deletes
    both once the upload is abandoned (shared/pipeline.sweep_abandoned_uploads)."""
    blob_name = manuscript_blob_name(job_id)
    marker = {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "started": now, "manuscript_blob": blob_name}
    # The id is 128 random bits, so nothing else has this row: a retryable PUT, not a create.
    marker_etag = storage.put_entity(JOB_TABLE, marker)
    try:
        storage.create_blob(
            MANUSCRIPT_CONTAINER,
            blob_name,
            manuscript.upload.data,
            content_type=manuscript.type.content_type,
            metadata={"sha256": manuscript.sha256, "kind": manuscript.type.kind},
        )
    except BaseException:
        _discard(storage, job_id, blob_name)  # no job can be recorded yet: safe to delete now
        raise
    job = _job_for(manuscript, job_id, blob_name, now)
    try:
        _record_job(storage, job, marker_etag)
    except AlreadyExists:
        _discard(storage, job_id, blob_name)
        raise RuntimeError("job id collision") from None  # 128 random bits collided
    except Conflict:
        _discard(storage, job_id, blob_name)  # the sweeper gave this upload up
        raise StorageUnavailable("the upload took so long that it was given up; send it again") from None
    # Any other failure leaves both: the job may have been recorded with the answer lost. The
    # marker is gone exactly when it was, and the sweeper acts only on a marker.
    return job


def _record_job(storage: Storage, job: Job, marker_etag: str) -> None:
    """The job row in, the upload's marker out, in one transaction. A transaction is a POST, which
    the SDK does not retry: a dropped keep-alive connection ends it at once. Its reply may have
    been lost after it committed, so look before trying once more."""
    try:
        storage.create_replacing(JOB_TABLE, job.to_entity(), UPLOAD_ROW_KEY, marker_etag)
    except StorageUnavailable:
        try:
            storage.get_entity(JOB_TABLE, job.id, JOB_ROW_KEY)
            return  # it was recorded
        except NotFound:
            storage.create_replacing(JOB_TABLE, job.to_entity(), UPLOAD_ROW_KEY, marker_etag)


def _discard(storage: Storage, job_id: str, blob_name: str) -> None:
    """Delete an upload that recorded no job (best effort: the sweeper finishes what fails here)."""
    with contextlib.suppress(Exception):
        storage.delete_blob(MANUSCRIPT_CONTAINER, blob_name)
        storage.delete_entity(JOB_TABLE, job_id, UPLOAD_ROW_KEY)


def _job_for(manuscript: Manuscript, job_id: str, blob_name: str, now: datetime) -> Job:
    upload = manuscript.upload
    return Job(
        id=job_id,
        status=JobStatus.QUEUED,
        created=now,
        updated=now,
        manuscript_blob=blob_name,
        filename=upload.filename or f"manuscript{manuscript.type.extensions[0]}",
        kind=manuscript.type.kind,
        content_type=manuscript.type.content_type,
        size=len(upload.data),
        sha256=manuscript.sha256,
        title=upload.title,
        author=upload.author,
        language=upload.language,
    )
