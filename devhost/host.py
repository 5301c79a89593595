"""The stand-in host: load configuration, index the app, serve HTTP, run queue and timer listeners."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost.config import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_PORT,
    QueueOptions,
    SingletonOptions,
    function_timeout,
    host_id,
    load_host_json,
    load_local_settings,
    section,
)
from devhost.functions import FunctionEntry, Invoker, emit_worker_log, select
from devhost.http import HttpRoute, build_app
from devhost.outputs import OutputWriter, StorageClients
from devhost.queues import QueueListener, manual_queue_input
from devhost.timers import TimerListener
from devhost.wire import Datum
from devhost.workers import WorkerPool

log = logging.getLogger("devhost")

SHUTDOWN_GRACE_SECONDS = 10.0  # the host gives the job host 10 s to stop


class Host:
    def __init__(self, script_root: Path, port: int | None, only: list[str] | None) -> None:
        self.script_root = script_root.resolve()
        environ = os.environ
        local = load_local_settings(self.script_root, environ, warn=lambda m: log.warning("%s", m))
        # func start forces Development and sets these for the worker.
        environ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development"
        host_section = local.get("Host") or {}
        self.port = port or int(host_section.get("LocalHttpPort") or DEFAULT_PORT)
        self.address = str(host_section.get("LocalHttpAddress") or "127.0.0.1")
        environ["WEBSITE_HOSTNAME"] = f"localhost:{self.port}"
        environ["AzureWebJobsScriptRoot"] = str(self.script_root)
        self.environ = environ
        self.config = load_host_json(self.script_root, environ)
        configured = section(self.config, "extensions", "http")
        prefix = next((v for k, v in configured.items() if k.lower() == "routeprefix"), "api")
        self.prefix = str(prefix).strip("/")
        limit = environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "")
        self.body_limit = int(limit) if limit.isdigit() else DEFAULT_BODY_LIMIT
        self.functions_filter = only or [
            environ[k] for k in sorted(environ) if k.lower().startswith("azurefunctionsjobhost__functions__")
        ]
        self.entries: list[FunctionEntry] = []
        self.queue_options = QueueOptions.from_host_json(self.config)
        self.singleton = SingletonOptions.from_host_json(self.config)
        self.host_id = host_id(self.script_root, environ)
        self.clients = StorageClients(environ)
        self.writer = OutputWriter(self.clients, self.queue_options.message_encoding, self._notify)
        self.workers = WorkerPool(self.script_root, environ, emit_worker_log)
        self.invoker = Invoker(self.workers, self.writer, function_timeout(self.config))
        self.queue_listeners: dict[str, QueueListener] = {}
        self.timer_listeners: dict[str, TimerListener] = {}
        self.runner: web.AppRunner | None = None
        self.stopped = asyncio.Event()
        self.manual_tasks: set[asyncio.Task[Any]] = set()

    def _notify(self, queue_name: str) -> None:
        for listener in self.queue_listeners.values():
            if listener.queue_name == queue_name:
                listener.notify()

    def describe(self) -> str:
        lines = ["", "Functions:", ""]
        for entry in self.entries:
            if entry.trigger_type == "httpTrigger":
                route = HttpRoute(entry, self.prefix)
                methods = ",".join(sorted(route.methods)) if route.methods else "GET,POST,DELETE,HEAD,PATCH,PUT,OPTIONS"
                lines.append(f"\t{entry.name}: [{methods}] http://{self.address}:{self.port}{route.url_path()}")
            else:
                lines.append(f"\t{entry.name}: {entry.trigger_type}")
            lines.append("")
        return "\n".join(lines)

    async def start(self) -> None:
        """Start the worker processes and load what they indexed, then the listeners."""
        try:
            metadata = await self.workers.start()
            self.entries = select([FunctionEntry.from_metadata(m) for m in metadata], self.functions_filter or None)
        except BaseException:
            await self.workers.stop()
            raise
        routes = [HttpRoute(e, self.prefix) for e in self.entries if e.trigger_type == "httpTrigger"]
        app = build_app(
            routes,
            {e.name: e for e in self.entries},
            self.invoker,
            self.prefix,
            self.body_limit,
            self.manual_run,
        )
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.address, self.port, reuse_address=True).start()
        for entry in self.entries:
            connection = str(entry.trigger.get("connection") or "AzureWebJobsStorage")
            if entry.trigger_type == "queueTrigger":
                listener = QueueListener(
                    entry, self.clients.queue_service(connection), self.queue_options, self.invoker
                )
                self.queue_listeners[entry.name] = listener
                listener.start()
            elif entry.trigger_type == "timerTrigger":
                timer = TimerListener(
                    entry,
                    self.clients.blob_service("AzureWebJobsStorage"),
                    self.host_id,
                    self.singleton,
                    self.invoker,
                    self.environ,
                )
                self.timer_listeners[entry.name] = timer
                timer.start()
            elif entry.trigger_type != "httpTrigger":
                log.warning(
                    "Function '%s': trigger '%s' is not supported by the stand-in host", entry.name, entry.trigger_type
                )
        print(self.describe(), flush=True)
        log.info("Host started. Host id: %s. Listening on http://%s:%d", self.host_id, self.address, self.port)

    async def manual_run(self, entry: FunctionEntry, text: str) -> None:
        """POST /admin/functions/{name}: fire and forget."""
        coroutine: Coroutine[Any, Any, Any]
        if entry.name in self.timer_listeners:
            coroutine = self.timer_listeners[entry.name].fire(past_due=False, reason="%s", manual=True)
        elif entry.trigger_type == "queueTrigger":
            value, metadata = manual_queue_input(text)
            coroutine = self.invoker.invoke(
                entry, value, "This function was programmatically called via the host APIs.", metadata
            )
        else:
            coroutine = self.invoker.invoke(
                entry, Datum("string", text), "This function was programmatically called via the host APIs."
            )
        task = asyncio.create_task(coroutine)
        self.manual_tasks.add(task)
        task.add_done_callback(self.manual_tasks.discard)

    async def stop(self) -> None:
        log.info("Stopping host: no new work; waiting up to %.0fs for running invocations", SHUTDOWN_GRACE_SECONDS)
        listeners: list[QueueListener | TimerListener] = [
            *self.queue_listeners.values(),
            *self.timer_listeners.values(),
        ]
        await asyncio.gather(*(listener.stop(SHUTDOWN_GRACE_SECONDS) for listener in listeners))
        if self.runner is not None:
            await self.runner.shutdown()
        if not await self.invoker.wait_idle(SHUTDOWN_GRACE_SECONDS):
            log.warning(
                "Host did not shut down within %.0fs; running invocations were abandoned", SHUTDOWN_GRACE_SECONDS
            )
        if self.runner is not None:
            await self.runner.cleanup()
        await self.workers.stop()
        await self.clients.close()
        log.info("Host stopped.")

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()
