"""The worker process: the real Azure Functions Python worker library, driven by the stand-in host.

`python -m devhost.worker --channel-fd N --script-root DIR` is started by the host (devhost/workers.py)
with one end of a socket pair, as the .NET host starts the Python worker with its gRPC address.
Everything that is the worker's job is done by `azure_functions_runtime`, as pinned in
requirements.txt, through the entry points Azure's own proxy calls:

- indexing: `handle_event.load_function_metadata` imports function_app.py, finds its FunctionApp and
  validates every function in the runtime's registry (directions, parameters, annotations, return).
  Any refusal is sent to the host, which refuses to start, as Azure loads no function then;
- invocation: `native_invocation.invocation_request_native`, the runtime's protobuf-free seam:
  inputs and trigger metadata in as `Datum`s, the binding converters, sync functions on the
  runtime's thread pool (`PYTHON_THREADPOOL_THREAD_COUNT`), async ones on this process's event
  loop, outputs and the return value back as `Datum`s.

A reader thread takes requests off the channel and submits them to the loop, as Azure's proxy
does, so a function that blocks the loop stalls this worker only, never the host. Log records go
to the host with their invocation id. When the channel closes (the host died), the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from typing import Any

from azure_functions_runtime import handle_event, native_invocation
from azure_functions_runtime.bindings.datumdef import Datum
from azure_functions_runtime.bindings.meta import load_binding_registry
from azure_functions_runtime.utils.executor import invocation_id_cv
from azure_functions_runtime.utils.threadpool import start_threadpool_executor

from devhost.wire import PREFIX, FrameWriter, decode_datum, decode_frame, encode_datum


class Channel:
    """Frames over the socket: reads on one thread, writes from any thread (one at a time).

    When the host is gone (the socket closed or reset), the worker process ends at once, whatever
    it was running: in Azure too a worker does not outlive its host.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=1024 * 1024)
        self.lock = threading.Lock()

    def send(self, parts: list[bytes]) -> None:
        try:
            with self.lock:
                for part in parts:
                    self.sock.sendall(part)
        except OSError:
            os._exit(0)

    def receive(self) -> tuple[dict[str, Any], list[bytes]]:
        try:
            prefix = self.reader.read(PREFIX.size)
            if len(prefix) == PREFIX.size:
                header_length, payload_length = PREFIX.unpack(prefix)
                header = self.reader.read(header_length)
                payload = self.reader.read(payload_length)
                if len(header) == header_length and len(payload) == payload_length:
                    return decode_frame(header, payload)
        except OSError:
            pass
        os._exit(0)


class ChannelLogHandler(logging.Handler):
    """Sends each log record to the host, as the worker sends RpcLog messages."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            header = {
                "kind": "log",
                "invocation_id": invocation_id_cv.get() or "",
                "level": record.levelno,
                "logger": record.name,
                "message": record.getMessage(),
                "created": record.created,
                "exception": "".join(traceback.format_exception(*record.exc_info))
                if record.exc_info
                else record.exc_text,
            }
            self.channel.send(FrameWriter().frame(header))
        except Exception:
            self.handleError(record)


class _ProtoMessage:
    """The few protobuf messages the runtime builds while indexing, as plain attribute holders."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class _BindingInfo(_ProtoMessage):
    # The enum values of the host's protobuf BindingInfo (direction and data type).
    out = 1
    inout = 2
    undefined = 0


setattr(_BindingInfo, "in", 0)  # `in` is a keyword: only reachable by name, as in the generated protobuf class


class IndexingProtos:
    """Stands where Azure's proxy passes its generated protobuf module to the runtime."""

    BindingInfo = _BindingInfo
    RpcFunctionMetadata = _ProtoMessage
    RpcRetryOptions = _ProtoMessage


def index(script_root: str) -> list[dict[str, Any]]:
    """Index function_app.py with the runtime, as Azure does at worker init; raises what it raises."""
    handle_event.protos = IndexingProtos
    load_binding_registry()
    handle_event.load_function_metadata(script_root, caller_info="worker_init_request")
    return [
        {
            "name": metadata.name,
            "function_id": metadata.function_id,
            "bindings": [json.loads(raw) for raw in metadata.raw_bindings],
        }
        for metadata in handle_event._metadata_result or []
    ]


async def invoke(channel: Channel, request: dict[str, Any], blobs: list[bytes]) -> None:
    inputs = [(name, decode_datum(value, blobs, Datum)) for name, value in request["inputs"]]
    metadata = {name: decode_datum(value, blobs, Datum) for name, value in request["trigger_metadata"].items()}
    ok, returned, outputs, error, trace = await native_invocation.invocation_request_native(
        request["invocation_id"], request["function_id"], inputs, metadata
    )
    writer = FrameWriter()
    try:
        response = {
            "kind": "result",
            "invocation_id": request["invocation_id"],
            "ok": ok,
            "return": encode_datum(returned, writer),
            "outputs": [[name, encode_datum(value, writer)] for name, value in outputs],
            "error": error,
            "traceback": trace,
        }
    except Exception as failure:  # an output the host cannot carry fails the invocation, as in Azure
        writer = FrameWriter()
        response = {
            "kind": "result",
            "invocation_id": request["invocation_id"],
            "ok": False,
            "error": repr(failure),
            "traceback": traceback.format_exc(),
        }
    channel.send(writer.frame(response))


def serve(channel: Channel, loop: asyncio.AbstractEventLoop) -> None:
    """The reader thread: each request becomes a task on the loop."""
    while True:
        request, blobs = channel.receive()
        if request.get("kind") == "invoke":
            asyncio.run_coroutine_threadsafe(invoke(channel, request, blobs), loop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.worker")
    parser.add_argument("--channel-fd", type=int, required=True)
    parser.add_argument("--script-root", required=True)
    args = parser.parse_args(argv)
    # Ctrl-C and `kill` of the process group reach the worker too, but the host decides when its
    # worker stops (after running invocations finish): it closes the channel, and the worker exits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    channel = Channel(socket.socket(fileno=args.channel_fd))

    root = logging.getLogger()
    root.handlers[:] = [ChannelLogHandler(channel)]
    root.setLevel(logging.INFO)
    for noisy in ("azure", "urllib3", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    script_root = os.path.abspath(args.script_root)
    os.chdir(script_root)
    if script_root not in sys.path:
        sys.path.insert(0, script_root)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    start_threadpool_executor()

    async def index_on_the_loop() -> list[dict[str, Any]]:
        return index(script_root)  # the worker imports function_app.py on its running loop

    try:
        functions = loop.run_until_complete(index_on_the_loop())
    except Exception as error:
        channel.send(
            FrameWriter().frame(
                {
                    "kind": "index_failed",
                    "error": f"{type(error).__name__}: {error}",
                    "traceback": traceback.format_exc(),
                }
            )
        )
        return 1
    channel.send(FrameWriter().frame({"kind": "indexed", "functions": functions, "pid": os.getpid()}))
    threading.Thread(target=serve, args=(channel, loop), name="channel-reader", daemon=True).start()
    loop.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
