"""Serving benchmark: what a reading app's poll of a book's catalog costs, against the floor.

For one published book on the local host and Azurite, sequential requests on one connection each:
- `GET /api/books/{id}/opds` (OPDS 1.2) and `/opds.json` (OPDS 2.0), the answer a reading app
  polls for new editions;
- `GET /api/books/{id}/app/publication.json`, a book file served through the same host (the host's
  own floor: one book row read, one blob read);
- a bare read of the same blob with the Storage SDK, no host (the storage floor);
- `If-None-Match` polls of the OPDS answer (`304`), which is what a subscribed app mostly sends;
- and the OPDS handler called in this process, no host (Quire's own cost: what it reads and renders).
Ratios are against the bare blob read (#38's target: an OPDS answer ≤ 1.5×) and the host's file
read. Each figure is the median of several rounds, rounds taken in turn so drift hits all alike;
the host's and Azurite's CPU per request are printed beside.

Run: `.venv/bin/python bench/serving.py [--requests 300 --rounds 5]`.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import azure.functions as func  # noqa: E402
import psutil  # noqa: E402
from azure.storage.blob import BlobServiceClient  # noqa: E402

from shared.services import Services  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.web import opds  # noqa: E402
from tests import book_corpus as corpus  # noqa: E402
from tests.pipeline_support import create_book, follow  # noqa: E402
from tests.support import start_azurite, start_host  # noqa: E402


def timed_gets(port: int, path: str, count: int, headers: dict[str, str] | None = None) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    expected = 304 if headers else 200
    started = time.perf_counter()
    for _ in range(count):
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        assert response.status == expected, (path, response.status)
    return time.perf_counter() - started


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU of a process and its children (the host's worker and step processes)."""
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quire-serving-"))
    azurite = start_azurite()
    host = start_host(ROOT, {"AzureWebJobsStorage": azurite.connection_string}, work / "host.log")
    try:
        book, _ = create_book(host.base_url, corpus.small_book_zip(1), "small.zip")
        job = follow(host.base_url, book, timeout=120)
        assert job["status"] == "succeeded", job
        port = int(host.base_url.rsplit(":", 1)[1])
        blob = (
            BlobServiceClient.from_connection_string(azurite.connection_string)
            .get_container_client("quire-books")
            .get_blob_client(f"{book}/app/publication.json")
        )
        conditional = http.client.HTTPConnection("127.0.0.1", port)
        conditional.request("GET", f"/api/books/{book}/opds")
        etag = conditional.getresponse().getheader("ETag") or ""

        def bare(count: int) -> float:
            started = time.perf_counter()
            for _ in range(count):
                blob.download_blob().readall()
            return time.perf_counter() - started

        services = Services.from_settings(Settings.from_env({"AzureWebJobsStorage": azurite.connection_string}))

        def in_process(count: int, etag: str = "") -> float:
            request = func.HttpRequest(
                "GET",
                f"http://localhost/api/books/{book}/opds",
                headers={"If-None-Match": etag} if etag else {},
                route_params={"id": book},
                body=b"",
            )
            started = time.perf_counter()
            for _ in range(count):
                assert opds.book_catalog(request, services, version=1).status_code == (304 if etag else 200)
            return time.perf_counter() - started

        cases: dict[str, Callable[[int], float]] = {
            "bare blob read (SDK)": bare,
            "book file via host": lambda n: timed_gets(port, f"/api/books/{book}/app/publication.json", n),
            "OPDS 1.2": lambda n: timed_gets(port, f"/api/books/{book}/opds", n),
            "OPDS 2.0": lambda n: timed_gets(port, f"/api/books/{book}/opds.json", n),
            "OPDS 1.2, 304": lambda n: timed_gets(port, f"/api/books/{book}/opds", n, {"If-None-Match": etag}),
            "OPDS 1.2, no host": in_process,
            "OPDS 1.2, 304, no host": lambda n: in_process(n, etag),
        }
        for run in cases.values():
            run(30)  # warm up: connections, imports, caches
        processes = {"host": psutil.Process(host.process.pid), "azurite": psutil.Process(azurite.process.pid)}
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, run in cases.items():
                before = {k: cpu_seconds(p) for k, p in processes.items()}
                elapsed = run(args.requests)
                after = {k: cpu_seconds(p) for k, p in processes.items()}
                times[name].append(elapsed / args.requests * 1000)
                cpu[name].append(sum(after[k] - before[k] for k in processes) / args.requests * 1000)
        floor = statistics.median(times["bare blob read (SDK)"])
        via_host = statistics.median(times["book file via host"])
        print(f"\n{args.requests} sequential requests × {args.rounds} rounds, one small published book")
        for name in cases:
            median = statistics.median(times[name])
            spread = f"{min(times[name]):.2f}–{max(times[name]):.2f}"
            print(
                f"  {name:22} {median:6.2f} ms ({spread})  host+Azurite CPU {statistics.median(cpu[name]):5.2f} ms"
                f"  {median / floor:5.2f}× the bare blob read  {median / via_host:5.2f}× a book file via the host"
            )
        print("target: an OPDS answer ≤ 1.5× the bare blob read")
    finally:
        host.stop()
        azurite.stop()


if __name__ == "__main__":
    main()
