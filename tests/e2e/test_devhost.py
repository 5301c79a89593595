"""The stand-in host behaves like `func start`: real HTTP, real queues and blobs on Azurite."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from tests.support import ROOT, AppHost, Azurite, http, start_azurite, start_host, wait_for

APP = ROOT / "tests" / "devhost_app"
WORK_QUEUE = "devhost-work"


def records(folder: Path, name: str) -> list[dict[str, Any]]:
    path = folder / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def queues(azurite: Azurite) -> Iterator[dict[str, QueueClient]]:
    """The work queue and its poison queue, created empty (the trigger never creates its queue)."""
    clients = {}
    for name in (WORK_QUEUE, f"{WORK_QUEUE}-poison"):
        client = QueueClient.from_connection_string(azurite.connection_string, name)
        with contextlib.suppress(ResourceExistsError):  # left by an earlier test: emptied below
            client.create_queue()
        client.clear_messages()
        clients[name] = client
    yield clients
    for client in clients.values():
        client.clear_messages()


@pytest.fixture
def launch(azurite: Azurite, tmp_path: Path) -> Iterator[Callable[..., AppHost]]:
    hosts: list[AppHost] = []
    (tmp_path / "records").mkdir()

    def start(*functions: str, **settings: str) -> AppHost:
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "RECORD_DIR": str(tmp_path / "records"),
            "AzureFunctionsWebHost__hostid": f"devhost-test-{tmp_path.name[-20:]}".lower(),
            **settings,
        }
        args = ["--functions", *functions] if functions else []
        host = start_host(APP, env, tmp_path / f"host{len(hosts)}.log", extra_args=args, wait_path=None)
        hosts.append(host)
        return host

    start.records = tmp_path / "records"  # type: ignore[attr-defined]
    yield start
    for host in hosts:
        host.stop()


def send(queue: QueueClient, payload: dict[str, Any]) -> None:
    encoded = QueueClient.from_queue_url(
        queue.url, credential=queue.credential, message_encode_policy=TextBase64EncodePolicy()
    )
    encoded.send_message(json.dumps(payload))


def test_http_routes_constraints_methods_and_errors(launch: Callable[..., AppHost]) -> None:
    host = launch()
    base = host.base_url
    assert json.loads(http("GET", f"{base}/api/items/12")[2]) == {"n": "12"}
    assert http("GET", f"{base}/api/items/abc")[2] == b"name=abc"  # int fails, alpha matches
    assert http("GET", f"{base}/api/items/12x")[0] == 404  # no constraint matches
    assert json.loads(http("GET", f"{base}/api/things")[2]) == {}
    assert json.loads(http("DELETE", f"{base}/api/things/7")[2]) == {"id": "7"}  # no methods: all match
    assert json.loads(http("GET", f"{base}/api/things/a%0Ab%C3%B7")[2]) == {"id": "a\nb÷"}  # decoded, a line break too
    status, headers, body = http("GET", f"{base}/api/files/a/b/c.txt")
    assert (status, body, headers["X-Served-By"]) == (200, b"a/b/c.txt", "files")
    assert http("GET", f"{base}/api/echo")[0] == 404  # method filter, as the host answers
    assert http("GET", f"{base}/items/12")[0] == 404  # the route prefix is required
    assert http("GET", f"{base}/api/nothing-here")[0] == 404

    status, headers, body = http(
        "POST",
        f"{base}/api/echo?tag=a&tag=b&empty=",
        b"\x00raw\xffbytes",
        {"X-Custom-Header": "Value", "Content-Type": "application/octet-stream"},
    )
    assert status == 201
    assert headers["Content-Type"] == "application/json"  # the worker adds a charset only to text/*
    echoed = json.loads(body)
    assert echoed["headers"]["x-custom-header"] == "Value"
    assert all(name == name.lower() for name in echoed["headers"])
    assert echoed["params"] == {"tag": "a,b"}
    assert echoed["body"] == "\x00raw\xffbytes"

    status, _, body = http("GET", f"{base}/api/boom")
    assert (status, body) == (500, b"")
    log = host.log()
    assert "RuntimeError: deliberate failure" in log
    assert "Executed 'Functions.boom' (Failed, Id=" in log


def test_async_functions_share_one_loop_concurrently(launch: Callable[..., AppHost]) -> None:
    host = launch("slow_async")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: http("GET", f"{host.base_url}/api/slow-async?s=1")[0], range(4)))
    assert statuses == [200] * 4
    # Overlapped on one worker's event loop: every invocation started before any ended.
    events = records(launch.records, "slow_async")  # type: ignore[attr-defined]
    assert [e["event"] for e in events] == ["start"] * 4 + ["end"] * 4, events
    assert len({e["pid"] for e in events}) == 1


def test_output_binding_message_reaches_queue_trigger_within_a_second(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    host = launch()
    wait_for(lambda: "Host started" in host.log(), 10, "host start")
    time.sleep(2.5)  # let the listener back off to its maximum polling interval first
    sent = time.time()
    status, _, _ = http("POST", f"{host.base_url}/api/enqueue", json.dumps({"tag": "hello"}).encode())
    assert status == 202
    (first,) = wait_for(lambda: records(launch.records, "work"), 5, "the queue function")  # type: ignore[attr-defined]
    assert first["body"] == {"tag": "hello"}
    assert first["dequeue_count"] == 1
    assert first["pop_receipt"]
    assert first["at"] - sent < 1.0, "the output binding should wake the listener at once"
    assert "working on hello (Id=" in host.log()  # app log lines carry the invocation id


def test_output_binding_writes_base64_and_nothing_on_failure(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    host = launch("enqueue")  # no queue listener: the messages stay where the binding put them
    queue = queues[WORK_QUEUE]
    assert http("POST", f"{host.base_url}/api/enqueue", b'{"tag":"x"}')[0] == 202
    (message,) = queue.peek_messages(max_messages=5)
    decoded = base64.b64decode(message.content).decode()
    assert json.loads(decoded) == {"tag": "x"}
    assert decoded == json.dumps({"tag": "x"}, indent=2)  # the host re-serialises JSON objects indented

    assert http("POST", f"{host.base_url}/api/enqueue?fail=1", b'{"tag":"lost"}')[0] == 500
    assert len(queue.peek_messages(max_messages=5)) == 1  # the failed invocation wrote nothing


def test_failed_message_is_retried_then_poisoned(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    launch("work")
    send(queues[WORK_QUEUE], {"tag": "bad", "fail": True})
    poison = queues[f"{WORK_QUEUE}-poison"]
    (poisoned,) = wait_for(lambda: poison.peek_messages(max_messages=5), 20, "the poison queue")
    assert json.loads(base64.b64decode(poisoned.content)) == {"tag": "bad", "fail": True}
    attempts = [r["dequeue_count"] for r in records(launch.records, "work")]  # type: ignore[attr-defined]
    assert attempts == [1, 2, 3]  # maxDequeueCount is 3 in this app's host.json
    # Like the Storage extension, the host sends to poison first and deletes the original after.
    wait_for(
        lambda: queues[WORK_QUEUE].get_queue_properties().approximate_message_count == 0, 5, "the original's deletion"
    )


def test_undecodable_message_goes_to_poison_without_running(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    host = launch("work")
    queues[WORK_QUEUE].send_message("this is not base64!")  # a producer that forgot to encode
    poison = queues[f"{WORK_QUEUE}-poison"]
    (poisoned,) = wait_for(lambda: poison.peek_messages(max_messages=5), 10, "the poison queue")
    assert poisoned.content == "this is not base64!"
    assert records(launch.records, "work") == []  # type: ignore[attr-defined]
    assert "Message decoding has failed!" in host.log()


def test_visibility_is_renewed_during_a_long_invocation(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    launch("work", DEVHOST_QUEUE_RECEIVE_VISIBILITY_SECONDS="2")
    send(queues[WORK_QUEUE], {"tag": "long", "sleep": 5})
    wait_for(lambda: records(launch.records, "work_done"), 15, "the long invocation")  # type: ignore[attr-defined]
    time.sleep(1.5)
    runs = records(launch.records, "work")  # type: ignore[attr-defined]
    assert [r["dequeue_count"] for r in runs] == [1], "the message reappeared while it was being processed"
    assert queues[WORK_QUEUE].get_queue_properties().approximate_message_count == 0


def test_graceful_shutdown_finishes_the_running_invocation(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    host = launch("work")
    send(queues[WORK_QUEUE], {"tag": "shutdown", "sleep": 3})
    wait_for(lambda: records(launch.records, "work"), 10, "the invocation to start")  # type: ignore[attr-defined]
    assert host.stop(signal.SIGTERM) == 0
    assert records(launch.records, "work_done")  # type: ignore[attr-defined]
    assert queues[WORK_QUEUE].get_queue_properties().approximate_message_count == 0  # completed and deleted
    assert "Host stopped." in host.log()


def _status_blob(azurite: Azurite, host_id: str):
    return BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
        "azure-webjobs-hosts", f"timers/{host_id}/Host.Functions.tick/status"
    )


def test_timer_status_blob_and_past_due_run(launch: Callable[..., AppHost], azurite: Azurite, tmp_path: Path) -> None:
    host_id = f"devhost-test-{tmp_path.name[-20:]}".lower()
    blob = _status_blob(azurite, host_id)
    with contextlib.suppress(ResourceExistsError):  # made by an earlier host or test
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container("azure-webjobs-hosts")
    now = datetime.now().astimezone()
    last = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    missed = last + timedelta(hours=1)  # the occurrence after Last, long gone
    status = {"Last": last.isoformat(), "Next": missed.isoformat(), "LastUpdated": last.isoformat()}
    blob.upload_blob(json.dumps(status), overwrite=True)

    launch("tick", TICK_SCHEDULE="0 0 * * * *")
    (run,) = wait_for(lambda: records(launch.records, "tick"), 10, "the past-due run")  # type: ignore[attr-defined]
    assert run["past_due"] is True

    def rewritten() -> dict[str, str] | None:
        data = json.loads(blob.download_blob().readall())
        return data if data["Next"] != missed.isoformat() else None

    data = wait_for(rewritten, 5, "the status blob update")
    assert datetime.fromisoformat(data["Next"]) > now
    assert datetime.fromisoformat(data["Last"]) >= missed


def test_manual_run_of_a_timer_through_the_admin_api(launch: Callable[..., AppHost]) -> None:
    host = launch("tick")
    status, _, _ = http(
        "POST", f"{host.base_url}/admin/functions/tick", b'{"input": ""}', {"Content-Type": "application/json"}
    )
    assert status == 202
    (run,) = wait_for(lambda: records(launch.records, "tick"), 2, "the manual run")  # type: ignore[attr-defined]
    assert run["past_due"] is False
    assert http("POST", f"{host.base_url}/admin/functions/nope", b'{"input": ""}')[0] == 404
    assert http("POST", f"{host.base_url}/admin/functions/tick", b"")[0] == 400


def test_two_hosts_fire_each_occurrence_once(launch: Callable[..., AppHost]) -> None:
    first = launch("tick", TICK_SCHEDULE="*/2 * * * * *")
    second = launch("tick", TICK_SCHEDULE="*/2 * * * * *")
    # Three occurrences at least, counted, not waited for by the clock.
    wait_for(lambda: len(records(launch.records, "tick")) >= 3, 20, "three timer occurrences")  # type: ignore[attr-defined]
    # Once the first host stops it releases the lock, and the second may rightly take over (it
    # retries every second here) before it is stopped too: only the time both ran is checked.
    both_running_until = time.time()
    first.stop()
    second.stop()
    runs = records(launch.records, "tick")  # type: ignore[attr-defined]
    assert len(runs) >= 2
    assert len({r["pid"] for r in runs if r["at"] < both_running_until}) == 1, "both hosts ran the timer"
    slots = [round(r["at"]) for r in runs]
    assert len(slots) == len(set(slots)), f"an occurrence fired twice: {slots}"


def test_broken_function_app_exits_with_the_import_error(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {}}')
    (tmp_path / "function_app.py").write_text("import azure.functions as func\nimport no_such_module_here\n")
    result = subprocess.run(
        [sys.executable, "-m", "devhost", "--script-root", str(tmp_path), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "No module named 'no_such_module_here'" in result.stdout + result.stderr
    assert "0 functions" not in result.stdout


def test_the_host_stops_within_its_grace_period_when_storage_is_gone(tmp_path: Path) -> None:
    """Ctrl-C after the emulator went away: pollers stuck retrying storage must not keep the host up."""
    own = start_azurite()
    env = {
        "AzureWebJobsStorage": own.connection_string,
        "RECORD_DIR": str(tmp_path),
        "AzureFunctionsWebHost__hostid": "devhost-storage-gone",
    }
    host = start_host(APP, env, tmp_path / "host.log", extra_args=["--functions", "work", "tick"], wait_path=None)
    try:
        time.sleep(2)  # the queue poller and the timer's lock are talking to storage
    finally:
        own.stop()
    time.sleep(1)
    started = time.monotonic()
    assert host.stop(signal.SIGTERM, timeout=40) == 0
    assert time.monotonic() - started < 30
    assert "Host stopped." in host.log()


def _refused_app(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    (folder / "host.json").write_text('{"version": "2.0"}')
    (folder / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {}}')
    (folder / "function_app.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "devhost", "--script-root", str(folder), "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_what_the_worker_refuses_the_host_refuses_with_the_workers_message(tmp_path: Path) -> None:
    source = (
        "from __future__ import annotations\n"
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.queue_trigger(arg_name='msg', queue_name='q', connection='AzureWebJobsStorage')\n"
        "@app.queue_output(arg_name='more', queue_name='q', connection='AzureWebJobsStorage')\n"
        "def fan_out(msg: func.QueueMessage, more: func.Out[list[str]]) -> None:\n"
        "    pass\n"
    )
    result = _refused_app(tmp_path, source)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "FunctionLoadError: cannot load the fan_out function: binding more has invalid non-type annotation "
        "azure.functions._abc.Out[list[str]]" in output
    )
    assert "Host started" not in output


def test_a_parameter_without_a_binding_is_refused(tmp_path: Path) -> None:
    source = (
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.route(route='x')\n"
        "def x(req: func.HttpRequest, extra: str) -> func.HttpResponse:\n"
        "    return func.HttpResponse('x')\n"
    )
    result = _refused_app(tmp_path, source)
    assert result.returncode != 0
    assert "cannot load the x function: the following parameters are declared in Python but not" in result.stdout


def _worker_pid(host: AppHost) -> int:
    """The pid of the worker process that answered, or 0 when the request failed."""
    status, _, body = http("GET", f"{host.base_url}/api/pid")
    return int(body) if status == 200 else 0


def test_a_killed_worker_fails_its_request_returns_its_message_and_is_replaced(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    import os
    from concurrent.futures import ThreadPoolExecutor

    host = launch("slow", "pid", "work")
    first = _worker_pid(host)
    send(queues[WORK_QUEUE], {"tag": "in-flight", "sleep": 30, "sleep_once": True})
    wait_for(lambda: records(launch.records, "work"), 10, "the message to be taken")  # type: ignore[attr-defined]
    with ThreadPoolExecutor(1) as pool:
        request = pool.submit(http, "GET", f"{host.base_url}/api/slow?s=30")
        wait_for(lambda: records(launch.records, "slow"), 10, "the request to start")  # type: ignore[attr-defined]
        os.kill(first, signal.SIGKILL)
        status, _, body = request.result(timeout=10)
    assert (status, body) == (500, b"")
    second = wait_for(lambda: _worker_pid(host), 10, "a new worker")  # within seconds, not the request's 30
    assert second != first
    # The message comes back (released as a failed invocation) and runs on the new worker.
    retried = wait_for(
        lambda: [r for r in records(launch.records, "work") if r["dequeue_count"] == 2],  # type: ignore[attr-defined]
        15,
        "the message to be delivered again",
    )
    assert retried[0]["pid"] == second
    log = host.log()
    assert f"(pid {first}) exited with code -9 with 2 invocations in flight" in log
    assert "replaces the one that exited" in log
    assert host.process.poll() is None  # the host itself never went down


def test_a_blocking_async_function_stalls_its_worker_not_the_host(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    host = launch("blocking_async", "enqueue")
    with ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(http, "GET", f"{host.base_url}/api/blocking-async?s=5")
        wait_for(lambda: records(launch.records, "blocking_async"), 10, "the blocking call to start")  # type: ignore[attr-defined]
        # The host side still routes and writes output bindings; the admin API answers too, while
        # the worker is still blocked.
        assert http("GET", f"{host.base_url}/api/no-such-route")[0] == 404
        assert http("POST", f"{host.base_url}/admin/functions/nothing", b'{"input": ""}')[0] == 404
        assert not blocked.done()
        assert blocked.result(timeout=15)[2] == b"unblocked"


def test_a_function_without_return_binding_that_returns_a_value_fails(
    launch: Callable[..., AppHost], queues: dict[str, QueueClient]
) -> None:
    host = launch("work")
    send(queues[WORK_QUEUE], {"tag": "returns", "return_value": True})
    wait_for(lambda: queues[f"{WORK_QUEUE}-poison"].peek_messages(max_messages=5), 20, "the poison queue")
    assert "without a $return binding returned a non-None value" in host.log()


def test_several_worker_processes_share_the_invocations(launch: Callable[..., AppHost]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    host = launch("slow", "pid", FUNCTIONS_WORKER_PROCESS_COUNT="2")
    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(http, "GET", f"{host.base_url}/api/slow?s=2")
        wait_for(lambda: records(launch.records, "slow"), 10, "the first request")  # type: ignore[attr-defined]
        other = _worker_pid(host)  # the least busy worker takes it
        assert busy.result(timeout=10)[0] == 200
    (slow,) = records(launch.records, "slow")  # type: ignore[attr-defined]
    assert slow["pid"] != other
    assert host.log().count("Started the Python worker process") == 2


def test_a_function_past_its_timeout_fails_and_its_worker_is_restarted(launch: Callable[..., AppHost]) -> None:
    host = launch("slow", "pid", AzureFunctionsJobHost__functionTimeout="00:00:02")
    first = _worker_pid(host)
    started = time.monotonic()
    status, _, _ = http("GET", f"{host.base_url}/api/slow?s=20")
    assert status == 500
    # Ended by the 2 s timeout, not early, and long before the function's own 20 s.
    assert 1.5 < time.monotonic() - started < 15
    second = wait_for(lambda: _worker_pid(host), 10, "a new worker")
    assert second != first
    assert "A function timeout has occurred. Restarting worker process 1" in host.log()
