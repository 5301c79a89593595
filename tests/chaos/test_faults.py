"""Fault tests: kills at every named crash point, duplicates, transient failures, poison, lost messages.

Each test has its own Azurite and supervised stand-in hosts (restarted when killed). The pass
criteria: every job ends `succeeded` (or `failed` with a reason, when it must), outputs are
byte-identical to an undisturbed conversion, no checkpoint is left behind, progress never goes
backwards or skips, and each step of each job is committed exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from shared.jobs.messages import ConvertStep
from shared.jobs.record import JOB_ROW_KEY, Job
from shared.storage import NotFound, Storage
from shared.storage.names import CONVERSION_QUEUE, JOB_TABLE
from tests import book_corpus as corpus
from tests.pipeline_support import follow, golden, http_json, no_work_left, published, upload
from tests.support import Azurite, Supervisor, wait_for

POINTS = {
    "plan": ["after_claim", "after_output_write", "before_commit", "after_commit"],
    "images": ["after_claim", "after_output_write", "before_commit", "after_commit"],
    "pdf": ["after_claim", "after_output_write", "before_commit", "after_commit"],
    "package": ["after_claim", "during_publish", "before_commit", "after_commit"],
}
CRASHES = [f"{kind}:{point}" for kind, points in POINTS.items() for point in points]
# With the default budget the plan step processes the images itself: kill it around those writes too.
IN_PLAN_IMAGES = {"IMAGES_IN_PLAN_BYTES": "16777216"}
CASES = [pytest.param(crash, {}, id=crash) for crash in CRASHES] + [
    pytest.param("plan:after_output_write=images/", IN_PLAN_IMAGES, id="plan:after_image_write-images-in-plan"),
    pytest.param("plan:after_commit", IN_PLAN_IMAGES, id="plan:after_commit-images-in-plan"),
]


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


@pytest.mark.parametrize(("crash", "settings"), CASES)
def test_a_kill_at_each_crash_point_loses_nothing(
    crash: str,
    settings: dict[str, str],
    workers: Callable[..., Supervisor],
    storage_emulator: Azurite,
    tmp_path: Path,
    commit_counts: Callable[[], dict[tuple[str, str], int]],
) -> None:
    marker = tmp_path / "crashed"
    worker = workers(FAULT_CRASH_AT=crash, FAULT_ONCE_FILE=str(marker), **settings)
    data = corpus.small_book_zip()
    job_id = upload(worker.host.base_url, data, "small.zip")
    seen: list[int] = []
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
    # The crash point killed the step's process: the worker and the host stayed up, and the queue
    # retried the step.
    # A kill after the last commit can land after the job already reads succeeded: wait for it.
    wait_for(lambda: "Executed 'Functions.convert' (Failed" in worker.logs(), 15, "the killed step's invocation to end")
    assert worker.restarts == 0
    assert final is not None and final["status"] == "succeeded", final
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    expected = golden(data, "zip", final)
    epub, app = published(storage_emulator.connection_string, job_id)
    assert epub == expected.epub and app == expected.app_files
    assert no_work_left(storage_emulator.connection_string, job_id)
    counted = commit_counts()
    assert counted, "no commit was recorded: the events file is missing or empty"
    assert all(n == 1 for n in counted.values()), f"a step was committed twice: {counted}"
    # Completeness comes from the job row: a kill can land between a commit and its event, so the
    # events may miss a commit, but never show one twice.
    row = Job.from_entity(
        Storage(storage_emulator.connection_string).get_entity(JOB_TABLE, job_id, JOB_ROW_KEY).properties
    )
    assert len(row.completed) == len(set(row.completed)) == final["progress"]["steps_total"]


def send_raw(connection: str, body: str, copies: int = 1) -> None:
    queue = QueueClient.from_connection_string(connection, CONVERSION_QUEUE)
    for _ in range(copies):
        queue.send_message(base64.b64encode(body.encode()).decode())


def test_the_same_messages_delivered_to_several_workers_commit_once(
    workers: Callable[..., Supervisor],
    storage_emulator: Azurite,
    commit_counts: Callable[[], dict[tuple[str, str], int]],
) -> None:
    first = workers()
    second = workers()
    books = {i: corpus.small_book_zip(i) for i in range(6)}
    jobs = {upload(first.host.base_url, data, f"book{i}.zip"): data for i, data in books.items()}
    for job_id in jobs:  # every job's first message three more times, racing on two workers
        send_raw(storage_emulator.connection_string, ConvertStep(job_id).to_message(), copies=3)
    for job_id, data in jobs.items():
        check_job(storage_emulator.connection_string, second.host.base_url, job_id, data, [])
    counted = commit_counts()
    assert counted, "no commit was recorded: the events file is missing or empty"
    assert all(n == 1 for n in counted.values()), f"a step was committed twice: {counted}"
    assert {job for job, _ in counted} == set(jobs)
    runs = (first.logs() + second.logs()).count("Executed 'Functions.convert'")
    assert runs > sum(counted.values()), "the test did not actually deliver duplicates"


def test_a_dependency_that_fails_twice_then_recovers(
    workers: Callable[..., Supervisor], storage_emulator: Azurite, tmp_path: Path
) -> None:
    counter = tmp_path / "failures"
    worker = workers(FAULT_FAIL_AT="images:after_claim", FAULT_FAIL_TIMES="2", FAULT_COUNT_FILE=str(counter))
    data = corpus.small_book_zip()
    job_id = upload(worker.host.base_url, data, "small.zip")
    check_job(storage_emulator.connection_string, worker.host.base_url, job_id, data, [])
    assert counter.read_text() == "2"
    assert worker.logs().count("Executed 'Functions.convert' (Failed") == 2  # retried by the queue
    assert worker.restarts == 0


def test_a_step_that_always_fails_ends_failed_and_blocks_no_one(
    workers: Callable[..., Supervisor], storage_emulator: Azurite, tmp_path: Path
) -> None:
    worker = workers(FAULT_FAIL_AT="images:after_claim", FAULT_FAIL_TIMES="1000", FAULT_COUNT_FILE=str(tmp_path / "n"))
    doomed = upload(worker.host.base_url, corpus.docx(), "word.docx")  # has an image: its image step always fails
    fine = upload(worker.host.base_url, corpus.PLAIN_TEXT.encode(), "plain.txt")  # no images
    assert follow(worker.host.base_url, fine, timeout=30)["status"] == "succeeded"
    failed = follow(worker.host.base_url, doomed, timeout=90)
    assert failed["status"] == "failed"
    assert "several times" in failed["error"]
    logs = worker.logs()
    assert "Moving message to queue 'quire-conversions-poison'" in logs
    attempts = int((tmp_path / "n").read_text())
    assert attempts == 5, f"expected maxDequeueCount (5) attempts, saw {attempts}"
    assert no_work_left(storage_emulator.connection_string, doomed)
    # The poison handler is idempotent: a second copy changes nothing.
    poison = QueueClient.from_connection_string(storage_emulator.connection_string, f"{CONVERSION_QUEUE}-poison")
    poison.send_message(base64.b64encode(ConvertStep(doomed, "images:0").to_message().encode()).decode())
    # Handled: the first poisoned message, and this copy.
    wait_for(lambda: worker.logs().count("Executed 'Functions.convert_poison' (Succeeded") >= 2, 20, "the copy's run")
    wait_for(lambda: poison.get_queue_properties().approximate_message_count == 0, 20, "the copy's deletion")
    assert follow(worker.host.base_url, doomed, timeout=5) == failed


def test_a_step_whose_workers_were_stopped_under_it_is_redriven_not_failed(
    workers: Callable[..., Supervisor], storage_emulator: Azurite
) -> None:
    from shared.worker.recovery import MAX_REDRIVES

    # The state after maxDequeueCount deliveries of a plan message that each ended with their
    # worker (killed, recycled): the message is in the poison queue, and no run of it failed.
    web = workers(["upload_manuscript", "get_manuscript", "health", "convert_poison"])
    conversions = QueueClient.from_connection_string(storage_emulator.connection_string, CONVERSION_QUEUE)
    poison = QueueClient.from_connection_string(storage_emulator.connection_string, f"{CONVERSION_QUEUE}-poison")
    with contextlib.suppress(ResourceExistsError):
        poison.create_queue()
    storage = Storage(storage_emulator.connection_string)
    data = corpus.small_book_zip(3)
    job_id = upload(web.host.base_url, data, "interrupted.zip")
    conversions.clear_messages()
    poison.send_message(base64.b64encode(ConvertStep(job_id).to_message().encode()).decode())
    deadline = time.monotonic() + 20
    while not conversions.peek_messages() and time.monotonic() < deadline:
        time.sleep(0.2)
    (redriven,) = conversions.peek_messages()
    assert json.loads(base64.b64decode(redriven.content))["step"] == "plan"
    row = Job.from_entity(storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY).properties)
    assert row.status.value == "queued" and row.redrives == 1
    worker = workers()  # a worker comes back: the job converts, as if nothing had happened
    check_job(storage_emulator.connection_string, web.host.base_url, job_id, data, [])
    # The last step's message is deleted only after its job reads succeeded: wait for that.
    wait_for(
        lambda: conversions.get_queue_properties().approximate_message_count == 0, 20, "the last message's deletion"
    )
    worker.stop()

    # Stopped under it again and again: after MAX_REDRIVES re-drives, the job fails and says why.
    stopped = upload(web.host.base_url, data, "stopped.zip")
    for _ in range(MAX_REDRIVES + 1):
        poison.send_message(base64.b64encode(ConvertStep(stopped).to_message().encode()).decode())
    failed = follow(web.host.base_url, stopped, timeout=60)
    assert failed["status"] == "failed" and "interrupted again and again" in failed["error"], failed
    assert conversions.get_queue_properties().approximate_message_count == 1 + MAX_REDRIVES


def test_an_upload_whose_request_died_before_its_job_was_recorded_leaves_nothing(
    workers: Callable[..., Supervisor], storage_emulator: Azurite
) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.jobs.manuscripts import manuscript_blob_name
    from shared.jobs.record import UPLOAD_ROW_KEY, is_upload_marker, new_job_id, upload_marker
    from shared.jobs.store import read_job
    from shared.storage.names import MANUSCRIPT_CONTAINER

    storage = Storage(storage_emulator.connection_string)
    web = workers(["upload_manuscript", "get_manuscript", "health"])
    answered = upload(web.host.base_url, corpus.PLAIN_TEXT.encode(), "plain.txt")
    # What a host killed between writing the manuscript and recording its job leaves: the upload's
    # marker (its job's row) and the blob. One request died 20 minutes ago; one is still sending
    # (a second ago); and one died under an earlier version, whose marker was a row of its own.
    now = datetime.now(UTC)
    died, sending, died_before = new_job_id(), new_job_id(), new_job_id()
    for job_id, started in ((died, now - timedelta(minutes=20)), (sending, now - timedelta(seconds=1))):
        storage.put_entity(JOB_TABLE, upload_marker(job_id, manuscript_blob_name(job_id), started))
    earlier = {"PartitionKey": died_before, "RowKey": UPLOAD_ROW_KEY, "started": now - timedelta(minutes=20)}
    storage.put_entity(JOB_TABLE, earlier | {"manuscript_blob": manuscript_blob_name(died_before)})
    for job_id in (died, sending, died_before):
        storage.create_blob(MANUSCRIPT_CONTAINER, manuscript_blob_name(job_id), b"# Half", content_type="text/plain")
    with pytest.raises(NotFound):  # a marker is no job: the status answers 404 meanwhile
        read_job(storage, sending)
    workers(["reconcile"], RECONCILE_SCHEDULE="* * * * * *", ABANDONED_UPLOAD_SECONDS="600")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        storage.list_blob_names(MANUSCRIPT_CONTAINER, f"{job_id}/") for job_id in (died, died_before)
    ):
        time.sleep(0.2)
    for job_id, row_key in ((died, JOB_ROW_KEY), (died_before, UPLOAD_ROW_KEY)):
        assert storage.list_blob_names(MANUSCRIPT_CONTAINER, f"{job_id}/") == []
        with pytest.raises(NotFound):
            storage.get_entity(JOB_TABLE, job_id, row_key)
    # The upload still in flight, and the upload that was answered, keep their manuscripts.
    assert storage.list_blob_names(MANUSCRIPT_CONTAINER, f"{sending}/") == [manuscript_blob_name(sending)]
    assert is_upload_marker(storage.get_entity(JOB_TABLE, sending, JOB_ROW_KEY).properties)
    assert storage.list_blob_names(MANUSCRIPT_CONTAINER, f"{answered}/") == [manuscript_blob_name(answered)]
    # An answered upload left no marker: its job replaced it.
    assert not is_upload_marker(storage.get_entity(JOB_TABLE, answered, JOB_ROW_KEY).properties)
    with pytest.raises(NotFound):
        storage.get_entity(JOB_TABLE, answered, UPLOAD_ROW_KEY)


def test_a_form_upload_given_up_by_the_sweeper_cannot_record_its_job(storage_emulator: Azurite) -> None:
    from datetime import UTC, datetime

    from shared.intake import Upload, identify
    from shared.jobs.manuscripts import record_job, store_manuscript
    from shared.jobs.record import new_job_id, upload_marker
    from shared.jobs.store import read_job
    from shared.storage import Conflict

    storage = Storage(storage_emulator.connection_string)
    now = datetime.now(UTC)
    recorded = store_manuscript(storage, identify(Upload(filename="a.md", data=b"# A\n")), new_job_id(), now, "b", 1)
    given_up = recorded.with_changes(id=new_job_id())
    etag = storage.put_entity(JOB_TABLE, upload_marker(given_up.id, "x/original", now))
    # The sweeper marks the marker abandoned; the slow upload can then no longer record its job.
    storage.merge_entity(JOB_TABLE, {"PartitionKey": given_up.id, "RowKey": JOB_ROW_KEY, "abandoned": True}, etag=etag)
    with pytest.raises(Conflict):
        record_job(storage, given_up, etag)
    with pytest.raises(NotFound):
        read_job(storage, given_up.id)
    # Unchanged, the marker is replaced by the job; a retry of that write after it committed (the
    # SDK retries a PUT whose reply was lost) finds the job recorded and says so, as the first did.
    fresh = recorded.with_changes(id=new_job_id())
    etag = storage.put_entity(JOB_TABLE, upload_marker(fresh.id, "x/original", now))
    record_job(storage, fresh, etag)
    record_job(storage, fresh, etag)
    assert (read_job(storage, fresh.id)[0].sha256, read_job(storage, fresh.id)[0].status) == (
        fresh.sha256,
        fresh.status,
    )
    # A marker deleted meanwhile (the sweeper finished) refuses the job too.
    gone = recorded.with_changes(id=new_job_id())
    etag = storage.put_entity(JOB_TABLE, upload_marker(gone.id, "x/original", now))
    storage.delete_entity(JOB_TABLE, gone.id, JOB_ROW_KEY)
    with pytest.raises(Conflict):
        record_job(storage, gone, etag)


def test_a_direct_upload_given_up_by_the_sweeper_cannot_record_its_job(storage_emulator: Azurite) -> None:
    from datetime import UTC, datetime

    from shared.jobs.record import UPLOAD_ROW_KEY, new_job_id
    from shared.storage import Conflict

    storage = Storage(storage_emulator.connection_string)
    job_id = new_job_id()
    marker = {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "started": datetime.now(UTC)}
    etag = storage.put_entity(JOB_TABLE, marker)
    storage.put_entity(JOB_TABLE, {"PartitionKey": "x", "RowKey": "y"})  # the table exists, other rows too
    # The sweeper marks the marker abandoned; the slow upload's transaction then fails as a whole.
    storage.merge_entity(JOB_TABLE, {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "abandoned": True}, etag=etag)
    with pytest.raises(Conflict):
        storage.create_replacing(JOB_TABLE, {"PartitionKey": job_id, "RowKey": JOB_ROW_KEY}, UPLOAD_ROW_KEY, etag)
    with pytest.raises(NotFound):
        storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY)
    # Unchanged, the marker is replaced by the job in one step.
    other = new_job_id()
    etag = storage.put_entity(JOB_TABLE, {"PartitionKey": other, "RowKey": UPLOAD_ROW_KEY})
    storage.create_replacing(JOB_TABLE, {"PartitionKey": other, "RowKey": JOB_ROW_KEY}, UPLOAD_ROW_KEY, etag)
    storage.get_entity(JOB_TABLE, other, JOB_ROW_KEY)
    with pytest.raises(NotFound):
        storage.get_entity(JOB_TABLE, other, UPLOAD_ROW_KEY)


def test_the_reconciler_redrives_a_deleted_message_and_a_job_never_sent(
    workers: Callable[..., Supervisor], storage_emulator: Azurite, job_row: Callable[[str], Job]
) -> None:
    from datetime import UTC, datetime

    from shared.intake import Upload, identify
    from shared.library.store import create_book
    from shared.storage import Storage

    web = workers(["upload_manuscript", "get_manuscript", "health"])
    data = corpus.small_book_zip(7)
    lost = upload(web.host.base_url, data, "lost.zip")
    QueueClient.from_connection_string(storage_emulator.connection_string, CONVERSION_QUEUE).clear_messages()
    # A book whose first message never went out (a crash after the writes).
    _, never_sent_job, _ = create_book(
        Storage(storage_emulator.connection_string),
        identify(Upload(filename="never.zip", data=data)),
        datetime.now(UTC),
    )
    never_sent = never_sent_job.id
    # Both wait with no message to wake a worker (asked before any worker and reconciler runs: with a
    # one-second stall bound, the reconciler may already have re-driven them a moment later).
    for job_id in (lost, never_sent):
        assert http_json("GET", f"{web.host.base_url}/api/manuscripts/{job_id}")[1]["status"] == "queued"
    worker = workers(JOB_STALL_SECONDS="1")
    time.sleep(1.5)
    status, _ = http_json("POST", f"{worker.host.base_url}/admin/functions/reconcile", b'{"input": ""}')
    assert status == 202
    for job_id in (lost, never_sent):
        check_job(storage_emulator.connection_string, worker.host.base_url, job_id, data, [])
    assert [job_row(job_id).redrives for job_id in (lost, never_sent)] == [1, 1]


def test_two_reconcilers_at_once_redrive_each_job_once_and_give_up_eventually(storage_emulator: Azurite) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime, timedelta

    from shared.intake import Upload, identify
    from shared.jobs.manuscripts import store_manuscript
    from shared.jobs.record import JOB_ROW_KEY, new_job_id
    from shared.storage import Storage
    from shared.storage.names import JOB_TABLE
    from shared.worker.recovery import MAX_REDRIVES, reconcile

    storage = Storage(storage_emulator.connection_string)
    old = datetime.now(UTC) - timedelta(hours=1)
    job_ids = [new_job_id() for _ in range(5)]
    for job_id in job_ids:
        store_manuscript(storage, identify(Upload(filename="a.md", data=b"# A\n")), job_id, old, job_id, 1)
    later = datetime.now(UTC)
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: reconcile(storage, 60, 900, now=later), range(2))
    redriven = [json.loads(m)["job"] for m in first + second]
    assert sorted(redriven) == sorted(job_ids)  # each once, whichever reconciler claimed it
    for round_ in range(MAX_REDRIVES):
        reconcile(storage, 60, 900, now=later + timedelta(hours=round_ + 1))
    for job_id in job_ids:
        row = storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY).properties
        assert row["status"] == "failed" and "restarted several times" in row["error"]


def test_a_job_that_fails_while_publishing_leaves_no_book_files(
    workers: Callable[..., Supervisor], storage_emulator: Azurite, tmp_path: Path
) -> None:
    from shared.storage.names import BOOK_CONTAINER

    # The package step fails every time just after the EPUB is published, until the job is poisoned.
    worker = workers(
        FAULT_FAIL_AT="package:during_publish", FAULT_FAIL_TIMES="1000", FAULT_COUNT_FILE=str(tmp_path / "n")
    )
    doomed = upload(worker.host.base_url, corpus.PLAIN_TEXT.encode(), "plain.txt")
    failed = follow(worker.host.base_url, doomed, timeout=90)
    assert failed["status"] == "failed" and "several times" in failed["error"]
    assert int((tmp_path / "n").read_text()) == 5  # it did publish, five times, before each failure
    # The job turns failed first, then its files are deleted: give the clean-up its moment.
    storage = Storage(storage_emulator.connection_string)
    deadline = time.monotonic() + 15
    while storage.list_blob_names(BOOK_CONTAINER, f"{doomed}/") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert storage.list_blob_names(BOOK_CONTAINER, f"{doomed}/") == []
    assert no_work_left(storage_emulator.connection_string, doomed)
