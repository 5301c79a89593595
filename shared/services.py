"""The app's long-lived services: settings and storage clients, built once per process on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from shared import telemetry
from shared.settings import Settings
from shared.storage import Storage


@dataclass(frozen=True)
class Services:
    settings: Settings
    storage: Storage
    # How a conversion step's child process opens storage from the connection setting: passed to
    # it by reference (a module-level callable), as the child builds clients of its own.
    step_storage: Callable[[str], Storage] = field(default=Storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls(settings=settings, storage=Storage(settings.storage_connection))


_lock = threading.Lock()
_services: Services | None = None
_feed_client: object | None = None


def get_services() -> Services:
    """The process-wide services, read from the environment the first time they are needed."""
    global _services
    with _lock:
        if _services is None:
            settings = Settings.from_env()
            telemetry.configure(settings)
            _services = Services.from_settings(settings)
        return _services


def get_feed_client() -> object:
    """The one aiohttp session all feed fetches share (made on the worker's event loop, on first use)."""
    global _feed_client
    if _feed_client is None:
        from shared.feeds.fetch import make_client

        _feed_client = make_client(get_services().settings.feeds_allow_private_addresses)
    return _feed_client
