from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import tiers
from tests.support import Azurite, start_azurite


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tiers.mark(items)


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up: they may start what a tier needs
def pytest_runtest_setup(item: pytest.Item) -> None:
    tiers.running(item)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    tiers.running(None)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One real Azurite for the session, on ports the OS picked, stopped afterwards."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def photo_book_300mib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300 MiB zip of Markdown and camera-sized photos, on disk (tests/large_book.py)."""
    from tests.large_book import write_photo_book

    path = tmp_path_factory.mktemp("large") / "photo-book.zip"
    write_photo_book(path, 300 * 1024 * 1024)
    return path
