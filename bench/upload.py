"""Upload benchmark: the API against the raw storage floor, measured in the same run.

Prints:
- concurrent 1 MB form uploads through POST /api/manuscripts against the raw blob floor and a
  replay of their storage requests straight from the SDK, in --rounds rounds, with the CPU each
  process spent an upload and the emulator's own bound (bench/form_uploads.py);
- the serving process's peak memory growth for one 50 MiB upload, as a multiple of the upload
  (target < 3×);
- `import function_app` against a bare `import azure.functions`, time and CPU (#41: ≤ 1.2×);
- direct uploads (the valet key) of 50 MiB and 300 MiB photo books: the time from asking to the
  accepted submit, against the raw floor of uploading the same file to the same Azurite with the
  storage SDK, and what the web tier's memory and CPU did meanwhile (its bytes never reach it).

Run: `make bench` or `.venv/bin/python bench/upload.py [--uploads 60 --concurrency 6 --rounds 5]`
(`--direct` with no sizes skips the direct uploads).
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
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.form_uploads import form_upload_rounds, manuscript, print_form_uploads  # noqa: E402
from tests.large_book import write_photo_book  # noqa: E402
from tests.support import TreeSampler, start_azurite, start_host  # noqa: E402


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


def import_time(statement: str, runs: int = 7) -> tuple[float, float]:
    """Median seconds and CPU seconds of `statement` in a fresh interpreter."""
    code = (
        "import time; t, c = time.perf_counter(), time.process_time(); "
        f"{statement}; print(time.perf_counter() - t, time.process_time() - c)"
    )
    runs_ = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(runs)
    ]
    return statistics.median(float(r[0]) for r in runs_), statistics.median(float(r[1]) for r in runs_)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5, help="form uploads: floor then API, this many times")
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
        form_uploads = form_upload_rounds(azurite, host, payloads, args.concurrency, args.rounds)
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

    print_form_uploads(form_uploads, args.uploads, args.size, args.concurrency)
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
    print(
        f"import function_app {app[0] * 1000:.0f} ms (CPU {app[1] * 1000:.0f} ms) vs import azure.functions "
        f"{bare[0] * 1000:.0f} ms (CPU {bare[1] * 1000:.0f} ms), medians of 7"
    )
    print(f"  ratio          : {app[0] / bare[0]:6.2f}×, CPU {app[1] / bare[1]:.2f}×   (#41: ≤ 1.2×)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
