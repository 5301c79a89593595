"""Soak run: steady uploads to two hosts for a while, under every fault a deployment meets.

Two supervised stand-in hosts share one Azurite, reached through a switchable TCP proxy. While
uploaders send small mixed manuscripts to both hosts, a fault comes at random moments, each kind in
turn:

- `worker`: SIGKILL a host's Python worker process (the host starts another, as Azure does);
- `host`: SIGKILL a whole host, as when Azure recycles an instance (the supervisor restarts it);
- `freeze`: SIGSTOP Azurite for 20–30 s, then SIGCONT (storage that stops answering);
- `refuse`: the proxy refuses and drops every storage connection for 20–30 s (storage that is
  unreachable; nothing stored is lost, as in Azure, where Azurite's own restart would lose its
  last seconds of writes).

Then uploads stop, and the run waits for the work to drain. Pass criteria: every accepted upload
ended `succeeded`, with an EPUB and web-app book byte-identical to an undisturbed conversion; every
job row (including those whose answer never reached the uploader) succeeded; each step of each job
was committed once; the queues and the poison queue are empty, no checkpoint is left, and every
manuscript blob has its job row and every job row its manuscript. It prints counts and the time to
recover after each fault (from the fault's end to the next job that finished).

Usage: `.venv/bin/python -m tests.chaos.soak [--minutes 20] [--seed 1]` (`make soak`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from shared.jobs.record import UPLOAD_MARKERS_FILTER
from shared.storage.names import (
    CONVERSION_POISON_QUEUE,
    CONVERSION_QUEUE,
    JOB_TABLE,
    MANUSCRIPT_CONTAINER,
    WORK_CONTAINER,
)
from tests.chaos.faults import FAULT_APP, claimants_recorded, commits_recorded
from tests.chaos.random_kills import manuscripts, messages_in, worker_processes
from tests.pipeline_support import golden, http_json, published
from tests.support import ACCOUNT, ACCOUNT_KEY, ROOT, Azurite, Supervisor, free_port, start_azurite

FAULTS = ("worker", "host", "freeze", "refuse")


class StorageProxy:
    """A TCP proxy per storage service, which can refuse and drop every connection for a while."""

    def __init__(self, azurite: Azurite) -> None:
        self.targets = {free_port(): port for port in (azurite.blob_port, azurite.queue_port, azurite.table_port)}
        self.ports = list(self.targets)
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.base_events.Server] = []
        self.connections: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self._call(self._open)

    @property
    def connection_string(self) -> str:
        blob, queue, table = self.ports
        base = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{blob}/{ACCOUNT};QueueEndpoint={base}:{queue}/{ACCOUNT};"
            f"TableEndpoint={base}:{table}/{ACCOUNT};"
        )

    def _call(self, coroutine: Callable[[], Any]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine(), self.loop).result(30)

    async def _open(self) -> None:
        for port, target in self.targets.items():
            handler = functools.partial(self._pipe, target=target)
            self.servers.append(await asyncio.start_server(handler, "127.0.0.1", port, reuse_address=True))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        self.connections.update((writer, upstream_writer))

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))
        self.connections.difference_update((writer, upstream_writer))

    async def _refuse(self) -> None:
        for server in self.servers:
            server.close()
        self.servers = []
        for connection in list(self.connections):
            connection.transport.abort()  # a reset, as a storage front end going away
        self.connections.clear()

    def refuse(self) -> None:
        self._call(self._refuse)

    def accept(self) -> None:
        self._call(self._open)


class Soak:
    def __init__(
        self,
        minutes: float,
        seed: int,
        uploaders: int,
        pause: float,
        gap: tuple[float, float],
        outage: tuple[float, float],
    ) -> None:
        self.seconds = minutes * 60
        self.gap, self.outage = gap, outage
        self.rng = random.Random(seed)
        self.uploaders, self.pause = uploaders, pause
        self.logs = Path(tempfile.mkdtemp(prefix="quire-soak-"))
        self.accepted: dict[str, tuple[bytes, str]] = {}
        self.refused = Counter[int]()
        self.finished: dict[str, dict[str, Any]] = {}
        self.faults: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stop_uploads = threading.Event()
        self.checking = threading.Event()

    def run(self) -> dict[str, Any]:
        self.azurite = start_azurite()
        self.proxy = StorageProxy(self.azurite)
        env = {
            "AzureWebJobsStorage": self.proxy.connection_string,
            # Azure's defaults would make a killed worker's message wait 10 minutes: keep the run short.
            "DEVHOST_QUEUE_RECEIVE_VISIBILITY_SECONDS": "10",
            "JOB_STALL_SECONDS": "60",
            "RECONCILE_SCHEDULE": "*/15 * * * * *",
            "ABANDONED_UPLOAD_SECONDS": "60",
            "FAULT_EVENTS_FILE": str(self.logs / "events.jsonl"),  # observed only: no fault is set
        }
        self.hosts = []
        for index in range(2):
            folder = self.logs / f"host{index}"
            folder.mkdir()
            self.hosts.append(Supervisor(FAULT_APP, env, folder, []))
        started = time.monotonic()
        try:
            threads = [threading.Thread(target=self._uploader, args=(n,), daemon=True) for n in range(self.uploaders)]
            threads.append(threading.Thread(target=self._watcher, daemon=True))
            for thread in threads:
                thread.start()
            self._inject_faults(started + self.seconds)
            self.stop_uploads.set()
            # An upload still in flight is accepted or refused before the drain is judged: its job
            # is one the check must find (a fresh-clone run once saw one land during the check).
            for uploader in threads[: self.uploaders]:
                uploader.join(timeout=60)
            drained = self._drain(timeout=600)
            self.checking.set()
            result = self._check(drained)
            result["seconds"] = round(time.monotonic() - started, 1)
            return result
        finally:
            self.stop_uploads.set()
            self.checking.set()
            for host in self.hosts:
                host.stop()
            self.azurite.stop()

    # -- load ---------------------------------------------------------------------------------

    def _uploader(self, number: int) -> None:
        books = manuscripts(60)
        index = number
        while not self.stop_uploads.is_set():
            name, data, kind = books[index % len(books)]
            host = self.hosts[index % 2].host
            try:
                status, body = http_json("POST", f"{host.base_url}/api/manuscripts?filename={name}", data)
            except OSError:
                status, body = 0, None  # the host was killed mid-request
            with self.lock:
                if status == 202:
                    self.accepted[body["id"]] = (data, kind)
                else:
                    self.refused[status] += 1
            index += self.uploaders
            time.sleep(self.pause)

    def _watcher(self) -> None:
        """Polls accepted jobs through the hosts, as an author's page would."""
        while not self.checking.is_set():
            with self.lock:
                pending = [job_id for job_id in self.accepted if job_id not in self.finished]
            for job_id in pending:
                try:
                    status, body = http_json("GET", f"{self.hosts[0].host.base_url}/api/manuscripts/{job_id}")
                except OSError:
                    break
                if status == 200 and body["status"] in ("succeeded", "failed"):
                    body["seen_at"] = time.monotonic()
                    self.finished[job_id] = body
            time.sleep(0.5)

    # -- faults -------------------------------------------------------------------------------

    def _inject_faults(self, until: float) -> None:
        turn = 0
        while True:
            wait = self.rng.uniform(*self.gap)
            if time.monotonic() + wait > until:
                time.sleep(max(0.0, until - time.monotonic()))
                return
            time.sleep(wait)
            kind = FAULTS[turn % len(FAULTS)]
            turn += 1
            fault: dict[str, Any] = {"kind": kind, "started": time.monotonic()}
            host = self.hosts[self.rng.randrange(2)]
            if kind == "worker":
                for pid in worker_processes(host.host.process.pid)[:1]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            elif kind == "host":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(host.host.process.pid, signal.SIGKILL)
            elif kind == "freeze":
                self.azurite.process.send_signal(signal.SIGSTOP)
                time.sleep(self.rng.uniform(*self.outage))
                self.azurite.process.send_signal(signal.SIGCONT)
            else:
                self.proxy.refuse()
                time.sleep(self.rng.uniform(*self.outage))
                self.proxy.accept()
            fault["ended"] = time.monotonic()
            self.faults.append(fault)

    # -- the end --------------------------------------------------------------------------------

    def _drain(self, timeout: float) -> bool:
        """Wait until every accepted job finished, the queue is empty, and no upload is unsettled
        (an upload whose request died is swept ABANDONED_UPLOAD_SECONDS after it started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.finished) >= len(self.accepted) and self._settled():
                return True
            time.sleep(2)
        return False

    def _settled(self) -> bool:
        connection = self.azurite.connection_string
        queue = QueueClient.from_connection_string(connection, CONVERSION_QUEUE)
        if queue.get_queue_properties().approximate_message_count:
            return False
        table = TableServiceClient.from_connection_string(connection).get_table_client(JOB_TABLE)
        if list(table.query_entities(UPLOAD_MARKERS_FILTER)):
            return False
        return all(row["status"] in ("succeeded", "failed") for row in table.query_entities("RowKey eq 'job'"))

    def _check(self, drained: bool) -> dict[str, Any]:
        connection = self.azurite.connection_string
        problems: list[str] = [] if drained else ["the work did not drain within 10 minutes"]
        if not self.accepted:
            problems.append("no manuscript was accepted: the checks below would pass over nothing")
        statuses = Counter(job["status"] for job in self.finished.values())
        failures = Counter(job.get("error", "") for job in self.finished.values() if job["status"] == "failed")
        for job_id, (data, kind) in self.accepted.items():
            final = self.finished.get(job_id)
            if final is None or final["status"] != "succeeded":
                problems.append(f"{job_id}: {final and final['status']} {final and final.get('error')}")
                continue
            expected = golden(data, kind, final)
            epub, app = published(connection, job_id)
            if epub != expected.epub or app != expected.app_files:
                problems.append(f"{job_id}: outputs differ from an undisturbed conversion")
        rows = {
            e["PartitionKey"]: e
            for e in TableServiceClient.from_connection_string(connection).get_table_client(JOB_TABLE).list_entities()
            if e["RowKey"] == "job"
        }
        unanswered = rows.keys() - self.accepted.keys()  # created, but the answer never reached the uploader
        for job_id in rows:
            if rows[job_id]["status"] != "succeeded":
                problems.append(f"job row {job_id} ended {rows[job_id]['status']}: {rows[job_id].get('error')}")
        blobs = BlobServiceClient.from_connection_string(connection)
        manuscripts_stored = {
            b.name.split("/")[0] for b in blobs.get_container_client(MANUSCRIPT_CONTAINER).list_blobs()
        }
        if orphans := manuscripts_stored - rows.keys():
            problems.append(f"{len(orphans)} manuscripts without a job row: {sorted(orphans)[:3]}")
        if missing := rows.keys() - manuscripts_stored:
            problems.append(f"{len(missing)} job rows without a manuscript: {sorted(missing)[:3]}")
        if work := [b.name for b in blobs.get_container_client(WORK_CONTAINER).list_blobs()]:
            problems.append(f"{len(work)} checkpoints left, e.g. {work[:3]}")
        for name in (CONVERSION_QUEUE, CONVERSION_POISON_QUEUE):
            if left := messages_in(connection, name):  # a queue never created is empty; other errors raise
                problems.append(f"{left} messages left in {name}")
        logs = "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("host*/host-*.log")))
        duplicate_commits = sum(
            count - 1 for count in commits_recorded(self.logs / "events.jsonl").values() if count > 1
        )
        if duplicate_commits:
            problems.append(f"{duplicate_commits} steps committed more than once")
        needed = sum(int(row["steps_total"]) for row in rows.values())
        recoveries = []
        for fault in self.faults:
            later = [job["seen_at"] for job in self.finished.values() if job["seen_at"] >= fault["ended"]]
            recoveries.append(
                {
                    "kind": fault["kind"],
                    "lasted": round(fault["ended"] - fault["started"], 1),
                    "recovered_after": round(min(later) - fault["ended"], 1) if later else None,
                }
            )
        del failures[""]
        return {
            "accepted": len(self.accepted),
            "refused": dict(self.refused),
            "succeeded": statuses["succeeded"],
            "failed": statuses["failed"],
            "failure_reasons": dict(failures),
            "unanswered_jobs": len(unanswered),
            "duplicate_commits": duplicate_commits,
            "convert_runs": len(re.findall(r"Executing 'Functions\.convert'", logs)),
            # Messages that took a step's claim: more than one for a step when its claim lapsed
            # under a fault and another message ran it.
            "claims_taken": sum(len(m) for m in claimants_recorded(self.logs / "events.jsonl").values()),
            "steps_needed": needed,
            "faults": recoveries,
            "longest_recovery": max((r["recovered_after"] or 0 for r in recoveries), default=0),
            "host_restarts": sum(host.restarts for host in self.hosts),
            "logs": str(self.logs),
            "problems": problems,
        }


def run(
    minutes: float,
    seed: int = 1,
    uploaders: int = 2,
    pause: float = 3.0,
    gap: tuple[float, float] = (20, 60),
    outage: tuple[float, float] = (20, 30),
) -> dict[str, Any]:
    """`uploaders` each send a manuscript every `pause` seconds; a fault comes every `gap` seconds;
    storage stays frozen or unreachable for `outage` seconds."""
    return Soak(minutes, seed, uploaders, pause, gap, outage).run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.minutes, args.seed)
    print(json.dumps(result, indent=1))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
