"""Indexing and invoking the app's functions, as the Python worker does.

The worker imports function_app.py once, finds exactly one FunctionApp, and calls
get_functions() once (it is not idempotent). Each invocation gets fresh `Out` objects; output
bindings are written only when the function succeeds. Sync functions run in a thread pool, async
ones on the host's single event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

log = logging.getLogger("devhost")
invocation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("invocation_id", default="")


class IndexingError(Exception):
    """function_app.py could not be loaded; the message carries the cause."""


@dataclass
class FunctionEntry:
    name: str
    function: Any  # azure.functions.decorators.function_app.Function
    trigger: dict[str, Any]
    bindings: list[dict[str, Any]]
    user_function: Callable[..., Any]
    parameters: dict[str, inspect.Parameter] = field(default_factory=dict)

    @property
    def trigger_type(self) -> str:
        return str(self.trigger.get("type", ""))

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return [b for b in self.bindings if b.get("direction") == "OUT" and b.get("name") != "$return"]


def index_app(script_root: Path, only: list[str] | None = None) -> list[FunctionEntry]:
    """Import function_app.py once and describe its functions."""
    script = os.environ.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")
    module_name = script[:-3] if script.endswith(".py") else script
    if str(script_root) not in sys.path:
        sys.path.insert(0, str(script_root))
    if not (script_root / script).exists():
        raise IndexingError(f"{script} was not found in {script_root}.")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise IndexingError(f"{script} failed to import: {type(error).__name__}: {error}") from error
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if not apps:
        raise IndexingError(f"Could not find top level function app instances in {script}.")
    if len(apps) > 1:
        raise IndexingError(f"More than one top level function app instances are defined in {script}.")
    try:
        functions = apps[0].get_functions()  # once: a second call raises
    except Exception as error:
        raise IndexingError(f"{script}: {error}") from error
    entries = []
    for function in functions:
        description = json.loads(function.get_function_json())
        bindings = description["bindings"]
        trigger = next(b for b in bindings if str(b.get("type", "")).endswith("Trigger"))
        user_function = function.get_user_function()
        entry = FunctionEntry(
            name=str(function.get_function_name()),
            function=function,
            trigger=trigger,
            bindings=bindings,
            user_function=user_function,
            parameters=dict(inspect.signature(user_function).parameters),
        )
        _validate_parameters(entry)
        entries.append(entry)
    if only:
        unknown = set(only) - {e.name for e in entries}
        if unknown:
            raise IndexingError(f"--functions names unknown functions: {', '.join(sorted(unknown))}")
        entries = [e for e in entries if e.name in only]
    return entries


def _validate_parameters(entry: FunctionEntry) -> None:
    """The worker refuses a function whose parameters differ from its binding names."""
    names = {b["name"] for b in entry.bindings if b.get("name") != "$return"}
    params = set(entry.parameters) - {"context"}
    if names != params:
        raise IndexingError(
            f"Function '{entry.name}': its parameters {sorted(params)} do not match its bindings {sorted(names)}."
        )


class OutValue(func.Out):
    """A fresh output holder per invocation, as the worker passes to `func.Out[...]` parameters."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


@dataclass
class InvocationContext:
    """What `context: func.Context` offers the function."""

    invocation_id: str
    function_name: str
    function_directory: str
    trace_context: Any = None
    retry_context: Any = None
    thread_local_storage: Any = None


@dataclass
class InvocationResult:
    succeeded: bool
    value: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


OutputWriter = Callable[[FunctionEntry, dict[str, Any], dict[str, Any]], Awaitable[None]]


class Invoker:
    """Runs one invocation: bind, call, log, and hand the outputs to the writer on success."""

    def __init__(self, script_root: Path, write_outputs: OutputWriter) -> None:
        self.script_root = script_root
        self.write_outputs = write_outputs
        threads = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT")
        workers = int(threads) if threads else min(32, (os.cpu_count() or 1) + 4)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="worker")
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def invoke(
        self, entry: FunctionEntry, trigger_value: Any, reason: str, trigger_data: dict[str, Any] | None = None
    ) -> InvocationResult:
        invocation_id = str(uuid.uuid4())
        token = invocation_id_var.set(invocation_id)
        self.in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", entry.name, reason, invocation_id)
        try:
            outs = {b["name"]: OutValue() for b in entry.outputs}
            kwargs: dict[str, Any] = {entry.trigger["name"]: trigger_value, **outs}
            if "context" in entry.parameters:
                kwargs["context"] = InvocationContext(
                    invocation_id=invocation_id,
                    function_name=entry.name,
                    function_directory=str(self.script_root),
                )
            try:
                value = await self._call(entry.user_function, kwargs)
                outputs = {name: out.get() for name, out in outs.items() if out.get() is not None}
                if outputs:
                    await self.write_outputs(entry, outputs, trigger_data or {})
            except Exception as error:
                duration = (time.perf_counter() - started) * 1000
                log.error(
                    "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
                    entry.name,
                    invocation_id,
                    duration,
                    exc_info=error,
                )
                return InvocationResult(succeeded=False, error=error)
            duration = (time.perf_counter() - started) * 1000
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", entry.name, invocation_id, duration)
            return InvocationResult(succeeded=True, value=value, outputs=outputs)
        finally:
            invocation_id_var.reset(token)
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def _call(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(function):
            return await function(**kwargs)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self.pool, lambda: context.run(function, **kwargs))

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class InvocationIdFilter(logging.Filter):
    """Adds the current invocation id to every record, so app log lines carry it."""

    def filter(self, record: logging.LogRecord) -> bool:
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
        return line


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(InvocationIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("azure", "aiohttp.access", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
