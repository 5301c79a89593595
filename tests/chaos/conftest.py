from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos.faults import FAULT_APP, commits_recorded
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
def commit_events(tmp_path: Path) -> Path:
    """Where the hosts of a test record each commit of a step (a JSON line each)."""
    return tmp_path / "commits.jsonl"


@pytest.fixture
def commit_counts(commit_events: Path) -> Callable[[], dict[tuple[str, str], int]]:
    """How often each (job, step) was committed so far, in all of a test's hosts."""
    return lambda: commits_recorded(commit_events)


@pytest.fixture
def workers(storage_emulator: Azurite, tmp_path: Path, commit_events: Path) -> Iterator[Callable[..., Supervisor]]:
    started: list[Supervisor] = []

    def start(functions: list[str] | None = None, **settings: str) -> Supervisor:
        folder = tmp_path / f"worker{len(started)}"
        folder.mkdir()
        env = {
            "AzureWebJobsStorage": storage_emulator.connection_string,
            "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
            **FAST_RECOVERY,
            "IMAGES_IN_PLAN_BYTES": "0",  # fan every image batch out, so image steps run and can fail
            "FAULT_EVENTS_FILE": str(commit_events),
            **settings,
        }
        args = ["--functions", *functions] if functions else []
        supervisor = Supervisor(FAULT_APP, env, folder, args)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()
