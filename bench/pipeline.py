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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from tests.support import Azurite, start_azurite, start_host  # noqa: E402

RUNS = 5  # this 2-core machine is noisy: single runs vary by ±15 %


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: dict[str, float]  # CPU seconds by process kind (CPU_KINDS)
    requests: Counter[str]  # storage requests Azurite served, by kind ("PUT blob")

    @property
    def total_cpu(self) -> float:
        return sum(self.cpu.values())


# The pipeline's processes by kind: Azurite; the stand-in hosts (the .NET host's part on Azure);
# their worker processes (the invocations: storage calls, claims, messages); the step processes
# the workers' zygotes fork (the conversion itself, as the CLI does it).
CPU_KINDS = ("Azurite", "hosts", "workers", "steps")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_once(book: Path) -> Run:
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(
        [sys.executable, "-m", "shared.cli", str(book), "--out", str(book.parent / "cli"), "--modified", "2026-11-21T00:00:00Z"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return Run(time.perf_counter() - started, {"CLI": _children_cpu() - cpu}, Counter())


def _kind(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if "azurite" in command:
        return "Azurite"
    if "devhost.worker" in command:
        return "workers"
    return "hosts" if "-m devhost" in command else "steps"


def _cpu(processes: list[psutil.Process]) -> dict[str, float]:
    """User and system CPU of the processes and their descendants, by kind. A step process the
    zygote forked and reaped is counted in its parent's children times: those are steps."""
    every = {q.pid: q for p in processes for q in (p, *p.children(recursive=True))}
    cpu = dict.fromkeys(CPU_KINDS, 0.0)
    for process in every.values():
        times = process.cpu_times()
        cpu[_kind(process)] += times.user + times.system
        cpu["steps"] += times.children_user + times.children_system
    return cpu


def pipeline_once(base_url: str, data: bytes, processes: list[psutil.Process], azurite: Azurite) -> Run:
    """Upload to `succeeded`, ended by the job's own time of success (the host shares this clock):
    polling often enough to time the end would cost the host the CPU the conversion needs."""
    started, cpu, requests = datetime.now(UTC), _cpu(processes), azurite.requests.copy()
    job_id = upload(base_url, data, "book.zip")
    job = follow(base_url, job_id, timeout=300, interval=0.5)
    assert job["status"] == "succeeded", job
    succeeded = datetime.fromisoformat(job["updated"].replace("Z", "+00:00"))
    cpu_after = _cpu(processes)
    used = {kind: cpu_after[kind] - cpu[kind] for kind in CPU_KINDS}
    return Run((succeeded - started).total_seconds(), used, azurite.requests - requests)


def interleaved(base_url: str, book: Path, processes: list[psutil.Process], azurite: Azurite) -> list[tuple[Run, Run]]:
    """The CLI and the pipeline, run turn about so both see the same machine."""
    data = book.read_bytes()
    return [(cli_once(book), pipeline_once(base_url, data, processes, azurite)) for _ in range(RUNS)]


def _spread(values: list[float], unit: str = "×") -> str:
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}–{max(values):.2f})"


def report(label: str, workers: str, pairs: list[tuple[Run, Run]], target: float) -> None:
    clis, pipelines = [c for c, _ in pairs], [p for _, p in pairs]
    print(
        f"{label} book, {workers}: pipeline {_spread([p.wall for p in pipelines], ' s')}, "
        f"CLI {_spread([c.wall for c in clis], ' s')}; ratio {_spread([p.wall / c.wall for c, p in pairs])} "
        f"(target ≤ {target}×)"
    )
    print(
        f"  CPU: pipeline {_spread([p.total_cpu for p in pipelines], ' s')}, CLI {_spread([c.total_cpu for c in clis], ' s')}; "
        f"ratio {_spread([p.total_cpu / c.total_cpu for c, p in pairs])}; the CLI kept "
        f"{statistics.median(c.total_cpu / c.wall for c in clis):.1f} cores busy"
    )
    kinds = ", ".join(f"{kind} {statistics.median(p.cpu[kind] for p in pipelines):.2f} s" for kind in CPU_KINDS)
    own = [p.cpu["hosts"] / (p.total_cpu - p.cpu["hosts"]) for p in pipelines]
    print(f"  pipeline CPU by process (medians): {kinds}; the hosts' own: {_spread(own, '')} of the rest (≤ 0.10)")
    requests = pipelines[-1].requests
    listed = ", ".join(f"{count} {kind}" for kind, count in sorted(requests.items(), key=lambda item: -item[1]))
    print(f"  storage requests (last run): {sum(requests.values())}: {listed}")


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
        pipeline_once(first.base_url, books["1 MB"].read_bytes(), processes, azurite)  # warm up: imports, containers
        one = {label: interleaved(first.base_url, path, processes, azurite) for label, path in books.items()}
        second = start_host(ROOT, env, work / "host2.log", extra_args=["--functions", "convert"], wait_path=None)
        processes.append(psutil.Process(second.process.pid))
        try:
            time.sleep(1)
            two = {label: interleaved(first.base_url, path, processes, azurite) for label, path in books.items()}
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

    print(f"upload → succeeded through the stand-in host, against the CLI run turn about ({RUNS} runs: median (range))")
    print(f"CPU: seconds used by the CLI, and by the pipeline's processes; all share {os.cpu_count()} cores")
    print("(targets, #41: one worker ≤ 1.10× the CLI's time and ≤ 1.2× its CPU; the stand-in hosts' own CPU ≤ 10 %)")
    for label in books:
        report(label, "one worker", one[label], 1.1)
        report(label, "two workers", two[label], 1.0)
    print(f"20 concurrent uploads of small books, two workers: {burst:.1f} s, {20 / burst:.1f} books/s")


if __name__ == "__main__":
    main()
