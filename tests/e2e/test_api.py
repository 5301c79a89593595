"""The HTTP API end to end: real requests to the running app, real Azurite behind it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from shared.storage.names import CONVERSION_QUEUE, JOB_TABLE, MANUSCRIPT_CONTAINER
from tests.e2e.conftest import TEST_MAX_UPLOAD_BYTES
from tests.support import ROOT, AppHost, Azurite, free_port, http, start_host


def multipart(file_name: str, data: bytes, **fields: str) -> tuple[bytes, dict[str, str]]:
    boundary = "quire-e2e-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def stored_state(azurite: Azurite) -> tuple[int, int]:
    """How many manuscript blobs and job records exist."""
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
        MANUSCRIPT_CONTAINER
    )
    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(JOB_TABLE)
    try:
        blob_count = sum(1 for _ in blobs.list_blobs())
    except ResourceNotFoundError:  # the container was never created: nothing stored
        blob_count = 0
    try:
        entity_count = sum(1 for _ in table.list_entities())
    except ResourceNotFoundError:
        entity_count = 0
    return blob_count, entity_count


def queued_messages(azurite: Azurite) -> list[dict[str, Any]]:
    """The messages at the front of the conversion queue (a peek shows 32 at most)."""
    queue = QueueClient.from_connection_string(azurite.connection_string, CONVERSION_QUEUE)
    return [json.loads(base64.b64decode(m.content)) for m in queue.peek_messages(max_messages=32)]


def queue_length(azurite: Azurite) -> int:
    """How many messages the conversion queue holds, however many (the web tier's own Azurite:
    no worker takes them)."""
    queue = QueueClient.from_connection_string(azurite.connection_string, CONVERSION_QUEUE)
    try:
        return int(queue.get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:  # nothing was ever sent
        return 0


def test_multipart_upload_stores_blob_record_and_message(web_app: AppHost, web_azurite: Azurite) -> None:
    manuscript = b"---\ntitle: Front\n---\n# Chapter One\n\nIt was a dark night.\n"
    body, headers = multipart("night.md", manuscript, title="Night", author="A. Author", language="en")
    status, response_headers, raw = http("POST", f"{web_app.base_url}/api/manuscripts", body, headers)
    assert status == 202, raw
    job = json.loads(raw)
    assert response_headers["Location"] == f"/api/manuscripts/{job['id']}"
    assert job["status"] == "queued"
    assert job["manuscript"] == {
        "filename": "night.md",
        "type": "markdown",
        "bytes": len(manuscript),
        "sha256": hashlib.sha256(manuscript).hexdigest(),
        "split_level": 1,  # chapters at h1 unless the upload says otherwise
        "pdf_page": "",  # the print PDF's page size by the book's language unless the upload says otherwise
    }
    assert job["metadata"] == {"title": "Night", "author": "A. Author", "language": "en"}
    assert len(base64.urlsafe_b64decode(job["id"] + "==")) >= 16

    blob = (
        BlobServiceClient.from_connection_string(web_azurite.connection_string)
        .get_blob_client(MANUSCRIPT_CONTAINER, f"{job['id']}/original")
        .download_blob()
    )
    assert blob.readall() == manuscript
    assert blob.properties.metadata["sha256"] == hashlib.sha256(manuscript).hexdigest()
    assert (blob.properties.content_settings.content_type or "").startswith("text/markdown")
    assert queue_length(web_azurite) <= 32  # so the peek below sees every message
    assert {"v": 1, "job": job["id"], "step": "plan"} in queued_messages(web_azurite)

    status, _, raw = http("GET", f"{web_app.base_url}{response_headers['Location']}")
    assert status == 200
    shown = json.loads(raw)
    assert shown["id"] == job["id"]
    assert shown["status"] == "queued"
    assert shown["progress"] == {"steps_done": 0, "steps_total": 1, "fraction": 0.0}
    assert shown["created"] and shown["updated"]


def test_raw_body_upload_named_by_query(web_app: AppHost) -> None:
    docx_like = _docx()
    status, _, raw = http(
        "POST",
        f"{web_app.base_url}/api/manuscripts?filename=novel.docx&title=Novel",
        docx_like,
        {"Content-Type": "application/octet-stream"},
    )
    assert status == 202, raw
    job = json.loads(raw)
    assert (job["manuscript"]["type"], job["metadata"]["title"]) == ("docx", "Novel")


def _docx() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "headers", "query", "status"),
    [
        (b"", {}, "", 400),
        (b"x" * (TEST_MAX_UPLOAD_BYTES + 70_000), {}, "?filename=big.md", 413),
        (b"%PDF-1.7 not a book", {}, "?filename=book.pdf", 415),
        (b"# markdown", {}, "?filename=book.docx", 415),
        (b"\x00\x01binary", {}, "", 415),
        (*multipart("a.md", b"# A", language="not a language tag"), "", 400),
    ],
)
def test_bad_uploads_get_problem_json_and_leave_nothing(
    web_app: AppHost, web_azurite: Azurite, body: bytes, headers: dict[str, str], query: str, status: int
) -> None:
    before = stored_state(web_azurite)
    messages_before = queue_length(web_azurite)
    got, response_headers, raw = http("POST", f"{web_app.base_url}/api/manuscripts{query}", body, headers)
    assert got == status
    assert response_headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(raw)
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    assert stored_state(web_azurite) == before
    assert queue_length(web_azurite) == messages_before


def test_multipart_file_over_the_limit_is_413(web_app: AppHost, web_azurite: Azurite) -> None:
    before = stored_state(web_azurite)
    body, headers = multipart("big.md", b"y" * (TEST_MAX_UPLOAD_BYTES + 1))
    status, _, raw = http("POST", f"{web_app.base_url}/api/manuscripts", body, headers)
    assert status == 413, raw
    assert "larger than 2 MiB" in json.loads(raw)["detail"]
    assert stored_state(web_azurite) == before


@pytest.mark.parametrize(("job_id", "status"), [("not-an-id", 400), ("A" * 22, 404), ("A" * 21 + "!", 400)])
def test_status_of_malformed_or_unknown_id(web_app: AppHost, job_id: str, status: int) -> None:
    got, headers, raw = http("GET", f"{web_app.base_url}/api/manuscripts/{job_id}")
    assert got == status
    assert headers["Content-Type"].startswith("application/problem+json")
    assert json.loads(raw)["status"] == status


def test_health_is_200_when_storage_answers(web_app: AppHost) -> None:
    status, _, raw = http("GET", f"{web_app.base_url}/api/health")
    assert status == 200
    assert json.loads(raw)["status"] == "healthy"


def test_storage_unreachable_gives_503_with_retry_after(tmp_path: Any) -> None:
    dead = free_port()
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"BlobEndpoint=http://127.0.0.1:{dead}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{dead}/devstoreaccount1;"
        f"TableEndpoint=http://127.0.0.1:{dead}/devstoreaccount1;"
    )
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": connection},
        tmp_path / "host.log",
        extra_args=["--functions", "upload_manuscript", "get_manuscript", "health"],
        wait_path=None,
    )
    try:
        status, headers, raw = http("GET", f"{host.base_url}/api/health")
        assert status == 503
        assert headers.get("Retry-After")
        status, headers, raw = http("POST", f"{host.base_url}/api/manuscripts?filename=a.md", b"# A")
        assert status == 503
        assert headers["Retry-After"] == "10"
        assert json.loads(raw)["detail"].startswith("Quire cannot reach its storage")
        status, headers, raw = http("GET", f"{host.base_url}/api/manuscripts/{'B' * 22}")
        assert status == 503
        assert "AccountKey" not in host.log() and "Eby8vdM02" not in host.log()
    finally:
        host.stop()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Author’s Book.md", "Author’s Book.md"),  # a Mac's typographic apostrophe
        ("книга.md", "книга.md"),
        ("café.md", "café.md"),
        ("cafe\u0301.md", "café.md"),  # decomposed, as macOS writes it: stored composed (NFC)
        ("evil\u202egnp.md", "evilgnp.md"),  # a bidi override is dropped
        ("tab\there.md", "tabhere.md"),
    ],
)
def test_any_unicode_file_name_in_a_form_is_kept_as_utf8(web_app: AppHost, sent: str, stored: str) -> None:
    """Browsers and curl send the form's file name as raw UTF-8 bytes."""
    body, headers = multipart("PLACEHOLDER", b"# A book\n\nText.\n")
    body = body.replace(b"PLACEHOLDER", sent.encode("utf-8"))
    status, _, raw = http("POST", f"{web_app.base_url}/api/manuscripts", body, headers)
    assert status == 202, raw
    assert json.loads(raw)["manuscript"]["filename"] == stored


