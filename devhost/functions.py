"""The functions the worker indexed, and invoking them through the worker processes.

Indexing and invocation are the worker library's (devhost/worker.py runs `azure-functions-runtime`);
the host side keeps what the .NET host does around an invocation: an id, the "Executing" and
"Executed" log lines, and writing output bindings only when the function succeeded.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from devhost.wire import Datum
from devhost.workers import FunctionMetadata, IndexingError, WorkerExited, WorkerPool
from shared.logs import Redacting

log = logging.getLogger("devhost")
invocation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("invocation_id", default="")


@dataclass
class FunctionEntry:
    """One function as the host knows it: the worker's metadata (its raw bindings)."""

    name: str
    function_id: str
    bindings: list[dict[str, Any]]
    trigger: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.trigger = next(b for b in self.bindings if str(b.get("type", "")).endswith("Trigger"))

    @classmethod
    def from_metadata(cls, metadata: FunctionMetadata) -> FunctionEntry:
        return cls(metadata.name, metadata.function_id, metadata.bindings)

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type", ""))

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [b for b in self.bindings if b.get("direction") == "OUT" and b.get("name") != "$return"]


def select(entries: list[FunctionEntry], only: list[str] | None) -> list[FunctionEntry]:
    """`--functions a b`: load only these (unknown names are an error, as in the host)."""
    if not only:
        return entries
    unknown = set(only) - {e.name for e in entries}
    if unknown:
        raise IndexingError(f"--functions names unknown functions: {', '.join(sorted(unknown))}")
    return [e for e in entries if e.name in only]


@dataclass
class InvocationResult:
    succeeded: bool
    value: Datum | None = None  # what the function returned, for its $return binding


OutputWriter = Callable[[FunctionEntry, dict[str, Datum], dict[str, Any]], Awaitable[None]]


class Invoker:
    """Runs one invocation on a worker: log, invoke, and hand the outputs to the writer on success."""

    def __init__(self, pool: WorkerPool, write_outputs: OutputWriter, timeout: timedelta | None) -> None:
        self.pool = pool
        self.write_outputs = write_outputs
        self.timeout = timeout.total_seconds() if timeout is not None else None
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def invoke(
        self,
        entry: FunctionEntry,
        trigger_value: Datum,
        reason: str,
        trigger_metadata: dict[str, Datum] | None = None,
        trigger_data: dict[str, Any] | None = None,
    ) -> InvocationResult:
        invocation_id = str(uuid.uuid4())
        token = invocation_id_var.set(invocation_id)
        self.in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", entry.name, reason, invocation_id)
        try:
            inputs = [(str(entry.trigger["name"]), trigger_value)]
            returned: Datum | None = None
            error: str | None = None
            try:
                result = await self.pool.invoke(
                    invocation_id, entry.function_id, inputs, trigger_metadata or {}, self.timeout
                )
                if result.ok:
                    returned = result.returned
                    if result.outputs:
                        await self.write_outputs(entry, result.outputs, trigger_data or {})
                else:
                    error = f"{result.error}\n{result.traceback or ''}".rstrip()
            except WorkerExited as exited:
                error = f"Exception: {exited}"
            except Exception as failure:  # writing an output failed: the invocation fails
                error = f"{type(failure).__name__}: {failure}"
            duration = (time.perf_counter() - started) * 1000
            if error is not None:
                log.error(
                    "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
                    entry.name,
                    invocation_id,
                    duration,
                    error,
                )
                return InvocationResult(succeeded=False)
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", entry.name, invocation_id, duration)
            return InvocationResult(succeeded=True, value=returned)
        finally:
            invocation_id_var.reset(token)
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False


def emit_worker_log(header: dict[str, Any]) -> None:
    """A log record from a worker process, shown on the host's console like its own."""
    record = logging.LogRecord(
        name=str(header.get("logger") or "worker"),
        level=int(header.get("level") or logging.INFO),
        pathname="",
        lineno=0,
        msg=str(header.get("message", "")),
        args=None,
        exc_info=None,
    )
    record.created = float(header.get("created") or time.time())
    record.msecs = (record.created % 1) * 1000
    record.invocation_id = header.get("invocation_id") or ""
    record.exc_text = header.get("exception")
    logging.getLogger(record.name).handle(record)


class InvocationIdFilter(logging.Filter):
    """Adds the current invocation id to the host's own records (a worker's records carry theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "invocation_id"):
            record.invocation_id = invocation_id_var.get()
        return True


class ConsoleFormatter(logging.Formatter):
    """`func start`'s console shape: [timestamp] message, with the invocation id on app lines."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        stamp += f".{int(record.msecs):03d}Z"
        message = record.getMessage()
        invocation = getattr(record, "invocation_id", "")
        if invocation and not record.name.startswith("devhost"):
            message = f"{message} (Id={invocation})"
        line = f"[{stamp}] {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text.rstrip()
        return line


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(InvocationIdFilter())
    # Everything the host prints, its worker's lines and invocation failures included, without the
    # credentials a request carried (the app's own rule, applied once more where the lines end up).
    handler.addFilter(Redacting())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("azure", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
