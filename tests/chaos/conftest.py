from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, Azurite, Supervisor, start_azurite

# Short receive visibility so a killed worker's message comes back in seconds, not 10 minutes.
FAST_RECOVERY = {"DEVHOST_QUEUE_RECEIVE_VISIBILITY_SECONDS": "2"}


@pytest.fixture
def storage_emulator() -> Iterator[Azurite]:
    """A fresh Azurite per test: no other host can take these tests' messages."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()


@pytest.fixture
def workers(storage_emulator: Azurite, tmp_path: Path) -> Iterator[Callable[..., Supervisor]]:
    started: list[Supervisor] = []

    def start(functions: list[str] | None = None, **settings: str) -> Supervisor:
        folder = tmp_path / f"worker{len(started)}"
        folder.mkdir()
        env = {
            "AzureWebJobsStorage": storage_emulator.connection_string,
            "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
            **FAST_RECOVERY,
            "IMAGES_IN_PLAN_BYTES": "0",  # fan every image batch out, so image steps run and can fail
            **settings,
        }
        args = ["--functions", *functions] if functions else []
        supervisor = Supervisor(ROOT, env, folder, args)
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()
