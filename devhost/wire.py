"""The channel between the stand-in host and its worker processes: frames and typed data.

In Azure the host and the Python worker speak gRPC and carry values as protobuf `TypedData`; here
they speak over a local socket pair, and values travel as the worker library's own `Datum` (a type
name and a value), converted the way the worker's `datum_as_proto` converts them for gRPC: `dict`
and `list` become `json`, `bool` becomes `int`, cookies become `Set-Cookie` texts.

A frame is two big-endian u32 lengths (header, payload), a JSON header, then the payload: the raw
bytes of every `bytes` value in the header, in order, so a 100 MiB upload is never base64-encoded
or copied into JSON. Stdlib only: the worker process imports this before anything else.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREFIX = struct.Struct(">II")


@dataclass(frozen=True)
class Datum:
    """The host side's view of one typed value (the worker side uses the runtime's own class)."""

    type: str
    value: Any


DatumFactory = Callable[[Any, str], Any]  # (value, type) -> datum, as the runtime's Datum(value, type)


def host_datum(value: Any, type_: str) -> Datum:
    return Datum(type_, value)


class FrameWriter:
    """Builds one frame: `add` the header's binary values, then `frame` it."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def blob(self, data: bytes) -> dict[str, int]:
        self.blobs.append(data)
        return {"blob": len(self.blobs) - 1}

    def frame(self, header: dict[str, Any]) -> list[bytes]:
        header["blobs"] = [len(b) for b in self.blobs]
        encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
        return [PREFIX.pack(len(encoded), sum(header["blobs"])), encoded, *self.blobs]


def decode_frame(header_bytes: bytes, payload: bytes) -> tuple[dict[str, Any], list[bytes]]:
    header = json.loads(header_bytes)
    lengths = header.get("blobs", [])
    if lengths == [len(payload)]:
        return header, [payload]  # one value, the whole payload (an upload's body): no copy
    blobs = []
    view = memoryview(payload)
    offset = 0
    for length in lengths:
        blobs.append(bytes(view[offset : offset + length]))
        offset += length
    return header, blobs


def encode_datum(datum: Any, writer: FrameWriter) -> dict[str, Any] | None:
    """A runtime or host Datum as JSON, its bytes moved to the frame's payload."""
    if datum is None or datum.type is None:
        return None
    kind, value = datum.type, datum.value
    if kind == "bytes":
        return {"type": "bytes", **writer.blob(bytes(value))}
    if kind == "http":
        encoded: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("headers", "query", "params"):
                encoded[key] = {name: encode_datum(v, writer) for name, v in (item or {}).items()}
            elif key == "cookies":
                encoded[key] = [morsel.OutputString() for cookie in item or [] for morsel in cookie.values()]
            else:
                encoded[key] = encode_datum(item, writer)
        return {"type": "http", "value": encoded}
    if kind in ("dict", "list"):
        return {"type": "json", "value": json.dumps(value)}
    if kind == "bool":
        return {"type": "int", "value": int(value)}
    if kind in ("string", "json", "int", "double"):
        return {"type": kind, "value": value}
    raise TypeError(f"a value of type {kind!r} cannot cross from the worker to the host")


def decode_datum(encoded: dict[str, Any] | None, blobs: list[bytes], make: DatumFactory) -> Any:
    if encoded is None:
        return None
    kind = encoded["type"]
    if kind == "bytes":
        return make(blobs[encoded["blob"]], "bytes")
    if kind == "http":
        value: dict[str, Any] = {}
        for key, item in encoded["value"].items():
            if key in ("headers", "query", "params"):
                value[key] = {name: decode_datum(v, blobs, make) for name, v in item.items()}
            elif key == "cookies":
                value[key] = list(item)
            else:
                value[key] = decode_datum(item, blobs, make)
        return make(value, "http")
    return make(encoded["value"], kind)
