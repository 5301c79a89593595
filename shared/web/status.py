"""Status endpoints: a job's status (with the backlog a queued job waits behind) and health."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import logs
from shared.jobs.record import (
    Job,
    JobStatus,
    QueueBacklog,
    is_valid_job_id,
)
from shared.jobs.store import read_job
from shared.library.store import BookState, read_book, was_erased
from shared.routes import API_BASE, book_links
from shared.services import Services
from shared.settings import CONVERSION_QUEUE
from shared.storage import NotFound, StorageAccessDenied, StorageUnavailable
from shared.web.editions import refusal_response
from shared.web.responses import json_response, problem, storage_unavailable

log = logs.get_logger(__name__)


def job_or_problem(services: Services, job_id: str) -> Job | func.HttpResponse:
    """The job with this id, or the problem response that says why there is none."""
    if not is_valid_job_id(job_id):
        return problem(
            400, "Malformed job id", "That is not a Quire job id. Use the id or Location returned by the upload."
        )
    storage = services.storage
    try:
        try:
            job, _ = read_job(storage, job_id)
        except NotFound:
            if was_erased(storage, job_id):
                return refusal_response(BookState.ERASED)
            return problem(404, "Unknown job", "No manuscript has this id. Check the link, or upload it again.")
        if job.book and _book_erased(services, job.book):
            return refusal_response(BookState.ERASED)  # from the moment DELETE answered, not once erased
    except StorageUnavailable:
        return storage_unavailable()
    return job


def _book_erased(services: Services, book_id: str) -> bool:
    try:
        return read_book(services.storage, book_id).erasing
    except NotFound:
        # Erased, or a new book whose row is written just after its first job's.
        return was_erased(services.storage, book_id)


def get_job(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    found = job_or_problem(services, req.route_params.get("id", ""))
    if isinstance(found, func.HttpResponse):
        return found
    backlog = _backlog(services, found.id) if found.status is JobStatus.QUEUED else None
    body = found.to_public(API_BASE, backlog)
    if found.status is JobStatus.SUCCEEDED:
        body["links"].update(book_links(found.id, found.book))
    return json_response(body)


def _backlog(services: Services, job_id: str) -> QueueBacklog | None:
    """What a queued job waits behind, so the author sees a backlog, not a hang. Two cheap reads,
    only while the job is queued; without them the status still answers."""
    try:
        messages = services.storage.queue_length(CONVERSION_QUEUE)
        front = services.storage.oldest_visible_message_inserted(CONVERSION_QUEUE)
    except (StorageUnavailable, NotFound) as error:
        log.info("job %s: the queue's length is unknown: %s", job_id, type(error).__name__)
        return None
    waited = max(0.0, (datetime.now(UTC) - front).total_seconds()) if front else 0.0
    return QueueBacklog(messages=messages, front_waited_seconds=waited)


def health(services: Services) -> func.HttpResponse:
    try:
        services.storage.ping()
    except StorageAccessDenied as error:
        # A deployment's configuration fault (identity, audience, role): the operator needs the reason,
        # which names settings and the service's verdict, never a token or key.
        log.error("health check: %s", error)
        return problem(
            503,
            "Storage refused Quire's credentials",
            f"Quire's storage account refused it: {error}. Check the AzureWebJobsStorage settings and the "
            f"identity's role assignments.",
            headers={"Retry-After": "10"},
        )
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
