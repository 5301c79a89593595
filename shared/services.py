"""The app's long-lived services: settings and storage clients, built once per process on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared import telemetry
from shared.settings import Settings
from shared.storage import Storage

if TYPE_CHECKING:
    from shared.feeds.refresh import FeedRefresher


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
_feed_refresher: FeedRefresher | None = None


def get_services() -> Services:
    """The process-wide services, read from the environment the first time they are needed."""
    global _services
    with _lock:
        if _services is None:
            settings = Settings.from_env()
            telemetry.configure(settings)
            _services = Services.from_settings(settings)
        return _services


def get_feed_refresher() -> FeedRefresher:
    """The feed client and asyncio storage all fetch batches of this process share (made on the
    worker's event loop, on first use)."""
    global _feed_refresher
    if _feed_refresher is None:
        from shared.feeds.fetch import make_client
        from shared.feeds.refresh import FeedRefresher
        from shared.storage.aio import AsyncStorage

        settings = get_services().settings
        _feed_refresher = FeedRefresher(
            make_client(settings.feeds_allow_private_addresses), AsyncStorage(settings.storage_connection)
        )
    return _feed_refresher
