from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Azurite, start_azurite


@pytest.fixture(scope="package")
def azurite() -> Iterator[Azurite]:
    """An Azurite of their own: the session's is shared with a running host whose `refresh` timer
    fires at every quarter hour and would claim the due sources these tests scan."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()
