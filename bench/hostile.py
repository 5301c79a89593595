"""Hostile manuscripts through the running app: how long each takes to end, and at what cost.

For each case of tests/hostile_corpus.py: upload it over HTTP to the stand-in host (default
settings: the step budget of the settings table), follow the job to its end, and print the time
from upload to the end, the CPU seconds and the peak resident memory of the whole host (host
process, worker process, its zygote and step processes), then the reason the job got. Afterwards a normal
book must still convert. The reference is the same host converting `examples/harbour.zip` in the
same run.

Run: `.venv/bin/python bench/hostile.py [--only "1 MB of *"]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from shared.budget import KEEP_IDLE_SECONDS  # noqa: E402
from tests.hostile_corpus import CASES  # noqa: E402
from tests.pipeline_support import follow, http_json  # noqa: E402
from tests.support import TreeSampler, http, start_azurite, start_host  # noqa: E402


def tree_cpu(host: psutil.Process) -> float:
    """CPU seconds of the live tree, each process with its reaped children: a step process that
    ran earlier cases and ends during this one is then counted for this case's part only."""
    total = 0.0
    for process in [host, *host.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(process.cpu_times()[:4])
    return total


def run_case(base_url: str, host: psutil.Process, filename: str, data: bytes) -> tuple[str, float, float, int, str]:
    before = tree_cpu(host)
    started = time.monotonic()
    with TreeSampler(host.pid) as sampler:
        status, _, body = http("POST", f"{base_url}/api/manuscripts?filename={filename}", data)
        if status != 202:
            outcome, reason = f"refused {status}", body.decode("utf-8", "replace")[:160]
        else:
            job = follow(base_url, json.loads(body)["id"], timeout=600)
            outcome, reason = job["status"], (job.get("error") or "")
        elapsed = time.monotonic() - started
    cpu = tree_cpu(host) - before
    return outcome, elapsed, cpu, sampler.peak_rss, reason


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only the case with this name")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quire-hostile-"))
    azurite = start_azurite()
    host = start_host(ROOT, {"AzureWebJobsStorage": azurite.connection_string}, work / "host.log")
    tree = psutil.Process(host.process.pid)

    def resident() -> int:
        return sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)])

    try:
        harbour = (ROOT / "examples" / "harbour.zip").read_bytes()
        rows = [("reference: examples/harbour.zip", *run_case(host.base_url, tree, "harbour.zip", harbour))]
        idle_before = resident()
        for case in CASES:
            if args.only and case.name != args.only:
                continue
            rows.append((case.name, *run_case(host.base_url, tree, case.filename, case.make())))
        rows.append(("a normal book afterwards", *run_case(host.base_url, tree, "harbour.zip", harbour)))
        time.sleep(2)
        idle_right_after = resident()
        time.sleep(KEEP_IDLE_SECONDS + 2)  # a step process that gave its memory back waits this long
        idle_after = resident()
        assert http_json("GET", f"{host.base_url}/api/health")[0] == 200
    finally:
        host.stop()
        azurite.stop()
    print(f"{'case':<36} {'outcome':<10} {'seconds':>7} {'CPU s':>6} {'peak MB':>8}  reason")
    for name, outcome, seconds, cpu, peak, reason in rows:
        print(f"{name:<36} {outcome:<10} {seconds:7.1f} {cpu:6.1f} {peak / 2**20:8.0f}  {reason[:110]}")
    print(
        f"host, worker and zygote resident when idle: {idle_before / 2**20:.0f} MB after the first book; "
        f"after all of them {idle_right_after / 2**20:.0f} MB at once, {idle_after / 2**20:.0f} MB once the "
        f"idle step processes ended ({KEEP_IDLE_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
