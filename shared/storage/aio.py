"""The storage operations of the feed refresher, on the storage SDKs' asyncio clients.

A fetch batch's storage calls (its claim, a transaction per partition of its sources' states)
run beside a hundred fetches on the same event loop. On the blocking clients each call took a
thread and the requests stack (whose header parsing alone cost more than a feed fetch); here they
are awaited on the loop, over one aiohttp session that ignores proxy settings and .netrc from the
environment, as the feed client does. The two hot calls skip the SDK's operation layer and go
through its pipeline directly (signing, tokens, retries): `create_blob` and `merge_entities`.
Errors leave as `shared.storage`'s four kinds, exactly as from `Storage`.

Made on the event loop that uses it (aiohttp binds a session to its loop), on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.storage.connection import StorageConnection, StorageTokenCredential
from shared.storage.errors import (
    AlreadyExists,
    Conflict,
    StorageError,
    StorageUnavailable,
    errors_translated,
    translate_error,
)
from shared.storage.table_wire import merge_transaction, transaction_failure

if TYPE_CHECKING:
    import aiohttp
    from azure.core.credentials import AccessToken
    from azure.data.tables.aio import TableClient, TableServiceClient
    from azure.storage.blob.aio import BlobServiceClient, ContainerClient

# As `Storage`'s clients: fail fast and retry briefly (the next slot takes whatever failed).
_CLIENT_OPTIONS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30, "retry_total": 2}
_BLOB_RETRY_OPTIONS: dict[str, Any] = {"initial_backoff": 0.2, "increment_base": 1.5}
_TABLE_RETRY_OPTIONS: dict[str, Any] = {"retry_backoff_factor": 0.3}
CONNECTIONS = 64


def _storage_error(response: Any) -> Exception:
    """The adapter's error for an answer a blob request did not expect (403, 5xx, ...)."""
    from azure.core.exceptions import HttpResponseError

    return translate_error(HttpResponseError(response=response))


class AsyncTokenCredential:
    """The app's identity for the asyncio clients: the same credential as `Storage`'s (and its
    clear errors), asked from a thread. The clients keep each token until shortly before it
    expires, so that happens about once an hour."""

    def __init__(self, connection: StorageConnection) -> None:
        self._sync = StorageTokenCredential(connection)

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return await asyncio.to_thread(self._sync.get_token, *scopes, **kwargs)

    async def close(self) -> None:
        await asyncio.to_thread(self._sync.close)

    async def __aenter__(self) -> AsyncTokenCredential:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None


