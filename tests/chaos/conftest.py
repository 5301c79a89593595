from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.jobs.record import JOB_ROW_KEY, Job
from shared.storage import Storage
from shared.storage.names import JOB_TABLE
from tests.chaos.faults import FAULT_APP, claimants_recorded, commits_recorded
from tests.support import Azurite, Supervisor, start_azurite

# Short receive visibility so a killed worker's message comes back in seconds, not 10 minutes.
FAST_RECOVERY = {"DEVHOST_QUEUE_RECEIVE_VISIBILITY_SECONDS": "2"}


@pytest.fixture
def storage_emulator() -> Iterator[Azurite]:
    """A fresh Azurite per test: no other host can take these tests' messages."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()


# The hosts run the fault app (tests/chaos/faults.py): no fault unless a test sets one, and every
# commit recorded as an event.


@pytest.fixture
def storage_events(tmp_path: Path) -> Path:
    """Where the hosts of a test record each claim and commit of a step (a JSON line each)."""
    return tmp_path / "events.jsonl"


@pytest.fixture
def commit_counts(storage_events: Path) -> Callable[[], dict[tuple[str, str], int]]:
    """How often each (job, step) was committed so far, in all of a test's hosts."""
    return lambda: commits_recorded(storage_events)


@pytest.fixture
def claimants(storage_events: Path) -> Callable[[], dict[tuple[str, str], set[str]]]:
    """The messages that took each (job, step)'s claim so far, in all of a test's hosts."""
    return lambda: claimants_recorded(storage_events)


@pytest.fixture
def job_row(storage_emulator: Azurite) -> Callable[[str], Job]:
    """A job's row as stored (what the status endpoint does not show: re-drives, claims)."""
    storage = Storage(storage_emulator.connection_string)
    return lambda job_id: Job.from_entity(storage.get_entity(JOB_TABLE, job_id, JOB_ROW_KEY).properties)


@pytest.fixture
def workers(storage_emulator: Azurite, tmp_path: Path, storage_events: Path) -> Iterator[Callable[..., Supervisor]]:
    started: list[Supervisor] = []

    def start(functions: list[str] | None = None, **settings: str) -> Supervisor:
        folder = tmp_path / f"worker{len(started)}"
        folder.mkdir()
        env = {
            "AzureWebJobsStorage": storage_emulator.connection_string,
            "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
            **FAST_RECOVERY,
            "IMAGES_IN_PLAN_BYTES": "0",  # fan every image batch out, so image steps run and can fail
            "FAULT_EVENTS_FILE": str(storage_events),
            **settings,
        }
        args = ["--functions", *functions] if functions else []
        supervisor = Supervisor(FAULT_APP, env, folder, args)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()
