"""Helpers for worker tests: upload over HTTP, follow a job, and compare with a golden conversion."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time
import urllib.parse
import zipfile
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from shared.book import Conversion, ConvertOptions, convert
from shared.storage.names import BOOK_CONTAINER, WORK_CONTAINER
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


def publish_edition(base_url: str, book: str, owner_key: str, data: bytes, filename: str, **params: str) -> str:
    """A new edition over HTTP (`params`: the upload's query, such as release_notes); returns its job id."""
    query = urllib.parse.urlencode({"filename": filename, **params})
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
        split_level=int(job["manuscript"].get("split_level", 1)),
        pdf_page=job["manuscript"].get("pdf_page", ""),
        release_notes=job.get("release_notes", ""),
        changes=job.get("changes"),
    )
    return convert(data, options)


def published_pdf(connection: str, job_id: str) -> bytes:
    container = BlobServiceClient.from_connection_string(connection).get_container_client(BOOK_CONTAINER)
    return container.download_blob(f"{job_id}/book.pdf").readall()


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


# A blob's findings, by its ETag and the names looked for: polls of a scan read each blob once.
_BLOB_FINDINGS: dict[tuple[str, str, str, tuple[str, ...]], list[str]] = {}
_READ_WHOLE_BYTES = 16 * 1024 * 1024


def storage_naming(connection: str, names: list[str]) -> list[str]:
    """Everything in the storage account that names any of `names`, as "where: name": blob names
    and bodies (every blob and snapshot, a zip's entries decompressed, a blob over 16 MiB searched
    raw in chunks), table entities (keys and properties), queue messages (as sent, and
    base64-decoded; poison queues too). A queue holding more messages than a peek shows (32, and
    none that a worker holds) adds a line that it could not be read whole: absence is never
    claimed for what was not seen. Presence checks use `names_in_storage`."""
    found, unread = _scan_storage(connection, names)
    return [f"{where}: {name}" for where, name in found] + unread


def names_in_storage(connection: str, names: list[str]) -> set[str]:
    """Which of `names` storage still holds somewhere (see `storage_naming`)."""
    return {name for _, name in _scan_storage(connection, names)[0]}


def _scan_storage(connection: str, names: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    assert names and all(names), names  # an empty name is in everything; no names finds nothing
    found: list[tuple[str, str]] = []
    blobs = BlobServiceClient.from_connection_string(connection)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs(include=["snapshots"]):
            where = f"blob {container.name}/{blob.name}" + (f" (snapshot {blob.snapshot})" if blob.snapshot else "")
            key = (container.name, f"{blob.name}@{blob.snapshot or ''}", str(blob.etag), tuple(names))
            if key not in _BLOB_FINDINGS:
                blob_client = client.get_blob_client(blob.name, snapshot=blob.snapshot)
                try:
                    _BLOB_FINDINGS[key] = _blob_names(blob.name, blob_client, int(blob.size or 0), names)
                except ResourceNotFoundError:  # deleted since it was listed
                    continue
            found += [(where, name) for name in _BLOB_FINDINGS[key]]
    tables = TableServiceClient.from_connection_string(connection)
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            text = str(entity)
            found += [
                (f"entity {table.name} {entity['PartitionKey']}/{entity['RowKey']}", n) for n in names if n in text
            ]
    unread: list[str] = []
    queues = QueueServiceClient.from_connection_string(connection)
    for queue in queues.list_queues():
        queue_client = queues.get_queue_client(queue.name)
        peeked = queue_client.peek_messages(max_messages=32)
        for message in peeked:
            content = str(message.content)
            with contextlib.suppress(ValueError):
                content += base64.b64decode(content).decode("utf-8", "replace")
            found += [(f"message {queue.name}", name) for name in names if name in content]
        waiting = int(queue_client.get_queue_properties().approximate_message_count or 0)
        if waiting > len(peeked):
            unread.append(f"queue {queue.name}: {waiting - len(peeked)} messages a peek cannot show")
    return found, unread


def _blob_names(name: str, client: Any, size: int, names: list[str]) -> list[str]:
    """Which of `names` a blob's name or body holds."""
    encoded = [n.encode() for n in names]
    hits = {n for n in names if n in name}
    if size > _READ_WHOLE_BYTES:
        overlap = max(map(len, encoded)) - 1
        tail = b""
        for chunk in client.download_blob().chunks():
            window = tail + chunk
            hits |= {n for n, e in zip(names, encoded, strict=True) if e in window}
            tail = window[-overlap:] if overlap else b""
        return sorted(hits)
    body = client.download_blob().readall()
    texts = [body]
    if body.startswith(b"PK\x03\x04"):
        with contextlib.suppress(zipfile.BadZipFile), zipfile.ZipFile(io.BytesIO(body)) as archive:
            texts += [archive.read(entry) for entry in archive.infolist() if not entry.is_dir()]
    hits |= {n for n, e in zip(names, encoded, strict=True) if any(e in text for text in texts)}
    return sorted(hits)
