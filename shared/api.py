"""The web tier: upload, status and health endpoints.

Each function takes the request and the app's services and returns the response, plus, for the
upload, the first conversion message for `function_app.py` to send through its output binding.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

from shared.intake import UploadRejected, check_declared_size, identify, read_upload, store_manuscript
from shared.jobs import JOB_ROW_KEY, Job, JobStatus, QueueBacklog, conversion_message, is_valid_job_id, new_job_id
from shared.services import Services
from shared.settings import CONVERSION_QUEUE, JOB_TABLE
from shared.storage import NotFound, StorageUnavailable
from shared.web import API_BASE, json_response, problem, storage_unavailable

log = logging.getLogger(__name__)


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
    log.info("job %s queued: %s, %d bytes, %s", job.id, job.kind, job.size, job.sha256[:12])
    location = f"{API_BASE}/manuscripts/{job.id}"
    response = json_response(job.to_public(API_BASE), status=202, headers={"Location": location})
    return response, conversion_message(job.id)


def find_job(services: Services, job_id: str) -> Job | func.HttpResponse:
    """The job with this id, or the problem response that says why there is none."""
    if not is_valid_job_id(job_id):
        return problem(
            400, "Malformed job id", "That is not a Quire job id. Use the id or Location returned by the upload."
        )
    try:
        entity = services.storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY)
    except NotFound:
        return problem(404, "Unknown job", "No manuscript has this id. Check the link, or upload it again.")
    except StorageUnavailable:
        return storage_unavailable()
    return Job.from_entity(entity.properties)


def get_job(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    found = find_job(services, req.route_params.get("id", ""))
    if isinstance(found, func.HttpResponse):
        return found
    backlog = _backlog(services, found.id) if found.status is JobStatus.QUEUED else None
    return json_response(found.to_public(API_BASE, backlog))


def _backlog(services: Services, job_id: str) -> QueueBacklog | None:
    """What a queued job waits behind, so the author sees a backlog, not a hang. Two cheap reads,
    only while the job is queued; without them the status still answers."""
    try:
        messages = services.storage.queue_length(CONVERSION_QUEUE)
        front = services.storage.oldest_visible_message_inserted(CONVERSION_QUEUE)
    except (StorageUnavailable, NotFound) as error:
        log.info("job %s: the queue's length is unknown: %s", job_id, type(error).__name__)
        return None
    waited = max(0.0, (_now() - front).total_seconds()) if front else 0.0
    return QueueBacklog(messages=messages, front_waited_seconds=waited)


def health(services: Services) -> func.HttpResponse:
    try:
        services.storage.ping()
    except StorageUnavailable:
        return problem(
            503,
            "Storage unavailable",
            "Quire cannot reach its storage account.",
            headers={"Retry-After": "10"},
        )
    except Exception as error:  # a misconfigured account answers 4xx: still unhealthy
        log.warning("health check failed: %s", type(error).__name__)
        return problem(503, "Storage unavailable", "Quire's storage account rejected the health check.")
    return json_response({"status": "healthy", "storage": "reachable"})


def _now() -> datetime:
    return datetime.now(UTC)
