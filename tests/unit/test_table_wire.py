"""The table transaction's wire format, without storage (tests/feeds/test_async_storage.py sends it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.storage.table_wire import entity_json, merge_transaction, query_page_entities, transaction_failure


def test_values_carry_the_odata_types_the_sdk_gives_them() -> None:
    moment = datetime(2026, 12, 3, 11, 0, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    body = json.loads(entity_json({"s": "é", "b": True, "n": 7, "big": 2**40, "f": 0.5, "d": moment, "gone": None}))
    assert body == {
        "s": "é",
        "b": True,
        "n": 7,
        "big": str(2**40),
        "big@odata.type": "Edm.Int64",
        "f": 0.5,
        "f@odata.type": "Edm.Double",
        "d": "2026-12-03T10:00:05.123456Z",  # made UTC
        "d@odata.type": "Edm.DateTime",
    }
    with pytest.raises(ValueError):
        entity_json({"d": datetime(2026, 1, 1)})  # a naive datetime is ambiguous
    with pytest.raises(TypeError):
        entity_json({"x": [1, 2]})


def test_a_transaction_addresses_each_entity_with_its_keys_escaped_and_its_etag() -> None:
    etag = "W/\"datetime'2026-12-03T09%3A42%3A15.5365030Z'\""
    content_type, body = merge_transaction(
        "http://127.0.0.1:10002/devstoreaccount1/t",
        [
            ({"PartitionKey": "p'x", "RowKey": "r 1é", "n": 1}, etag),
            ({"PartitionKey": "p'x", "RowKey": "book:r2"}, None),
        ],
    )
    boundary = content_type.removeprefix("multipart/mixed; boundary=")
    text = body.decode()
    assert text.startswith(f"--{boundary}\r\n") and text.endswith(f"--{boundary}--\r\n")
    assert (
        "PATCH http://127.0.0.1:10002/devstoreaccount1/t(PartitionKey='p%27%27x',RowKey='r%201%C3%A9') HTTP/1.1" in text
    )
    assert "(PartitionKey='p%27%27x',RowKey='book%3Ar2') HTTP/1.1" in text  # as quote() writes a colon
    assert f"If-Match: {etag}\r\n" in text and "If-Match: *\r\n" in text
    assert text.count("Content-Type: application/http") == 2


@pytest.mark.parametrize(
    "merges",
    [[], [({"PartitionKey": "a", "RowKey": "1"}, None), ({"PartitionKey": "b", "RowKey": "1"}, None)]],
)
def test_a_transaction_is_one_partition_of_at_most_a_hundred(merges: list) -> None:
    with pytest.raises(ValueError):
        merge_transaction("http://x/t", merges)
    with pytest.raises(ValueError):
        merge_transaction("http://x/t", [({"PartitionKey": "a", "RowKey": str(i)}, None) for i in range(101)])


def answer(*parts: str) -> bytes:
    body = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
    for part in parts:
        body += f"--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n{part}\r\n"
    return (body + "--changesetresponse_2--\r\n--batchresponse_1--\r\n").encode()


def test_the_answer_says_which_operation_failed_and_why() -> None:
    ok = "HTTP/1.1 204 No Content\r\nX-Content-Type-Options: nosniff\r\n"
    assert transaction_failure(answer(ok, ok), 2) is None
    refused = (
        "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\n\r\n"
        '{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US",'
        '"value":"1:The update condition specified in the request was not satisfied."}}}'
    )
    assert transaction_failure(answer(refused), 2) == (
        412,
        "1:The update condition specified in the request was not satisfied.",
    )
    assert transaction_failure(answer(ok), 2) == (0, "the transaction's answer accounts for 1 of 2 operations")
    assert transaction_failure(b"garbage", 1) is not None


def test_a_query_page_reads_each_entity_with_its_etag_and_types() -> None:
    body = json.dumps(
        {
            "odata.metadata": "http://x/$metadata#t",
            "value": [
                {
                    "odata.etag": "W/\"datetime'2026-12-03T09%3A42%3A15.5365030Z'\"",
                    "PartitionKey": "s01",
                    "RowKey": "b:1",
                    "failures": 2,
                    "next_due@odata.type": "Edm.DateTime",
                    "next_due": "2026-12-03T09:42:15.5365030Z",
                    "big@odata.type": "Edm.Int64",
                    "big": "1099511627776",
                    "ratio@odata.type": "Edm.Double",
                    "ratio": "0.5",
                    "url": "https://example.com/feed",
                }
            ],
        }
    ).encode()
    ((properties, etag),) = query_page_entities(body)
    assert etag == "W/\"datetime'2026-12-03T09%3A42%3A15.5365030Z'\""
    assert properties == {
        "PartitionKey": "s01",
        "RowKey": "b:1",
        "failures": 2,
        "next_due": datetime(2026, 12, 3, 9, 42, 15, 536503, tzinfo=UTC),
        "big": 2**40,
        "ratio": 0.5,
        "url": "https://example.com/feed",
    }
    assert query_page_entities(b'{"value": []}') == []
