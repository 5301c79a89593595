"""The upload endpoint: check the request, store the manuscript and its job, answer 202.

Returns the response and the job's first conversion message, for `function_app.py` to send
through its output binding (None when the upload is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import logs
from shared.formats import MANUSCRIPT_TYPES
from shared.intake import UploadRejected, check_declared_size, identify, read_upload
from shared.intake.rejections import Refusal
from shared.jobs.record import conversion_message, new_job_id
from shared.jobs.uploads import store_manuscript
from shared.routes import API_BASE
from shared.services import Services
from shared.storage import StorageUnavailable
from shared.web.responses import json_response, problem, storage_unavailable

log = logs.get_logger(__name__)

HTTP_STATUS = {
    Refusal.MALFORMED: 400,
    Refusal.LENGTH_REQUIRED: 411,
    Refusal.TOO_LARGE: 413,
    Refusal.UNSUPPORTED_TYPE: 415,
}


def submit_manuscript(req: func.HttpRequest, services: Services) -> tuple[func.HttpResponse, str | None]:
    """Accept an upload. Returns the response and the conversion message to send (None if rejected)."""
    limit = services.settings.max_upload_bytes
    try:
        check_declared_size(req.headers, limit)
        upload = read_upload(req.headers, req.params, req.get_body(), limit)
        manuscript = identify(upload)
    except UploadRejected as rejection:
        status = HTTP_STATUS[rejection.refusal]
        log.info("upload rejected: %s %s", status, rejection.title)
        unsupported = rejection.refusal is Refusal.UNSUPPORTED_TYPE
        extra = {"accepted": [t.kind for t in MANUSCRIPT_TYPES]} if unsupported else {}
        return problem(status, rejection.title, rejection.detail, None, **extra), None

    job_id = new_job_id()
    try:
        job = store_manuscript(services.storage, manuscript, job_id, datetime.now(UTC))
    except StorageUnavailable:
        log.warning("upload not stored: storage unavailable")
        return storage_unavailable(), None
    with logs.bound(job=job.id):
        log.info("queued: %s, %d bytes, %s", job.kind, job.size, job.sha256[:12])
    location = f"{API_BASE}/manuscripts/{job.id}"
    response = json_response(job.to_public(API_BASE), status=202, headers={"Location": location})
    return response, conversion_message(job.id)
