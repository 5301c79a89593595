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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from shared import logs
from shared.jobs.messages import ConvertStep, EraseBook, parse_conversion_queue_message
from shared.jobs.record import JOB_ROW_KEY, UPLOAD_MARKERS_FILTER, UPLOAD_ROW_KEY, Job, JobStatus
from shared.jobs.store import clean_failed, clean_finished, finish_clean_up, update_job
from shared.library.erasure import stalled_erasures
from shared.library.record import BOOK_ROW_KEY
from shared.settings import DEFAULT_DIRECT_UPLOAD_SAS_SECONDS
from shared.storage import Conflict, Entity, NotFound, Storage
from shared.storage.names import BOOK_TABLE, CONVERSION_QUEUE, JOB_TABLE, MANUSCRIPT_CONTAINER
from shared.worker import claims, steps

log = logs.get_logger(__name__)

MAX_REDRIVES = 5
# How much further back than a SAS's lifetime the orphan sweep looks: runs missed while the app
# was down or the timer stalled, with room to spare.
ORPHAN_LOOKBACK = timedelta(days=2)
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
        message = parse_conversion_queue_message(body)
    except ValueError:
        log.warning("poison queue: a malformed message was dropped")
        return []
    if isinstance(message, EraseBook):
        # The book stays marked erasing, so the reconciler sends its erasure again once it has
        # stalled: retried with that pause between rounds, never dropped.
        with logs.bound(book=message.book):
            log.warning("every delivery of an erasure failed: the reconciler re-drives it")
        return []
    with logs.bound(job=message.job, step=message.step):
        return _settle_poisoned(storage, message.job, message.step)


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
    return [ConvertStep(job_id, step).to_message()]


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


