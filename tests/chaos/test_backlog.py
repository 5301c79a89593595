"""A backlog longer than the stall bound is waiting, not stalled: nothing re-driven, nothing failed."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.storage.queue import BinaryBase64EncodePolicy, QueueClient

from shared.jobs.messages import ConvertStep
from shared.jobs.record import FIRST_STEP, Job
from shared.storage.names import CONVERSION_QUEUE
from tests import book_corpus as corpus
from tests.pipeline_support import follow, upload
from tests.support import Azurite, Supervisor, wait_for

UPLOADS = 120
STALL_SECONDS = 30


@pytest.mark.slow
def test_a_backlog_longer_than_the_stall_bound_ends_with_every_job_succeeded_once(
    workers: Callable[..., Supervisor],
    claimants: Callable[[], dict[tuple[str, str], set[str]]],
    commit_counts: Callable[[], dict[tuple[str, str], int]],
    job_row: Callable[[str], Job],
) -> None:
    # One host, a 30 s stall bound and a reconciler every 10 s: the queue holds minutes of work.
    host = workers(JOB_STALL_SECONDS=str(STALL_SECONDS), RECONCILE_SCHEDULE="*/10 * * * * *")
    books = [corpus.small_book_zip(index % 20) for index in range(UPLOADS)]
    with ThreadPoolExecutor(max_workers=10) as uploaders:
        job_ids = list(uploaders.map(lambda data: upload(host.host.base_url, data, "book.zip"), books))
    jobs = [follow(host.host.base_url, job_id, timeout=600, interval=2) for job_id in job_ids]

    assert Counter(job["status"] for job in jobs) == {"succeeded": UPLOADS}, [
        job["error"] for job in jobs if job["status"] == "failed"
    ]
    assert host.logs().count("Executed 'Functions.reconcile'") >= 3  # the reconciler did look, several times
    assert [job_id for job_id in job_ids if job_row(job_id).redrives] == []  # waited in the backlog: never re-driven
    # Each step's work ran once: one message took its claim and it was committed once. (A queue
    # may still deliver a message twice; such a delivery finds its step held or committed and ends
    # without doing the work again. A run that failed, as storage is slow under this load, is
    # retried by the queue with the same message: a later run, not a copy beside it.)
    steps = {(job_id, step) for job_id in job_ids for step in job_row(job_id).completed}
    assert len(steps) == sum(job["progress"]["steps_total"] for job in jobs)
    claimed, committed = claimants(), commit_counts()
    assert {key: len(messages) for key, messages in claimed.items() if len(messages) != 1} == {}
    assert claimed.keys() == steps
    assert committed == dict.fromkeys(steps, 1)


def test_a_queued_job_shows_the_backlog_it_waits_behind(workers: Callable[..., Supervisor]) -> None:
    from tests.pipeline_support import http_json

    web = workers(["upload_manuscript", "get_manuscript", "health"])  # no worker: everything waits
    job_ids = [upload(web.host.base_url, corpus.small_book_zip(index), "book.zip") for index in range(3)]
    time.sleep(2)
    status, job = http_json("GET", f"{web.host.base_url}/api/manuscripts/{job_ids[-1]}")
    assert status == 200 and job["status"] == "queued"
    assert job["queue"]["messages"] == 3
    assert 1 <= job["queue"]["front_waited_seconds"] <= 30


def test_a_step_slower_than_the_stall_bound_is_not_run_twice(
    workers: Callable[..., Supervisor], job_row: Callable[[str], Job]
) -> None:
    from tests.hostile_corpus import _prose

    host = workers(JOB_STALL_SECONDS="1", RECONCILE_SCHEDULE="* * * * * *", STEP_MEMORY_MB="1024")  # look every second
    chapters = "".join(f"# Chapter {n}\n\n{_prose(400_000, seed=n)}\n\n" for n in range(120))  # 48 MB
    job_id = upload(host.host.base_url, corpus.zip_of({"book.md": chapters.encode()}), "slow.zip")
    job = follow(host.host.base_url, job_id, timeout=300, interval=1)
    assert job["status"] == "succeeded", job
    logs = host.logs()
    plan_seconds = (
        max(
            float(s) for s in re.findall(r"Executed 'Functions\.convert' \(Succeeded, Id=[^,]+, Duration=(\d+)ms", logs)
        )
        / 1000
    )
    assert plan_seconds > 2, "the step must outlast the stall bound for this test to mean anything"
    assert job_row(job_id).redrives == 0  # seen running, so never re-driven
    assert len(re.findall(r"Executing 'Functions\.convert'", logs)) == job["progress"]["steps_total"]


def test_other_deliveries_of_a_running_step_are_dropped_not_run_beside_it(
    workers: Callable[..., Supervisor],
    storage_emulator: Azurite,
    commit_counts: Callable[[], dict[tuple[str, str], int]],
    claimants: Callable[[], dict[tuple[str, str], set[str]]],
) -> None:
    from tests.hostile_corpus import _prose
    from tests.pipeline_support import http_json

    host = workers()
    chapters = "".join(f"# Chapter {n}\n\n{_prose(400_000, seed=n)}\n\n" for n in range(50))  # 20 MB: a long plan
    job_id = upload(host.host.base_url, corpus.zip_of({"book.md": chapters.encode()}), "slow.zip")
    deadline = time.monotonic() + 60
    while http_json("GET", f"{host.host.base_url}/api/manuscripts/{job_id}")[1]["status"] != "running":
        assert time.monotonic() < deadline, "the plan step never started"
        time.sleep(0.1)
    # Three more deliveries of the plan while it runs: a re-drive, a duplicate, a repeated fan-out.
    queue = QueueClient.from_connection_string(
        storage_emulator.connection_string, CONVERSION_QUEUE, message_encode_policy=BinaryBase64EncodePolicy()
    )
    for _ in range(3):
        queue.send_message(ConvertStep(job_id, FIRST_STEP).to_message().encode())
    job = follow(host.host.base_url, job_id, timeout=300, interval=1)
    assert job["status"] == "succeeded", job
    wait_for(
        lambda: host.logs().count("Executed 'Functions.convert'") >= job["progress"]["steps_total"] + 3,
        20,
        "4 plan runs",
    )
    assert len(claimants()[job_id, "plan"]) == 1  # the three other deliveries were dropped
    assert commit_counts()[job_id, "plan"] == 1
