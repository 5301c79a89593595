from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ROOT, AppHost, Azurite, start_azurite, start_host

TEST_MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def _session_host(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory, name: str, extra_args: list[str] | None = None
) -> Iterator[AppHost]:
    log = tmp_path_factory.mktemp(name) / "host.log"
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": azurite.connection_string, "MAX_UPLOAD_BYTES": str(TEST_MAX_UPLOAD_BYTES)},
        log,
        extra_args=extra_args,
    )
    yield host
    host.stop()


@pytest.fixture(scope="session")
def app(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    """Quire served by the stand-in host against the session's Azurite."""
    yield from _session_host(azurite, tmp_path_factory, "host")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Azurite]:
    """An Azurite of the test module's own, for a module that starts hosts of its own on it."""
    own = start_azurite()
    yield own
    own.stop()


@pytest.fixture(scope="session")
def web_azurite() -> Iterator[Azurite]:
    """An Azurite of the web tier's own: no worker of the session's `app` takes its messages, so
    what the web tier sent stays where a test looks for it."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def web_app(web_azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    """The web tier alone (no worker), so tests can see the messages it sends before anyone takes them."""
    yield from _session_host(
        web_azurite,
        tmp_path_factory,
        "web",
        extra_args=["--functions", "upload_manuscript", "get_manuscript", "health"],
    )
