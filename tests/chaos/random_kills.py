"""Chaos run: convert many mixed manuscripts while workers are killed with SIGKILL at random moments.

Most kills hit a Python worker process (the host starts a new one, as Azure does); every fourth
kills the whole host, as when Azure recycles an instance (the test's supervisor starts it again).

Pass criteria: every job ends `succeeded`, its EPUB and web-app book are byte-identical to an
undisturbed conversion, no checkpoint is left, no job is left running, and nothing reached the
poison queue. Usage: `.venv/bin/python -m tests.chaos.random_kills [--jobs 30] [--seed 1]`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from shared.storage.names import CONVERSION_QUEUE
from tests import book_corpus as corpus
from tests.pipeline_support import golden, http_json, no_work_left, published, upload
from tests.support import ROOT, Supervisor, start_azurite


def manuscripts(count: int) -> list[tuple[str, bytes, str]]:
    """A mix: zips with images, Word, HTML, plain text and Markdown (name, bytes, kind)."""
    mix = []
    for index in range(count):
        choice = index % 5
        if choice == 0:
            mix.append((f"book{index}.zip", corpus.small_book_zip(index), "zip"))
        elif choice == 1:
            mix.append(
                (f"book{index}.docx", corpus.docx(extra_body=f"<w:p><w:r><w:t>Copy {index}</w:t></w:r></w:p>"), "docx")
            )
        elif choice == 2:
            mix.append((f"book{index}.html", corpus.HTML_BOOK.replace("Suite.", f"Suite {index}.").encode(), "html"))
        elif choice == 3:
            mix.append((f"book{index}.txt", (corpus.PLAIN_TEXT + f"\nThe end {index}.\n").encode(), "text"))
        else:
            mix.append((f"book{index}.md", (corpus.NON_LATIN_MARKDOWN + f"\nКонец {index}.\n").encode(), "markdown"))
    return mix


def worker_processes(host_pid: int) -> list[int]:
    """The host's Python worker processes."""
    import psutil

    pids = []
    try:
        for child in psutil.Process(host_pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):  # a child may end while it is read
                if "devhost.worker" in " ".join(child.cmdline()):
                    pids.append(child.pid)
    except psutil.NoSuchProcess:
        return []
    return pids


def messages_in(connection: str, queue: str) -> int:
    """How many messages a queue holds (visible or not). Only a queue that was never created counts
    as empty: any other error (storage down, a wrong key) raises, and so fails the run."""
    try:
        properties = QueueClient.from_connection_string(connection, queue).get_queue_properties()
    except ResourceNotFoundError:
        return 0
    assert properties.approximate_message_count is not None, "the service sent no message count"
    return properties.approximate_message_count


def run(jobs: int, seed: int, mean_interval: float = 1.2) -> dict[str, object]:
    rng = random.Random(seed)
    azurite = start_azurite()
    logs = Path(tempfile.mkdtemp(prefix="quire-chaos-"))
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "DEVHOST_QUEUE_RECEIVE_VISIBILITY_SECONDS": "2",
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
        "IMAGES_IN_PLAN_BYTES": "0",  # every image in its own fanned-out step: more moments to kill
    }
    worker = Supervisor(ROOT, env, logs, [])
    kills = 0
    done = threading.Event()

    # Then the kills stop and the work drains: at a fixed kill rate a slow machine (a host restart
    # took several seconds under load) could be kept from finishing at all, which proves nothing.
    max_kills = jobs * 3
    killing_over = threading.Event()

    def killer() -> None:
        nonlocal kills
        while kills < max_kills and not done.wait(rng.expovariate(1 / mean_interval)):
            process = worker.host.process
            if process.poll() is not None:
                continue
            targets = [process.pid] if kills % 4 == 3 else worker_processes(process.pid)
            for pid in targets[:1]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
        killing_over.set()

    started = time.monotonic()
    try:
        submitted = {}
        for name, data, kind in manuscripts(jobs):
            while True:
                try:
                    submitted[upload(worker.host.base_url, data, name)] = (data, kind)
                    break
                except OSError:
                    time.sleep(0.2)  # the host was just killed; try again once it is back
        threading.Thread(target=killer, daemon=True).start()
        finals: dict[str, dict[str, Any]] = {}
        deadline = None
        give_up = time.monotonic() + 300 + jobs * 30  # in case the host never comes back at all
        while len(finals) < len(submitted) and time.monotonic() < (deadline or give_up):
            if deadline is None and killing_over.is_set():
                deadline = time.monotonic() + 60 + jobs * 10  # to drain, once the kills are over
            for job_id in submitted.keys() - finals.keys():
                try:
                    status, body = http_json("GET", f"{worker.host.base_url}/api/manuscripts/{job_id}")
                except OSError:
                    break
                if status == 200 and body["status"] in ("succeeded", "failed"):
                    finals[job_id] = body
            time.sleep(0.2)
        done.set()
        elapsed = time.monotonic() - started
        problems = []
        for job_id, (data, kind) in submitted.items():
            final = finals.get(job_id)
            if final is None or final["status"] != "succeeded":
                problems.append(f"{job_id}: {final and final['status']} {final and final.get('error')}")
                continue
            expected = golden(data, kind, final)
            epub, app = published(azurite.connection_string, job_id)
            if epub != expected.epub or app != expected.app_files:
                problems.append(f"{job_id}: outputs differ from an undisturbed conversion")
            if not no_work_left(azurite.connection_string, job_id):
                problems.append(f"{job_id}: checkpoints left behind")
        if poisoned := messages_in(azurite.connection_string, f"{CONVERSION_QUEUE}-poison"):
            problems.append(f"{poisoned} messages reached the poison queue")
        return {
            "jobs": len(submitted),
            "kills": kills,
            "host_restarts": worker.restarts,
            "seconds": round(elapsed, 1),
            "problems": problems,
        }
    finally:
        done.set()
        worker.stop()
        azurite.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.jobs, args.seed)
    print(result)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
