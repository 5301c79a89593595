"""Form uploads through POST /api/manuscripts against two floors on the same Azurite, in rounds:

- the raw floor: the same number of 1 MB blobs uploaded straight from the SDK;
- the storage replay: what a form upload asks of storage (the marker row, the blob, the job in the
  marker's place with If-Match, the book's row and the message), sent straight from the SDK with
  the rows' shapes copied from an upload the API stored: the same requests with no host, worker or
  function in the way.

Azurite serves blobs, queues and tables from one Node process whose work is single-threaded, so
its CPU an upload bounds the throughput: Azurite's CPU an upload, API against raw floor, is the
best ratio the API can reach against this emulator, whatever the app does (#41: within 1.2× of
it). On two cores the app's processes share the machine with Azurite, so the CPU each process
spent an upload is printed beside the times: Azurite, the stand-in host, its worker, this client.

Run by bench/upload.py.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import psutil

from shared.jobs.messages import ConvertStep
from shared.jobs.record import JOB_ROW_KEY, upload_marker
from shared.library.record import BOOK_ROW_KEY
from shared.storage.names import BOOK_TABLE, JOB_TABLE


def manuscript(size: int, seed: int) -> bytes:
    line = f"Paragraph {seed}: the quick brown fox jumps over the lazy dog again and again.\n\n".encode()
    return (b"# Chapter\n\n" + line * (size // len(line) + 1))[:size]


def raw_floor(connection: str, payloads: list[bytes], concurrency: int, round_: int) -> float:
    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient.from_connection_string(connection).get_container_client("bench-floor")
    if not container.exists():
        container.create_container()

    def put(index: int) -> None:
        container.get_blob_client(f"r{round_}/b{index}").upload_blob(payloads[index], overwrite=False)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, range(len(payloads))))
    return time.perf_counter() - started


class StorageReplay:
    """A form upload's storage requests, straight from the SDK (see the module's docstring)."""

    def __init__(self, connection: str, upload_id: str) -> None:
        from azure.data.tables import TableServiceClient
        from azure.storage.blob import BlobServiceClient
        from azure.storage.queue import QueueClient

        tables = TableServiceClient.from_connection_string(connection)
        self.jobs = tables.get_table_client(JOB_TABLE)
        self.books = tables.get_table_client(BOOK_TABLE)
        self.job_row = dict(self.jobs.get_entity(upload_id, JOB_ROW_KEY))
        self.book_row = dict(self.books.get_entity(upload_id, BOOK_ROW_KEY))
        self.message = ConvertStep(upload_id).to_message()
        self.container = BlobServiceClient.from_connection_string(connection).get_container_client("bench-replay")
        self.queue = QueueClient.from_connection_string(connection, "bench-replay")
        if not self.container.exists():
            self.container.create_container()
            self.queue.create_queue()

    def upload(self, name: str, data: bytes) -> None:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        marker = upload_marker(name, f"{name}/original", datetime.now(UTC))
        etag = self.jobs.upsert_entity(marker, mode=UpdateMode.REPLACE)["etag"]
        self.container.get_blob_client(f"{name}/original").upload_blob(data)
        job = self.job_row | {"PartitionKey": name}
        self.jobs.update_entity(job, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified)
        self.books.upsert_entity(self.book_row | {"PartitionKey": name}, mode=UpdateMode.REPLACE)
        self.queue.send_message(self.message)

    def run(self, payloads: list[bytes], concurrency: int, round_: int) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: self.upload(f"replay-{round_}-{i}", payloads[i]), range(len(payloads))))
        return time.perf_counter() - started


def api_uploads(base_url: str, payloads: list[bytes], concurrency: int) -> list[str]:
    """POST each manuscript; their job ids."""

    def post(index: int) -> str:
        request = urllib.request.Request(
            f"{base_url}/api/manuscripts?filename=book{index}.md", data=payloads[index], method="POST"
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 202, response.status
            return str(json.load(response)["id"])

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post, range(len(payloads))))


class CpuMeter:
    """CPU seconds of each process that serves a form upload: Azurite, the stand-in host, its
    worker process, and this client (its threads)."""

    def __init__(self, azurite_pid: int, host_pid: int) -> None:
        host = psutil.Process(host_pid)
        self.processes = {"Azurite": psutil.Process(azurite_pid), "host": host}
        for index, worker in enumerate(host.children(recursive=True)):
            self.processes[f"worker{index or ''}"] = worker

    def read(self) -> dict[str, float]:
        seconds = {name: sum(p.cpu_times()[:2]) for name, p in self.processes.items()}
        own = resource.getrusage(resource.RUSAGE_SELF)
        seconds["client"] = own.ru_utime + own.ru_stime
        return seconds


@dataclass(frozen=True)
class Leg:
    seconds: float
    cpu_ms: dict[str, float]  # CPU an upload, by process


@dataclass(frozen=True)
class Round:
    floor: Leg
    replay: Leg
    api: Leg

    @property
    def bound(self) -> float:
        """The emulator's bound on API / floor: its CPU an upload, API against floor."""
        return self.api.cpu_ms["Azurite"] / self.floor.cpu_ms["Azurite"]