def test_dot_segments_in_a_book_path_are_404(app: AppHost) -> None:
    """docs/api.md: a book page path with `.` or `..` segments answers 404, as sent (the client's
    own library is kept from normalising them), never a file the segments would lead to."""
    from http.client import HTTPConnection

    from tests.pipeline_support import follow, upload

    book = upload(app.base_url, b"# One\n\nText.\n", "book.md")
    assert follow(app.base_url, book, timeout=60)["status"] == "succeeded"
    paths = (".", "..", "./index.html", "chapters/../index.html", "%2e/index.html", "%2E%2E/x", "%2e%2e%2findex.html")
    for path in paths:
        connection = HTTPConnection("127.0.0.1", app.port, timeout=10)
        connection.request("GET", f"/api/books/{book}/app/{path}")
        response = connection.getresponse()
        body = response.read()
        assert response.status == 404, (path, response.status, body)
        assert response.getheader("Content-Type", "").startswith("application/problem+json"), path
        assert json.loads(body)["status"] == 404, path
    assert http("GET", f"{app.base_url}/api/books/{book}/app/index.html")[0] == 200


def test_json_answers_carry_nosniff_and_get_routes_answer_head(web_app: AppHost) -> None:
    for url in (f"{web_app.base_url}/api/health", f"{web_app.base_url}/api/manuscripts/{'B' * 22}"):
        _, headers, _ = http("GET", url)
        assert headers["X-Content-Type-Options"] == "nosniff", url
    status, headers, body = http("HEAD", f"{web_app.base_url}/api/health")
    assert (status, body) == (200, b"")
    assert headers["Content-Type"] == "application/json"


