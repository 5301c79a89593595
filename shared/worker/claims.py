"""Step claims: one step of a job runs in one place at a time. Pure rules; the worker does the I/O.

A worker about to run a step records a claim on it in the job row: the queue message that carries
the step, and a lease (`until`) that it renews while the step runs. Another delivery of the same
step while that claim is live is dropped, not run beside it. Dropping is safe because the claimed
message itself stays in the queue until its step ends: if the claimant dies, the queue delivers
that same message again (same message id) once its visibility lapses, and a delivery of the
claiming message always takes its claim over. A lease that was not renewed lapses, so a claim left
by a message that is gone for good (poisoned, deleted) frees the step.

A commit removes the step's claim; a commit by a step whose claim another message took is refused
(its outputs are the same bytes, so nothing is lost; the other delivery commits).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from shared.jobs.record import FIRST_STEP, Job, JobStatus


class ClaimOutcome(StrEnum):
    TAKEN = "taken"  # this delivery runs the step
    HELD_ELSEWHERE = "held_elsewhere"  # another delivery runs it now: drop this one
    NOT_NEEDED = "not_needed"  # nothing to run (finished, committed, or not planned yet)


def needs_claim(job: Job, step: str) -> bool:
    """Whether running `step` would do work worth claiming: cheap answers (a finished job, a
    committed step, a step before its plan) run unclaimed, as they change nothing twice."""
    if job.is_terminal or step in job.completed:
        return False
    return step == FIRST_STEP or bool(job.plan)


def live_holder(job: Job, step: str, now: datetime) -> str | None:
    """The message that holds a live claim on `step`, or None."""
    claim = job.claims.get(step)
    if not claim or datetime.fromisoformat(claim["until"]) <= now:
        return None
    return str(claim["message"])


def decide(job: Job, step: str, message_id: str, now: datetime) -> ClaimOutcome:
    if not needs_claim(job, step):
        return ClaimOutcome.NOT_NEEDED
    holder = live_holder(job, step, now)
    if holder is not None and holder != message_id:
        return ClaimOutcome.HELD_ELSEWHERE
    return ClaimOutcome.TAKEN


def with_claim(job: Job, step: str, message_id: str, now: datetime, lease_seconds: float) -> Job:
    """The job with `step` claimed (or its claim renewed) by `message_id` until now + lease."""
    claims = {
        **job.claims,
        step: {"message": message_id, "until": (now + timedelta(seconds=lease_seconds)).isoformat()},
    }
    status = JobStatus.RUNNING if job.status is JobStatus.QUEUED else job.status
    return job.with_changes(claims=claims, status=status, alive=now)


def holds(job: Job, step: str, message_id: str) -> bool:
    """Whether `message_id` still holds the claim on `step` (or nobody does: an unclaimed run, a
    lapsed claim nobody took, or a row written before claims existed)."""
    claim = job.claims.get(step)
    return claim is None or claim["message"] == message_id


def without_claim(job: Job, step: str) -> dict[str, dict[str, str]]:
    """The job's claims once `step` has ended (committed or given up)."""
    return {name: claim for name, claim in job.claims.items() if name != step}


def unclaimed(job: Job, steps: list[str], now: datetime) -> list[str]:
    """The steps among `steps` that no delivery runs now."""
    return [step for step in steps if live_holder(job, step, now) is None]
