"""A step's child process within its CPU and memory budget (shared/budget.py), no storage needed."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from shared.budget import BudgetExceeded, StepBudget, StepProcessDied, run_within_budget

ROOMY = StepBudget(cpu_seconds=10, memory_bytes=512 * 1024 * 1024)


def answer(value: int) -> dict[str, int]:
    logging.getLogger("shared.test").info("computing %d in pid %d", value, os.getpid())
    return {"value": value * 2}


def allocate(megabytes: int) -> int:
    blocks = [bytearray(1024 * 1024) for _ in range(megabytes)]
    return len(blocks)


def fill_then_fail(limit: int) -> None:
    """Fill memory to just under the limit, then fail the way a refused thread does."""
    from shared.budget import _peak_data_bytes

    blocks = []
    while _peak_data_bytes() < limit - 16 * 1024 * 1024:
        blocks.append(bytearray(1024 * 1024))
    raise RuntimeError("can't start new thread")


def spin(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail() -> None:
    raise ValueError("a transient failure")


def test_the_result_and_the_log_records_come_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert run_within_budget(answer, (21,), ROOMY) == {"value": 42}
    child = [r for r in caplog.records if r.name == "shared.test"]
    assert child and "computing 21" in child[0].getMessage()
    assert f"pid {os.getpid()}" not in child[0].getMessage()  # it ran in another process
    assert any("the step used" in r.getMessage() for r in caplog.records)


def test_memory_over_the_budget_is_a_permanent_failure() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as raised:
        run_within_budget(allocate, (400,), StepBudget(cpu_seconds=10, memory_bytes=200 * 1024 * 1024))
    assert raised.value.resource_name == "memory"
    assert "more than 200 MB of memory" in str(raised.value)
    assert time.monotonic() - started < 10
    assert run_within_budget(allocate, (50,), StepBudget(cpu_seconds=10, memory_bytes=200 * 1024 * 1024)) == 50


def test_a_failure_at_the_memory_limit_is_the_budgets_whatever_its_form() -> None:
    limit = 400 * 1024 * 1024
    with pytest.raises(BudgetExceeded) as raised:
        run_within_budget(fill_then_fail, (limit,), StepBudget(cpu_seconds=10, memory_bytes=limit))
    assert raised.value.resource_name == "memory"
    # Far from the limit, the same failure is the step's own (transient: the queue retries).
    with pytest.raises(RuntimeError, match="can't start new thread"):
        run_within_budget(fill_then_fail, (300 * 1024 * 1024,), StepBudget(cpu_seconds=10, memory_bytes=2 * limit))


def test_cpu_over_the_budget_is_a_permanent_failure() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as raised:
        run_within_budget(spin, (30.0,), StepBudget(cpu_seconds=1, memory_bytes=512 * 1024 * 1024))
    assert raised.value.resource_name == "cpu"
    assert "more than 1 second of processing" in str(raised.value)
    assert time.monotonic() - started < 10


def test_a_killed_child_or_an_exception_is_transient() -> None:
    with pytest.raises(StepProcessDied):
        run_within_budget(die, (), ROOMY)
    with pytest.raises(RuntimeError, match="ValueError: a transient failure"):
        run_within_budget(fail, (), ROOMY)
