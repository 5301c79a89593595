"""Output bindings, written after a successful invocation as the host writes them.

Queue: base64 unless messageEncoding is none; a JSON-object string is re-serialised indented and a
JSON-array string is split into one message per element (the host's `IsJson` path); the queue is
created if missing; same-host listeners on that queue poll at once. Blob: block blob, container
created if missing, overwritten. Table: insert (409 if it exists) unless the entity carries an ETag.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devhost.config import IdentityConnection, resolve_connection

QueueNotifier = Callable[[str], None]


class StorageClients:
    """Async storage clients, one set per connection, built on first use. An identity-based
    connection gets one token credential for its three services, as the host's client factory does."""

    def __init__(self, environ: Any) -> None:
        self.environ = environ
        self._clients: dict[tuple[str, str | IdentityConnection], Any] = {}
        self._credentials: dict[IdentityConnection, Any] = {}

    def _client(self, service: str, connection: str, client_type: Any) -> Any:
        conn = resolve_connection(connection, self.environ)
        key = (service, conn)
        if key not in self._clients:
            # With no proxy set there is nothing for aiohttp to look up in the environment and
            # ~/.netrc on every request (a proxy set is honoured): 6-9 % of this host's CPU. Its
            # TLS reads SSL_CERT_FILE either way.
            options = {} if urllib.request.getproxies() else {"use_env_settings": False}
            if isinstance(conn, IdentityConnection):
                credential = self._credential(conn)
                self._clients[key] = client_type(conn.service_uri(service), credential=credential, **options)
            else:
                self._clients[key] = client_type.from_connection_string(conn, **options)
        return self._clients[key]

    def _credential(self, conn: IdentityConnection) -> Any:
        if conn not in self._credentials:
            if conn.credential == "managedidentity":
                from azure.identity.aio import ManagedIdentityCredential

                self._credentials[conn] = ManagedIdentityCredential(client_id=conn.client_id or None)
            else:
                from azure.identity.aio import DefaultAzureCredential

                self._credentials[conn] = DefaultAzureCredential(managed_identity_client_id=conn.client_id or None)
        return self._credentials[conn]

    def queue_service(self, connection: str) -> Any:
        from azure.storage.queue.aio import QueueServiceClient

        return self._client("queue", connection, QueueServiceClient)

    def blob_service(self, connection: str) -> Any:
        from azure.storage.blob.aio import BlobServiceClient

        return self._client("blob", connection, BlobServiceClient)

    def table_service(self, connection: str) -> Any:
        from azure.data.tables.aio import TableServiceClient

        return self._client("table", connection, TableServiceClient)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        for credential in self._credentials.values():
            await credential.close()
        self._credentials.clear()


def datum_value(datum: Any) -> str | bytes:
    """What the host receives as an output: `bytes` stay bytes, every other typed value is text
    (a `json` value is its JSON text, as the worker sends a list or a QueueMessage)."""
    if datum.type == "bytes":
        return bytes(datum.value)
    if datum.type in ("string", "json"):
        return str(datum.value)
    return json.dumps(datum.value)


def queue_messages(value: Any) -> list[bytes]:
    """The messages one queue output value becomes."""
    if isinstance(value, (bytes, bytearray)):
        return [bytes(value)]
    if isinstance(value, (list, tuple)):
        items = [getattr(v, "get_body", lambda v=v: v)() for v in value]
        value = json.dumps([i.decode("utf-8") if isinstance(i, bytes) else i for i in items])
    if not isinstance(value, str):
        value = json.dumps(value)
    text = value.strip()
    if (text.startswith("{") and text.endswith("}")) or (text.startswith("[") and text.endswith("]")):
        parsed = json.loads(text)  # invalid JSON that looks like JSON fails the invocation, as in the host
        elements = parsed if isinstance(parsed, list) else [parsed]
        return [_json_token_text(element).encode("utf-8") for element in elements]
    return [value.encode("utf-8")]


def _json_token_text(token: Any) -> str:
    """Newtonsoft's JToken.ToString(): indented JSON, but a bare string is its own text."""
    if isinstance(token, str):
        return token
    return json.dumps(token, indent=2, ensure_ascii=False)


