"""Upload benchmark: the API against the raw storage floor, measured in the same run.

Prints:
- throughput of concurrent 1 MB uploads through POST /api/manuscripts, as a ratio of the time the
  same number of raw blob uploads to the same Azurite take (target ≤ 1.5×);
- the serving process's peak memory growth for one 50 MiB upload, as a multiple of the upload
  (target < 3×);
- `import function_app` against a bare `import azure.functions` (target < 1.5×);
- direct uploads (the valet key) of 50 MiB and 300 MiB photo books: the time from asking to the
  accepted submit, against the raw floor of uploading the same file to the same Azurite with the
  storage SDK, and what the web tier's memory and CPU did meanwhile (its bytes never reach it).

It also prints the CPU Azurite spends per upload in each run. Azurite serves blobs, queues and
tables from one single-threaded Node process, so its CPU per upload bounds the throughput: the API
writes a blob, an entity and a message where the floor writes a blob, and that ratio is the best
the API can reach against this emulator, whatever the app does.

Run: `make bench` or `.venv/bin/python bench/upload.py [--uploads 60 --concurrency 6]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.large_book import write_photo_book  # noqa: E402
from tests.support import TreeSampler, start_azurite, start_host  # noqa: E402


def manuscript(size: int, seed: int) -> bytes:
    line = f"Paragraph {seed}: the quick brown fox jumps over the lazy dog again and again.\n\n".encode()
    return (b"# Chapter\n\n" + line * (size // len(line) + 1))[:size]


def raw_floor(connection: str, payloads: list[bytes], concurrency: int) -> float:
    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient.from_connection_string(connection).get_container_client("bench-floor")
    container.create_container()

    def put(index: int) -> None:
        container.get_blob_client(f"b{index}").upload_blob(payloads[index], overwrite=False)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, range(len(payloads))))
    return time.perf_counter() - started


def api_uploads(base_url: str, payloads: list[bytes], concurrency: int) -> float:
    def post(index: int) -> None:
        request = urllib.request.Request(
            f"{base_url}/api/manuscripts?filename=book{index}.md", data=payloads[index], method="POST"
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 202, response.status

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, range(len(payloads))))
    return time.perf_counter() - started


def peak_memory_growth(pid: int, base_url: str, size: int) -> tuple[int, int]:
    process = psutil.Process(pid)
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    data = manuscript(size, 0)
    request = urllib.request.Request(f"{base_url}/api/manuscripts?filename=big.md", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=300) as response:
        assert response.status == 202, response.status
    done.set()
    sampler.join()
    return baseline, peak


def raw_file_floor(connection: str, path: Path, block_bytes: int = 8 * 1024 * 1024) -> float:
    """The same file straight to the same Azurite with the storage SDK, in the blocks a direct
    upload uses, 4 at a time: the floor. (Below 64 MiB the SDK would send one Put Blob instead,
    which Azurite takes about three times as fast as blocks; a resumable upload needs blocks.)"""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(
        connection, max_block_size=block_bytes, max_single_put_size=block_bytes
    )
    container = service.get_container_client("bench-floor")
    started = time.perf_counter()
    with path.open("rb") as data:
        container.get_blob_client(path.name).upload_blob(data, overwrite=True, max_concurrency=4)
    return time.perf_counter() - started


def direct_upload(base_url: str, web_pid: int, path: Path) -> tuple[float, int, float]:
    """scripts/quire_upload.py, as an author runs it: seconds to the accepted submit, and the web
    tier's peak memory growth and CPU seconds meanwhile."""
    with TreeSampler(web_pid) as idle:
        time.sleep(0.5)
    cpu_before = sum(idle.cpu.values())
    started = time.perf_counter()
    with TreeSampler(web_pid) as busy:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "quire_upload.py"), str(path), "--url", base_url, "--quiet"],
            check=True,
            capture_output=True,
        )
    elapsed = time.perf_counter() - started
    return elapsed, busy.peak_rss - idle.peak_rss, sum(busy.cpu.values()) - cpu_before


