"""Running one conversion step in a child process, within a CPU-time and a memory budget.

A parser that goes super-linear on a hostile manuscript, or a book whose images need more memory
than an instance has, must neither hold a worker for minutes nor take the instance down with every
other invocation on it. So each step runs in a child process with two kernel limits:
`RLIMIT_CPU` (at the budget the kernel sends SIGXCPU, which ends the child) and `RLIMIT_DATA`
(allocations past the budget fail, so Python raises MemoryError). Either is a permanent failure of
the job (`BudgetExceeded`): the same manuscript would exceed it again on every retry. A child that
dies any other way (killed from outside, a crash in a native library) is transient: the queue
retries the step, as it would a worker that died.

A child that answered and gave its memory back stays for the worker's next step (for
`keep_idle_seconds`), with its storage clients and their connections: a fresh process costs 40–60 ms
a step in first-touched pages and new connections, for every step of every book. A child that
came near its memory budget, failed, or kept memory is never reused; each step in a reused child
gets its whole CPU budget again. A watchdog (SIGALRM) ends a step that hangs near its memory limit
without an exception (on the memory budget) or waits ten times its CPU budget (transient).

Children are forked from a zygote (shared/budget/process.py, started with `python -c`), a single-threaded process started
once per worker that imported the conversion code: the worker runs threads, and forking it could
copy a lock another thread holds. (multiprocessing's forkserver would re-import the worker's own
main module in every child.) For each step the worker hands the zygote one end of a new socket
pair; the child forked with it receives the step, sends back its log records and its answer, and
the zygote adds how it ended. Its log lines so appear in the invocation that started it. When it
exits, its memory goes back to the system, so a worker returns to its baseline after any book.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from shared import logs
from shared.errors import PermanentError, TransientError

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class StepBudget:
    cpu_seconds: int
    memory_bytes: int


class BudgetExceeded(PermanentError):
    """The step needed more CPU time or memory than its budget: permanent for this manuscript."""

    @property
    def log_summary(self) -> str:
        return f"the step went over its {self.resource_name} budget"

    def __init__(self, resource_name: str, budget: StepBudget) -> None:
        self.resource_name = resource_name
        if resource_name == "cpu":
            unit = "second" if budget.cpu_seconds == 1 else "seconds"
            detail = f"more than {budget.cpu_seconds} {unit} of processing"
        else:
            detail = f"more than {budget.memory_bytes // (1024 * 1024)} MB of memory"
        super().__init__(
            f"This manuscript is too large or too complex to convert: it needed {detail}. "
            "Split it into smaller books, simplify deeply nested lists, quotes or markup, "
            "or use smaller images, then upload it again."
        )


class StepProcessDied(TransientError):
    """The step's process ended without an answer, not by a budget: retrying may succeed."""


# argv: the control socket's descriptor, the modules to preload (comma-separated), the import path.
_ZYGOTE_START = (
    "import socket, sys; sys.path[:0] = sys.argv[3:]; from shared.budget.process import serve_as_zygote; "
    "serve_as_zygote(socket.socket(fileno=int(sys.argv[1])), [m for m in sys.argv[2].split(',') if m])"
)


