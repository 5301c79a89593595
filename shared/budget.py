"""Running one conversion step in a child process, within a CPU-time and a memory budget.

A parser that goes super-linear on a hostile manuscript, or a book whose images need more memory
than an instance has, must neither hold a worker for minutes nor take the instance down with every
other invocation on it. So each step runs in a child process with two kernel limits:
`RLIMIT_CPU` (at the budget the kernel sends SIGXCPU, which ends the child) and `RLIMIT_DATA`
(allocations past the budget fail, so Python raises MemoryError). Either is a permanent failure of
the job (`BudgetExceeded`): the same manuscript would exceed it again on every retry. A child that
dies any other way (killed from outside, a crash in a native library) is transient: the queue
retries the step, as it would a worker that died.

Children are forked from a zygote (`python -m shared.budget`), a single-threaded process started
once per worker that imported the conversion code: the worker runs threads, and forking it could
copy a lock another thread holds. (multiprocessing's forkserver would re-import the worker's own
main module in every child.) For each step the worker hands the zygote one end of a new socket
pair; the child forked with it receives the step, sends back its log records and its answer, and
the zygote adds how it ended. Its log lines so appear in the invocation that started it. When it
exits, its memory goes back to the system, so a worker returns to its baseline after any book.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

# Imported once by the forkserver, so that each child starts with them loaded: faster, and a step
# near its memory budget never has to map a library in (a failed import is not a budget failure).
PRELOAD = [
    "shared.pipeline",
    "shared.book.steps",
    "shared.book.readers",
    "shared.book.render",
    "shared.book.sanitize",
    "shared.book.images",
    "shared.book.epub",
    "shared.book.webapp",
    "shared.storage",
    "azure.storage.blob",
    "azure.data.tables",
    "lxml.etree",
    "lxml.html",
    "markdown_it",
    "mdit_py_plugins.footnote",
    "mdit_py_plugins.front_matter",
    "mammoth",
    "nh3",
    "yaml",
    "PIL.Image",
    "PIL.ImageDraw",
    "PIL.ImageFont",
    "PIL.ImageOps",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.WebPImagePlugin",
]


@dataclass(frozen=True)
class StepBudget:
    cpu_seconds: int
    memory_bytes: int


class BudgetExceeded(Exception):
    """The step needed more CPU time or memory than its budget: permanent for this manuscript."""

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


class StepProcessDied(RuntimeError):
    """The step's process ended without an answer, not by a budget: retrying may succeed."""


class _Zygote:
    """The worker's side of its zygote process: started on first use, again if it died."""

    def __init__(self) -> None:
        self.control, theirs = socket.socketpair()
        # The zygote must import what the worker imports, from where the worker does.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shared.budget", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
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


_zygote_lock = threading.Lock()
_zygote: _Zygote | None = None


def _fork_child() -> Connection:
    global _zygote
    with _zygote_lock:
        for _ in range(2):
            if _zygote is None or not _zygote.alive():
                _zygote = _Zygote()
            try:
                return _zygote.fork()
            except OSError:
                _zygote = None  # it died since it was checked: start another once
        raise StepProcessDied("the step processes' zygote cannot be started")


class _PipeLogHandler(logging.Handler):
    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            exception = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else None
            self.connection.send(("log", (record.name, record.levelno, message, exception)))
        except Exception:
            self.handleError(record)


# How close to its limit a failing step must have come for the failure to be the budget's: more
# than a thread's stack or one large buffer, which are what fail first.
NEAR_LIMIT_BYTES = 64 * 1024 * 1024


def _peak_data_bytes() -> int:
    """The highest the data segment (what RLIMIT_DATA limits) has been, from /proc: the peak of
    all mappings less the part that is not data (code, libraries, stacks), which does not grow.
    0 where /proc is unknown."""
    fields: dict[bytes, int] = {}
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                name, _, value = line.partition(b":")
                if name in (b"VmPeak", b"VmSize", b"VmData"):
                    fields[name] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    if len(fields) < 3:
        return 0
    return fields[b"VmPeak"] - fields[b"VmSize"] + fields[b"VmData"]


