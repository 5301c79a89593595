"""Storage: the one module that calls the Azure Storage SDKs.

Everything the app keeps lives in one storage account (Azurite locally): manuscript, book and
checkpoint blobs, job and feed records in tables. Queues are the host's (its bindings send and
receive); the app only reads the conversion queue's length and front. Clients are built once, on
first use (never at import: cold start matters), and reused. Containers, queues and tables are created
idempotently the first time a process touches them.

Errors leave this module as one of four kinds the callers act on (shared/errors.py draws them):
`StorageUnavailable` (retry later), `AlreadyExists` (a create-only write lost), `Conflict` (an
ETag-conditional write lost), and `NotFound`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.storage.connection import StorageConnection
from shared.storage.direct import DirectUploadBlobs
from shared.storage.errors import (
    AlreadyExists,
    Conflict,
    IdentityUnavailable,
    NotFound,
    StorageAccessDenied,
    StorageError,
    StorageUnavailable,
    errors_translated,
    translate_error,
)
from shared.storage.tables import Entity, TableOperations

if TYPE_CHECKING:  # the SDKs are imported lazily to keep `import function_app` cheap
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient, QueueServiceClient

__all__ = [
    "AlreadyExists",
    "BlobListing",
    "Conflict",
    "Entity",
    "IdentityUnavailable",
    "NotFound",
    "Storage",
    "StorageAccessDenied",
    "StorageConnection",
    "StorageError",
    "StorageUnavailable",
]

# Fail fast and retry briefly: an HTTP caller is waiting, and the queue retries whole steps anyway.
_CLIENT_OPTIONS: dict[str, Any] = {
    "connection_timeout": 5,
    "read_timeout": 60,
    "retry_total": 2,
}
# Blob and queue clients take ExponentialRetry's own knobs; the default first back-off is 15 s.
_STORAGE_RETRY_OPTIONS: dict[str, Any] = {"initial_backoff": 0.2, "increment_base": 1.5}
_TABLE_RETRY_OPTIONS: dict[str, Any] = {"retry_backoff_factor": 0.3}
# What Delete Blob answers for a blob under a lease; and how often a delete breaks one before it
# gives up (a client re-leasing in a loop is slowed to a round trip a try, then wins this run).
_LEASED = frozenset({"LeaseIdMissing", "LeaseIdMismatchWithBlobOperation", "LeaseIdMismatch"})
_LEASE_BREAKS = 5


def _error_code(error: Any) -> str:
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code) or "")


@dataclass(frozen=True)
class BlobListing:
    name: str
    size: int
    last_modified: datetime


class Storage(TableOperations, DirectUploadBlobs):
    """The storage operations Quire uses, over one connection (a connection string or an identity)."""

    def __init__(self, connection: StorageConnection | str, known_to_exist: Iterable[str] = ()) -> None:
        self._connection = (
            connection
            if isinstance(connection, StorageConnection)
            else StorageConnection(setting="AzureWebJobsStorage", connection_string=connection)
        )
        self._credential: Any = None
        self._lock = threading.Lock()
        self._blob_service: BlobServiceClient | None = None
        self._queue_service: QueueServiceClient | None = None
        self._table_service: TableServiceClient | None = None
        # Containers, queues and tables this storage has made sure exist (or was told exist), so it
        # does not try to create them again: a round trip each, and each step's process is new.
        self._ready: set[str] = set(known_to_exist)
        # One client per container, queue and table: building one costs about as much CPU as a call.
        self._clients: dict[str, Any] = {}

    def known_to_exist(self) -> frozenset[str]:
        """What this storage found existing, to hand to a Storage made in another process."""
        return frozenset(self._ready)

    def remember_existing(self, names: Iterable[str]) -> None:
        self._ready.update(names)

    # -- clients, built once ------------------------------------------------------------------

    def _service_client(self, client_type: Any, service: str, options: dict[str, Any]) -> Any:
        """A service client from the connection string, or from the service's URI and the identity
        (one credential for all three services, so one token serves them all)."""
        connection = self._connection
        if not connection.http_environment:
            options = options | {"use_env_settings": False}
        if not connection.uses_identity:
            return client_type.from_connection_string(connection.connection_string, **_CLIENT_OPTIONS, **options)
        if self._credential is None:
            self._credential = connection.token_credential()
        return client_type(connection.service_uri(service), credential=self._credential, **_CLIENT_OPTIONS, **options)

    def _blobs(self) -> BlobServiceClient:
        with self._lock:
            if self._blob_service is None:
                from azure.storage.blob import BlobServiceClient

                self._blob_service = self._service_client(BlobServiceClient, "blob", _STORAGE_RETRY_OPTIONS)
            return self._blob_service

    def _queues(self) -> QueueServiceClient:
        with self._lock:
            if self._queue_service is None:
                from azure.storage.queue import QueueServiceClient

                self._queue_service = self._service_client(QueueServiceClient, "queue", _STORAGE_RETRY_OPTIONS)
            return self._queue_service

    def _tables(self) -> TableServiceClient:
        with self._lock:
            if self._table_service is None:
                from azure.data.tables import TableServiceClient

                self._table_service = self._service_client(TableServiceClient, "table", _TABLE_RETRY_OPTIONS)
            return self._table_service

    def _cached(self, key: str, build: Callable[[], Any]) -> Any:
        client = self._clients.get(key)
        if client is None:
            client = self._clients.setdefault(key, build())
        return client

    def _container(self, name: str) -> ContainerClient:
        key = f"container:{name}"
        client: ContainerClient = self._cached(key, lambda: self._blobs().get_container_client(name))
        if key not in self._ready:
            from azure.core.exceptions import ResourceExistsError

            with errors_translated(), contextlib.suppress(ResourceExistsError):
                client.create_container()
            self._ready.add(key)
        return client

    def _queue(self, name: str) -> QueueClient:
        from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy

        key = f"queue:{name}"
        # Base64 both ways, as the Functions host encodes and expects queue messages.
        client: QueueClient = self._cached(
            key,
            lambda: self._queues().get_queue_client(
                name,
                message_encode_policy=BinaryBase64EncodePolicy(),
                message_decode_policy=BinaryBase64DecodePolicy(),
            ),
        )
        if key not in self._ready:
            from azure.core.exceptions import ResourceExistsError

            with errors_translated(), contextlib.suppress(ResourceExistsError):
                client.create_queue()
            self._ready.add(key)
        return client

    def _table(self, name: str) -> TableClient:
        key = f"table:{name}"
        if key not in self._ready:
            with errors_translated():
                self._tables().create_table_if_not_exists(name)
            self._ready.add(key)
        client: TableClient = self._cached(key, lambda: self._tables().get_table_client(name))
        return client

    # -- blobs ----------------------------------------------------------------------------------

    def create_blob(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Write a blob only if none exists at that name (raises AlreadyExists otherwise)."""
        from azure.storage.blob import ContentSettings

        blob = self._container(container).get_blob_client(name)
        with errors_translated():
            blob.upload_blob(
                data,
                overwrite=False,
                content_settings=ContentSettings(content_type=content_type),
                metadata=metadata,
                max_concurrency=4,
            )

    def put_blob(self, container: str, name: str, data: bytes, *, content_type: str) -> None:
        """Write a blob, replacing any previous one at that name."""
        from azure.storage.blob import ContentSettings

        blob = self._container(container).get_blob_client(name)
        with errors_translated():
            blob.upload_blob(
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
                max_concurrency=4,
            )

    def put_blob_if(self, container: str, name: str, data: bytes, *, etag: str | None, content_type: str) -> str:
        """Write only if the blob is unchanged since `etag` was read (None: only if it does not exist).

        Raises Conflict when someone else wrote first. Returns the new ETag.
        """
        from azure.core import MatchConditions
        from azure.storage.blob import ContentSettings

        blob = self._container(container).get_blob_client(name)
        conditions: dict[str, Any] = (
            {"overwrite": True, "etag": etag, "match_condition": MatchConditions.IfNotModified}
            if etag
            else {"overwrite": False}
        )
        with errors_translated():
            try:
                result = blob.upload_blob(
                    data, content_settings=ContentSettings(content_type=content_type), **conditions
                )
            except Exception as error:
                translated = translate_error(error)
                raise (Conflict(str(error)) if isinstance(translated, AlreadyExists) else translated) from error
        return str(result.get("etag", ""))

    def read_blob(self, container: str, name: str) -> bytes:
        blob = self._container(container).get_blob_client(name)
        with errors_translated():
            return blob.download_blob(max_concurrency=4).readall()

    def read_blob_with_etag(self, container: str, name: str) -> tuple[bytes, str]:
        blob = self._container(container).get_blob_client(name)
        with errors_translated():
            downloader = blob.download_blob(max_concurrency=4)
            return downloader.readall(), str(downloader.properties.etag)

    def delete_blob(self, container: str, name: str) -> None:
        """Delete a blob with its snapshots; a blob that is already gone is not an error.

        A client holding a direct upload's SAS (write) may lease its blob for ever or snapshot
        it: Azure's SAS rules allow both. Neither may keep the app from deleting it, so a lease
        is broken (at once) and the delete sent again; a client that leases it again meanwhile
        only makes this try once more."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
        from azure.storage.blob import BlobLeaseClient

        blob = self._container(container).get_blob_client(name)
        with errors_translated(), contextlib.suppress(ResourceNotFoundError):
            for attempt in range(_LEASE_BREAKS):
                try:
                    blob.delete_blob(delete_snapshots="include")
                    return
                except HttpResponseError as error:
                    if _error_code(error) not in _LEASED or attempt == _LEASE_BREAKS - 1:
                        raise
                BlobLeaseClient(blob).break_lease(lease_break_period=0)

    def delete_prefix(self, container: str, prefix: str) -> int:
        """Delete every blob whose name starts with `prefix`; returns how many."""
        names = self.list_blob_names(container, prefix)
        for name in names:
            self.delete_blob(container, name)
        return len(names)

    def list_blob_names(self, container: str, prefix: str = "") -> list[str]:
        client = self._container(container)
        with errors_translated():
            return [b.name for b in client.list_blobs(name_starts_with=prefix or None)]

    def list_blobs_changed(self, container: str, since: datetime, until: datetime) -> list[BlobListing]:
        """The blobs last written between `since` and `until`, with their sizes."""
        client = self._container(container)
        with errors_translated():
            return [
                BlobListing(name=b.name, size=int(b.size or 0), last_modified=b.last_modified)
                for b in client.list_blobs()
                if b.last_modified is not None and since <= b.last_modified <= until
            ]

    # -- queues ---------------------------------------------------------------------------------

    def queue_length(self, queue: str) -> int:
        """The queue's approximate number of messages, visible or not (the service's own count)."""
        client = self._queue(queue)
        with errors_translated():
            return int(client.get_queue_properties().approximate_message_count or 0)

    def oldest_visible_message_inserted(self, queue: str) -> datetime | None:
        """When the message at the front of the queue was sent; None when no message is visible."""
        client = self._queue(queue)
        with errors_translated():
            front = client.peek_messages(max_messages=1)
        return front[0].inserted_on if front else None

    # -- health ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise StorageUnavailable unless the blob, queue and table services all answer."""
        with errors_translated():
            self._blobs().get_service_properties()
            self._queues().get_service_properties()
            self._tables().get_service_properties()
