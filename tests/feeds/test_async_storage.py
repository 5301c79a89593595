"""The refresher's asyncio storage adapter against real Azurite: a transaction it writes by hand
stores what the SDK would, and fails whole when any entity changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.jobs.record import new_job_id
from shared.storage import AlreadyExists, Conflict, Storage
from shared.storage.aio import AsyncStorage
from tests.support import Azurite

TABLE = "quireAsyncCheck"


def run(azurite: Azurite, work: Any) -> Any:
    async def go() -> Any:
        storage = AsyncStorage(azurite.connection_string)
        try:
            return await work(storage)
        finally:
            await storage.close()

    return asyncio.run(go())


def test_a_transaction_stores_every_type_as_the_sdk_reads_it(azurite: Azurite) -> None:
    blocking = Storage(azurite.connection_string)
    partition = f"p'{new_job_id()}"  # a quote, escaped in the address
    moment = datetime(2026, 12, 3, 10, 0, 5, 123456, tzinfo=UTC)
    keys = [f"r é{i}" for i in range(3)]
    etags = [blocking.put_entity(TABLE, {"PartitionKey": partition, "RowKey": key, "keep": "old"}) for key in keys]
    values = {"s": "naïve", "n": 2**40, "f": 0.25, "b": True, "d": moment}
    merges: list[tuple[dict[str, Any], str | None]] = [
        ({"PartitionKey": partition, "RowKey": key, **values}, etag) for key, etag in zip(keys, etags, strict=True)
    ]
    run(azurite, lambda storage: storage.merge_entities(TABLE, merges))
    for key in keys:
        stored = blocking.get_entity(TABLE, partition, key).properties
        assert (stored["s"], stored["n"].value, stored["f"], stored["b"], stored["d"], stored["keep"]) == (
            "naïve",
            2**40,  # an Int64, as the SDK reads one back
            0.25,
            True,
            moment,
            "old",
        )


def test_a_transaction_with_one_changed_or_missing_entity_writes_nothing(azurite: Azurite) -> None:
    blocking = Storage(azurite.connection_string)
    partition = new_job_id()
    etags = [blocking.put_entity(TABLE, {"PartitionKey": partition, "RowKey": str(i), "v": 0}) for i in range(3)]
    blocking.merge_entity(TABLE, {"PartitionKey": partition, "RowKey": "1", "v": 9})  # changed since read
    merges = [({"PartitionKey": partition, "RowKey": str(i), "v": 1}, etag) for i, etag in enumerate(etags)]
    with pytest.raises(Conflict, match="412"):
        run(azurite, lambda storage: storage.merge_entities(TABLE, merges))
    assert [blocking.get_entity(TABLE, partition, str(i)).properties["v"] for i in range(3)] == [0, 9, 0]

    blocking.delete_entity(TABLE, partition, "2")
    fresh = [blocking.get_entity(TABLE, partition, str(i)).etag for i in range(2)]
    gone = [*[({"PartitionKey": partition, "RowKey": str(i), "v": 1}, e) for i, e in enumerate(fresh)],
            ({"PartitionKey": partition, "RowKey": "2", "v": 1}, etags[2])]  # fmt: skip
    with pytest.raises(Conflict):
        run(azurite, lambda storage: storage.merge_entities(TABLE, gone))
    assert [blocking.get_entity(TABLE, partition, str(i)).properties["v"] for i in range(2)] == [0, 9]


def test_a_blob_is_created_once(azurite: Azurite) -> None:
    name = f"claims/{new_job_id()}"

    async def work(storage: AsyncStorage) -> None:
        await storage.create_blob("quire-async-check", name, b"1", content_type="text/plain")
        with pytest.raises(AlreadyExists):
            await storage.create_blob("quire-async-check", name, b"2", content_type="text/plain")

    run(azurite, work)
    assert Storage(azurite.connection_string).read_blob("quire-async-check", name) == b"1"
