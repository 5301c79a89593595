from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import ROOT, AppHost, Azurite, start_host

TEST_MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="session")
def app(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    """Quire served by the stand-in host against the session's Azurite."""
    log = tmp_path_factory.mktemp("host") / "host.log"
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": azurite.connection_string, "MAX_UPLOAD_BYTES": str(TEST_MAX_UPLOAD_BYTES)},
        log,
    )
    yield host
    host.stop()


@pytest.fixture(scope="session")
def web_app(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    """The web tier alone (no worker), so tests can see the messages it sends before anyone takes them."""
    log = tmp_path_factory.mktemp("web") / "host.log"
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": azurite.connection_string, "MAX_UPLOAD_BYTES": str(TEST_MAX_UPLOAD_BYTES)},
        log,
        extra_args=["--functions", "upload_manuscript", "get_manuscript", "health"],
    )
    yield host
    host.stop()
