"""30 mixed conversions under random SIGKILLs of the worker (see random_kills.py)."""

from __future__ import annotations

from tests.chaos.random_kills import run


def test_random_kills_across_thirty_conversions_lose_nothing() -> None:
    result = run(jobs=30, seed=11)
    assert result["kills"] >= 5, result  # the run really was disturbed
    assert result["problems"] == [], result
