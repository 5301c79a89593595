"""Reading a multipart/form-data upload (python-multipart): the `file` part and the metadata fields,
within the size limit, file names as the browser sent them (UTF-8, RFC 5987 `filename*` first)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from shared.intake.rejections import Refusal, UploadRejected, too_large


def read_multipart(content_type: str, body: bytes, max_upload_bytes: int) -> tuple[str, bytes, dict[str, str]]:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadRejected(
            Refusal.MALFORMED,
            "Malformed form",
            "The form upload has no boundary. Let your browser or curl -F build it.",
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
            raise too_large(max_upload_bytes)

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
            Refusal.MALFORMED,
            "Malformed form",
            "The form upload could not be read. Send it again with curl -F or a browser.",
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
            file_name = filename_from_disposition(headers.get("content-disposition", b""))
            file_data = data
        elif name in ("title", "author", "language", "split_level", "pdf_page", "release_notes"):
            fields[name] = data.decode("utf-8", "replace")
    if not found_file:
        raise UploadRejected(
            Refusal.MALFORMED,
            "No file in the form",
            "The form has no field named 'file'. Attach your manuscript as 'file' (curl -F file=@book.md).",
        )
    return file_name, file_data, fields


def filename_from_disposition(value: bytes | str) -> str:
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