def _child(connection: Connection) -> None:
    """The child's whole life: the step, limits, logging to the parent, the step's answer."""
    function, args, budget = connection.recv()
    resource.setrlimit(resource.RLIMIT_CPU, (budget.cpu_seconds, budget.cpu_seconds + 5))
    # Only the soft limit: once the step has hit it, the child lifts it to send its answer.
    data_hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    resource.setrlimit(resource.RLIMIT_DATA, (budget.memory_bytes, data_hard))
    root = logging.getLogger()
    root.handlers[:] = [_PipeLogHandler(connection)]
    root.setLevel(logging.INFO)
    logging.getLogger("azure").setLevel(logging.WARNING)
    answer: tuple[str, Any]
    try:
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        value = function(*args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime
        answer = ("result", (value, cpu, usage.ru_maxrss // 1024))
    except MemoryError:
        answer = ("memory", None)  # outside this block the traceback, and what it holds, is freed
    except Exception as error:
        # Near the limit, the kernel's refusal surfaces in many forms besides MemoryError: "can't
        # start new thread", ENOMEM from a native library, a failed import. They are the budget's.
        if _peak_data_bytes() > budget.memory_bytes - min(NEAR_LIMIT_BYTES, budget.memory_bytes // 4):
            answer = ("memory", None)
        else:
            answer = ("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
    resource.setrlimit(resource.RLIMIT_DATA, (data_hard, data_hard))
    connection.send(answer)


def run_within_budget(function: Callable[..., Any], args: tuple[Any, ...], budget: StepBudget) -> Any:
    """Run `function(*args)` in a child process within `budget`; return its result.

    `function` and `args` must be picklable (a module-level function, plain values). Raises
    BudgetExceeded, StepProcessDied, or RuntimeError carrying the child's own exception."""
    connection = _fork_child()
    outcome: tuple[str, Any] | None = None
    status: int | None = None
    try:
        connection.send((function, args, budget))
        while status is None:
            kind, payload = connection.recv()
            if kind == "log":
                name, level, message, exception = payload
                logging.getLogger(name).log(level, "%s%s", message, f"\n{exception}" if exception else "")
            elif kind == "exit":
                status = payload  # from the zygote, once the child has ended
            else:
                outcome = (kind, payload)
    except (EOFError, OSError):
        pass  # the zygote died too: no exit status
    finally:
        connection.close()
    if outcome is not None and outcome[0] == "result":
        value, cpu_seconds, peak_mb = outcome[1]
        log.info(
            "the step used %.2f s of CPU (budget %d s) and %d MB at peak (budget %d MB)",
            cpu_seconds,
            budget.cpu_seconds,
            peak_mb,
            budget.memory_bytes // (1024 * 1024),
        )
        return value
    if outcome is not None and outcome[0] == "memory":
        raise BudgetExceeded("memory", budget)
    if outcome is not None and outcome[0] == "error":
        raise RuntimeError(f"the step failed: {outcome[1]}")
    if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        raise BudgetExceeded("cpu", budget)
    code = -os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else status
    raise StepProcessDied(f"the step's process ended without an answer (exit code {code})")


def _warm_up() -> None:
    """Convert a one-line book once, so that every child starts with what a conversion builds on
    first use in a process (the Markdown parser, the sanitiser, compiled patterns, the cover's
    font), as a long-lived worker had them. One thread: the zygote must have no others to fork."""
    from datetime import UTC, datetime

    from shared.book.steps import ConvertOptions, convert

    try:
        convert(
            b"# Warm\n\nUp *here*.\n", ConvertOptions(kind="markdown", modified=datetime(2026, 1, 1, tzinfo=UTC)), 1
        )
    except Exception:
        log.exception("warming up the step processes' zygote failed; steps will warm up themselves")


def serve_as_zygote(control: socket.socket) -> None:
    """The zygote's loop: fork a child for each socket the worker sends; when a child ends, tell
    the worker how, on that socket. Ends when the worker closes the control socket (it is gone)."""
    import importlib
    import selectors

    for module in PRELOAD:
        importlib.import_module(module)
    _warm_up()
    # What the zygote holds now lives as long as it does: out of every child's collections, which
    # would otherwise traverse it (CPU) and write to each object's header (copying its pages).
    gc.collect()
    gc.freeze()
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                message, fds, _, _ = socket.recv_fds(control, 1, 1)
                if not message:
                    return
                child_end = socket.socket(fileno=fds[0])
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    control.close()
                    try:
                        _child(Connection(child_end.detach()))
                    finally:
                        os._exit(0)
                # A pidfd becomes readable when the child ends: no polling, no signal handler.
                selector.register(os.pidfd_open(pid), selectors.EVENT_READ, (pid, child_end))
            else:
                pid, child_end = key.data
                selector.unregister(key.fileobj)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                ending = Connection(child_end.detach())
                with contextlib.suppress(OSError):
                    ending.send(("exit", status))
                ending.close()


if __name__ == "__main__":
    serve_as_zygote(socket.socket(fileno=int(sys.argv[1])))
