"""The step processes' side: the zygote that forks them, and each child's life within its budget.

The zygote imports the modules the worker names once (its steps' code: the worker owns that list)
and warms up the conversion, then forks a child for each socket the worker sends. A child runs steps under soft RLIMIT_CPU and RLIMIT_DATA limits with a
watchdog, sends its log records and its answer back, and stays for the next step while it gave its
memory back. shared/budget/__init__.py is the worker's side.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import resource
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from shared import logs
from shared.budget import StepBudget

log = logging.getLogger(__name__)

# A child that holds more than this above what it was forked with after its step (Python's
# allocators do not give everything back) is not reused: its memory goes back to the system.
REUSE_MAX_GROWTH_BYTES = 64 * 1024 * 1024
# A step that waits this many times its CPU budget (a deadlock, storage that stopped answering) is
# ended, as a transient failure: the queue retries it. Its watchdog looks this often.
WALL_SECONDS_PER_CPU_SECOND = 10
WATCH_SECONDS = 2.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# How close to its limit a failing step must have come for the failure to be the budget's: more
# than a thread's stack or one large buffer, which are what fail first.
NEAR_LIMIT_BYTES = 64 * 1024 * 1024


class _PipeLogHandler(logging.Handler):
    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            # A traceback the redaction masked is kept only as text (shared.logs.redact_record).
            exception = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else record.exc_text
            self.connection.send(("log", (record.name, record.levelno, message, exception)))
        except Exception:
            self.handleError(record)


def _status_bytes(*names: bytes) -> dict[bytes, int]:
    """Fields of /proc/self/status, in bytes; empty where /proc is unknown."""
    fields: dict[bytes, int] = {}
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                name, _, value = line.partition(b":")
                if name in names:
                    fields[name] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return fields if len(fields) == len(names) else {}


def _peak_data_bytes() -> int:
    """The highest the data segment (what RLIMIT_DATA limits) has been in this process's life: the
    peak of all mappings less the part that is not data (code, libraries, stacks), which does not
    grow. 0 where /proc is unknown."""
    fields = _status_bytes(b"VmPeak", b"VmSize", b"VmData")
    return fields[b"VmPeak"] - fields[b"VmSize"] + fields[b"VmData"] if fields else 0


def data_bytes_left() -> int | None:
    """How much more data (what RLIMIT_DATA limits) this process may take before its budget stops
    it; None when nothing limits it (outside a step's process)."""
    soft = resource.getrlimit(resource.RLIMIT_DATA)[0]
    data = _status_bytes(b"VmData").get(b"VmData")
    if soft == resource.RLIM_INFINITY or data is None:
        return None
    return max(0, soft - data)


def _anonymous_resident_bytes() -> int:
    """Memory this process holds that no file backs: what it would give back by exiting."""
    return _status_bytes(b"RssAnon").get(b"RssAnon", 0)


def _start_peak_rss() -> None:
    """Restart the peak resident size the kernel keeps (VmHWM), so a reused child reports its step's."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _peak_rss_mb() -> int:
    peak = _status_bytes(b"VmHWM").get(b"VmHWM")
    return peak // (1024 * 1024) if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _near_limit(budget: StepBudget) -> int:
    return budget.memory_bytes - min(NEAR_LIMIT_BYTES, budget.memory_bytes // 4)


class _StepStuck(BaseException):
    """Raised in a step's main thread by its watchdog: not an Exception, so no library's handler
    for errors swallows it."""

    def __init__(self, near_memory_limit: bool) -> None:
        super().__init__()
        self.near_memory_limit = near_memory_limit


def _cpu_seconds() -> float:
    """CPU used by this process and the children it has reaped (the pdf step typesets in processes
    of its own, within what the budget leaves: shared/book/pdf/typeset.py)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def _watch(budget: StepBudget) -> None:
    """Check the step every WATCH_SECONDS, from a signal (a thread could not start near the limit).

    Near its memory limit a step can hang without an exception: a thread that cannot allocate
    what it needs to start leaves `Thread.start` waiting forever (CPython prints a bare
    "MemoryError"). A step that used no CPU since the last check while near the limit is so ended
    on the memory budget; any step that waited past its wall-clock bound is ended as transient."""
    deadline = time.monotonic() + budget.cpu_seconds * WALL_SECONDS_PER_CPU_SECOND
    last_cpu = _cpu_seconds()

    def check(signum: int, frame: Any) -> None:
        nonlocal last_cpu
        cpu = _cpu_seconds()
        idle, last_cpu = cpu - last_cpu < 0.01 * WATCH_SECONDS, cpu
        if idle and _peak_data_bytes() > _near_limit(budget):
            raise _StepStuck(near_memory_limit=True)
        if time.monotonic() > deadline:
            raise _StepStuck(near_memory_limit=False)

    signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, WATCH_SECONDS, WATCH_SECONDS)