class AsyncStorage:
    """Blobs and table entities, awaited: the subset the feed refresher uses."""

    def __init__(self, connection: StorageConnection | str) -> None:
        self._connection = (
            connection
            if isinstance(connection, StorageConnection)
            else StorageConnection(setting="AzureWebJobsStorage", connection_string=connection)
        )
        self._session: aiohttp.ClientSession | None = None
        self._credential: AsyncTokenCredential | None = None
        self._blob_service: BlobServiceClient | None = None
        self._table_service: TableServiceClient | None = None
        self._ready: dict[str, asyncio.Future[None]] = {}
        self._containers: dict[str, ContainerClient] = {}
        self._table_clients: dict[str, TableClient] = {}

    def _service_client(self, client_type: Any, service: str, options: dict[str, Any]) -> Any:
        import aiohttp
        from azure.core.pipeline.transport import AioHttpTransport

        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTIONS), trust_env=False, auto_decompress=False
            )
        transport = AioHttpTransport(session=self._session, session_owner=False)
        connection = self._connection
        if not connection.uses_identity:
            return client_type.from_connection_string(
                connection.connection_string, transport=transport, **_CLIENT_OPTIONS, **options
            )
        if self._credential is None:
            self._credential = AsyncTokenCredential(connection)
        return client_type(
            connection.service_uri(service),
            credential=self._credential,
            transport=transport,
            **_CLIENT_OPTIONS,
            **options,
        )

    def _blobs(self) -> BlobServiceClient:
        if self._blob_service is None:
            from azure.storage.blob.aio import BlobServiceClient

            self._blob_service = self._service_client(BlobServiceClient, "blob", _BLOB_RETRY_OPTIONS)
        return self._blob_service

    def _tables(self) -> TableServiceClient:
        if self._table_service is None:
            from azure.data.tables.aio import TableServiceClient

            self._table_service = self._service_client(TableServiceClient, "table", _TABLE_RETRY_OPTIONS)
        return self._table_service

    async def _once(self, key: str, create: Any) -> None:
        """Create a container or table the first time this storage touches it (concurrent first
        uses wait for the one creation)."""
        ready = self._ready.get(key)
        if ready is None:
            ready = self._ready[key] = asyncio.ensure_future(create())
        try:
            await asyncio.shield(ready)
        except Exception:
            self._ready.pop(key, None)  # the next use tries again
            raise

    async def _container(self, container: str) -> ContainerClient:
        """The container's client (one per container: a client costs as much to build as a call),
        the container created the first time."""

        async def create() -> None:
            from azure.core.exceptions import ResourceExistsError

            with errors_translated(), contextlib.suppress(ResourceExistsError):
                await self._blobs().get_container_client(container).create_container()

        await self._once(f"container:{container}", create)
        client = self._containers.get(container)
        if client is None:
            client = self._containers[container] = self._blobs().get_container_client(container)
        return client

    async def _table(self, name: str) -> TableClient:
        async def create() -> None:
            with errors_translated():
                await self._tables().create_table_if_not_exists(name)

        await self._once(f"table:{name}", create)
        client = self._table_clients.get(name)
        if client is None:  # one per table, as for containers: each costs a pipeline to build
            client = self._table_clients[name] = self._tables().get_table_client(name)
        return client

    # -- blobs ----------------------------------------------------------------------------------

    async def create_blob(self, container: str, name: str, data: bytes, *, content_type: str) -> None:
        """Write a blob only if none exists at that name (raises AlreadyExists otherwise)."""
        headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type, "If-None-Match": "*"}
        response = await self._blob_request(container, name, "PUT", headers, data)
        if response.status_code in (409, 412):
            raise AlreadyExists(f"{container}/{name}")
        if response.status_code != 201:
            raise _storage_error(response)

    async def _blob_request(
        self, container: str, name: str, method: str, headers: dict[str, str], content: bytes | None = None
    ) -> Any:
        """A blob request sent through the container client's own pipeline (its signing, token,
        retries and transport), without the operation layer above it: for a small blob that layer
        (upload helpers, property models) cost as much CPU again as the request itself."""
        from azure.core.rest import HttpRequest

        client = await self._container(container)
        url = f"{client.url}/{quote(name, safe='/')}"
        request = HttpRequest(method, url, headers={"x-ms-version": client.api_version, **headers}, content=content)
        with errors_translated():
            response = await client._client._client.send_request(request, stream=True)
            await response.read()
        return response

    # -- table entities -------------------------------------------------------------------------

    async def merge_entities(self, table: str, merges: list[tuple[dict[str, Any], str | None]]) -> None:
        """Merge several entities of one partition in one transaction: all or none, each If-Match
        its ETag when one is given. Raises Conflict when any changed or is gone (nothing written).

        The body is written by shared/storage/table_wire.py and sent through the table client's
        own pipeline (as the SDK sends its transactions): its signing, token and retries."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        client = await self._table(table)
        content_type, body = merge_transaction(f"{client.url}/{client.table_name}", merges)
        request = HttpRequest(
            "POST",
            f"{client.url}/$batch",
            headers={
                "x-ms-version": client.api_version,
                "DataServiceVersion": "3.0",
                "MaxDataServiceVersion": "3.0;NetFx",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
            content=body,
        )
        with errors_translated():
            # Streamed, as the SDK sends its own: a multipart answer is not for its JSON decoder.
            response = await client._client.send_request(request, stream=True)
            await response.read()
            if response.status_code != 202:
                raise HttpResponseError(response=response)
        failure = transaction_failure(response.content, len(merges))
        if failure is None:
            return
        status, message = failure
        if status in (404, 409, 412):
            raise Conflict(f"{status}: {message}")
        if status == 0 or status >= 500:
            raise StorageUnavailable(f"a table transaction failed: {status} {message}")
        raise StorageError(f"a table transaction was refused: {status} {message}")

    async def merge_entity(self, table: str, properties: dict[str, Any], *, etag: str | None = None) -> None:
        """Merge these properties into an entity; with `etag`, only if it is unchanged (else
        Conflict; NotFound when it is gone)."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        client = await self._table(table)
        condition: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        with errors_translated():
            await client.update_entity(properties, mode=UpdateMode.MERGE, **condition)

    async def close(self) -> None:
        for client in (self._blob_service, self._table_service):
            if client is not None:
                await client.close()
        if self._session is not None:
            await self._session.close()
        if self._credential is not None:
            await self._credential.close()
        self._blob_service = self._table_service = None
        self._containers.clear()
        self._table_clients.clear()
        self._session = None
        self._credential = None
