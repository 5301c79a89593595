"""A step's child process within its CPU and memory budget (shared/budget/), no storage needed."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from shared.budget import BudgetExceeded, StepBudget, StepProcessDied, run_within_budget

# Steps held to CPU budgets and wall-clock bounds: nothing may run beside them.
pytestmark = pytest.mark.alone
ROOMY = StepBudget(cpu_seconds=10, memory_bytes=512 * 1024 * 1024)


def answer(value: int) -> dict[str, int]:
    logging.getLogger("shared.test").info("computing %d in pid %d", value, os.getpid())
    return {"value": value * 2}


def allocate(megabytes: int) -> int:
    blocks = [bytearray(1024 * 1024) for _ in range(megabytes)]
    return len(blocks)


def fill_then_fail(limit: int) -> None:
    """Fill memory to just under the limit, then fail the way a refused thread does."""
    from shared.budget.process import _peak_data_bytes

    blocks = []
    while _peak_data_bytes() < limit - 16 * 1024 * 1024:
        blocks.append(bytearray(1024 * 1024))
    raise RuntimeError("can't start new thread")


def spin(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def loaded_modules() -> set[str]:
    import sys

    return set(sys.modules)


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


def test_a_step_that_ends_just_over_its_cpu_budget_is_over_it() -> None:
    """The kernel's limit is whole seconds of the child's life, so it lets a step of 1.3 s finish
    under a budget of 1 s: the step is still refused."""
    with pytest.raises(BudgetExceeded) as raised:
        run_within_budget(spin, (1.3,), StepBudget(cpu_seconds=1, memory_bytes=512 * 1024 * 1024))
    assert raised.value.resource_name == "cpu"


def test_a_killed_child_or_an_exception_is_transient() -> None:
    with pytest.raises(StepProcessDied):
        run_within_budget(die, (), ROOMY)
    with pytest.raises(RuntimeError, match="ValueError: a transient failure"):
        run_within_budget(fail, (), ROOMY)


_kept: list[bytearray] = []


def pid_after(megabytes_kept: int) -> int:
    """The process's id, after keeping `megabytes_kept` MB alive past the step."""
    _kept.extend(bytearray(b"q" * 1024 * 1024) for _ in range(megabytes_kept))  # touched: resident
    return os.getpid()


def spin_then_pid(seconds: float) -> int:
    spin(seconds)
    return os.getpid()


def test_a_child_that_answered_and_gave_its_memory_back_runs_the_next_step() -> None:
    first = run_within_budget(pid_after, (0,), ROOMY)
    assert run_within_budget(pid_after, (0,), ROOMY) == first
    # A step that keeps memory is its child's last: the memory goes back to the system.
    assert run_within_budget(pid_after, (100,), ROOMY) == first
    after_keeping = run_within_budget(pid_after, (0,), ROOMY)
    assert after_keeping != first
    # A failed step is its child's last too.
    with pytest.raises(RuntimeError):
        run_within_budget(fail, (), ROOMY)
    assert run_within_budget(pid_after, (0,), ROOMY) != after_keeping


def test_each_step_in_a_reused_child_gets_its_whole_cpu_budget() -> None:
    budget = StepBudget(cpu_seconds=1, memory_bytes=512 * 1024 * 1024)
    pids = {run_within_budget(spin_then_pid, (0.6,), budget) for _ in range(3)}
    assert len(pids) == 1  # 1.8 s of CPU in one process, 0.6 s a step
    with pytest.raises(BudgetExceeded):
        run_within_budget(spin, (3.0,), budget)


def test_an_idle_child_ends_after_its_idle_time() -> None:
    pid = run_within_budget(pid_after, (0,), ROOMY, keep_idle_seconds=0.5)
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)
    assert run_within_budget(pid_after, (0,), ROOMY) != pid


def out_of_memory_in_a_thread_then_wait() -> None:
    """A thread fails for memory outside any task; the step waits for it forever."""
    import threading

    def fail_for_memory() -> None:
        raise MemoryError

    threading.Thread(target=fail_for_memory).start()
    threading.Event().wait()


def test_out_of_memory_in_a_thread_ends_the_step_on_the_memory_budget() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as raised:
        run_within_budget(out_of_memory_in_a_thread_then_wait, (), ROOMY)
    assert raised.value.resource_name == "memory"
    assert time.monotonic() - started < 5


def test_a_step_that_waits_ten_times_its_cpu_budget_is_ended_as_transient() -> None:
    started = time.monotonic()
    with pytest.raises(StepProcessDied, match="it waited more than 10 s"):
        run_within_budget(time.sleep, (60,), StepBudget(cpu_seconds=1, memory_bytes=512 * 1024 * 1024))
    assert time.monotonic() - started < 15


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended
    except (FileNotFoundError, ProcessLookupError):  # reaped before the open, or between open and read
        return False


def test_a_step_process_ends_with_its_zygote() -> None:
    import shared.budget as budget

    pid = run_within_budget(pid_after, (0,), ROOMY)
    assert _running(pid)  # idle, waiting for the next step
    zygote = budget._zygotes[()]
    zygote.process.kill()
    zygote.process.wait()
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)
    assert run_within_budget(pid_after, (0,), ROOMY) != pid  # a new zygote, a new child


def test_the_zygote_preloads_what_the_caller_names() -> None:
    assert "wave" not in run_within_budget(loaded_modules, (), ROOMY)
    assert "wave" in run_within_budget(loaded_modules, (), ROOMY, preload=["wave"])
