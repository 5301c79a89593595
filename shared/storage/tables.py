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
        next (None at the end)."""
        client = self._table(table)
        with errors_translated():
            pager: Any = client.query_entities(odata_filter, results_per_page=page_size, select=select).by_page(
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
