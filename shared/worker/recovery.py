"""Recovery: what brings a job back when its messages or its workers are lost.

- The poison handler (`handle_poison_message`) takes a message the host gave up on after
  maxDequeueCount deliveries: a step that failed fails the job; a step whose workers were stopped
  under it every time is re-driven (counted; past MAX_REDRIVES the job fails saying why).
- The reconciler (`reconcile`, on a timer) re-drives jobs that stopped moving, but not those
  waiting their turn in a backlog (`is_stalled`), finishes clean-ups cut short, and sweeps the
  manuscripts of uploads whose request died before their job was recorded.

Everything here is safe to run twice at once: each decision is a compare-and-swap on the row.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from shared import logs
from shared.jobs.record import UPLOAD_ROW_KEY, Job, JobStatus, conversion_message, parse_conversion_message
from shared.jobs.store import clean_failed, clean_finished, finish_clean_up, update_job
from shared.library.erasure import erasure_message, stalled_erasures
from shared.settings import CONVERSION_QUEUE, JOB_TABLE, MANUSCRIPT_CONTAINER
from shared.storage import Conflict, NotFound, Storage
from shared.worker import claims, steps

log = logs.get_logger(__name__)

MAX_REDRIVES = 5
POISON_REASON = (
    "Quire failed to convert this manuscript several times in a row and has stopped trying. "
    "Upload it again; if it fails again, the file may be damaged: open and save it, then retry."
)
STOPPED_REASON = (
    "The conversion was interrupted again and again (the servers running it were stopped) and "
    "Quire has stopped retrying. Upload the manuscript again."
)
STALLED_REASON = (
    "The conversion stopped making progress and was restarted several times without success. "
    "Upload the manuscript again."
)


def handle_poison_message(storage: Storage, body: bytes | str) -> list[str]:
    """A conversion message the host gave up on after maxDequeueCount deliveries.

    If a run of its step failed (the worker saw it fail), the job fails, once however many copies
    arrive. If none did, every delivery ended with the worker running it (killed, recycled,
    scaled in): that is no evidence against the manuscript, so the step is re-driven, counted
    with the reconciler's re-drives (and, past MAX_REDRIVES, the job fails saying why). Returns the
    messages to send."""
    try:
        job_id, step = parse_conversion_message(body)
    except ValueError:
        log.warning("poison queue: a malformed message was dropped")
        return []
    with logs.bound(job=job_id, step=step):
        return _settle_poisoned(storage, job_id, step)


def _settle_poisoned(storage: Storage, job_id: str, step: str) -> list[str]:
    now = datetime.now(UTC)
    outcome = ""

    def settle(current: Job) -> Job | None:
        nonlocal outcome
        if current.is_terminal:
            outcome = "finished"
            return None
        if current.failures.get(step, 0) > 0:
            outcome = "failing"
            return current.with_changes(status=JobStatus.FAILED, error=POISON_REASON, claims={}, updated=now)
        if current.redrives >= MAX_REDRIVES:
            outcome = "stopped"
            return current.with_changes(status=JobStatus.FAILED, error=STOPPED_REASON, claims={}, updated=now)
        outcome = "redrive"  # the poisoned message held the step's claim, and it is gone for good
        return current.with_changes(
            redrives=current.redrives + 1, claims=claims.without_claim(current, step), updated=now
        )

    try:
        settled = update_job(storage, job_id, settle)
    except NotFound:
        return []
    if settled is None:
        if outcome == "finished":
            finish_clean_up(storage, job_id)  # its last run may have died between commit and clean-up
        return []
    if settled.status is JobStatus.FAILED:
        why = (
            f"its {step} step kept failing (last: {settled.last_failure})"
            if outcome == "failing"
            else (f"its workers were stopped under {step} again and again ({settled.redrives} re-drives)")
        )
        log.warning("the job failed: %s", why)
        clean_failed(storage, job_id)
        return []
    log.warning("every delivery of the step ended with its worker: re-driving it")
    if step in settled.completed:
        return steps.messages_to_redrive(settled, now)  # the step is done: send what follows it
    return [conversion_message(job_id, step)]


# -- the reconciler -------------------------------------------------------------------------------


def is_stalled(job: Job, now: datetime, stall_seconds: int, queue_front_inserted: datetime | None) -> bool:
    """Whether a job that is not finished has stopped moving, rather than waiting its turn.

    Its messages went out when it last moved (`updated`). While the conversion queue's front
    message is at least as old as that, the queue has not reached them: the job waits in a backlog,
    however long, and sending its messages again would only lengthen the backlog. Once the queue
    has moved past that moment (or is empty) and the job has neither moved nor had a step seen
    running (`alive`, renewed while a step runs) for `stall_seconds`, its messages were lost or its
    step died: it is stalled. Its messages are sent just after its row moved (the step's function
    returns, then the host sends them), so the queue counts as past it only once its front was sent
    more than `stall_seconds` after that moment."""
    if job.is_terminal or job.last_seen > now - timedelta(seconds=stall_seconds):
        return False
    bound = timedelta(seconds=stall_seconds)
    return queue_front_inserted is None or queue_front_inserted > job.updated + bound


def sweep_abandoned_uploads(storage: Storage, now: datetime, abandoned_seconds: int) -> int:
    """Delete the manuscripts of uploads whose request died before recording their job (their
    marker row is older than `abandoned_seconds`), and of direct uploads never submitted (their SAS
    expired more than `abandoned_seconds` ago). Returns how many.

    The marker is first marked abandoned with If-Match, so an upload still alive can no longer
    record its job (its transaction removes the marker as it wrote it) and answers 503; then the
    blob goes, then the marker. A sweep that dies half-way is finished by the next one."""
    cutoff = (now - timedelta(seconds=abandoned_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    markers = storage.query_entities_filtered(
        JOB_TABLE, f"RowKey eq '{UPLOAD_ROW_KEY}' and started lt datetime'{cutoff}'"
    )
    swept = 0
    for marker in markers:
        job_id = marker.properties["PartitionKey"]
        expires = marker.properties.get("expires")
        if expires is not None and expires > now - timedelta(seconds=abandoned_seconds):
            continue  # a direct upload: its client may write until its SAS expires, and submit a while after
        if not marker.properties.get("abandoned"):
            try:
                storage.merge_entity(
                    JOB_TABLE, {"PartitionKey": job_id, "RowKey": UPLOAD_ROW_KEY, "abandoned": True}, etag=marker.etag
                )
            except (Conflict, NotFound):
                continue  # its upload recorded the job meanwhile, or another sweep took it
        with contextlib.suppress(NotFound):
            storage.delete_blob(MANUSCRIPT_CONTAINER, marker.properties["manuscript_blob"])
        with contextlib.suppress(NotFound):
            storage.delete_entity(JOB_TABLE, job_id, UPLOAD_ROW_KEY)
        log.warning("upload %s was abandoned before its job was recorded: its manuscript is deleted", job_id)
        swept += 1
    return swept


def reconcile(
    storage: Storage, stall_seconds: int, abandoned_upload_seconds: int, now: datetime | None = None
) -> list[str]:
    """Re-drive jobs that stopped moving (not those waiting in a backlog) and erasures that stalled;
    fail jobs re-driven too often; sweep finished jobs' work files and abandoned uploads' manuscripts.

    Safe to run twice at once: each re-drive is claimed with a conditional update of the row.
    """
    now = now or datetime.now(UTC)
    sweep_abandoned_uploads(storage, now, abandoned_upload_seconds)
    cutoff = now - timedelta(seconds=stall_seconds)
    messages: list[str] = []
    entities = storage.query_entities_filtered(
        JOB_TABLE, "status eq 'queued' or status eq 'running' or cleaned eq false"
    )
    queue_front_inserted = storage.oldest_visible_message_inserted(CONVERSION_QUEUE)
    for entity in entities:
        job = Job.from_entity(entity.properties)
        if job.last_seen > cutoff:
            continue
        with logs.bound(job=job.id):
            if job.is_terminal:
                clean_finished(storage, job)
            elif is_stalled(job, now, stall_seconds, queue_front_inserted):
                messages.extend(_redrive_stalled(storage, job, now, stall_seconds, queue_front_inserted))
    for book_id in stalled_erasures(storage, stall_seconds, now):
        with logs.bound(book=book_id):
            log.info("re-driving an erasure that stalled")
        messages.append(erasure_message(book_id))
    return messages


def _redrive_stalled(
    storage: Storage, job: Job, now: datetime, stall_seconds: int, queue_front_inserted: datetime | None
) -> list[str]:
    """Claim the re-drive of a stalled job (or fail it, past MAX_REDRIVES); returns its messages."""

    def claim(current: Job) -> Job | None:
        if not is_stalled(current, now, stall_seconds, queue_front_inserted):
            return None  # it moved meanwhile, or another reconciler took it
        if current.redrives >= MAX_REDRIVES:
            return current.with_changes(status=JobStatus.FAILED, error=STALLED_REASON, claims={}, updated=now)
        return current.with_changes(redrives=current.redrives + 1, updated=now)

    claimed = update_job(storage, job.id, claim)
    if claimed is None:
        return []
    if claimed.status is JobStatus.FAILED:
        log.warning("the job failed: stalled %d times", job.redrives)
        clean_failed(storage, job.id)
        return []
    redrive = steps.messages_to_redrive(claimed, now)
    log.info("stalled since %s: re-driving %d messages", job.updated.isoformat(), len(redrive))
    return redrive
