"""Why an upload is refused: the HTTP status and a message an author can act on."""

from __future__ import annotations


class UploadRejected(Exception):
    """An upload that cannot be accepted. `status` is the HTTP status; the message is for authors."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def too_large(max_upload_bytes: int) -> UploadRejected:
    return UploadRejected(
        413,
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