def test_the_stand_in_host_answers_bodies_over_its_limit_as_the_functions_host_does(web_app: AppHost) -> None:
    """The stand-in host's fidelity, not Quire's code: over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT the
    Functions host itself answers a bare 500 with an empty body before any function runs
    (Azure/azure-functions-host issue #10519, as docs/api.md and docs/settings.md document), and devhost/http.py must
    do the same, or tests through it would see answers Azure never gives. Quire runs no code here;
    its own answer to a body over MAX_UPLOAD_BYTES (413) is tested by
    test_multipart_file_over_the_limit_is_413 and test_bad_uploads_get_problem_json_and_leave_nothing."""
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", web_app.port, timeout=30)
    connection.putrequest("POST", "/api/manuscripts?filename=big.md")
    connection.putheader("Content-Length", str(1024**3))
    connection.endheaders()
    response = connection.getresponse()
    assert (response.status, response.read()) == (500, b"")


def test_a_chunked_upload_is_told_to_send_its_length(web_app: AppHost) -> None:
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", web_app.port, timeout=30)
    chunks = iter([b"# A book\n\n", b"Some text.\n"])
    connection.request("POST", "/api/manuscripts?filename=a.md", body=chunks, encode_chunked=True)
    response = connection.getresponse()
    problem = json.loads(response.read())
    assert response.status == 411
    assert response.getheader("Content-Type", "").startswith("application/problem+json")
    assert "Content-Length" in problem["detail"]
