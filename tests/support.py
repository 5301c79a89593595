"""Test infrastructure: a real Azurite on free ports, and the app served by the stand-in host."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pytest

from tests import tiers

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


# Azurite's access log: `127.0.0.1 - - [date] "PUT /devstoreaccount1/jobs(...) HTTP/1.1" 204 -`.
_ACCESS_LOG = re.compile(r'"([A-Z]+) /[^/ ]+/?(\S*) HTTP/[\d.]+" (\d+)')


def request_kind(method: str, path: str) -> str:
    """An access log line's request as "METHOD service": table paths name an entity, a table or
    a batch; queue paths end in /messages; the rest are blobs and containers."""
    if "(" in path or path.startswith(("$batch", "Tables")):
        service = "table"
    elif "/messages" in path:
        service = "queue"
    else:
        service = "blob"
    return f"{method} {service}"


@dataclass
class Azurite:
    process: subprocess.Popen[str]
    blob_port: int
    queue_port: int
    table_port: int
    scheme: str = "http"
    # Requests served so far, by request_kind, from its access log (benchmarks count them).
    requests: Counter[str] = field(default_factory=Counter)

    def count(self, line: str) -> None:
        found = _ACCESS_LOG.search(line)
        if found:
            self.requests[request_kind(found.group(1), found.group(2))] += 1

    @property
    def connection_string(self) -> str:
        base = f"{self.scheme}://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT};QueueEndpoint={base}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{ACCOUNT};"
        )

    def service_uri(self, service: str) -> str:
        """The account's endpoint for "blob", "queue" or "table", as an identity-based setting names it."""
        port = {"blob": self.blob_port, "queue": self.queue_port, "table": self.table_port}[service]
        return f"{self.scheme}://127.0.0.1:{port}/{ACCOUNT}"

    def stop(self) -> None:
        # In-memory, nothing to save; and Azurite's table service never finishes a graceful close.
        self.process.kill()
        self.process.wait()


def start_azurite(tls: tuple[Path, Path] | None = None) -> Azurite:
    """Azurite on free ports. With `tls` (certificate and key files) it serves HTTPS and checks
    OAuth bearer tokens (`--oauth basic`), as Azure Storage does for identity-based connections."""
    tiers.require("storage", "starts Azurite")
    if not AZURITE.exists():
        pytest.fail("Azurite is not installed: run `make test` (it runs `npm ci`).")
    secure = ["--cert", str(tls[0]), "--key", str(tls[1]), "--oauth", "basic"] if tls else []
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            *("--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1"),
            *("--blobPort", "0", "--queuePort", "0", "--tablePort", "0"),
            *secure,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ports: dict[str, int] = {}
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while len(ports) < 3 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"(Blob|Queue|Table) service is successfully listening at https?://[\d.]+:(\d+)", line)
        if found:
            ports[found.group(1)] = int(found.group(2))
    if len(ports) < 3:
        process.kill()
        pytest.fail(f"Azurite did not start: {ports}")
    azurite = Azurite(process, ports["Blob"], ports["Queue"], ports["Table"], "https" if tls else "http")
    output = process.stdout

    def drain() -> None:
        """Keep reading its output so a full pipe never blocks it, counting the requests on the way."""
        for line in output:
            azurite.count(line)

    threading.Thread(target=drain, daemon=True).start()
    return azurite


def allow_page_origin(emulator: Azurite, origin: str) -> None:
    """CORS on the emulator's blob endpoint for the upload page at `origin`, as `make run` sets it
    (scripts/azurite_cors.py), so the page's direct uploads reach storage."""
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "azurite_cors.py"), emulator.connection_string, origin],
        check=True,
        timeout=60,
    )


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request: (status, headers, body), error statuses included."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppHost:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_host(
    script_root: Path,
    environment: dict[str, str],
    log_path: Path,
    extra_args: list[str] | None = None,
    wait_path: str | None = "/api/health",
) -> AppHost:
    """Run `python -m devhost` in `script_root` with the given settings, and wait until it serves."""
    tiers.require("host", "starts the stand-in host")
    port = free_port()
    env = {**os.environ, **environment, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--port", str(port), "--script-root", str(script_root), *(extra_args or [])],
        cwd=script_root,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    host = AppHost(process, port, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the host exited with {process.returncode}:\n{host.log()}")
        if "Host started" in host.log():
            if wait_path is None:
                return host
            try:
                with urllib.request.urlopen(host.base_url + wait_path, timeout=2):
                    return host
            except (OSError, HTTPException):  # not serving yet (URLError and timeouts are OSErrors)
                pass
        time.sleep(0.1)
    host.stop()
    pytest.fail(f"the host did not start:\n{host.log()}")


class Supervisor:
    """Keeps a host running: when it dies (a fault test kills it), it is started again, as Azure
    restarts a recycled worker. Restarts reuse the same settings and append to numbered logs."""

    def __init__(self, script_root: Path, environment: dict[str, str], log_dir: Path, extra_args: list[str]) -> None:
        self.script_root, self.environment, self.log_dir, self.extra_args = (
            script_root,
            environment,
            log_dir,
            extra_args,
        )
        self.restarts = 0
        self.host = self._start()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _start(self) -> AppHost:
        log = self.log_dir / f"host-{self.restarts}.log"
        return start_host(self.script_root, self.environment, log, extra_args=self.extra_args, wait_path=None)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            if self.host.process.poll() is not None and not self._stopping.is_set():
                self.restarts += 1
                self.host = self._start()
            time.sleep(0.05)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("host-*.log")))

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self.host.stop()


@contextmanager
def local_site(log_dir: Path) -> Iterator[tuple[AppHost, Any]]:
    """Quire as `make run` serves it for local feed work: its own Azurite, a local feed server,
    and FEEDS_ALLOW_PRIVATE_ADDRESSES=true. Yields (host, feed server)."""
    from tests.feeds.servers import FeedServer

    emulator = start_azurite()
    feeds = FeedServer().start()
    try:
        host = start_host(
            ROOT,
            {"AzureWebJobsStorage": emulator.connection_string, "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true"},
            log_dir / "host.log",
        )
        allow_page_origin(emulator, host.base_url)
        try:
            yield host, feeds
        finally:
            host.stop()
    finally:
        feeds.stop()
        emulator.stop()


class TreeSampler:
    """Samples a process and its descendants (a host, its worker, their step processes) every
    50 ms: the peak of their total resident memory, and the CPU time of each process seen."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            import psutil

            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    total += process.memory_info().rss
                    # With the reaped children: the step processes the zygote forked and waited for.
                    self.cpu[process.pid] = sum(process.cpu_times()[:4])
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, total)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something true (returned), or fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
