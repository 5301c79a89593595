"""The storage clients skip requests' look-up of the environment on every request when nothing
there concerns them (#41), but a proxy named in the environment is still used: here one at a port
where nothing listens, so a client that honours it cannot reach Azurite, and one that does not can."""

from __future__ import annotations

import pytest

from shared.storage import Storage, StorageUnavailable
from tests.support import Azurite, free_port

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def without_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_without_a_proxy_the_clients_reach_storage(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    without_proxies(monkeypatch)
    Storage(azurite.connection_string).ping()


def test_a_proxy_named_in_the_environment_is_used(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    without_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(StorageUnavailable):  # reaching Azurite would answer NotFound
        Storage(azurite.connection_string).get_entity("environment", "no", "row")
