"""The job record: the row, its status words and its steps (their messages: shared/jobs/messages.py).

A job is one table entity (PartitionKey = job id, RowKey = "job"). It is the source of truth;
a queue message only wakes a worker up to look at it. The web tier and the worker share this
vocabulary, and the API returns exactly these words.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.formats import utc_timestamp

JOB_ROW_KEY = "job"
# An upload writes a marker before its manuscript blob; a marker left behind names a manuscript
# whose request died before its job was recorded. A form upload's marker is its job's own row
# (`upload_marker`), which the queued job then replaces with If-Match: one plain write, where a
# table transaction costs the SDK three times the CPU on the hottest request (#41). A direct
# upload's marker is a row of its own, holding what the client declared until it submits.
UPLOAD_ROW_KEY = "upload"
_UPLOADING = "uploading"
MESSAGE_VERSION = 1
# A job's steps: "plan" first, then "images:<batch>" for each image batch the plan fanned out
# (in any order, anywhere), then "pdf", which typesets the print PDF from them, then "package",
# which publishes the book.
FIRST_STEP = "plan"
PDF_STEP = "pdf"
PACKAGE_STEP = "package"
IMAGES_STEP_PREFIX = "images:"

# A table property holds at most 64 KiB; a handful of warnings is what an author reads anyway.
MAX_STORED_WARNINGS = 50

# 16 random bytes = 128 bits, as 22 URL-safe base64 characters.
_JOB_ID_BYTES = 16
_JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def upload_marker(job_id: str, manuscript_blob: str, started: datetime) -> dict[str, Any]:
    """A form upload's marker: the job's row before its job is recorded."""
    return {
        "PartitionKey": job_id,
        "RowKey": JOB_ROW_KEY,
        _UPLOADING: True,
        "started": started,
        "manuscript_blob": manuscript_blob,
    }


def is_upload_marker(row: dict[str, Any]) -> bool:
    """Whether a job's row is still its upload's marker: there is no job yet."""
    return bool(row.get(_UPLOADING))


# The reconciler's filter for markers of both kinds (the start time is added by the caller).
UPLOAD_MARKERS_FILTER = f"(RowKey eq '{UPLOAD_ROW_KEY}' or {_UPLOADING} eq true)"


def new_job_id() -> str:
    return secrets.token_urlsafe(_JOB_ID_BYTES)


def is_valid_job_id(value: str) -> bool:
    return bool(_JOB_ID_PATTERN.match(value))


@dataclass(frozen=True)
class Plan:
    """What the plan step decided, from which every later step knows its work: the image batches
    (image keys, in order), how many leading batches the plan step processed itself (the rest are
    fanned out as images:<i>), the book's title as parsed, and whether a pdf step follows them (a
    plan committed before that step existed has none)."""

    images: list[list[str]]
    images_in_plan: int
    title: str
    pdf: bool = True

    def to_json(self) -> str:
        return json.dumps(
            {"images": self.images, "images_in_plan": self.images_in_plan, "title": self.title, "pdf": self.pdf},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Plan | None:
        data = json.loads(text)
        if not data:
            return None
        # Rows written before a field existed read with its default.
        return cls(
            images=data.get("images", []),
            images_in_plan=int(data.get("images_in_plan", 0)),
            title=str(data.get("title", "")),
            pdf=bool(data.get("pdf", False)),
        )


@dataclass(frozen=True)
class QueueBacklog:
    """What a queued job waits behind: the conversion queue's approximate length (every job's
    steps, its own included) and how long its front message has been waiting."""

    messages: int
    front_waited_seconds: float

    def to_public(self) -> dict[str, Any]:
        return {"messages": self.messages, "front_waited_seconds": round(self.front_waited_seconds)}


@dataclass(frozen=True)
class Job:
    id: str
    status: JobStatus
    created: datetime
    updated: datetime
    manuscript_blob: str
    filename: str
    kind: str
    content_type: str
    size: int
    sha256: str  # empty until the plan step reads a direct upload (the web tier never carries it)
    title: str = ""
    author: str = ""
    language: str = ""
    split_level: int = 1  # the heading level chapters start at
    pdf_page: str = ""  # the print PDF's page size (formats.PDF_PAGE_SIZES); "": the language's
    # The book this job makes an edition of, and which edition (a book's id is its first job's id).
    book: str = ""
    edition: int = 1
    # A direct upload's manuscript as it was checked: the client's SAS could still write the blob,
    # so the worker reads only this version of it.
    manuscript_etag: str = ""
    steps_done: int = 0
    steps_total: int = 1
    error: str = ""
    # The worker's state: its plan (None until the plan step commits), the steps committed so far,
    # how often the reconciler re-drove it, whether its work files are gone, and the book's warnings.
    plan: Plan | None = None
    completed: list[str] = field(default_factory=list)
    redrives: int = 0
    cleaned: bool = False
    # When a worker last said one of the job's steps is still running (None: none has): a step
    # that runs longer than the stall bound is alive, not stalled.
    alive: datetime | None = None
    # The steps running now: step -> {"message": the queue message running it, "until": ISO
    # time its lease lapses} (shared/claims.py).
    claims: dict[str, dict[str, str]] = field(default_factory=dict)
    # How often a run of each step failed while its worker lived to see it (step -> count), and
    # the last such failure (for operators; never shown to authors): the evidence that a step
    # fails, as opposed to its workers being stopped under it.
    failures: dict[str, int] = field(default_factory=dict)
    last_failure: str = ""
    warnings: list[str] = field(default_factory=list)
    # Whether the pdf step wrote the edition's print PDF (book.pdf beside its EPUB).
    has_pdf: bool = False
    # The author's notes on this edition, as uploaded (plain text, bounded by intake), and what
    # changed since the previous published edition (shared/book/changes.py `compare`), which the
    # package step records; None before it, or when there was none to compare with.
    release_notes: str = ""
    changes: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    @property
    def last_seen(self) -> datetime:
        """When the job last moved, or a step of it was last seen running."""
        return max(self.updated, self.alive) if self.alive else self.updated

    @property
    def progress_fraction(self) -> float:
        if self.status is JobStatus.SUCCEEDED:
            return 1.0
        if self.steps_total <= 0:
            return 0.0
        return round(min(self.steps_done / self.steps_total, 1.0), 4)

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.id,
            "RowKey": JOB_ROW_KEY,
            "status": self.status.value,
            "created": self.created,
            "updated": self.updated,
            "manuscript_blob": self.manuscript_blob,
            "filename": self.filename,
            "kind": self.kind,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "title": self.title,
            "author": self.author,
            "language": self.language,
            "split_level": self.split_level,
            "pdf_page": self.pdf_page,
            "book": self.book,
            "edition": self.edition,
            **({"manuscript_etag": self.manuscript_etag} if self.manuscript_etag else {}),
            "steps_done": self.steps_done,
            "steps_total": self.steps_total,
            "error": self.error,
            "plan": self.plan.to_json() if self.plan else "{}",
            "completed": json.dumps(self.completed),
            "redrives": self.redrives,
            "cleaned": self.cleaned,
            **({"alive": self.alive} if self.alive else {}),
            "claims": json.dumps(self.claims, sort_keys=True),
            "failures": json.dumps(self.failures, sort_keys=True),
            "last_failure": self.last_failure,
            "warnings": json.dumps(self.warnings[:MAX_STORED_WARNINGS], ensure_ascii=False),
            "has_pdf": self.has_pdf,
            **({"release_notes": self.release_notes} if self.release_notes else {}),
            **({"changes": json.dumps(self.changes, ensure_ascii=False)} if self.changes is not None else {}),
        }

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Job:
        return cls(
            id=entity["PartitionKey"],
            status=JobStatus(entity["status"]),
            created=entity["created"],
            updated=entity["updated"],
            manuscript_blob=entity["manuscript_blob"],
            filename=entity.get("filename", ""),
            kind=entity.get("kind", ""),
            content_type=entity.get("content_type", ""),
            size=int(entity.get("size", 0)),
            sha256=entity.get("sha256", ""),
            title=entity.get("title", ""),
            author=entity.get("author", ""),
            language=entity.get("language", ""),
            split_level=int(entity.get("split_level", 1)),
            pdf_page=entity.get("pdf_page", ""),
            book=entity.get("book") or entity["PartitionKey"],
            edition=int(entity.get("edition", 1)),
            manuscript_etag=entity.get("manuscript_etag", ""),
            steps_done=int(entity.get("steps_done", 0)),
            steps_total=int(entity.get("steps_total", 1)),
            error=entity.get("error", ""),
            plan=Plan.from_json(entity.get("plan") or "{}"),
            completed=json.loads(entity.get("completed") or "[]"),
            redrives=int(entity.get("redrives", 0)),
            cleaned=bool(entity.get("cleaned", False)),
            alive=entity.get("alive"),
            claims=json.loads(entity.get("claims") or "{}"),
            failures=json.loads(entity.get("failures") or "{}"),
            last_failure=entity.get("last_failure", ""),
            warnings=json.loads(entity.get("warnings") or "[]"),
            has_pdf=bool(entity.get("has_pdf", False)),
            release_notes=entity.get("release_notes", ""),
            changes=json.loads(entity["changes"]) if entity.get("changes") else None,
        )

    def with_changes(self, **changes: Any) -> Job:
        return replace(self, **changes)

    def to_public(self, api_base: str, backlog: QueueBacklog | None = None) -> dict[str, Any]:
        """The job as the status endpoint shows it. `api_base` is e.g. "/api"; `backlog`, for a
        queued job, what it waits behind."""
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "progress": {
                "steps_done": self.steps_done,
                "steps_total": self.steps_total,
                "fraction": self.progress_fraction,
            },
            "created": utc_timestamp(self.created),
            "updated": utc_timestamp(self.updated),
            "manuscript": {
                "filename": self.filename,
                "type": self.kind,
                "bytes": self.size,
                "sha256": self.sha256,
                "split_level": self.split_level,
                "pdf_page": self.pdf_page,
            },
            "metadata": {"title": self.title, "author": self.author, "language": self.language},
            "book": self.book,
            "edition": self.edition,
            "links": {"self": f"{api_base}/manuscripts/{self.id}", "book": f"{api_base}/books/{self.book}"},
        }
        if self.status is JobStatus.QUEUED and backlog is not None:
            body["queue"] = backlog.to_public()
        if self.status is JobStatus.FAILED:
            body["error"] = self.error
        if self.warnings:
            body["warnings"] = self.warnings
        if self.release_notes:
            body["release_notes"] = self.release_notes
        if self.changes is not None:
            body["changes"] = self.changes
        return body


def parallel_steps(job: Job) -> list[str]:
    """The steps the plan fanned out, which run side by side between the plan and the package."""
    if job.plan is None:
        return []
    return [f"{IMAGES_STEP_PREFIX}{i}" for i in range(job.plan.images_in_plan, len(job.plan.images))]


def pending_steps(job: Job) -> list[str]:
    """What must run next, from the row alone: the plan, else the fanned-out steps not committed,
    else the pdf, else the package."""
    if not job.plan or FIRST_STEP not in job.completed:
        return [FIRST_STEP]
    return [s for s in parallel_steps(job) if s not in job.completed] or [step_after_images(job)]


def step_after_images(job: Job) -> str:
    """The fan-in: the pdf step when the plan has one and it has not committed, else the package."""
    return PDF_STEP if job.plan is not None and job.plan.pdf and PDF_STEP not in job.completed else PACKAGE_STEP
