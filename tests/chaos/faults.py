"""Fault injection for the fault tests, at storage events of a conversion step.

`FaultInjectingStorage` is the app's own Storage with a tripwire: the fault app
(tests/chaos/fault_app/function_app.py) hands it to the worker as the storage its step processes
open, so production code carries no fault switches. Which step it runs for comes from the log ids
the worker binds (`step=`). The fault is chosen by the test through the host's environment:

    FAULT_CRASH_AT=<kind>:<point>   kill the step's process there (SIGKILL), once: the first time
                                    creates the file FAULT_ONCE_FILE, later times find it
    FAULT_FAIL_AT=<kind>:<point>    raise InjectedFault there FAULT_FAIL_TIMES times (counted in
                                    the file FAULT_COUNT_FILE), then let the step through

<kind> is plan, images, pdf or package; <point> one of:

    after_claim          the step read its job row (its claim is held; no work done yet)
    after_output_write   the step wrote its checkpoint (plan: chapters.json, images: its batch;
                         pdf: the edition's book.pdf);
                         `after_output_write=images/` after the plan's own image batch instead
    during_publish       the package step published book.epub (the web app may still be going out)
    before_commit        the step is about to write the row that commits it
    after_commit         the step wrote the row that commits it

or <kind> is erase (a book's erasure, which runs in the worker process itself: the kill takes the
worker down, and the host replaces it) and <point> one of:

    after_edition        one edition's job was erased (its row deleted)
    after_tombstone      the erased-book marker was written; the book's row is not yet deleted

The tests observe the work through storage events, not log text. `EventRecordingStorage` (the
host's own storage in the fault app; `FaultInjectingStorage` builds on it) appends to
FAULT_EVENTS_FILE a JSON line for each

    {"event": "claim", "job", "step", "message"}   a message took a step's claim (not a renewal)
    {"event": "commit", "job", "step"}              a step's commit was written
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from shared import logs
from shared.jobs.record import JOB_ROW_KEY, Job
from shared.library.record import ERASED_ROW_KEY
from shared.storage import Entity, Storage, StorageConnection
from shared.storage.names import BOOK_CONTAINER, BOOK_TABLE, JOB_TABLE, WORK_CONTAINER

# The folder the stand-in host runs the fault app from.
FAULT_APP = Path(__file__).resolve().parent / "fault_app"
OUTPUT_OF = {"plan": "chapters.json", "images": "images/", "pdf": "book.pdf"}


class InjectedFault(RuntimeError):
    """A transient failure a fault test asked for."""


class EventRecordingStorage(Storage):
    """The app's Storage, recording each claim and commit of a step that it writes."""

    def __init__(self, connection: StorageConnection | str, known_to_exist: Any = ()) -> None:
        super().__init__(connection, known_to_exist)
        # The job row as this thread last read it (a compare-and-swap reads, then writes, in one
        # thread), so that a write can tell what it changed.
        self._read = threading.local()

    def _as_read(self, job_id: str) -> Job | None:
        return getattr(self._read, "jobs", {}).get(job_id)

    def get_entity(self, table: str, partition_key: str, row_key: str) -> Entity:
        entity = super().get_entity(table, partition_key, row_key)
        if table == JOB_TABLE and row_key == JOB_ROW_KEY:
            if not hasattr(self._read, "jobs"):
                self._read.jobs = {}
            self._read.jobs[partition_key] = Job.from_entity(entity.properties)
        return entity

    def _commits(self, table: str, properties: dict[str, Any]) -> bool:
        step = logs.current_ids().get("step", "")
        if table != JOB_TABLE or properties.get("RowKey") != JOB_ROW_KEY or not step:
            return False
        before = self._as_read(properties["PartitionKey"])
        return step in Job.from_entity(properties).completed and (before is None or step not in before.completed)

    def _claimant(self, table: str, properties: dict[str, Any]) -> str | None:
        """The message whose claim on the bound step this write takes, if it takes one."""
        step = logs.current_ids().get("step", "")
        if table != JOB_TABLE or properties.get("RowKey") != JOB_ROW_KEY or not step:
            return None
        claim = Job.from_entity(properties).claims.get(step)
        before = self._as_read(properties["PartitionKey"])
        held_before = before.claims.get(step) if before else None
        if claim is None or (held_before is not None and held_before["message"] == claim["message"]):
            return None
        return str(claim["message"])

    def update_entity(self, table: str, properties: dict[str, Any], *, etag: str) -> str:
        commits, claimant = self._commits(table, properties), self._claimant(table, properties)
        if commits:
            self._before_commit()
        new_etag = super().update_entity(table, properties, etag=etag)
        step = logs.current_ids().get("step", "")
        if claimant:
            _record("claim", properties["PartitionKey"], step, message=claimant)
        if commits:
            _record("commit", properties["PartitionKey"], step)
            self._after_commit()
        return new_etag

    def delete_entity(self, table: str, partition_key: str, row_key: str) -> None:
        super().delete_entity(table, partition_key, row_key)
        if table == JOB_TABLE and row_key == JOB_ROW_KEY:
            _reached_in_erasure("after_edition")

    def put_entity(self, table: str, properties: dict[str, Any]) -> str:
        etag = super().put_entity(table, properties)
        if table == BOOK_TABLE and properties.get("RowKey") == ERASED_ROW_KEY:
            _reached_in_erasure("after_tombstone")
        return etag

    def _before_commit(self) -> None:
        pass

    def _after_commit(self) -> None:
        pass


