"""10 mixed conversions under random SIGKILLs of the worker (see random_kills.py; `make chaos` runs
100, and the soak kills workers and hosts under steady load)."""

from __future__ import annotations

import pytest

from tests.chaos.random_kills import run


@pytest.mark.slow
def test_random_kills_across_ten_conversions_lose_nothing() -> None:
    # Kills come fast enough to land several times even when ten small books convert in seconds.
    result = run(jobs=10, seed=11, mean_interval=0.5)
    assert int(str(result["kills"])) >= 5, result  # the run really was disturbed
    assert result["problems"] == [], result
