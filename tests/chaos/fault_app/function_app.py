"""Quire's function app with event-recording storage and fault-injecting step storage
(tests/chaos/faults.py), for the fault tests: the same triggers and the same code, run by the
stand-in host from this folder."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
from pathlib import Path

from shared import services
from tests.chaos.faults import EventRecordingStorage, FaultInjectingStorage

_ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("quire_function_app", _ROOT / "function_app.py")
assert _spec is not None and _spec.loader is not None
quire = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quire)


_lock = threading.Lock()
_observed: services.Services | None = None


def _services_with_fault_injecting_steps() -> services.Services:
    global _observed
    with _lock:
        if _observed is not None:
            return _observed
        app_services = services.get_services()
        storage = EventRecordingStorage(app_services.settings.storage_connection)
        _observed = dataclasses.replace(app_services, storage=storage, step_storage=FaultInjectingStorage)
        return _observed


quire.get_services = _services_with_fault_injecting_steps  # type: ignore[attr-defined]  # looked up at each call
app = quire.app