class _Zygote:
    """The worker's side of its zygote process: started on first use, again if it died."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        self.preload = preload
        self.control, theirs = socket.socketpair()
        # The zygote must import what the worker imports, from where the worker does: it starts
        # with the worker's import path (the environment it inherits as it is).
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE_START, str(theirs.fileno()), ",".join(preload), *(p for p in sys.path if p)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self) -> Connection:
        """A connection to a new child of the zygote."""
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.control, [b"f"], [theirs.fileno()])
        finally:
            theirs.close()
        return Connection(ours.detach())


# A child that answered keeps waiting this long for the worker's next step, then exits.
KEEP_IDLE_SECONDS = 20.0


@dataclass
class _IdleChild:
    connection: Connection
    zygote: _Zygote
    idle_since: float
    keep_idle_seconds: float


_zygote_lock = threading.Lock()
# One zygote per list of modules to preload (a worker names one list; a test may name another).
_zygotes: dict[tuple[str, ...], _Zygote] = {}
_idle_children: list[_IdleChild] = []


def _fork_child(preload: tuple[str, ...]) -> tuple[Connection, _Zygote]:
    with _zygote_lock:
        for _ in range(2):
            zygote = _zygotes.get(preload)
            if zygote is None or not zygote.alive():
                zygote = _zygotes[preload] = _Zygote(preload)
            try:
                return zygote.fork(), zygote
            except OSError:
                del _zygotes[preload]  # it died since it was checked: start another once
        raise StepProcessDied("the step processes' zygote cannot be started")


def _take_idle_child(preload: tuple[str, ...]) -> tuple[Connection, _Zygote] | None:
    """The child that answered last and is still waiting for a step, if any. One that has almost
    reached its idle time, or whose zygote ended or was replaced (none would report how it ended),
    is let go."""
    now = time.monotonic()
    with _zygote_lock:
        while _idle_children:
            idle = _idle_children.pop()
            fresh = now - idle.idle_since < idle.keep_idle_seconds - 1.0
            if idle.zygote is _zygotes.get(preload) and idle.zygote.alive() and fresh:
                return idle.connection, idle.zygote
            idle.connection.close()
    return None


def _keep_idle(connection: Connection, zygote: _Zygote, keep_idle_seconds: float) -> None:
    with _zygote_lock:
        _idle_children.append(_IdleChild(connection, zygote, time.monotonic(), keep_idle_seconds))


def _exchange(connection: Connection, request: tuple[Any, ...]) -> tuple[tuple[str, Any, bool] | None, int | None]:
    """Send a step to a child; relay its log records; return its answer, or how it ended without
    one (the exit status the zygote reports; None if the zygote is gone too)."""
    try:
        connection.send(request)
        while True:
            kind, *payload = connection.recv()
            if kind == "log":
                name, level, message, exception = payload[0]
                logging.getLogger(name).log(level, "%s%s", message, f"\n{exception}" if exception else "")
            elif kind == "exit":
                return None, payload[0]  # from the zygote, once the child has ended
            else:
                return (kind, payload[0], payload[1]), None
    except (EOFError, OSError):
        return None, None  # the zygote died too: no exit status


def run_within_budget(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    budget: StepBudget,
    keep_idle_seconds: float = KEEP_IDLE_SECONDS,
    preload: Sequence[str] = (),
) -> Any:
    """Run `function(*args)` in a child process within `budget`; return its result. The child may
    have run earlier steps, and may wait `keep_idle_seconds` for the next. Children are forked from
    a process that imported `preload` (module names: the caller's step code and the libraries it
    uses), so a step starts with them loaded and near its memory budget never has to map one in.

    `function` and `args` must be picklable (a module-level function, plain values). Raises
    BudgetExceeded, StepProcessDied, or RuntimeError carrying the child's own exception."""
    request = (function, args, budget, keep_idle_seconds)
    idle = _take_idle_child(tuple(preload))
    answer: tuple[str, Any, bool] | None = None
    status: int | None = None
    if idle is not None:
        connection, zygote = idle
        answer, status = _exchange(connection, request)
        if answer is None and status == 0:
            # It stopped waiting as the step reached it, so it never read the step: run it afresh.
            connection.close()
            idle = None
    if idle is None:
        connection, zygote = _fork_child(tuple(preload))
        answer, status = _exchange(connection, request)
    if answer is not None and answer[2]:
        _keep_idle(connection, zygote, keep_idle_seconds)
    else:
        connection.close()
    if answer is not None and answer[0] == "result":
        value, cpu_seconds, peak_mb = answer[1]
        log.info(
            "the step used %.2f s of CPU (budget %d s) and %d MB at peak (budget %d MB)",
            cpu_seconds,
            budget.cpu_seconds,
            peak_mb,
            budget.memory_bytes // (1024 * 1024),
        )
        # The kernel's CPU limit counts whole seconds of the child's life (shared/budget/process.py),
        # so a step can finish up to a second over: the budget is the measured figure.
        if cpu_seconds > budget.cpu_seconds:
            raise BudgetExceeded("cpu", budget)
        return value
    if answer is not None and answer[0] == "memory":
        raise BudgetExceeded("memory", budget)
    if answer is not None and answer[0] == "error":
        raise RuntimeError(f"the step failed: {answer[1]}")
    if answer is not None and answer[0] == "stuck":
        raise StepProcessDied(f"the step was ended: {answer[1]}")
    if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        raise BudgetExceeded("cpu", budget)
    code = -os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else status
    raise StepProcessDied(f"the step's process ended without an answer (exit code {code})")
