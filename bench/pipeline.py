"""Pipeline benchmark: upload to `succeeded` through the local host, against the CLI on the same input.

Prints, for the 1 MB and 5 MB books of bench/convert.py:
- one job on one worker, as a ratio of `python -m shared.cli` (#41's targets: ≤ 1.10× its time,
  ≤ 1.2× its CPU);
- one job with its steps fanned out over two workers (two host processes), ratio (target ≤ 1.0×);
and the throughput of 20 concurrent uploads of small mixed books on two workers. The CLI and the
pipeline run turn about, five times each, and the medians are compared: this machine's speed drifts
by ±15 % from minute to minute, and both sides must see the same drift. Each line also gives the CPU
both sides used (the pipeline's: its hosts, their worker and step processes, and Azurite), since
every process here shares os.cpu_count() cores, and of the pipeline's, the stand-in hosts' own (the
.NET host's part on Azure; #41: ≤ 10 % of the rest).

Run: `.venv/bin/python bench/pipeline.py`.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The CLI is timed one run at a time: compiling every module on each run, as this variable forces
# (some machines set it), is not its cost, and the long-lived hosts pay it once.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psutil  # noqa: E402
from convert import make_images, prepare  # noqa: E402

from tests import book_corpus as corpus  # noqa: E402
from tests.pipeline_support import follow, upload  # noqa: E402
from tests.support import start_azurite, start_host  # noqa: E402

RUNS = 5  # this 2-core machine is noisy: single runs vary by ±15 %


Run = tuple[float, float, float]  # wall seconds, CPU seconds, of which the stand-in hosts' own


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_once(book: Path) -> Run:
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(
        [sys.executable, "-m", "shared.cli", str(book), "--out", str(book.parent / "cli"), "--modified", "2026-11-21T00:00:00Z"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started, _children_cpu() - cpu, 0.0


def _cpu(processes: list[psutil.Process]) -> tuple[float, float]:
    """User and system CPU of the processes and their descendants (each host's worker processes,
    and the step processes their zygotes forked, counted in the zygote once it has reaped them);
    and, of that, the stand-in hosts' own (playing the .NET host's part: on Azure, not Quire's)."""
    every = {q.pid: q for p in processes for q in (p, *p.children(recursive=True))}
    total = sum(sum(p.cpu_times()[:4]) for p in every.values())
    hosts = sum(sum(p.cpu_times()[:2]) for p in processes if "devhost" in " ".join(p.cmdline()))
    return total, hosts


def pipeline_once(base_url: str, data: bytes, processes: list[psutil.Process]) -> Run:
    """Upload to `succeeded`, ended by the job's own time of success (the host shares this clock):
    polling often enough to time the end would cost the host the CPU the conversion needs."""
    started, (cpu, host) = datetime.now(UTC), _cpu(processes)
    job_id = upload(base_url, data, "book.zip")
    job = follow(base_url, job_id, timeout=300, interval=0.5)
    assert job["status"] == "succeeded", job
    succeeded = datetime.fromisoformat(job["updated"].replace("Z", "+00:00"))
    cpu_after, host_after = _cpu(processes)
    return (succeeded - started).total_seconds(), cpu_after - cpu, host_after - host


def interleaved(base_url: str, book: Path, processes: list[psutil.Process]) -> tuple[Run, Run]:
    """Medians of the CLI and the pipeline, run turn about so both see the same machine."""
    data = book.read_bytes()
    pairs = [(cli_once(book), pipeline_once(base_url, data, processes)) for _ in range(RUNS)]
    return _median([c for c, _ in pairs]), _median([p for _, p in pairs])


def _median(runs: list[Run]) -> Run:
    wall, cpu, host = (statistics.median(run[i] for run in runs) for i in range(3))
    return wall, cpu, host


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="quire-pipeline-"))
    make_images(work / "images")
    prepare(work / "1mb", 1_050_000, 30, work / "images")
    prepare(work / "5mb", 5_200_000, 60, work / "images")
    books = {"1 MB": work / "1mb" / "book.zip", "5 MB": work / "5mb" / "book.zip"}

    azurite = start_azurite()
    env = {"AzureWebJobsStorage": azurite.connection_string, "MAX_UPLOAD_BYTES": str(100 * 2**20)}
    first = start_host(ROOT, env, work / "host1.log")
    processes = [psutil.Process(azurite.process.pid), psutil.Process(first.process.pid)]
    try:
        pipeline_once(first.base_url, books["1 MB"].read_bytes(), processes)  # warm up: imports, containers, tables
        one = {label: interleaved(first.base_url, path, processes) for label, path in books.items()}
        second = start_host(ROOT, env, work / "host2.log", extra_args=["--functions", "convert"], wait_path=None)
        processes.append(psutil.Process(second.process.pid))
        try:
            time.sleep(1)
            two = {label: interleaved(first.base_url, path, processes) for label, path in books.items()}
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

    cores = os.cpu_count() or 1
    print(f"upload → succeeded through the stand-in host, against the CLI run turn about (median of {RUNS})")
    print(f"CPU: seconds used by the CLI, and by the pipeline's hosts and Azurite; all share {cores} cores")
    print(
        "(targets, #41: one worker ≤ 1.10× the CLI's time and ≤ 1.2× its CPU; the stand-in host's own CPU ≤ 10 % of the rest)"
    )
    for label in books:
        for workers, (cli, pipeline), target in (("one worker ", one[label], 1.1), ("two workers", two[label], 1.0)):
            print(
                f"{label} book, {workers}: pipeline {pipeline[0]:.2f} s, CLI {cli[0]:.2f} s, "
                f"ratio {pipeline[0] / cli[0]:.2f}×  (target ≤ {target}×); "
                f"CPU pipeline {pipeline[1]:.2f} s, CLI {cli[1]:.2f} s ({pipeline[1] / cli[1]:.2f}×; "
                f"the CLI kept {cli[1] / cli[0]:.1f} cores busy); of the pipeline's, the stand-in host's own "
                f"{pipeline[2]:.2f} s ({pipeline[2] / max(pipeline[1] - pipeline[2], 1e-9):.0%} of the rest)"
            )
    print(f"20 concurrent uploads of small books, two workers: {burst:.1f} s, {20 / burst:.1f} books/s")


if __name__ == "__main__":
    main()
