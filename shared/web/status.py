"""Status endpoints: a job's status (with the backlog a queued job waits behind) and health."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared import logs
from shared.books.reading import backlog, job_status
from shared.jobs.record import Job, JobStatus, is_valid_job_id
from shared.routes import API_BASE, book_links
from shared.services import Services
from shared.storage import StorageAccessDenied, StorageUnavailable
from shared.web.problems import Problem, answers_problems
from shared.web.responses import json_response, problem

log = logs.get_logger(__name__)


def checked_job(services: Services, job_id: str) -> Job:
    """The job with this id; a Problem (400) for an id that cannot be one, else what
    `job_status` raises."""
    if not is_valid_job_id(job_id):
        raise Problem(
            400, "Malformed job id", "That is not a Quire job id. Use the id or Location returned by the upload."
        )
    return job_status(services.storage, job_id)


@answers_problems
def get_job(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    found = checked_job(services, req.route_params.get("id", ""))
    waiting = backlog(services.storage, found.id, datetime.now(UTC)) if found.status is JobStatus.QUEUED else None
    body = found.to_public(API_BASE, waiting)
    if found.status is JobStatus.SUCCEEDED:
        body["links"].update(book_links(found.id, found.book, found.edition if found.has_pdf else None))
    return json_response(body)


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
