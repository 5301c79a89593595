"""The upload endpoint: check the request, store the manuscript and its job, answer 202.

Returns the response and the job's first conversion message, for `function_app.py` to send
through its output binding (None when the upload is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import logs
from shared.intake import UploadRejected, check_declared_size, identify, read_upload
from shared.jobs.record import conversion_message, new_job_id
from shared.jobs.uploads import store_manuscript
from shared.services import Services
from shared.storage import StorageUnavailable
from shared.web.responses import API_BASE, json_response, problem, storage_unavailable

log = logs.get_logger(__name__)


def submit_manuscript(req: func.HttpRequest, services: Services) -> tuple[func.HttpResponse, str | None]:
    """Accept an upload. Returns the response and the conversion message to send (None if rejected)."""
    limit = services.settings.max_upload_bytes
    try:
        check_declared_size(req.headers, limit)
        upload = read_upload(req.headers, req.params, req.get_body(), limit)
        manuscript = identify(upload)
    except UploadRejected as rejection:
        log.info("upload rejected: %s %s", rejection.status, rejection.title)
        accepted = ["markdown", "text", "html", "docx", "zip"] if rejection.status == 415 else None
        extra = {"accepted": accepted} if accepted else {}
        return problem(rejection.status, rejection.title, rejection.detail, None, **extra), None

    job_id = new_job_id()
    try:
        job = store_manuscript(services.storage, manuscript, job_id, _now())
    except StorageUnavailable:
        log.warning("upload not stored: storage unavailable")
        return storage_unavailable(), None
    with logs.bound(job=job.id):
        log.info("queued: %s, %d bytes, %s", job.kind, job.size, job.sha256[:12])
    location = f"{API_BASE}/manuscripts/{job.id}"
    response = json_response(job.to_public(API_BASE), status=202, headers={"Location": location})
    return response, conversion_message(job.id)


def _now() -> datetime:
    return datetime.now(UTC)
