"""Fault injection for the fault tests, at storage events of a conversion step.

`FaultInjectingStorage` is the app's own Storage with a tripwire: the fault app
(tests/chaos/fault_app/function_app.py) hands it to the worker as the storage its step processes
open, so production code carries no fault switches. Which step it runs for comes from the log ids
the worker binds (`step=`). The fault is chosen by the test through the host's environment:

    FAULT_CRASH_AT=<kind>:<point>   kill the step's process there (SIGKILL), once: the first time
                                    creates the file FAULT_ONCE_FILE, later times find it
    FAULT_FAIL_AT=<kind>:<point>    raise InjectedFault there FAULT_FAIL_TIMES times (counted in
                                    the file FAULT_COUNT_FILE), then let the step through

<kind> is plan, images or package; <point> one of:

    after_claim          the step read its job row (its claim is held; no work done yet)
    after_output_write   the step wrote its checkpoint (plan: chapters.json, images: its batch);
                         `after_output_write=images/` after the plan's own image batch instead
    during_publish       the package step published book.epub (the web app may still be going out)
    before_commit        the step is about to write the row that commits it
    after_commit         the step wrote the row that commits it

Every commit it sees is also appended to FAULT_EVENTS_FILE as a JSON line {"job", "step"}, so the
tests count commits from events, not from log text.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from shared import logs
from shared.jobs.record import JOB_ROW_KEY, Job
from shared.settings import BOOK_CONTAINER, JOB_TABLE, WORK_CONTAINER
from shared.storage import Entity, Storage

# The folder the stand-in host runs the fault app from.
FAULT_APP = Path(__file__).resolve().parent / "fault_app"
OUTPUT_OF = {"plan": "chapters.json", "images": "images/"}


class InjectedFault(RuntimeError):
    """A transient failure a fault test asked for."""


class FaultInjectingStorage(Storage):
    def __init__(self, connection_string: str, known_to_exist: Any = ()) -> None:
        super().__init__(connection_string, known_to_exist)
        self._completed_when_read: dict[str, list[str]] = {}

    # -- the events --------------------------------------------------------------------------

    def get_entity(self, table: str, partition_key: str, row_key: str) -> Entity:
        entity = super().get_entity(table, partition_key, row_key)
        if table == JOB_TABLE and row_key == JOB_ROW_KEY:
            self._completed_when_read[partition_key] = Job.from_entity(entity.properties).completed
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

    def update_entity(self, table: str, properties: dict[str, Any], *, etag: str) -> str:
        step = logs.current_ids().get("step", "")
        commits = (
            table == JOB_TABLE
            and properties.get("RowKey") == JOB_ROW_KEY
            and step in Job.from_entity(properties).completed
            and step not in self._completed_when_read.get(properties["PartitionKey"], [])
        )
        if commits:
            _reached("before_commit")
        new_etag = super().update_entity(table, properties, etag=etag)
        if commits:
            _record_commit(properties["PartitionKey"], step)
            _reached("after_commit")
        return new_etag


def _reached(point: str, written: str = "") -> None:
    step = logs.current_ids().get("step", "")
    kind = step.split(":", 1)[0]
    for variable, act in (("FAULT_CRASH_AT", _crash), ("FAULT_FAIL_AT", _fail)):
        wanted = os.environ.get(variable, "")
        if wanted and _matches(wanted, kind, point, written):
            act(f"{kind}:{point}")


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
    logs.get_logger(__name__).warning("fault injected at %s: killing the step's process", where)
    os.kill(os.getpid(), signal.SIGKILL)


def _fail(where: str) -> None:
    counter = Path(os.environ["FAULT_COUNT_FILE"])
    failures = int(counter.read_text() or 0) if counter.exists() else 0
    if failures < int(os.environ.get("FAULT_FAIL_TIMES", "1")):
        counter.write_text(str(failures + 1))
        raise InjectedFault(f"injected transient failure {failures + 1} at {where}")


def _record_commit(job_id: str, step: str) -> None:
    events = os.environ.get("FAULT_EVENTS_FILE")
    if events:
        with open(events, "a", encoding="utf-8") as out:  # one short write: whole lines, whatever process
            out.write(json.dumps({"job": job_id, "step": step}) + "\n")


def commits_recorded(events_file: Path) -> dict[tuple[str, str], int]:
    """How many times each (job, step) was committed, from the events the fault storage wrote."""
    counted: dict[tuple[str, str], int] = {}
    if events_file.exists():
        for line in events_file.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            counted[event["job"], event["step"]] = counted.get((event["job"], event["step"]), 0) + 1
    return counted