class Faults:
    """The items a reconciler run could not handle: each is logged with its id, and the run goes
    on, so one jammed item (a client's lease on its upload, a row the app cannot read) never keeps
    the others from being recovered."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @contextlib.contextmanager
    def isolated(self, kind: str, item: str) -> Iterator[None]:
        try:
            yield
        except Exception as error:
            self.items.append(f"{kind} {item}")
            log.warning("reconcile: %s %s could not be handled this run: %s", kind, item, _described(error))


def _described(error: Exception) -> str:
    # The type and the service's first line: never a request, a URL or its SAS.
    first_line = str(error).split("\n", 1)[0][:200]
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def sweep_abandoned_uploads(
    storage: Storage, now: datetime, abandoned_seconds: int, faults: Faults | None = None
) -> int:
    """Delete the manuscripts of uploads whose request died before recording their job (their
    marker row is older than `abandoned_seconds`), and of direct uploads never submitted (their SAS
    expired more than `abandoned_seconds` ago). Returns how many.

    The marker is first marked abandoned with If-Match, so an upload still alive can no longer
    record its job (it replaces the marker as it wrote it) and answers 503; then the
    blob goes (with its book's row, for a new book's direct upload whose submit opened it and
    died), then the marker. A sweep that dies half-way is finished by the next one."""
    faults = faults or Faults()
    cutoff = (now - timedelta(seconds=abandoned_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    markers = storage.query_entities_filtered(JOB_TABLE, f"{UPLOAD_MARKERS_FILTER} and started lt datetime'{cutoff}'")
    swept = 0
    for marker in markers:
        job_id = marker.properties["PartitionKey"]
        expires = marker.properties.get("expires")
        if expires is not None and expires > now - timedelta(seconds=abandoned_seconds):
            continue  # a direct upload: its client may write until its SAS expires, and submit a while after
        with faults.isolated("upload", job_id), logs.bound(job=job_id):
            swept += _sweep_upload(storage, marker)
    return swept


def _sweep_upload(storage: Storage, marker: Entity) -> int:
    job_id, row_key = marker.properties["PartitionKey"], marker.properties["RowKey"]
    if not marker.properties.get("abandoned"):
        try:
            storage.merge_entity(
                JOB_TABLE, {"PartitionKey": job_id, "RowKey": row_key, "abandoned": True}, etag=marker.etag
            )
        except (Conflict, NotFound):
            return 0  # its upload recorded the job meanwhile, or another sweep took it
    storage.delete_blob(MANUSCRIPT_CONTAINER, marker.properties["manuscript_blob"])
    if marker.properties.get("direct") and not marker.properties.get("book"):
        with contextlib.suppress(NotFound):  # a new book's row, opened by a submit that died before its job
            storage.delete_entity(BOOK_TABLE, job_id, BOOK_ROW_KEY)
    with contextlib.suppress(NotFound):
        storage.delete_entity(JOB_TABLE, job_id, row_key)
    log.warning("upload %s was abandoned before its job was recorded: its manuscript is deleted", job_id)
    return 1


def sweep_orphan_manuscripts(
    storage: Storage, now: datetime, abandoned_seconds: int, sas_seconds: int, faults: Faults | None = None
) -> int:
    """Delete manuscript blobs that no upload marker and no job names: written through a direct
    upload's SAS, still valid, after the upload was refused or its book erased. Such a blob is
    left until it has not changed for `abandoned_seconds` (its client may still be writing); one
    written again later is deleted again, until its SAS expires. Only blobs changed within the
    last `sas_seconds` + ORPHAN_LOOKBACK are looked up: an orphan was written while its SAS lived,
    so older blobs all belong to jobs. Returns how many were deleted."""
    faults = faults or Faults()
    settled = now - timedelta(seconds=abandoned_seconds)
    since = now - timedelta(seconds=sas_seconds + abandoned_seconds) - ORPHAN_LOOKBACK
    deleted = 0
    for blob in storage.list_blobs_changed(MANUSCRIPT_CONTAINER, since, settled):
        job_id = blob.name.split("/", 1)[0]
        with faults.isolated("manuscript blob of", job_id), logs.bound(job=job_id):
            if _named_by_a_row(storage, job_id):
                continue
            storage.delete_blob(MANUSCRIPT_CONTAINER, blob.name)
            log.warning("a manuscript blob no upload or job names was deleted (%d bytes)", blob.size)
            deleted += 1
    return deleted


def _named_by_a_row(storage: Storage, job_id: str) -> bool:
    for row_key in (JOB_ROW_KEY, UPLOAD_ROW_KEY):
        try:
            storage.get_entity(JOB_TABLE, job_id, row_key)
            return True
        except NotFound:
            pass
    return False


def reconcile(
    storage: Storage,
    stall_seconds: int,
    abandoned_upload_seconds: int,
    now: datetime | None = None,
    sas_seconds: int = DEFAULT_DIRECT_UPLOAD_SAS_SECONDS,
) -> list[str]:
    """Re-drive jobs that stopped moving (not those waiting in a backlog) and erasures that stalled;
    fail jobs re-driven too often; sweep finished jobs' work files, abandoned uploads' manuscripts
    and manuscript blobs nothing names.

    Each item is handled on its own: one that fails is logged with its id and counted, and the run
    goes on. Safe to run twice at once: each re-drive is claimed with a conditional update of the row.
    """
    now = now or datetime.now(UTC)
    faults = Faults()
    messages: list[str] = []
    with faults.isolated("sweep of", "abandoned uploads"):
        sweep_abandoned_uploads(storage, now, abandoned_upload_seconds, faults)
    with faults.isolated("sweep of", "orphan manuscripts"):
        sweep_orphan_manuscripts(storage, now, abandoned_upload_seconds, sas_seconds, faults)
    with faults.isolated("scan of", "jobs"):
        messages.extend(_recover_jobs(storage, now, stall_seconds, faults))
    with faults.isolated("scan of", "erasures"):
        for book_id in stalled_erasures(storage, stall_seconds, now):
            with logs.bound(book=book_id):
                log.info("re-driving an erasure that stalled")
            messages.append(EraseBook(book_id).to_message())
    if faults.items:
        log.warning("reconcile: %d items could not be handled this run; the next run tries again", len(faults.items))
    return messages


def _recover_jobs(storage: Storage, now: datetime, stall_seconds: int, faults: Faults) -> list[str]:
    cutoff = now - timedelta(seconds=stall_seconds)
    messages: list[str] = []
    entities = storage.query_entities_filtered(
        JOB_TABLE, "status eq 'queued' or status eq 'running' or cleaned eq false"
    )
    queue_front_inserted = storage.oldest_visible_message_inserted(CONVERSION_QUEUE)
    for entity in entities:
        job_id = str(entity.properties.get("PartitionKey", ""))
        with faults.isolated("job", job_id), logs.bound(job=job_id):
            job = Job.from_entity(entity.properties)
            if job.last_seen > cutoff:
                continue
            if job.is_terminal:
                clean_finished(storage, job)
            elif is_stalled(job, now, stall_seconds, queue_front_inserted):
                messages.extend(_redrive_stalled(storage, job, now, stall_seconds, queue_front_inserted))
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
