"""Stand-in host overhead, each figure against a reference measured in the same run.

- HTTP: sequential GETs to a no-op function through `python -m devhost`, against the same number
  of GETs to a bare aiohttp server (the HTTP library the stand-in uses) answering "ok".
- Large bodies: 8 MiB POSTs whose function answers the body's size, against the bare server
  doing the same (the host's side and the worker's process boundary carry the bytes).
- Queue: messages drained through a no-op queue function, against a raw SDK loop that receives
  batches of 16 and deletes each message on the same Azurite.
- Worker start-up: from spawning the Python worker process to its indexed function app (what the
  host log reports), and from starting `python -m devhost` to "Host started".

Run: `.venv/bin/python bench/devhost.py [--requests 500 --messages 300]`.
"""

from __future__ import annotations

import argparse
import http.client
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port, start_azurite, start_host  # noqa: E402

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    async def ok(request):
        return web.Response(text="ok")
    async def size(request):
        return web.Response(text=str(len(await request.read())))
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/api/noop", ok)
    app.router.add_post("/api/size", size)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


def timed_gets(port: int, count: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(20):  # warm up
        connection.request("GET", "/api/noop")
        connection.getresponse().read()
    started = time.perf_counter()
    for _ in range(count):
        connection.request("GET", "/api/noop")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    return time.perf_counter() - started


LARGE_BODY = bytes(range(256)) * (8 * 1024 * 1024 // 256)


def timed_large_posts(port: int, count: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(count):
        connection.request("POST", "/api/size", LARGE_BODY, {"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        assert response.read() == str(len(LARGE_BODY)).encode() and response.status == 200
    return time.perf_counter() - started


def bare_http(count: int, large: int) -> tuple[float, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/noop")
                break
            except OSError:
                time.sleep(0.05)
        return timed_gets(port, count), timed_large_posts(port, large)
    finally:
        server.terminate()
        server.wait()


def fill_queue(connection: str, name: str, count: int) -> None:
    """Create the queue empty (count=0) or add `count` base64 messages to it."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    queue = QueueClient.from_connection_string(connection, name, message_encode_policy=TextBase64EncodePolicy())
    if count == 0:
        try:
            queue.create_queue()
        except Exception:
            queue.clear_messages()
    for index in range(count):
        queue.send_message(f"message {index}")


def raw_drain(connection: str, count: int) -> float:
    """Send `count` messages, then receive and delete them all: the raw SDK floor."""
    from azure.storage.queue import QueueClient

    fill_queue(connection, "bench-raw", 0)
    queue = QueueClient.from_connection_string(connection, "bench-raw")
    started = time.perf_counter()
    fill_queue(connection, "bench-raw", count)
    done = 0
    while done < count:
        for message in queue.receive_messages(messages_per_page=16, max_messages=16, visibility_timeout=600):
            queue.delete_message(message)
            done += 1
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--large", type=int, default=10, help="8 MiB POSTs")
    args = parser.parse_args()

    azurite = start_azurite()
    work = Path(tempfile.mkdtemp())
    done_file = work / "done"
    try:
        bare, bare_large = bare_http(args.requests, args.large)
        raw = raw_drain(azurite.connection_string, args.messages)
        fill_queue(azurite.connection_string, "bench-noop", 0)
        done_file.write_text("")
        launched = time.perf_counter()
        host = start_host(
            ROOT / "bench" / "noop_app",
            {"AzureWebJobsStorage": azurite.connection_string, "BENCH_DONE_FILE": str(done_file)},
            work / "host.log",
            wait_path=None,
        )
        host_start = time.perf_counter() - launched
        try:
            worker_start = float(re.search(r"indexed \d+ functions in ([\d.]+)s", host.log()).group(1))  # type: ignore[union-attr]
            started = time.perf_counter()
            fill_queue(azurite.connection_string, "bench-noop", args.messages)
            while len(done_file.read_text()) < args.messages:
                time.sleep(0.01)
            drained = time.perf_counter() - started
            hosted = timed_gets(host.port, args.requests)
            hosted_large = timed_large_posts(host.port, args.large)
        finally:
            host.stop()
    finally:
        azurite.stop()

    print(f"HTTP: {args.requests} sequential GETs to a no-op function")
    print(f"  bare aiohttp server : {bare * 1e6 / args.requests:7.0f} µs per request")
    print(f"  stand-in host       : {hosted * 1e6 / args.requests:7.0f} µs per request")
    print(f"  ratio               : {hosted / bare:7.2f}×")
    print(f"Large bodies: {args.large} POSTs of 8 MiB, the function answering their size")
    print(f"  bare aiohttp server : {bare_large * 1000 / args.large:7.1f} ms per request")
    print(f"  stand-in host       : {hosted_large * 1000 / args.large:7.1f} ms per request")
    print(f"  ratio               : {hosted_large / bare_large:7.2f}×")
    print(f"Queue: {args.messages} messages sent, then run by a no-op function and deleted")
    print(f"  raw SDK send+receive+delete : {raw * 1000 / args.messages:6.2f} ms per message")
    print(f"  stand-in host               : {drained * 1000 / args.messages:6.2f} ms per message")
    print(f"  ratio                       : {drained / raw:6.2f}×")
    print("Start-up")
    print(f"  worker process spawned to function app indexed : {worker_start:5.2f} s")
    print(f"  python -m devhost to 'Host started'            : {host_start:5.2f} s")


if __name__ == "__main__":
    main()