def encode_for_queue(body: bytes, encoding: str) -> str:
    return base64.b64encode(body).decode("ascii") if encoding == "base64" else body.decode("utf-8")


def expand_path(path: str, trigger_data: dict[str, Any]) -> str:
    """Binding expressions in a blob path: {rand-guid}, {DateTime}, and trigger payload fields."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.lower() == "rand-guid":
            return str(uuid.uuid4())
        if key.lower() == "datetime":
            return datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
        for name, value in trigger_data.items():
            if name.lower() == key.lower():
                return str(value)
        raise ValueError(f"binding expression '{{{key}}}' has no value")

    return re.sub(r"\{([^{}]+)\}", replace, path)


class OutputWriter:
    def __init__(self, clients: StorageClients, encoding: str, notify: QueueNotifier) -> None:
        self.clients = clients
        self.encoding = encoding
        self.notify = notify
        self._queue_clients: dict[tuple[str, str], Any] = {}  # one client (and pipeline) per queue

    async def __call__(self, entry: Any, outputs: dict[str, Any], trigger_data: dict[str, Any]) -> None:
        bindings = {b["name"]: b for b in entry.outputs}
        for name, datum in outputs.items():
            binding = bindings[name]
            value = datum_value(datum)
            kind = binding.get("type")
            connection = binding.get("connection", "AzureWebJobsStorage")
            if kind == "queue":
                await self.write_queue(connection, binding["queueName"], value)
            elif kind == "blob":
                await self.write_blob(connection, expand_path(binding["path"], trigger_data), value)
            elif kind == "table":
                await self.write_table(connection, binding, value)
            else:
                raise ValueError(f"output binding type '{kind}' is not supported by the stand-in host")

    async def write_queue(self, connection: str, queue_name: str, value: Any) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        queue_name = queue_name.lower()
        client = self._queue_clients.get((connection, queue_name))
        if client is None:
            client = self.clients.queue_service(connection).get_queue_client(queue_name)
            self._queue_clients[(connection, queue_name)] = client
        for body in queue_messages(value):
            content = encode_for_queue(body, self.encoding)
            try:
                await client.send_message(content)
            except ResourceNotFoundError:
                await _create_queue(client)
                await client.send_message(content)
        self.notify(queue_name)

    async def write_blob(self, connection: str, path: str, value: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        container, _, blob = path.partition("/")
        service = self.clients.blob_service(connection)
        container_client = service.get_container_client(container)
        if not await container_client.exists():
            with contextlib.suppress(ResourceExistsError):
                await container_client.create_container()
        data = value.encode("utf-8") if isinstance(value, str) else value
        if hasattr(data, "read"):
            data = data.read()
        await container_client.get_blob_client(blob).upload_blob(data, overwrite=True)

    async def write_table(self, connection: str, binding: dict[str, Any], value: Any) -> None:
        from azure.data.tables import UpdateMode

        parsed = json.loads(value) if isinstance(value, (str, bytes)) else value
        entities = parsed if isinstance(parsed, list) else [parsed]
        service = self.clients.table_service(connection)
        table = service.get_table_client(binding["tableName"])
        await service.create_table_if_not_exists(binding["tableName"])
        for raw in entities:
            entity: dict[str, Any] = {}
            etag = None
            for key, item in raw.items():
                lowered = key.lower()
                if lowered == "partitionkey":
                    entity["PartitionKey"] = str(item)
                elif lowered == "rowkey":
                    entity["RowKey"] = str(item)
                elif lowered == "etag":
                    etag = item
                else:
                    entity[key] = json.dumps(item) if isinstance(item, (dict, list)) else item
            entity.setdefault("PartitionKey", binding.get("partitionKey") or "")
            entity.setdefault("RowKey", binding.get("rowKey") or "")
            if not entity["PartitionKey"] or not entity["RowKey"]:
                raise ValueError("a table output entity needs a PartitionKey and a RowKey")
            if etag == "*":
                await table.upsert_entity(entity, mode=UpdateMode.REPLACE)
            elif etag:
                from azure.core import MatchConditions

                await table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            else:
                await table.create_entity(entity)


async def _create_queue(client: Any) -> None:
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        await client.create_queue()
