"""Stand-in host overhead, each figure against a reference measured in the same run.

- HTTP: sequential GETs to a no-op function through `python -m devhost`, against the same number
  of GETs to a bare aiohttp server (the HTTP library the stand-in uses) answering "ok".
- Large bodies: 8 MiB POSTs whose function answers the body's size, against the bare server
  doing the same (the host's side and the worker's process boundary carry the bytes).
- Queue: messages drained through a no-op queue function, against a raw SDK loop that receives
  batches of 16 and deletes each message on the same Azurite.
- Worker start-up: from spawning the Python worker process to its indexed function app (what the
  host log reports), and from starting `python -m devhost` to "Host started".

Beside each section's time per request or message, the CPU time (user + system) per request or
message of every process taking part, measured around that section alone: the stand-in host, its
worker process (and any it starts), the bare aiohttp server, Azurite, and this bench as the
client; their sum's ratio is printed beside the time ratio (the client's and Azurite's share is
the same work on both sides, so the ratio understates the host's own). The kernel counts CPU in
10 ms ticks: the sections are long enough (the bare server's GETs take 0.1 s or so) for that to
matter little.

Run: `.venv/bin/python bench/devhost.py [--requests 2000 --messages 300 --large 30]`.
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

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


Meters = dict[str, Callable[[], float]]  # each process's CPU seconds so far (user + system), by name
Cpu = dict[str, float]  # each process's CPU seconds over one section


def own_cpu(process: psutil.Process) -> float:
    return sum(process.cpu_times()[:2])


def tree_cpu(process: psutil.Process) -> float:
    """A process and its descendants, with the children they have reaped."""
    return sum(sum(p.cpu_times()[:4]) for p in (process, *process.children(recursive=True)))


def measured(meters: Meters, work: Callable[[], float]) -> tuple[float, Cpu]:
    """`work`'s own timing, and each process's CPU from just before it to just after."""
    before = {name: meter() for name, meter in meters.items()}
    elapsed = work()
    return elapsed, {name: meter() - before[name] for name, meter in meters.items()}


def warm_up(port: int) -> None:
    """Connections, imports and caches, outside the timed and metered sections."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(20):
        connection.request("GET", "/api/noop")
        connection.getresponse().read()


def timed_gets(port: int, count: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)
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


def bare_http(count: int, large: int, meters: Meters) -> tuple[tuple[float, Cpu], tuple[float, Cpu]]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
    bare_server = psutil.Process(server.pid)
    meters = {"server": lambda: own_cpu(bare_server), **meters}
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/noop")
                break
            except OSError:
                time.sleep(0.05)
        warm_up(port)
        return (
            measured(meters, lambda: timed_gets(port, count)),
            measured(meters, lambda: timed_large_posts(port, large)),
        )
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


def line(label: str, elapsed: float, cpu: Cpu, count: int, scale: float, unit: str, digits: int) -> str:
    """Time and CPU per request or message, in `unit` (seconds × `scale`), and each process's CPU."""
    shown = ", ".join(f"{name} {seconds * scale / count:.{digits}f}" for name, seconds in cpu.items())
    return (
        f"  {label:27} : {elapsed * scale / count:7.{digits}f} {unit}, "
        f"CPU {sum(cpu.values()) * scale / count:7.{digits}f} {unit} ({shown})"
    )


def ratio(hosted: tuple[float, Cpu], reference: tuple[float, Cpu]) -> str:
    cpu = sum(hosted[1].values()) / sum(reference[1].values())
    return f"  {'ratio':27} : {hosted[0] / reference[0]:7.2f}× time, {cpu:5.2f}× CPU"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--large", type=int, default=30, help="8 MiB POSTs")
    args = parser.parse_args()

    azurite = start_azurite()
    work = Path(tempfile.mkdtemp())
    done_file = work / "done"
    client, storage = psutil.Process(), psutil.Process(azurite.process.pid)
    # The client's own CPU only: Azurite, the servers and the host are its children.
    meters: Meters = {"Azurite": lambda: tree_cpu(storage), "client": lambda: own_cpu(client)}
    try:
        bare, bare_large = bare_http(args.requests, args.large, meters)
        raw = measured(meters, lambda: raw_drain(azurite.connection_string, args.messages))
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
        stand_in = psutil.Process(host.process.pid)
        hosted_meters: Meters = {
            "host": lambda: own_cpu(stand_in),
            "worker": lambda: sum(tree_cpu(child) for child in stand_in.children()),
            **meters,
        }

        def drain() -> float:
            started = time.perf_counter()
            fill_queue(azurite.connection_string, "bench-noop", args.messages)
            while len(done_file.read_text()) < args.messages:
                time.sleep(0.01)
            return time.perf_counter() - started

        try:
            worker_start = float(re.search(r"indexed \d+ functions in ([\d.]+)s", host.log()).group(1))  # type: ignore[union-attr]
            drained = measured(hosted_meters, drain)
            warm_up(host.port)
            hosted = measured(hosted_meters, lambda: timed_gets(host.port, args.requests))
            hosted_large = measured(hosted_meters, lambda: timed_large_posts(host.port, args.large))
        finally:
            host.stop()
    finally:
        azurite.stop()

    print(f"HTTP: {args.requests} sequential GETs to a no-op function; CPU of each process")
    print(line("bare aiohttp server", *bare, args.requests, 1e6, "µs per request", 0))
    print(line("stand-in host", *hosted, args.requests, 1e6, "µs per request", 0))
    print(ratio(hosted, bare))
    print(f"Large bodies: {args.large} POSTs of 8 MiB, the function answering their size")
    print(line("bare aiohttp server", *bare_large, args.large, 1000, "ms per request", 1))
    print(line("stand-in host", *hosted_large, args.large, 1000, "ms per request", 1))
    print(ratio(hosted_large, bare_large))
    print(f"Queue: {args.messages} messages sent, then run by a no-op function and deleted")
    print(line("raw SDK send+receive+delete", *raw, args.messages, 1000, "ms per message", 2))
    print(line("stand-in host", *drained, args.messages, 1000, "ms per message", 2))
    print(ratio(drained, raw))
    print("Start-up")
    print(f"  worker process spawned to function app indexed : {worker_start:5.2f} s")
    print(f"  python -m devhost to 'Host started'            : {host_start:5.2f} s")


if __name__ == "__main__":
    main()
