"""Helpers for worker tests: upload over HTTP, follow a job, and compare with a golden conversion."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import urllib.parse
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from shared.book import Conversion, ConvertOptions, convert
from shared.settings import BOOK_CONTAINER, WORK_CONTAINER
from tests.support import http


def http_json(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    status, _, raw = http(method, url, body, headers)
    return status, json.loads(raw) if raw.startswith(b"{") else raw


def upload(base_url: str, data: bytes, filename: str, **params: str) -> str:
    query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in {"filename": filename, **params}.items())
    status, job = http_json("POST", f"{base_url}/api/manuscripts?{query}", data)
    assert status == 202, job
    return str(job["id"])


def create_book(base_url: str, data: bytes, filename: str, **params: str) -> tuple[str, str]:
    """A new book over HTTP: its id (its first edition's job id) and its owner key."""
    query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in {"filename": filename, **params}.items())
    status, job = http_json("POST", f"{base_url}/api/books?{query}", data)
    assert status == 202, job
    return str(job["book"]), str(job["owner_key"])


def publish_edition(base_url: str, book: str, owner_key: str, data: bytes, filename: str) -> str:
    """A new edition over HTTP; returns its job id."""
    query = urllib.parse.urlencode({"filename": filename})
    status, job = http_json(
        "POST", f"{base_url}/api/books/{book}/editions?{query}", data, {"Authorization": f"Bearer {owner_key}"}
    )
    assert status == 202, job
    return str(job["id"])


def follow(
    base_url: str, job_id: str, timeout: float, seen: list[int] | None = None, interval: float = 0.1
) -> dict[str, Any]:
    """Poll a job until it ends; `seen` collects every steps_done observed, in order."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, job = http_json("GET", f"{base_url}/api/manuscripts/{job_id}")
        if status == 200:
            if seen is not None:
                seen.append(job["progress"]["steps_done"])
            if job["status"] in ("succeeded", "failed"):
                return job
        time.sleep(interval)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s: {job}")


def golden(data: bytes, kind: str, job: dict[str, Any]) -> Conversion:
    """What `python -m shared.cli` makes of the same input with the job's parameters."""
    created = datetime.fromisoformat(job["created"].replace("Z", "+00:00"))
    meta = job["metadata"]
    options = ConvertOptions(
        kind=kind,
        modified=created,
        title=meta["title"],
        author=meta["author"],
        language=meta["language"],
        updates_url="../updates",
        edition=int(job["edition"]),
        file_name=job["manuscript"]["filename"],
    )
    return convert(data, options)


def published(connection: str, job_id: str) -> tuple[bytes, dict[str, bytes]]:
    container = BlobServiceClient.from_connection_string(connection).get_container_client(BOOK_CONTAINER)
    epub = container.download_blob(f"{job_id}/book.epub").readall()
    app = {}
    for blob in container.list_blobs(name_starts_with=f"{job_id}/app/"):
        app[blob.name.removeprefix(f"{job_id}/app/")] = container.download_blob(blob.name).readall()
    return epub, app


def work_blobs(connection: str, job_id: str | None = None) -> list[str]:
    container = BlobServiceClient.from_connection_string(connection).get_container_client(WORK_CONTAINER)
    try:
        return [b.name for b in container.list_blobs(name_starts_with=f"{job_id}/" if job_id else None)]
    except ResourceNotFoundError:  # no step ever wrote a checkpoint: the container does not exist
        return []


def no_work_left(connection: str, job_id: str, timeout: float = 15) -> bool:
    """Checkpoints are gone, or go within `timeout` (a crash just before clean-up is redone later)."""
    deadline = time.monotonic() + timeout
    while work_blobs(connection, job_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def storage_naming(connection: str, names: list[str]) -> list[str]:
    """Everything in the storage account that names any of `names`: blob names and bodies (every
    blob under 2 MB, snapshots included), table entities (keys and properties), queue messages (as
    sent, and base64-decoded; the poison queues too)."""
    found: list[str] = []
    blobs = BlobServiceClient.from_connection_string(connection)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs(include=["snapshots"]):
            text = blob.name
            if (blob.size or 0) < 2_000_000:
                with contextlib.suppress(ResourceNotFoundError):  # deleted since it was listed
                    body = client.get_blob_client(blob.name, snapshot=blob.snapshot).download_blob().readall()
                    text += body.decode("utf-8", "replace")
            where = f"blob {container.name}/{blob.name}" + (f" (snapshot {blob.snapshot})" if blob.snapshot else "")
            found += [where for name in names if name in text]
    tables = TableServiceClient.from_connection_string(connection)
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            found += [
                f"entity {table.name} {entity['PartitionKey']}/{entity['RowKey']}" for n in names if n in str(entity)
            ]
    queues = QueueServiceClient.from_connection_string(connection)
    for queue in queues.list_queues():
        for message in queues.get_queue_client(queue.name).peek_messages(max_messages=32):
            content = str(message.content)
            with contextlib.suppress(ValueError):
                content += base64.b64decode(content).decode("utf-8", "replace")
            found += [f"message {queue.name}" for name in names if name in content]
    return found