def import_time(statement: str, runs: int = 7) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def _cpu_ms(before: Any, after: Any) -> float:
    return ((after.user + after.system) - (before.user + before.system)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=50 * 1024 * 1024 - 1024)
    parser.add_argument("--direct", type=int, nargs="*", default=[50, 300], help="direct-upload book sizes, MiB")
    args = parser.parse_args()

    azurite = start_azurite()
    log = Path(tempfile.mkdtemp()) / "host.log"
    # The web tier alone, as deployed apart from the workers: its cost is what is measured.
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": azurite.connection_string},
        log,
        extra_args=["--functions", "upload_manuscript", "request_upload", "submit_upload", "get_manuscript", "health"],
    )
    books = Path(tempfile.mkdtemp())
    direct: list[tuple[int, Path, float, tuple[float, int, float]]] = []
    try:
        payloads = [manuscript(args.size, i) for i in range(args.uploads)]
        api_uploads(host.base_url, payloads[:4], 2)  # warm up: containers, table, connections
        emulator = psutil.Process(azurite.process.pid)
        cpu_before = emulator.cpu_times()
        floor = raw_floor(azurite.connection_string, payloads, args.concurrency)
        cpu_between = emulator.cpu_times()
        api = api_uploads(host.base_url, payloads, args.concurrency)
        cpu_after = emulator.cpu_times()
        baseline, peak = peak_memory_growth(host.process.pid, host.base_url, args.big)
        direct_upload(host.base_url, host.process.pid, ROOT / "examples" / "harbour.zip")  # warm up
        for mib in args.direct:
            path = books / f"photo-book-{mib}.zip"
            write_photo_book(path, mib * 1024 * 1024)
            floor_s = raw_file_floor(azurite.connection_string, path)
            direct.append((mib, path, floor_s, direct_upload(host.base_url, host.process.pid, path)))
    finally:
        host.stop()
        azurite.stop()
    bare = import_time("import azure.functions")
    app = import_time("import function_app")

    mb = args.size * args.uploads / 1e6
    print(f"uploads: {args.uploads} × {args.size / 1e6:.1f} MB at concurrency {args.concurrency}")
    print(f"  raw blob floor : {floor:6.2f} s  ({mb / floor:6.1f} MB/s)")
    print(f"  POST /api      : {api:6.2f} s  ({mb / api:6.1f} MB/s)")
    print(f"  API / floor    : {api / floor:6.2f}×   (target ≤ 1.5×)")
    floor_cpu = _cpu_ms(cpu_before, cpu_between) / args.uploads
    api_cpu = _cpu_ms(cpu_between, cpu_after) / args.uploads
    print(
        f"  Azurite CPU per upload: floor {floor_cpu:.1f} ms, API {api_cpu:.1f} ms "
        f"(blob + entity + message): the emulator alone bounds the ratio at {api_cpu / floor_cpu:.2f}×"
    )
    growth = peak - baseline
    print(
        f"peak memory for one {args.big / 2**20:.0f} MiB upload: "
        f"+{growth / 2**20:.0f} MiB over {baseline / 2**20:.0f} MiB"
    )
    print(f"  growth / upload: {growth / args.big:6.2f}×   (target < 3×)")
    for _mib, path, floor_s, (seconds, grown, cpu) in direct:
        size = path.stat().st_size / 2**20
        print(f"direct upload of a {size:.0f} MiB photo book (ask, 8 MiB blocks 4 at a time, block list, submit):")
        print(f"  raw SDK, same blocks : {floor_s:6.2f} s  ({size / floor_s:6.1f} MiB/s)")
        print(f"  direct upload        : {seconds:6.2f} s  ({size / seconds:6.1f} MiB/s)")
        print(f"  direct / floor       : {seconds / floor_s:6.2f}×")
        print(f"  web tier meanwhile   : +{grown / 2**20:.1f} MiB peak memory, {cpu:.2f} s CPU")
    print(f"import function_app {app * 1000:.0f} ms vs import azure.functions {bare * 1000:.0f} ms")
    print(f"  ratio          : {app / bare:6.2f}×   (target < 1.5×)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
