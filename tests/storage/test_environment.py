"""The app's storage clients skip requests' look-up of the environment on every request when the
environment names no proxy and no CA bundle (#41), and still use one named there: here a proxy at
a port where nothing listens, so a client that honours it cannot reach Azurite."""

from __future__ import annotations

import os

import pytest

from shared.settings import Settings
from shared.storage import Storage, StorageUnavailable
from tests.support import Azurite, free_port


def app_storage(azurite: Azurite, monkeypatch: pytest.MonkeyPatch, **variables: str) -> Storage:
    """Storage as the app builds it, from its settings, in an environment with only these of the
    variables requests reads."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.upper() in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    return Storage(Settings.from_env().storage_connection)


def test_with_nothing_named_the_clients_do_not_look_and_reach_storage(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = app_storage(azurite, monkeypatch)
    assert not Settings.from_env().storage_connection.http_environment
    storage.ping()


def test_a_proxy_named_in_the_environment_is_used(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = app_storage(azurite, monkeypatch, HTTP_PROXY=f"http://127.0.0.1:{free_port()}")  # nothing listens
    with pytest.raises(StorageUnavailable):  # reaching Azurite would answer NotFound
        storage.get_entity("environment", "no", "row")
