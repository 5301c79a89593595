"""The middle tier: the use cases and the worker's message handling called directly, against the
session's Azurite, with no host. A book is created as the web tier creates it, and its conversion
messages are handed to the worker's protocol one by one, as the queue would hand them over."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import azure.functions as func

from shared.jobs.record import JobStatus
from shared.jobs.store import book_blob, read_job
from shared.services import Services
from shared.settings import Settings
from shared.storage.names import BOOK_CONTAINER
from shared.web import editions
from shared.worker.protocol import run_conversion_message
from shared.worker.recovery import reconcile
from tests.support import Azurite

BOOK = b"# The Harbour\n\nBoats *come in* at dawn.\n\n## The Pier\n\nA gull waits.\n"


def services_on(azurite: Azurite) -> Services:
    return Services.from_settings(Settings.from_env({"AzureWebJobsStorage": azurite.connection_string}))


def create_book(services: Services, body: bytes, filename: str) -> tuple[dict[str, str], str]:
    request = func.HttpRequest(
        "POST",
        "http://localhost/api/books",
        headers={"Content-Length": str(len(body))},
        params={"filename": filename},
        body=body,
    )
    response, message = editions.create(request, services)
    assert response.status_code == 202, response.get_body()
    assert message is not None
    return json.loads(response.get_body()), message


def status(services: Services, job_id: str) -> JobStatus:
    return read_job(services.storage, job_id)[0].status


def deliver_all(services: Services, first: str) -> int:
    """Hand each message to the worker, and what it sends next, until none is left; how many."""
    pending, delivered = [first], 0
    while pending:
        delivered += 1
        assert delivered < 50, "the steps never ended"
        pending.extend(run_conversion_message(services, pending.pop(0), f"message-{delivered}"))
    return delivered


def test_a_book_converts_message_by_message_with_no_host(azurite: Azurite) -> None:
    services = services_on(azurite)
    created, first = create_book(services, BOOK, "harbour.md")
    assert deliver_all(services, first) > 1
    assert status(services, created["id"]) is JobStatus.SUCCEEDED
    epub = zipfile.ZipFile(
        io.BytesIO(services.storage.read_blob(BOOK_CONTAINER, book_blob(created["id"], "book.epub")))
    )
    assert b"The Pier" in b"".join(epub.read(name) for name in epub.namelist() if name.endswith(".xhtml"))


def test_a_message_delivered_twice_changes_nothing(azurite: Azurite) -> None:
    services = services_on(azurite)
    created, first = create_book(services, BOOK, "harbour.md")
    deliver_all(services, first)
    assert run_conversion_message(services, first, "message-again") == []
    assert status(services, created["id"]) is JobStatus.SUCCEEDED


def test_the_reconciler_redrives_a_book_whose_message_was_lost(azurite: Azurite) -> None:
    services = services_on(azurite)
    settings = services.settings
    created, _lost = create_book(services, BOOK, "harbour.md")
    # Other tests' jobs share this account: only this job's message is this test's business.
    later = datetime.now(UTC) + timedelta(seconds=settings.job_stall_seconds + 5)
    sent = reconcile(services.storage, settings.job_stall_seconds, settings.abandoned_upload_seconds, later)
    mine = [body for body in sent if json.loads(body).get("job") == created["id"]]
    assert len(mine) == 1
    deliver_all(services, mine[0])
    assert status(services, created["id"]) is JobStatus.SUCCEEDED
