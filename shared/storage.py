"""Storage: the one module that calls the Azure Storage SDKs.

Everything the app keeps lives in one storage account (Azurite locally): manuscript and book
blobs, job records in a table, conversion messages in a queue. Clients are built once, on first
use (never at import: cold start matters), and reused. Containers, queues and tables are created
idempotently the first time a process touches them.

Errors leave this module as one of three kinds the callers act on:
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

if TYPE_CHECKING:  # the SDKs are imported lazily to keep `import function_app` cheap
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient, QueueServiceClient

# Fail fast and retry briefly: an HTTP caller is waiting, and the queue retries whole steps anyway.
_CLIENT_OPTIONS: dict[str, Any] = {
    "connection_timeout": 5,
    "read_timeout": 60,
    "retry_total": 2,
}
# Blob and queue clients take ExponentialRetry's own knobs; the default first back-off is 15 s.
_STORAGE_RETRY_OPTIONS: dict[str, Any] = {"initial_backoff": 0.2, "increment_base": 1.5}
_TABLE_RETRY_OPTIONS: dict[str, Any] = {"retry_backoff_factor": 0.3}


class StorageError(Exception):
    """Base of the storage errors below."""


class StorageUnavailable(StorageError):
    """Storage could not be reached or answered with a server error: try again later."""


class NotFound(StorageError):
    """The blob, entity or message does not exist."""


class AlreadyExists(StorageError):
    """A create-only write found the item already there."""


class Conflict(StorageError):
    """An ETag-conditional write found the item changed since it was read."""


@dataclass(frozen=True)
class Entity:
    """A table entity with the ETag it was read at."""

    properties: dict[str, Any]
    etag: str


def _translate(error: Exception) -> Exception:
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(error, ResourceNotFoundError):
        return NotFound(str(error))
    if isinstance(error, ResourceModifiedError):
        return Conflict(str(error))
    if isinstance(error, ResourceExistsError):
        return AlreadyExists(str(error))
    if isinstance(error, HttpResponseError) and error.status_code == 412:
        return Conflict(str(error))
    if isinstance(error, HttpResponseError) and error.status_code == 409:
        return AlreadyExists(str(error))
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return StorageUnavailable(f"storage could not be reached: {type(error).__name__}")
    if isinstance(error, HttpResponseError) and (error.status_code or 0) >= 500:
        return StorageUnavailable(f"storage answered {error.status_code}")
    return error


class _translated:
    """Context manager: re-raise SDK errors as this module's errors."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, Exception):
            translated = _translate(exc)
            if translated is not exc:
                raise translated from exc


