"""Table operations of Storage: entities read with their ETag, conditional and batched writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.storage.errors import Conflict, NotFound, errors_translated, translate_error

if TYPE_CHECKING:
    from azure.data.tables import TableClient


@dataclass(frozen=True)
class Entity:
    """A table entity with the ETag it was read at."""

    properties: dict[str, Any]
    etag: str


class TableOperations:
    """The table half of Storage (which supplies the clients)."""

    def _table(self, name: str) -> TableClient:
        raise NotImplementedError

    def put_entity(self, table: str, properties: dict[str, Any]) -> str:
        """Insert or replace (a PUT, which the SDK retries after a dropped connection, unlike a
        create's POST). Returns its ETag."""
        from azure.data.tables import UpdateMode

        client = self._table(table)
        with errors_translated():
            return str(client.upsert_entity(properties, mode=UpdateMode.REPLACE)["etag"])

    def create_entity(self, table: str, properties: dict[str, Any]) -> str:
        """Insert only if no row has these keys (AlreadyExists otherwise). Returns its ETag."""
        client = self._table(table)
        with errors_translated():
            return str(client.create_entity(properties)["etag"])

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
        self._submit_all_or_none(table, operations, conflicting=(404, 412))

    def get_entity(self, table: str, partition_key: str, row_key: str) -> Entity:
        client = self._table(table)
        with errors_translated():
            entity = client.get_entity(partition_key, row_key)
        return Entity(properties=dict(entity), etag=str(entity.metadata["etag"]))

    def query_entities_filtered(self, table: str, odata_filter: str) -> list[Entity]:
        client = self._table(table)
        with errors_translated():
            return [
                Entity(properties=dict(e), etag=str(e.metadata["etag"])) for e in client.query_entities(odata_filter)
            ]

    def update_entity(self, table: str, properties: dict[str, Any], *, etag: str) -> str:
        """Replace an entity only if it still has `etag` (raises Conflict otherwise)."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        client = self._table(table)
        with errors_translated():
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
        with errors_translated():
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
        self._submit_all_or_none(table, operations, conflicting=(404, 409, 412))

    def update_together(
        self,
        table: str,
        properties: dict[str, Any],
        etag: str,
        *,
        create: dict[str, Any] | None = None,
        delete: str | None = None,
    ) -> None:
        """In one transaction: replace an entity only if it still has `etag`, and create a row
        (`create`) or delete the row keyed `delete` of its partition. Raises Conflict (nothing
        written) when the entity changed, the created row exists or the deleted one is gone."""
        from azure.core import MatchConditions

        operations: list[Any] = [
            ("update", properties, {"mode": "replace", "etag": etag, "match_condition": MatchConditions.IfNotModified})
        ]
        if create is not None:
            operations.append(("create", create))
        if delete is not None:
            operations.append(("delete", {"PartitionKey": properties["PartitionKey"], "RowKey": delete}))
        self._submit_all_or_none(table, operations, conflicting=(404, 409, 412))

    def upsert_entity(self, table: str, properties: dict[str, Any]) -> None:
        """Insert or merge (unconditional): for rows with one writer, such as an author's feed list."""
        from azure.data.tables import UpdateMode

        client = self._table(table)
        with errors_translated():
            client.upsert_entity(properties, mode=UpdateMode.MERGE)

    def query_page(
        self,
        table: str,
        odata_filter: str,
        page_size: int,
        continuation: dict[str, Any] | None,
        select: list[str] | None = None,
    ) -> tuple[list[Entity], dict[str, Any] | None]:
        """One page of a query (only the `select`ed properties, when given), and the token for the
        next (None at the end), in the SDK's form ({"PartitionKey", "RowKey"}).

        Sent through the table client's own pipeline and read by shared/storage/table_wire.py: the
        SDK's model deserialiser cost more CPU than the query."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        from shared.storage.table_wire import query_page_entities

        client = self._table(table)
        params = {"$filter": odata_filter, "$top": str(page_size)}
        if select:
            params["$select"] = ",".join(select)
        if continuation:
            params["NextPartitionKey"] = continuation["PartitionKey"]
            if continuation.get("RowKey"):
                params["NextRowKey"] = continuation["RowKey"]
        request = HttpRequest(
            "GET",
            f"{client.url}/{client.table_name}()",
            params=params,
            headers={
                "x-ms-version": client.api_version,
                "DataServiceVersion": "3.0",
                "Accept": "application/json;odata=minimalmetadata",
            },
        )
        with errors_translated():
            response = client._client.send_request(request, stream=True)
            response.read()
            if response.status_code != 200:
                raise HttpResponseError(response=response)
        entities = [Entity(properties=p, etag=e) for p, e in query_page_entities(response.content)]
        next_partition = response.headers.get("x-ms-continuation-NextPartitionKey")
        token = {"PartitionKey": next_partition, "RowKey": response.headers.get("x-ms-continuation-NextRowKey")}
        return entities, token if next_partition else None

    def delete_entity(self, table: str, partition_key: str, row_key: str) -> None:
        client = self._table(table)
        with errors_translated():
            client.delete_entity(partition_key, row_key)

    def _submit_all_or_none(self, table: str, operations: list[Any], conflicting: tuple[int, ...]) -> None:
        """One transaction. A failed condition, or a status in `conflicting`, raises Conflict:
        nothing was written."""
        client = self._table(table)
        with errors_translated():
            try:
                client.submit_transaction(operations)
            except Exception as error:
                translated = translate_error(error)
                if isinstance(translated, (Conflict, NotFound)) or getattr(error, "status_code", None) in conflicting:
                    raise Conflict(str(error)) from error
                raise
