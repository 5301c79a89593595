"""Table Storage's wire format for the feed refresher's two hot calls. Pure: no I/O.

- A transaction of entity merges. The tables SDK builds one by making an HTTP request object per
  entity, running policies over each, and writing the multipart body with the standard library's
  email package: about 1.1 ms of CPU per entity here, more than fetching a feed. The body is a
  documented format (an OData $batch holding one changeset), so it is written here directly.
- A page of a query, read from its JSON: the SDK's model deserialiser spent more on a scan page
  of 500 sources than the query itself.

Both go through the SDK's own pipeline (its signing, tokens, retries and error types):
shared/storage/aio.py and shared/storage/tables.py.

Values are typed as the SDK types them: str (Edm.String), bool, int (Edm.Int32, Edm.Int64 past
its range), float (Edm.Double), timezone-aware datetime (Edm.DateTime, UTC); None is left out.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

_INT32 = range(-(2**31), 2**31)
# One encoder for every entity (json.dumps with options builds a new one per call). ASCII, so a
# body's length in characters is its Content-Length.
_ENTITY_ENCODER = json.JSONEncoder(separators=(",", ":"))
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})[^\r\n]*", re.MULTILINE)


def _table_datetime_text(name: str, value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{name}: a table datetime must carry its time zone")
    return value.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def entity_json(properties: dict[str, Any], moments: dict[datetime, str] | None = None) -> str:
    """An entity's JSON body with the OData type of each value that needs one. `moments`: datetimes
    already written out, shared by a transaction's entities (theirs are mostly the same few)."""
    body: dict[str, Any] = {}
    for name, value in properties.items():
        if isinstance(value, str | bool):  # most values, so asked first
            body[name] = value
        elif value is None:
            continue
        elif isinstance(value, int):
            if value in _INT32:
                body[name] = value
            else:
                body[name], body[f"{name}@odata.type"] = str(value), "Edm.Int64"
        elif isinstance(value, float):
            body[name], body[f"{name}@odata.type"] = value, "Edm.Double"
        elif isinstance(value, datetime):
            text = moments.get(value) if moments is not None else None
            if text is None:
                text = _table_datetime_text(name, value)
                if moments is not None:
                    moments[value] = text
            body[name], body[f"{name}@odata.type"] = text, "Edm.DateTime"
        else:
            raise TypeError(f"{name}: {type(value).__name__} is not stored in a table here")
    return _ENTITY_ENCODER.encode(body)


# Characters `quote` leaves as they are, and the colon Quire's row keys use: such a key (nearly
# every one) is written out with one replace.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.~:-]*")


def _key(value: str) -> str:
    if _PLAIN_KEY.fullmatch(value):
        return value.replace(":", "%3A")
    return quote(value.replace("'", "''"), safe="")


def merge_transaction(table_url: str, merges: list[tuple[dict[str, Any], str | None]]) -> tuple[str, bytes]:
    """(Content-Type, body) of one transaction merging these entities, each If-Match its ETag
    (or any version, `*`, without one). All must share a partition; at most 100."""
    if not merges or len(merges) > 100:
        raise ValueError("a transaction holds 1 to 100 operations")
    if len({properties["PartitionKey"] for properties, _ in merges}) != 1:
        raise ValueError("a transaction's entities share one partition")
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    parts = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"]
    moments: dict[datetime, str] = {}
    partition = f"{table_url}(PartitionKey='{_key(merges[0][0]['PartitionKey'])}'"
    for index, (properties, etag) in enumerate(merges):
        address = f"{partition},RowKey='{_key(properties['RowKey'])}')"
        content = entity_json(properties, moments)
        parts.append(
            f"--{changeset}\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            f"Content-ID: {index}\r\n\r\n"
            f"PATCH {address} HTTP/1.1\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(content)}\r\n"
            "DataServiceVersion: 3.0\r\n"
            "Accept: application/json;odata=nometadata\r\n"
            f"If-Match: {etag or '*'}\r\n\r\n"
            f"{content}\r\n"
        )
    parts.append(f"--{changeset}--\r\n\r\n--{batch}--\r\n")
    return f"multipart/mixed; boundary={batch}", "".join(parts).encode()


def transaction_failure(body: bytes, operations: int) -> tuple[int, str] | None:
    """The status and the service's message of the operation that failed a transaction (the
    service answers a failed one with that operation's response alone), or None when every
    operation succeeded. An answer that accounts for fewer operations is a failure (status 0)."""
    succeeded = 0
    for match in _STATUS_LINE.finditer(body):
        status = int(match.group(1))
        if not 200 <= status < 300:
            return status, _error_message(body[match.end() :]) or match.group(0).decode(errors="replace")
        succeeded += 1
    if succeeded != operations:
        return 0, f"the transaction's answer accounts for {succeeded} of {operations} operations"
    return None


def _error_message(rest: bytes) -> str:
    found = re.search(rb'"message"\s*:\s*\{[^{}]*?"value"\s*:\s*("(?:[^"\\]|\\.)*")', rest)
    if found is None:
        return ""
    try:
        return str(json.loads(found.group(1)))
    except ValueError:
        return ""


def _table_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_TYPED: dict[str, Callable[[str], Any]] = {"Edm.DateTime": _table_datetime, "Edm.Int64": int, "Edm.Double": float}


def query_page_entities(body: bytes) -> list[tuple[dict[str, Any], str]]:
    """(properties, ETag) of each entity of a query answer in JSON with minimal metadata: dates,
    64-bit integers and doubles typed as the SDK types them, other annotated values as sent."""
    entities = []
    for raw in json.loads(body).get("value", []):
        properties: dict[str, Any] = {}
        for name, value in raw.items():
            if name.startswith("odata.") or "@odata." in name:
                continue
            kind = raw.get(f"{name}@odata.type")
            convert = _TYPED.get(kind) if kind else None
            properties[name] = convert(value) if convert is not None and isinstance(value, str) else value
        entities.append((properties, str(raw.get("odata.etag", ""))))
    return entities