class FaultInjectingStorage(EventRecordingStorage):
    """The storage of a step's process, with the tripwires the test set."""

    def get_entity(self, table: str, partition_key: str, row_key: str) -> Entity:
        entity = super().get_entity(table, partition_key, row_key)
        if table == JOB_TABLE and row_key == JOB_ROW_KEY:
            _reached("after_claim")
        return entity

    def create_blob(self, container: str, name: str, data: bytes, **kwargs: Any) -> None:
        super().create_blob(container, name, data, **kwargs)
        if container == WORK_CONTAINER:
            _reached("after_output_write", written=name.split("/", 1)[1])

    def put_blob(self, container: str, name: str, data: bytes, **kwargs: Any) -> None:
        super().put_blob(container, name, data, **kwargs)
        if container == BOOK_CONTAINER and name.endswith("/book.epub"):
            _reached("during_publish")
        if container == BOOK_CONTAINER and name.endswith("/book.pdf"):
            _reached("after_output_write", written="book.pdf")

    def _before_commit(self) -> None:
        _reached("before_commit")

    def _after_commit(self) -> None:
        _reached("after_commit")


def _reached(point: str, written: str = "") -> None:
    step = logs.current_ids().get("step", "")
    kind = step.split(":", 1)[0]
    for variable, act in (("FAULT_CRASH_AT", _crash), ("FAULT_FAIL_AT", _fail)):
        wanted = os.environ.get(variable, "")
        if wanted and _matches(wanted, kind, point, written):
            act(f"{kind}:{point}")


def _reached_in_erasure(point: str) -> None:
    ids = logs.current_ids()
    if ids.get("book") and not ids.get("step") and os.environ.get("FAULT_CRASH_AT") == f"erase:{point}":
        _crash(f"erase:{point}")


def _matches(wanted: str, kind: str, point: str, written: str) -> bool:
    wanted_kind, _, wanted_point = wanted.partition(":")
    wanted_point, _, wanted_output = wanted_point.partition("=")
    if (wanted_kind, wanted_point) != (kind, point):
        return False
    if point != "after_output_write":
        return True
    return written.startswith(wanted_output or OUTPUT_OF.get(kind, "\0"))


def _crash(where: str) -> None:
    try:
        Path(os.environ["FAULT_ONCE_FILE"]).touch(exist_ok=False)
    except FileExistsError:
        return
    logs.get_logger(__name__).warning("fault injected at %s: killing the process", where)
    os.kill(os.getpid(), signal.SIGKILL)


def _fail(where: str) -> None:
    counter = Path(os.environ["FAULT_COUNT_FILE"])
    failures = int(counter.read_text() or 0) if counter.exists() else 0
    if failures < int(os.environ.get("FAULT_FAIL_TIMES", "1")):
        counter.write_text(str(failures + 1))
        raise InjectedFault(f"injected transient failure {failures + 1} at {where}")


def _record(event: str, job_id: str, step: str, **details: str) -> None:
    events = os.environ.get("FAULT_EVENTS_FILE")
    if events:
        with open(events, "a", encoding="utf-8") as out:  # one short write: whole lines, whatever process
            out.write(json.dumps({"event": event, "job": job_id, "step": step, **details}) + "\n")


def _events(events_file: Path, kind: str) -> list[dict[str, str]]:
    if not events_file.exists():
        return []
    recorded = (json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines())
    return [event for event in recorded if event["event"] == kind]


def commits_recorded(events_file: Path) -> dict[tuple[str, str], int]:
    """How many times each (job, step) was committed, from the events the storage wrote."""
    counted: dict[tuple[str, str], int] = {}
    for event in _events(events_file, "commit"):
        counted[event["job"], event["step"]] = counted.get((event["job"], event["step"]), 0) + 1
    return counted


def claimants_recorded(events_file: Path) -> dict[tuple[str, str], set[str]]:
    """The messages that took each (job, step)'s claim: one each when no step ran twice."""
    claimants: dict[tuple[str, str], set[str]] = {}
    for event in _events(events_file, "claim"):
        claimants.setdefault((event["job"], event["step"]), set()).add(event["message"])
    return claimants
