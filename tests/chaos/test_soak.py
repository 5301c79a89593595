"""A short soak (soak.py): uploads to two hosts through one fault of each kind, nothing lost.

Shorter outages than `make soak` (10–15 s, not 20–30 s) keep the suite within its time."""

from __future__ import annotations

import pytest

from tests.chaos.soak import FAULTS, run


@pytest.mark.slow
def test_a_short_soak_through_every_kind_of_fault_loses_nothing() -> None:
    result = run(minutes=1.25, seed=5, gap=(5, 8), outage=(10, 15))
    assert [fault["kind"] for fault in result["faults"]][: len(FAULTS)] == list(FAULTS), result
    assert result["accepted"] >= 25, result  # the load was real
    assert result["problems"] == [], result