class Storage:
    """The storage operations Quire uses, over one connection string."""

    def __init__(self, connection_string: str, known_to_exist: Iterable[str] = ()) -> None:
        self._connection_string = connection_string
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

    def _blobs(self) -> BlobServiceClient:
        with self._lock:
            if self._blob_service is None:
                from azure.storage.blob import BlobServiceClient

                self._blob_service = BlobServiceClient.from_connection_string(
                    self._connection_string, **_CLIENT_OPTIONS, **_STORAGE_RETRY_OPTIONS
                )
            return self._blob_service

    def _queues(self) -> QueueServiceClient:
        with self._lock:
            if self._queue_service is None:
                from azure.storage.queue import QueueServiceClient

                self._queue_service = QueueServiceClient.from_connection_string(
                    self._connection_string, **_CLIENT_OPTIONS, **_STORAGE_RETRY_OPTIONS
                )
            return self._queue_service

    def _tables(self) -> TableServiceClient:
        with self._lock:
            if self._table_service is None:
                from azure.data.tables import TableServiceClient

                self._table_service = TableServiceClient.from_connection_string(
                    self._connection_string, **_CLIENT_OPTIONS, **_TABLE_RETRY_OPTIONS
                )
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

            with _translated(), contextlib.suppress(ResourceExistsError):
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

            with _translated(), contextlib.suppress(ResourceExistsError):
                client.create_queue()
            self._ready.add(key)
        return client

    def _table(self, name: str) -> TableClient:
        key = f"table:{name}"
        if key not in self._ready:
            with _translated():
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
        with _translated():
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
        with _translated():
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
        with _translated():
            try:
                result = blob.upload_blob(
                    data, content_settings=ContentSettings(content_type=content_type), **conditions
                )
            except Exception as error:
                translated = _translate(error)
                raise (Conflict(str(error)) if isinstance(translated, AlreadyExists) else translated) from error
        return str(result.get("etag", ""))

    def read_blob(self, container: str, name: str) -> bytes:
        blob = self._container(container).get_blob_client(name)
        with _translated():
            return blob.download_blob(max_concurrency=4).readall()

    def read_blob_with_etag(self, container: str, name: str) -> tuple[bytes, str]:
        blob = self._container(container).get_blob_client(name)
        with _translated():
            downloader = blob.download_blob(max_concurrency=4)
            return downloader.readall(), str(downloader.properties.etag)

    def delete_blob(self, container: str, name: str) -> None:
        """Delete a blob; a blob that is already gone is not an error."""
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._container(container).get_blob_client(name)
        with _translated(), contextlib.suppress(ResourceNotFoundError):
            blob.delete_blob()

    def delete_prefix(self, container: str, prefix: str) -> int:
        """Delete every blob whose name starts with `prefix`; returns how many."""
        names = self.list_blob_names(container, prefix)
        for name in names:
            self.delete_blob(container, name)
        return len(names)

    def list_blob_names(self, container: str, prefix: str = "") -> list[str]:
        client = self._container(container)
        with _translated():
            return [b.name for b in client.list_blobs(name_starts_with=prefix or None)]

    # -- tables ---------------------------------------------------------------------------------

    def put_entity(self, table: str, properties: dict[str, Any]) -> str:
        """Insert or replace (a PUT, which the SDK retries after a dropped connection, unlike a
        create's POST). Returns its ETag."""
        from azure.data.tables import UpdateMode

        client = self._table(table)
        with _translated():
            return str(client.upsert_entity(properties, mode=UpdateMode.REPLACE)["etag"])

    def create_replacing(self, table: str, properties: dict[str, Any], row_key: str, etag: str) -> None:
        """In one transaction: insert an entity, and delete another row of its partition as it was
        at `etag`. Raises Conflict (nothing written) when that row changed or is gone."""
        from azure.core import MatchConditions

        operations: list[Any] = [
            ("create", properties),
            (
                "delete",
                {"PartitionKey": properties["PartitionKey"], "RowKey": row_key},
                {"etag": etag, "match_condition": MatchConditions.IfNotModified},
            ),
        ]
        client = self._table(table)
        with _translated():
            try:
                client.submit_transaction(operations)
            except Exception as error:
                translated = _translate(error)
                status = getattr(error, "status_code", None)
                if isinstance(translated, (Conflict, NotFound)) or status in (404, 412):
                    raise Conflict(str(error)) from error
                raise

    def get_entity(self, table: str, partition_key: str, row_key: str) -> Entity:
        client = self._table(table)
        with _translated():
            entity = client.get_entity(partition_key, row_key)
        return Entity(properties=dict(entity), etag=str(entity.metadata["etag"]))

    def query_entities_filtered(self, table: str, odata_filter: str) -> list[Entity]:
        client = self._table(table)
        with _translated():
            return [
                Entity(properties=dict(e), etag=str(e.metadata["etag"])) for e in client.query_entities(odata_filter)
            ]

    def update_entity(self, table: str, properties: dict[str, Any], *, etag: str) -> str:
        """Replace an entity only if it still has `etag` (raises Conflict otherwise)."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        client = self._table(table)
        with _translated():
            result = client.update_entity(
                properties,
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return str(result.get("etag", ""))

    def merge_entity(self, table: str, properties: dict[str, Any], *, etag: str | None = None) -> None:
        """Merge these properties into an entity; with `etag`, only if it is unchanged (else Conflict)."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        client = self._table(table)
        condition: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        with _translated():
            client.update_entity(properties, mode=UpdateMode.MERGE, **condition)

    def merge_entities(self, table: str, merges: list[tuple[dict[str, Any], str | None]]) -> None:
        """Merge several entities of one partition in one transaction: all or none.

        Each (properties, etag) pair is conditional when an ETag is given. Raises Conflict when
        any of them changed since it was read (then nothing was written).
        """
        from azure.core import MatchConditions

        operations: list[Any] = []
        for properties, etag in merges:
            options: dict[str, Any] = {"mode": "merge"}
            if etag:
                options.update(etag=etag, match_condition=MatchConditions.IfNotModified)
            operations.append(("update", properties, options))
        client = self._table(table)
        with _translated():
            try:
                client.submit_transaction(operations)
            except Exception as error:
                translated = _translate(error)
                status = getattr(error, "status_code", None)
                if isinstance(translated, (Conflict, NotFound)) or status in (404, 409, 412):
                    raise Conflict(str(error)) from error
                raise

    def upsert_entity(self, table: str, properties: dict[str, Any]) -> None:
        """Insert or merge (unconditional): for rows with one writer, such as an author's feed list."""
        from azure.data.tables import UpdateMode

        client = self._table(table)
        with _translated():
            client.upsert_entity(properties, mode=UpdateMode.MERGE)

    def query_page(
        self, table: str, odata_filter: str, page_size: int, continuation: dict[str, Any] | None
    ) -> tuple[list[Entity], dict[str, Any] | None]:
        """One page of a query, and the token for the next (None at the end)."""
        client = self._table(table)
        with _translated():
            pager: Any = client.query_entities(odata_filter, results_per_page=page_size).by_page(
                continuation_token=continuation  # type: ignore[arg-type]  # tables tokens are dicts
            )
            try:
                page = next(pager)
                entities = [Entity(properties=dict(e), etag=str(e.metadata["etag"])) for e in page]
            except StopIteration:
                return [], None
            return entities, pager.continuation_token

    def delete_entity(self, table: str, partition_key: str, row_key: str) -> None:
        client = self._table(table)
        with _translated():
            client.delete_entity(partition_key, row_key)

    # -- queues ---------------------------------------------------------------------------------

    def send_message(self, queue: str, body: str | bytes) -> None:
        """Send a base64-encoded message, as the Functions host's queue output binding does."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        client = self._queue(queue)
        with _translated():
            client.send_message(data)

    def queue_length(self, queue: str) -> int:
        """The queue's approximate number of messages, visible or not (the service's own count)."""
        client = self._queue(queue)
        with _translated():
            return int(client.get_queue_properties().approximate_message_count or 0)

    def oldest_visible_message_inserted(self, queue: str) -> datetime | None:
        """When the message at the front of the queue was sent; None when no message is visible."""
        client = self._queue(queue)
        with _translated():
            front = client.peek_messages(max_messages=1)
        return front[0].inserted_on if front else None

    def peek_messages(self, queue: str, max_messages: int = 32) -> list[bytes]:
        client = self._queue(queue)
        with _translated():
            return [m.content for m in client.peek_messages(max_messages=max_messages)]

    # -- health ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise StorageUnavailable unless the blob, queue and table services all answer."""
        with _translated():
            self._blobs().get_service_properties()
            self._queues().get_service_properties()
            self._tables().get_service_properties()
