from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One real Azurite for the session, on ports the OS picked, stopped afterwards."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()
