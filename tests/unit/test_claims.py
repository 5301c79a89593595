"""The step-claim rule: one delivery of a step runs at a time; the claiming message can always resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.jobs.record import Job, JobStatus, Plan
from shared.worker import claims
from shared.worker.claims import ClaimOutcome

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = 300


def job(**changes: object) -> Job:
    return Job(
        id="j" * 22,
        status=JobStatus.QUEUED,
        created=NOW,
        updated=NOW,
        manuscript_blob="m",
        filename="book.md",
        kind="markdown",
        content_type="text/markdown",
        size=1,
        sha256="0",
    ).with_changes(**changes)


PLANNED = Plan(images=[["a"], ["b"]], images_in_plan=0, title="A")


def test_the_first_delivery_takes_the_step_and_the_job_shows_running() -> None:
    fresh = job()
    assert claims.decide(fresh, "plan", "m1", NOW) is ClaimOutcome.TAKEN
    claimed = claims.with_claim(fresh, "plan", "m1", NOW, LEASE)
    assert claimed.status is JobStatus.RUNNING and claimed.alive == NOW
    assert claims.live_holder(claimed, "plan", NOW + timedelta(seconds=LEASE - 1)) == "m1"


def test_another_message_for_a_claimed_step_is_dropped_while_the_lease_lives() -> None:
    claimed = claims.with_claim(job(), "plan", "m1", NOW, LEASE)
    assert claims.decide(claimed, "plan", "m2", NOW + timedelta(seconds=LEASE - 1)) is ClaimOutcome.HELD_ELSEWHERE
    assert not claims.holds(claimed, "plan", "m2")


def test_the_claiming_message_delivered_again_takes_its_step_over() -> None:
    # Its first delivery died: the queue brings the same message back, and it must run.
    claimed = claims.with_claim(job(), "plan", "m1", NOW, LEASE)
    assert claims.decide(claimed, "plan", "m1", NOW + timedelta(seconds=20)) is ClaimOutcome.TAKEN


def test_a_lapsed_claim_frees_the_step_and_its_old_holder_may_not_commit() -> None:
    claimed = claims.with_claim(job(), "plan", "m1", NOW, LEASE)
    later = NOW + timedelta(seconds=LEASE)
    assert claims.decide(claimed, "plan", "m2", later) is ClaimOutcome.TAKEN
    taken_over = claims.with_claim(claimed, "plan", "m2", later, LEASE)
    assert not claims.holds(taken_over, "plan", "m1") and claims.holds(taken_over, "plan", "m2")


def test_claims_are_per_step() -> None:
    running = job(status=JobStatus.RUNNING, plan=PLANNED, completed=["plan"])
    one = claims.with_claim(running, "images:0", "m1", NOW, LEASE)
    assert claims.decide(one, "images:1", "m2", NOW) is ClaimOutcome.TAKEN
    assert claims.unclaimed(one, ["images:0", "images:1"], NOW) == ["images:1"]
    assert claims.without_claim(one, "images:0") == {}


def test_cheap_answers_need_no_claim() -> None:
    assert claims.decide(job(status=JobStatus.SUCCEEDED), "plan", "m1", NOW) is ClaimOutcome.NOT_NEEDED
    assert claims.decide(job(plan=PLANNED, completed=["plan"]), "plan", "m1", NOW) is ClaimOutcome.NOT_NEEDED
    assert claims.decide(job(), "images:0", "m1", NOW) is ClaimOutcome.NOT_NEEDED  # not planned yet


def test_claims_survive_the_table_row() -> None:
    claimed = claims.with_claim(job(), "plan", "m1", NOW, LEASE)
    entity = claimed.to_entity()
    entity["created"] = entity["updated"] = NOW
    assert Job.from_entity(entity).claims == claimed.claims


def test_the_plan_and_the_claims_survive_the_row_and_steps_follow_from_them() -> None:
    from shared.jobs.record import parallel_steps, pending_steps

    claimed = claims.with_claim(
        job(status=JobStatus.RUNNING, plan=PLANNED, completed=["plan"]), "images:1", "m1", NOW, 1
    )
    stored = Job.from_entity(claimed.to_entity())
    assert stored.plan == PLANNED and stored.claims == claimed.claims
    assert parallel_steps(stored) == ["images:0", "images:1"]
    assert pending_steps(stored) == ["images:0", "images:1"]
    assert pending_steps(stored.with_changes(completed=["plan", "images:0", "images:1"])) == ["pdf"]
    assert pending_steps(stored.with_changes(completed=["plan", "images:0", "images:1", "pdf"])) == ["package"]
    # A plan committed before the pdf step existed goes straight to the package.
    before_pdf = stored.with_changes(plan=Plan(images=[["a"], ["b"]], images_in_plan=0, title="A", pdf=False))
    assert pending_steps(before_pdf.with_changes(completed=["plan", "images:0", "images:1"])) == ["package"]
    assert Plan.from_json('{"images": [], "images_in_plan": 0, "title": "A"}') == Plan([], 0, "A", pdf=False)
    unplanned = Job.from_entity(job().to_entity())
    assert unplanned.plan is None and parallel_steps(unplanned) == [] and pending_steps(unplanned) == ["plan"]
