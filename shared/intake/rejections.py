"""Why an upload is refused: the kind of refusal, a title, and a message an author can act on.

Intake knows nothing of HTTP; the web tier maps each kind to its status (shared/web/problems.py).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    MALFORMED = "malformed"  # not a readable upload: no file, an empty one, a broken form, bad metadata
    LENGTH_REQUIRED = "length_required"  # sent in chunks without a length, which never reaches the app
    TOO_LARGE = "too_large"  # larger than MAX_UPLOAD_BYTES
    UNSUPPORTED_TYPE = "unsupported_type"  # not a manuscript Quire reads, or named as another type
    UNSAFE_ARCHIVE = "unsafe_archive"  # a zip that could harm a worker: a bomb, unsafe names, encryption
    INCOMPLETE = "incomplete"  # a direct upload submitted before all of it arrived


class UploadRejected(Exception):
    """An upload that cannot be accepted: which kind of refusal, and the message for its author."""

    def __init__(self, refusal: Refusal, title: str, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal
        self.title = title
        self.detail = detail


def too_large(max_upload_bytes: int) -> UploadRejected:
    return UploadRejected(
        Refusal.TOO_LARGE,
        "Manuscript too large",
        f"The manuscript is larger than {human_size(max_upload_bytes)}. "
        "Shrink its images or split the book, then upload again.",
    )


def human_size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):g} MiB"
    if count >= 1024:
        return f"{count / 1024:g} KiB"
    return f"{count} bytes"
