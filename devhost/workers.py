"""The host's side of its worker processes: start, index, dispatch, supervise, stop.

As the .NET host does, it starts `FUNCTIONS_WORKER_PROCESS_COUNT` Python worker processes (default
1, at most 10), takes the function metadata the first one indexed, and sends each invocation to the
least busy live worker. When a worker dies (a crash, `kill -9`, a segfault in a native library),
every invocation it was running fails ("worker process exited"), which the trigger handles as any
failure: an HTTP request gets 500, a queue message is released for a retry. Then a new worker is
started in its place, after a back-off that grows while workers keep dying young.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.wire import PREFIX, Datum, FrameWriter, decode_datum, decode_frame, encode_datum, host_datum

log = logging.getLogger("devhost.workers")

MAX_PROCESS_COUNT = 10
START_TIMEOUT_SECONDS = 120.0
RESTART_DELAYS = (0.0, 0.0, 1.0, 2.0, 5.0, 10.0)  # after a death, by how many young deaths came in a row
HEALTHY_AFTER_SECONDS = 30.0  # a worker that lived this long resets the back-off
STOP_GRACE_SECONDS = 5.0


class IndexingError(Exception):
    """The worker refused function_app.py; the message is the worker's own."""


class WorkerExited(Exception):
    """The worker process running an invocation exited before answering."""


class FunctionTimedOut(WorkerExited):
    """The invocation outlived functionTimeout: its worker process was restarted, as the host does."""


@dataclass
class WorkerResult:
    ok: bool
    returned: Datum | None = None
    outputs: dict[str, Datum] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True)
class FunctionMetadata:
    name: str
    function_id: str
    bindings: list[dict[str, Any]]


def process_count(environ: Any) -> int:
    raw = str(environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "") or "1")
    try:
        count = int(raw)
    except ValueError:
        log.warning("FUNCTIONS_WORKER_PROCESS_COUNT=%r is not a number; using 1", raw)
        return 1
    return max(1, min(count, MAX_PROCESS_COUNT))


class WorkerProcess:
    def __init__(self, number: int, process: asyncio.subprocess.Process, channel: socket.socket) -> None:
        self.number = number
        self.process = process
        self.channel = channel
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[str, asyncio.Future[WorkerResult]] = {}
        self.started = time.monotonic()
        self.write_lock = asyncio.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_unix_connection(sock=self.channel, limit=1024 * 1024)

    async def receive(self) -> tuple[dict[str, Any], list[bytes]] | None:
        assert self.reader is not None
        try:
            prefix = await self.reader.readexactly(PREFIX.size)
            header_length, payload_length = PREFIX.unpack(prefix)
            header = await self.reader.readexactly(header_length)
            payload = await self.reader.readexactly(payload_length) if payload_length else b""
        except (asyncio.IncompleteReadError, OSError):  # closed by the worker's death, or by stop()
            return None
        return decode_frame(header, payload)

    async def send(self, parts: list[bytes]) -> None:
        assert self.writer is not None
        async with self.write_lock:
            # No empty parts: Python 3.13.0's socket transport never drops an empty buffer left
            # after a partial write, and then calls sendmsg with nothing forever (100 % of a core
            # for the host's lifetime, once any frame with an empty payload met backpressure).
            self.writer.writelines([part for part in parts if part])
            await self.writer.drain()

    def fail_pending(self, reason: str) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(WorkerExited(reason))
        self.pending.clear()


