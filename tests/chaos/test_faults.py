"""Fault tests: kills at every named crash point, duplicates, transient failures, poison, lost messages.

Each test has its own Azurite and supervised stand-in hosts (restarted when killed). The pass
criteria: every job ends `succeeded` (or `failed` with a reason, when it must), outputs are
byte-identical to an undisturbed conversion, no checkpoint is left behind, progress never goes
backwards or skips, and each step of each job is committed exactly once.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient

from shared.jobs import conversion_message
from shared.settings import CONVERSION_QUEUE
from tests import book_corpus as corpus
from tests.pipeline_support import follow, golden, http_json, no_work_left, published, upload, work_blobs
from tests.support import Azurite, Supervisor

POINTS = {
    "plan": ["after_claim", "after_output_write", "before_commit", "after_commit"],
    "render": ["after_claim", "after_output_write", "before_commit", "after_commit"],
    "image": ["after_claim", "after_output_write", "before_commit", "after_commit"],
    "package": ["after_claim", "during_publish", "before_commit", "after_commit"],
}
CRASHES = [f"{kind}:{point}" for kind, points in POINTS.items() for point in points]


def commits(logs: str) -> Counter[tuple[str, str]]:
    return Counter(re.findall(r"commit job=(\S+) step=(\S+) done=", logs))


def check_job(connection: str, base_url: str, job_id: str, data: bytes, seen: list[int]) -> dict:
    job = follow(base_url, job_id, timeout=90, seen=seen)
    assert job["status"] == "succeeded", job
    steps = [s for s in seen]
    assert steps == sorted(steps), f"progress went backwards: {steps}"
    expected = golden(data, "zip", job)
    epub, app = published(connection, job_id)
    assert epub == expected.epub
    assert app == expected.app_files
    assert no_work_left(connection, job_id)
    return job


@pytest.mark.parametrize("crash", CRASHES)
def test_a_kill_at_each_crash_point_loses_nothing(
    crash: str, workers: Callable[..., Supervisor], storage_emulator: Azurite, tmp_path: Path
) -> None:
    marker = tmp_path / "crashed"
    worker = workers(QUIRE_CRASH_AT=crash, QUIRE_CRASH_ONCE_FILE=str(marker))
    data = corpus.small_book_zip()
    job_id = upload(worker.host.base_url, data, "small.zip")
    seen: list[int] = []
    # The host's port changes when it restarts: follow through whichever host is up.
    deadline = time.monotonic() + 90
    final = None
    while time.monotonic() < deadline:
        try:
            status, body = http_json("GET", f"{worker.host.base_url}/api/manuscripts/{job_id}")
        except OSError:
            time.sleep(0.1)
            continue
        if status == 200:
            seen.append(body["progress"]["steps_done"])
            if body["status"] in ("succeeded", "failed"):
                final = body
                break
        time.sleep(0.1)
    assert marker.exists(), f"the crash point {crash} was never reached"
    assert worker.restarts == 1
    assert final is not None and final["status"] == "succeeded", final
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    expected = golden(data, "zip", final)
    epub, app = published(storage_emulator.connection_string, job_id)
    assert epub == expected.epub and app == expected.app_files
    assert no_work_left(storage_emulator.connection_string, job_id)
    counted = commits(worker.logs())
    assert all(n == 1 for n in counted.values()), f"a step was committed twice: {counted}"
    assert len(counted) == final["progress"]["steps_total"]