def form_upload_rounds(azurite: Any, host: Any, payloads: list[bytes], concurrency: int, rounds: int) -> list[Round]:
    """Floor, replay and API, `rounds` times over, after a few API uploads to warm up."""
    meter = CpuMeter(azurite.process.pid, host.process.pid)
    replay = StorageReplay(azurite.connection_string, api_uploads(host.base_url, payloads[:4], 2)[0])

    def leg(run: Callable[[], float]) -> Leg:
        before = meter.read()
        seconds = run()
        after = meter.read()
        return Leg(seconds, {name: (after[name] - before[name]) * 1000 / len(payloads) for name in before})

    def api() -> float:
        started = time.perf_counter()
        api_uploads(host.base_url, payloads, concurrency)
        return time.perf_counter() - started

    results = []
    for round_ in range(rounds):
        floor = leg(partial(raw_floor, azurite.connection_string, payloads, concurrency, round_))
        replayed = leg(partial(replay.run, payloads, concurrency, round_))
        results.append(Round(floor, replayed, leg(api)))
    return results


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


def print_form_uploads(results: list[Round], uploads: int, size: int, concurrency: int) -> None:
    mb = size * uploads / 1e6
    print(f"form uploads: {uploads} × {size / 1e6:.1f} MB at concurrency {concurrency}, {len(results)} rounds")
    for result in results:
        for name, leg in (("raw floor", result.floor), ("replay", result.replay), ("API", result.api)):
            cpu = ", ".join(f"{process} {ms:.1f}" for process, ms in leg.cpu_ms.items() if ms >= 0.05)
            print(f"  {name:9} {leg.seconds:5.2f} s ({mb / leg.seconds:4.0f} MB/s); CPU ms an upload: {cpu}")
    api_floor = [r.api.seconds / r.floor.seconds for r in results]
    print(f"  API / raw floor          : {_spread(api_floor)}")
    print(f"  the emulator's bound     : {_spread([r.bound for r in results])} (Azurite's CPU an upload, API / floor)")
    print(f"  API / floor ÷ that bound : {_spread([a / r.bound for a, r in zip(api_floor, results, strict=True)])}")
    print(f"  API / storage replay     : {_spread([r.api.seconds / r.replay.seconds for r in results])}")
    print(f"  replay / raw floor       : {_spread([r.replay.seconds / r.floor.seconds for r in results])}")
    api_cpu = [sum(r.api.cpu_ms.values()) for r in results]
    replay_cpu = [sum(r.replay.cpu_ms.values()) for r in results]
    print(
        f"  CPU an upload, all processes: API {statistics.median(api_cpu):.1f} ms, "
        f"replay {statistics.median(replay_cpu):.1f} ms ({_spread([a / b for a, b in zip(api_cpu, replay_cpu, strict=True)])})"
    )
