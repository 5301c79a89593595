"""Quire's function app with fault-injecting step storage (tests/chaos/faults.py), for the fault
tests: the same triggers and the same code, run by the stand-in host from this folder."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from shared import services
from tests.chaos.faults import FaultInjectingStorage

_ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("quire_function_app", _ROOT / "function_app.py")
assert _spec is not None and _spec.loader is not None
quire = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quire)


def _services_with_fault_injecting_steps() -> services.Services:
    return dataclasses.replace(services.get_services(), step_storage=FaultInjectingStorage)


quire.get_services = _services_with_fault_injecting_steps  # type: ignore[attr-defined]  # looked up at each call
app = quire.app