def _run_step(function: Callable[..., Any], args: tuple[Any, ...], budget: StepBudget) -> tuple[str, Any]:
    """One step within its budget, in this child: its answer to the worker."""
    cpu_before = _cpu_seconds()
    # Soft limits only: a process cannot raise a hard limit again for the next step it runs. Past
    # the soft CPU limit the kernel sends SIGXCPU, which ends the child; past the data limit
    # allocations fail. The CPU limit counts the process's whole life, so each step's is its own.
    cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    own = resource.getrusage(resource.RUSAGE_SELF)  # what the kernel's limit counts: not the children
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(own.ru_utime + own.ru_stime) + budget.cpu_seconds, cpu_hard))
    data_hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    resource.setrlimit(resource.RLIMIT_DATA, (budget.memory_bytes, data_hard))
    _start_peak_rss()
    _watch(budget)
    answer: tuple[str, Any]
    try:
        try:
            value = function(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        answer = ("result", (value, _cpu_seconds() - cpu_before, _peak_rss_mb()))
    except MemoryError:
        answer = ("memory", None)  # outside this block the traceback, and what it holds, is freed
    except _StepStuck as stuck:
        wall = budget.cpu_seconds * WALL_SECONDS_PER_CPU_SECOND
        answer = ("memory", None) if stuck.near_memory_limit else ("stuck", f"it waited more than {wall} s")
    except Exception as error:
        # Near the limit, the kernel's refusal surfaces in many forms besides MemoryError: "can't
        # start new thread", ENOMEM from a native library, a failed import. They are the budget's.
        # (A reused child never came near its limit before, so its peak is this step's.)
        if _peak_data_bytes() > _near_limit(budget):
            answer = ("memory", None)
        else:
            answer = ("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
    resource.setrlimit(resource.RLIMIT_DATA, (data_hard, data_hard))  # room to send the answer
    return answer


def _child(connection: Connection) -> None:
    """The child's whole life: steps, each within its budget, while it answers and gives back its
    memory; logging to the worker; ends when the worker lets it go or it waited long enough."""
    logs.install_redaction()  # the zygote is a process of its own, started before the app's
    handler = _PipeLogHandler(connection)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("azure").setLevel(logging.WARNING)

    def thread_failed(failure: threading.ExceptHookArgs) -> None:
        # Out of memory outside a task's own code (starting a thread, in an executor's machinery)
        # leaves the step waiting forever for a result that will not come: it is the budget's.
        if not issubclass(failure.exc_type, MemoryError):
            threading.__excepthook__(failure)
            return
        data_hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
        resource.setrlimit(resource.RLIMIT_DATA, (data_hard, data_hard))  # room to send the answer
        with handler.lock or contextlib.nullcontext():
            connection.send(("memory", None, False))
        os._exit(0)

    threading.excepthook = thread_failed
    forked_with = _anonymous_resident_bytes()
    keep_idle_seconds: float | None = None  # it was forked for its first step, which is on its way
    while True:
        if keep_idle_seconds is not None and not connection.poll(keep_idle_seconds):
            return
        try:
            function, args, budget, keep_idle_seconds = connection.recv()
        except EOFError:
            return  # the worker let it go
        except Exception as error:  # a step it cannot unpickle: the caller's mistake, not transient
            connection.send(("error", f"the step could not be read: {type(error).__name__}: {error}", False))
            return
        kind, payload = _run_step(function, args, budget)
        reusable = (
            kind == "result"
            and _peak_data_bytes() <= _near_limit(budget)
            and _anonymous_resident_bytes() - forked_with <= REUSE_MAX_GROWTH_BYTES
        )
        connection.send((kind, payload, reusable))
        if not reusable:
            return


def _warm_up() -> None:
    """Convert a one-line book once, so that every child starts with what a conversion builds on
    first use in a process (the Markdown parser, the sanitiser, compiled patterns, the cover's
    font), as a long-lived worker had them. One thread: the zygote must have no others to fork."""
    from datetime import UTC, datetime

    from shared.book.conversion import ConvertOptions, convert

    try:
        convert(
            b"# Warm\n\nUp *here*.\n",
            ConvertOptions(kind="markdown", modified=datetime(2026, 1, 1, tzinfo=UTC)),
            0,
            # Not the PDF: Typst typesets on a pool of threads, and a child forked from a process
            # whose pool had started would wait for ever on threads it does not have.
            with_pdf=False,
        )
    except Exception:
        log.exception("warming up the step processes' zygote failed; steps will warm up themselves")


def _end_with_zygote() -> None:
    """Have the kernel kill this child when the zygote ends (it ends with its worker): a step
    whose worker is gone must not go on writing, nor hold its memory, with no one to answer."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(0)  # the zygote ended before the request took effect


def serve_as_zygote(control: socket.socket, preload: list[str]) -> None:
    """The zygote's loop: import `preload`, then fork a child for each socket the worker sends; when
    a child ends, tell the worker how, on that socket. Ends when the worker closes the control
    socket (it is gone)."""
    import importlib
    import selectors

    for module in preload:
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
                    _end_with_zygote()
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
