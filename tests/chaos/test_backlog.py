"""A backlog longer than the stall bound is waiting, not stalled: nothing re-driven, nothing failed."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from azure.storage.queue import BinaryBase64EncodePolicy, QueueClient

from shared.jobs.record import FIRST_STEP, conversion_message
from shared.settings import CONVERSION_QUEUE
from tests import book_corpus as corpus
from tests.pipeline_support import follow, upload
from tests.support import Azurite, Supervisor, wait_for

UPLOADS = 120
STALL_SECONDS = 30


def test_a_backlog_longer_than_the_stall_bound_ends_with_every_job_succeeded_once(
    workers: Callable[..., Supervisor],
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
    logs = host.logs()
    assert "stalled since" not in logs  # waited in the backlog: never re-driven
    assert logs.count("Executed 'Functions.reconcile'") >= 3  # the reconciler did look, several times
    # Each step's work ran once: as many claimed runs as the jobs' steps, no copies of any. (A
    # queue may still deliver a message twice; such a delivery finds its step held or committed and
    # ends without doing the work again.)
    claimed_runs = logs.count("step claimed by message")
    deliveries = len(re.findall(r"Executed 'Functions\.convert' \(Succeeded", logs))
    repeated = re.findall(r".*(?:dropping duplicate|already committed|nothing to do|by another).*", logs)
    # A run that failed (storage slow under this load) is retried by the queue: a later run, not a
    # copy beside it.
    failed_runs = re.findall(r".*Executed 'Functions\.convert' \(Failed.*", logs)
    steps = sum(job["progress"]["steps_total"] for job in jobs)
    assert steps <= claimed_runs <= steps + len(failed_runs), (repeated, failed_runs)
    # The last steps' invocations end (and log) just after their jobs read succeeded: let them.
    wait_for(
        lambda: host.logs().count("Executed 'Functions.convert' (Succeeded") >= steps + len(repeated),
        20,
        "the last deliveries to end",
    )
    deliveries = host.logs().count("Executed 'Functions.convert' (Succeeded")
    assert deliveries == steps + len(repeated), repeated  # each other delivery did nothing


def test_a_queued_job_shows_the_backlog_it_waits_behind(workers: Callable[..., Supervisor]) -> None:
    from tests.pipeline_support import http_json

    web = workers(["upload_manuscript", "get_manuscript", "health"])  # no worker: everything waits
    job_ids = [upload(web.host.base_url, corpus.small_book_zip(index), "book.zip") for index in range(3)]
    time.sleep(2)
    status, job = http_json("GET", f"{web.host.base_url}/api/manuscripts/{job_ids[-1]}")
    assert status == 200 and job["status"] == "queued"
    assert job["queue"]["messages"] == 3
    assert 1 <= job["queue"]["front_waited_seconds"] <= 30


def test_a_step_slower_than_the_stall_bound_is_not_run_twice(workers: Callable[..., Supervisor]) -> None:
    from tests.hostile_corpus import _prose

    host = workers(JOB_STALL_SECONDS="1", RECONCILE_SCHEDULE="* * * * * *")  # look every second
    chapters = "".join(f"# Chapter {n}\n\n{_prose(400_000, seed=n)}\n\n" for n in range(50))  # 20 MB
    job_id = upload(host.host.base_url, corpus.zip_of({"book.md": chapters.encode()}), "slow.zip")
    job = follow(host.host.base_url, job_id, timeout=300, interval=1)
    assert job["status"] == "succeeded", job
    logs = host.logs()
    assert re.search(r"the step used [0-9.]+ s", logs)
    plan_seconds = (
        max(
            float(s) for s in re.findall(r"Executed 'Functions\.convert' \(Succeeded, Id=[^,]+, Duration=(\d+)ms", logs)
        )
        / 1000
    )
    assert plan_seconds > 2, "the step must outlast the stall bound for this test to mean anything"
    assert "stalled since" not in logs  # seen running, so never re-driven
    assert len(re.findall(r"Executing 'Functions\.convert'", logs)) == job["progress"]["steps_total"]


def test_other_deliveries_of_a_running_step_are_dropped_not_run_beside_it(
    workers: Callable[..., Supervisor],
    storage_emulator: Azurite,
    commit_counts: Callable[[], dict[tuple[str, str], int]],
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
        queue.send_message(conversion_message(job_id, FIRST_STEP).encode())
    job = follow(host.host.base_url, job_id, timeout=300, interval=1)
    assert job["status"] == "succeeded", job
    plan_lines = [line for line in host.logs().splitlines() if f"job={job_id} step=plan]" in line]
    assert sum("step claimed by message" in line for line in plan_lines) == 1
    assert sum("running for another message: dropping duplicate" in line for line in plan_lines) == 3
    assert commit_counts()[job_id, "plan"] == 1
