"""The reconciler's rule for telling a job waiting in a backlog from one whose messages were lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.jobs.record import Job, JobStatus
from shared.worker.recovery import is_stalled

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STALL = 30


def job(last_moved_seconds_ago: float, status: JobStatus = JobStatus.RUNNING) -> Job:
    moment = NOW - timedelta(seconds=last_moved_seconds_ago)
    return Job(
        id="j" * 22,
        status=status,
        created=moment,
        updated=moment,
        manuscript_blob="m",
        filename="book.md",
        kind="markdown",
        content_type="text/markdown",
        size=1,
        sha256="0",
    )


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_a_job_that_moved_within_the_bound_is_not_stalled_whatever_the_queue() -> None:
    assert not is_stalled(job(10), NOW, STALL, None)
    assert not is_stalled(job(10), NOW, STALL, ago(5))


def test_a_job_behind_an_older_front_message_is_waiting_however_long() -> None:
    # Its messages went out 25 minutes ago; the queue still serves messages from 26 minutes ago.
    assert not is_stalled(job(25 * 60), NOW, STALL, ago(26 * 60))
    assert not is_stalled(job(25 * 60), NOW, STALL, ago(25 * 60))  # its own message is the front
    # Its own message, sent by the host a moment after its step committed, at the front.
    assert not is_stalled(job(60), NOW, STALL, ago(59))


def test_a_job_the_queue_has_moved_past_is_stalled() -> None:
    assert is_stalled(job(60), NOW, STALL, None)  # an empty queue: its message is gone
    assert is_stalled(job(60), NOW, STALL, ago(20))  # the front was sent well after it last moved


def test_a_finished_job_is_never_stalled() -> None:
    assert not is_stalled(job(3600, JobStatus.SUCCEEDED), NOW, STALL, None)
    assert not is_stalled(job(3600, JobStatus.FAILED), NOW, STALL, None)


def test_only_a_queued_job_shows_its_backlog() -> None:
    from shared.jobs.record import QueueBacklog

    backlog = QueueBacklog(messages=40, front_waited_seconds=95.4)
    assert job(5, JobStatus.QUEUED).to_public("/api", backlog)["queue"] == {"messages": 40, "front_waited_seconds": 95}
    assert "queue" not in job(5, JobStatus.RUNNING).to_public("/api", backlog)
    assert "queue" not in job(5, JobStatus.QUEUED).to_public("/api")


def test_a_step_seen_running_within_the_bound_keeps_its_job_from_stalling() -> None:
    slow = job(600).with_changes(alive=ago(10))  # moved ten minutes ago, its step seen 10 s ago
    assert not is_stalled(slow, NOW, STALL, None)
    assert is_stalled(job(600).with_changes(alive=ago(60)), NOW, STALL, None)  # seen, then gone
