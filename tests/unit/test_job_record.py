"""The job row: the print PDF's page size and whether the PDF was written, stored and read back,
rows written before them read with their defaults, and the status that shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.jobs.record import Job, JobStatus
from shared.routes import book_links

CREATED = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def a_job(**changes: object) -> Job:
    job = Job(
        id="J" * 22,
        status=JobStatus.QUEUED,
        created=CREATED,
        updated=CREATED,
        manuscript_blob=f"{'J' * 22}/original",
        filename="tides.md",
        kind="markdown",
        content_type="text/markdown; charset=utf-8",
        size=24,
        sha256="0" * 64,
        book="B" * 22,
        edition=3,
    )
    return job.with_changes(**changes)


def test_the_page_size_and_the_pdf_round_trip_through_the_row() -> None:
    for job in (a_job(), a_job(pdf_page="5.5x8.5"), a_job(pdf_page="letter", has_pdf=True)):
        assert Job.from_entity(job.to_entity()) == job


def test_a_row_written_before_pdfs_reads_with_no_page_size_and_no_pdf() -> None:
    row = a_job(pdf_page="a4", has_pdf=True).to_entity()
    del row["pdf_page"], row["has_pdf"]
    read = Job.from_entity(row)
    assert (read.pdf_page, read.has_pdf) == ("", False)


def test_the_status_shows_the_page_size_beside_the_split_level() -> None:
    manuscript = a_job(pdf_page="6x9").to_public("/api")["manuscript"]
    assert (manuscript["split_level"], manuscript["pdf_page"]) == (1, "6x9")
    assert a_job().to_public("/api")["manuscript"]["pdf_page"] == ""


def test_a_succeeded_jobs_links_name_its_pdf_only_when_given_its_edition() -> None:
    job = a_job(status=JobStatus.SUCCEEDED, has_pdf=True)
    assert "pdf" not in book_links(job.id, job.book)
    links = book_links(job.id, job.book, job.edition)
    assert links["pdf"] == f"/api/books/{job.book}/book.pdf?edition=3"
    assert links["epub"] == f"/api/manuscripts/{job.id}/book.epub"


def test_release_notes_and_changes_round_trip_and_show_in_the_status() -> None:
    changes = {"previous_edition": 2, "added": [{"title": "Départ", "chapter": "ch003"}], "removed": [], "changed": []}
    job = a_job(release_notes="Fixed typos.", changes={**changes, "unchanged": 2})
    assert Job.from_entity(job.to_entity()) == job
    public = job.to_public("/api")
    assert public["release_notes"] == "Fixed typos." and public["changes"] == {**changes, "unchanged": 2}
    plain = a_job()
    assert "release_notes" not in plain.to_entity() and "changes" not in plain.to_entity()
    assert "release_notes" not in plain.to_public("/api") and "changes" not in plain.to_public("/api")