class WorkerPool:
    def __init__(self, script_root: Path, environ: Any, on_log: Any) -> None:
        self.script_root = script_root
        self.environ = environ
        self.on_log = on_log  # (header) -> None: a worker's log record
        self.count = process_count(environ)
        self.workers: list[WorkerProcess] = []
        self.functions: list[FunctionMetadata] = []
        self.stopping = False
        self._deaths_in_a_row = 0
        self._live = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._numbers = 0

    async def start(self) -> list[FunctionMetadata]:
        """Start the workers; the first one's indexing decides what the host loads."""
        first = await self._spawn()
        self.functions = await self._await_index(first)
        self._attach(first)
        for _ in range(self.count - 1):
            worker = await self._spawn()
            await self._await_index(worker)
            self._attach(worker)
        return self.functions

    async def _spawn(self) -> WorkerProcess:
        parent, child = socket.socketpair()
        devhost_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(self.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (devhost_parent, env.get("PYTHONPATH", "")) if p)
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devhost.worker",
            "--channel-fd",
            str(child.fileno()),
            "--script-root",
            str(self.script_root),
            cwd=self.script_root,
            env=env,
            pass_fds=(child.fileno(),),
        )
        child.close()
        self._numbers += 1
        worker = WorkerProcess(self._numbers, process, parent)
        await worker.open()
        log.info("Started the Python worker process %d (pid %d)", worker.number, worker.pid)
        worker.started = started
        return worker

    async def _await_index(self, worker: WorkerProcess) -> list[FunctionMetadata]:
        while True:
            try:
                frame = await asyncio.wait_for(worker.receive(), START_TIMEOUT_SECONDS)
            except TimeoutError:
                frame = None
            if frame is None:
                code = await self._reap(worker)
                raise IndexingError(f"The Python worker exited (code {code}) before it indexed the function app.")
            header, _ = frame
            if header["kind"] == "log":
                self.on_log(header)
            elif header["kind"] == "index_failed":
                await self._reap(worker)
                raise IndexingError(f"Worker failed to index functions: {header['error']}")
            elif header["kind"] == "indexed":
                log.info(
                    "Worker process %d indexed %d functions in %.2fs",
                    worker.number,
                    len(header["functions"]),
                    time.monotonic() - worker.started,
                )
                return [FunctionMetadata(f["name"], f["function_id"], f["bindings"]) for f in header["functions"]]

    def _attach(self, worker: WorkerProcess) -> None:
        self.workers.append(worker)
        self._live.set()
        task = asyncio.create_task(self._read(worker), name=f"worker:{worker.number}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, worker: WorkerProcess) -> None:
        while True:
            frame = await worker.receive()
            if frame is None:
                break
            header, blobs = frame
            if header["kind"] == "log":
                self.on_log(header)
            elif header["kind"] == "result":
                future = worker.pending.pop(header["invocation_id"], None)
                if future is not None and not future.done():
                    future.set_result(
                        WorkerResult(
                            ok=bool(header["ok"]),
                            returned=decode_datum(header.get("return"), blobs, host_datum),
                            outputs={n: decode_datum(v, blobs, host_datum) for n, v in header.get("outputs", [])},
                            error=header.get("error"),
                            traceback=header.get("traceback"),
                        )
                    )
        await self._lost(worker)

    async def _lost(self, worker: WorkerProcess) -> None:
        self.workers.remove(worker)
        if not self.workers:
            self._live.clear()
        code = await self._reap(worker)
        if self.stopping:
            worker.fail_pending("the host is stopping")
            return
        reason = f"worker process {worker.number} (pid {worker.pid}) exited with code {code}"
        if worker.pending:
            log.error("The Python %s with %d invocations in flight; they failed", reason, len(worker.pending))
        else:
            log.error("The Python %s", reason)
        worker.fail_pending(reason)
        lived = time.monotonic() - worker.started
        self._deaths_in_a_row = 0 if lived > HEALTHY_AFTER_SECONDS else self._deaths_in_a_row + 1
        delay = RESTART_DELAYS[min(self._deaths_in_a_row, len(RESTART_DELAYS) - 1)]
        if delay:
            log.warning("Starting a new worker process in %.0fs", delay)
            await asyncio.sleep(delay)
        while not self.stopping:
            try:
                replacement = await self._spawn()
                await self._await_index(replacement)
            except IndexingError as error:
                log.error("%s; trying again in 10s", error)
                await asyncio.sleep(10)
                continue
            if self.stopping:
                await self._terminate(replacement)
                return
            self._attach(replacement)
            log.info("Worker process %d replaces the one that exited", replacement.number)
            return

    async def _reap(self, worker: WorkerProcess) -> int | None:
        with contextlib.suppress(ProcessLookupError):
            if worker.process.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker.process.wait(), 5)
        if worker.writer is not None:
            worker.writer.close()
        return worker.process.returncode

    async def invoke(
        self,
        invocation_id: str,
        function_id: str,
        inputs: list[tuple[str, Datum]],
        metadata: dict[str, Datum],
        timeout: float | None = None,
    ) -> WorkerResult:
        """Run one invocation on the least busy live worker; a worker that dies fails it.

        Past `timeout` the worker process is killed, which fails every invocation it was running
        (a Python thread cannot be cancelled; the host restarts the worker process too)."""
        await self._live.wait()
        worker = min(self.workers, key=lambda w: len(w.pending))
        writer = FrameWriter()
        header = {
            "kind": "invoke",
            "invocation_id": invocation_id,
            "function_id": function_id,
            "inputs": [[name, encode_datum(value, writer)] for name, value in inputs],
            "trigger_metadata": {name: encode_datum(value, writer) for name, value in metadata.items()},
        }
        future: asyncio.Future[WorkerResult] = asyncio.get_running_loop().create_future()
        worker.pending[invocation_id] = future
        try:
            await worker.send(writer.frame(header))
        except (ConnectionError, OSError) as error:
            worker.pending.pop(invocation_id, None)
            raise WorkerExited(f"worker process {worker.number} is gone: {error}") from error
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            log.error(
                "A function timeout has occurred. Restarting worker process %d (pid %d).", worker.number, worker.pid
            )
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            raise FunctionTimedOut(f"Timeout value of {timeout:.0f} seconds was exceeded by the function.") from None

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*(self._terminate(w) for w in list(self.workers)))
        for task in list(self._tasks):
            task.cancel()

    async def _terminate(self, worker: WorkerProcess) -> None:
        """Close the channel: the worker exits at once (it ignores SIGTERM, as it waits for this)."""
        if worker.writer is not None:
            worker.writer.close()
        worker.channel.close()
        try:
            await asyncio.wait_for(worker.process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            await worker.process.wait()
