"""The conversion queue's two messages, as types: run one step of a job, or erase a book.

Both are JSON objects with a version (not arrays: the host's queue output binding splits arrays
into messages), so a message from another version of the app is recognised and dropped, not
misread. A message is only a wake-up call: the job row (or the book row) is the source of truth.

    {"v":1,"job":"<job id>","step":"plan"}        ConvertStep: plan, images:<batch>, package
    {"v":1,"erase":"<book id>"}                    EraseBook
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared.jobs.record import FIRST_STEP, IMAGES_STEP_PREFIX, MESSAGE_VERSION, PACKAGE_STEP, PDF_STEP, is_valid_job_id


@dataclass(frozen=True)
class ConvertStep:
    job: str
    step: str = FIRST_STEP

    @property
    def image_batch(self) -> int | None:
        """The batch an `images:<batch>` step processes; None for any other step."""
        batch = self.step.removeprefix(IMAGES_STEP_PREFIX)
        return int(batch) if self.step.startswith(IMAGES_STEP_PREFIX) and batch.isdigit() else None

    @property
    def is_package(self) -> bool:
        return self.step == PACKAGE_STEP

    @property
    def is_pdf(self) -> bool:
        return self.step == PDF_STEP

    def to_message(self) -> str:
        return json.dumps({"v": MESSAGE_VERSION, "job": self.job, "step": self.step}, separators=(",", ":"))


@dataclass(frozen=True)
class EraseBook:
    book: str

    def to_message(self) -> str:
        return json.dumps({"v": MESSAGE_VERSION, "erase": self.book}, separators=(",", ":"))


def parse_conversion_queue_message(body: bytes | str) -> ConvertStep | EraseBook:
    """The message; ValueError saying what is wrong with one this app cannot read."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"conversion message is not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
        raise ValueError("conversion message has an unknown format")
    book_id = data.get("erase")
    if isinstance(book_id, str) and is_valid_job_id(book_id):
        return EraseBook(book_id)
    job_id, step = data.get("job"), data.get("step")
    if not isinstance(job_id, str) or not is_valid_job_id(job_id):
        raise ValueError("conversion message names no valid job id")
    if not isinstance(step, str) or not step:
        raise ValueError("conversion message names no step")
    return ConvertStep(job_id, step)
