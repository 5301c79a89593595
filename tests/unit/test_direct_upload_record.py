"""A direct upload's marker row: what is written is what is read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.intake.direct_uploads import DirectUploadRequest
from shared.jobs.direct_uploads import DirectUpload
from shared.jobs.record import UPLOAD_ROW_KEY

STARTED = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def an_upload(**changes: object) -> DirectUpload:
    fields: dict[str, object] = {
        "id": "A" * 22,
        "request": DirectUploadRequest("book.zip", 5_000_000, "Tide Tables", "Ada Writer", "en-GB", 3, "6x9"),
        "started": STARTED,
        "expires": STARTED + timedelta(minutes=30),
        "book": "B" * 22,
        "owner_key_sha256": "",
        "abandoned": False,
        "etag": 'W/"1"',
    }
    fields.update(changes)
    return DirectUpload(**fields)  # type: ignore[arg-type]


def test_the_marker_row_reads_back_as_the_upload() -> None:
    for upload in (an_upload(), an_upload(book="", owner_key_sha256="f" * 64), an_upload(abandoned=True)):
        row = upload.to_row()
        assert (row["PartitionKey"], row["RowKey"], row["manuscript_blob"]) == (
            upload.id,
            UPLOAD_ROW_KEY,
            upload.blob_name,
        )
        assert DirectUpload.from_row(row, upload.etag) == upload


def test_a_marker_written_before_split_levels_reads_as_level_one() -> None:
    row = an_upload().to_row()
    del row["split_level"]
    assert DirectUpload.from_row(row, "").request.split_level == 1


def test_a_marker_written_before_pdf_page_sizes_reads_as_the_default() -> None:
    row = an_upload().to_row()
    assert row["pdf_page"] == "6x9"
    del row["pdf_page"]
    assert DirectUpload.from_row(row, "").request.pdf_page == ""
