"""Pipeline benchmark: upload to `succeeded` through the local host, against the CLI on the same input.

Prints, for the 1 MB and 5 MB books of bench/convert.py:
- one job on one worker, as a ratio of `python -m shared.convert` (target ≤ 1.3×);
- one job with its steps fanned out over two workers (two host processes), ratio (target ≤ 1.0×);
and the throughput of 20 concurrent uploads of small mixed books on two workers.

Run: `.venv/bin/python bench/pipeline.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from convert import make_images, prepare  # noqa: E402

from tests import book_corpus as corpus  # noqa: E402
from tests.pipeline_support import follow, upload  # noqa: E402
from tests.support import start_azurite, start_host  # noqa: E402

RUNS = 5  # this 2-core machine is noisy: single runs vary by ±15 %


def cli_time(book: Path, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "shared.convert", str(book), "--out", str(book.parent / "cli"), "--modified", "2026-11-21T00:00:00Z"],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def pipeline_time(base_url: str, data: bytes, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        job_id = upload(base_url, data, "book.zip")
        job = follow(base_url, job_id, timeout=300)
        assert job["status"] == "succeeded", job
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="quire-pipeline-"))
    make_images(work / "images")
    prepare(work / "1mb", 1_050_000, 30, work / "images")
    prepare(work / "5mb", 5_200_000, 60, work / "images")
    books = {"1 MB": work / "1mb" / "book.zip", "5 MB": work / "5mb" / "book.zip"}
    cli = {label: cli_time(path) for label, path in books.items()}

    azurite = start_azurite()
    env = {"AzureWebJobsStorage": azurite.connection_string, "MAX_UPLOAD_BYTES": str(100 * 2**20)}
    first = start_host(ROOT, env, work / "host1.log")
    try:
        one = {label: pipeline_time(first.base_url, path.read_bytes()) for label, path in books.items()}
        second = start_host(ROOT, env, work / "host2.log", extra_args=["--functions", "convert"], wait_path=None)
        try:
            time.sleep(1)
            two = {label: pipeline_time(first.base_url, path.read_bytes()) for label, path in books.items()}
            small = [corpus.small_book_zip(i) for i in range(20)]
            started = time.perf_counter()
            with ThreadPoolExecutor(20) as pool:
                ids = list(pool.map(lambda d: upload(first.base_url, d, "small.zip"), small))
            for job_id in ids:
                assert follow(first.base_url, job_id, timeout=300)["status"] == "succeeded"
            burst = time.perf_counter() - started
        finally:
            second.stop()
    finally:
        first.stop()
        azurite.stop()

    print(f"upload → succeeded through the stand-in host, against the CLI on the same input (median of {RUNS})")
    for label in books:
        print(f"{label} book: CLI {cli[label]:.2f} s")
        print(f"  one worker  : {one[label]:.2f} s   ratio {one[label] / cli[label]:.2f}×  (target ≤ 1.3×)")
        print(f"  two workers : {two[label]:.2f} s   ratio {two[label] / cli[label]:.2f}×  (target ≤ 1.0×)")
    print(f"20 concurrent uploads of small books, two workers: {burst:.1f} s, {20 / burst:.1f} books/s")


if __name__ == "__main__":
    main()
