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
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
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


# A child that answered keeps waiting this long for the worker's next step, then exits.
KEEP_IDLE_SECONDS = 20.0
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


@dataclass
class _IdleChild:
    connection: Connection
    zygote: _Zygote
    idle_since: float
    keep_idle_seconds: float


_zygote_lock = threading.Lock()
_zygote: _Zygote | None = None
_idle_children: list[_IdleChild] = []


def _fork_child() -> tuple[Connection, _Zygote]:
    global _zygote
    with _zygote_lock:
        for _ in range(2):
            if _zygote is None or not _zygote.alive():
                _zygote = _Zygote()
            try:
                return _zygote.fork(), _zygote
            except OSError:
                _zygote = None  # it died since it was checked: start another once
        raise StepProcessDied("the step processes' zygote cannot be started")


def _take_idle_child() -> tuple[Connection, _Zygote] | None:
    """The child that answered last and is still waiting for a step, if any. One that has almost
    reached its idle time, or whose zygote ended or was replaced (none would report how it ended),
    is let go."""
    now = time.monotonic()
    with _zygote_lock:
        while _idle_children:
            idle = _idle_children.pop()
            fresh = now - idle.idle_since < idle.keep_idle_seconds - 1.0
            if idle.zygote is _zygote and idle.zygote.alive() and fresh:
                return idle.connection, idle.zygote
            idle.connection.close()
    return None


def _keep_idle(connection: Connection, zygote: _Zygote, keep_idle_seconds: float) -> None:
    with _zygote_lock:
        _idle_children.append(_IdleChild(connection, zygote, time.monotonic(), keep_idle_seconds))


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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(cpu_before) + budget.cpu_seconds, cpu_hard))
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
) -> Any:
    """Run `function(*args)` in a child process within `budget`; return its result. The child may
    have run earlier steps, and may wait `keep_idle_seconds` for the next.

    `function` and `args` must be picklable (a module-level function, plain values). Raises
    BudgetExceeded, StepProcessDied, or RuntimeError carrying the child's own exception."""
    request = (function, args, budget, keep_idle_seconds)
    idle = _take_idle_child()
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
        connection, zygote = _fork_child()
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


def _end_with_zygote() -> None:
    """Have the kernel kill this child when the zygote ends (it ends with its worker): a step
    whose worker is gone must not go on writing, nor hold its memory, with no one to answer."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(0)  # the zygote ended before the request took effect


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


if __name__ == "__main__":
    serve_as_zygote(socket.socket(fileno=int(sys.argv[1])))
