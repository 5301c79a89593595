"""The app's registered functions, as the Functions host indexes them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

from devhost.config import parse_timespan
from tests.support import ROOT


def _index() -> dict[str, dict]:
    import function_app

    # get_functions() is not idempotent on one app object; read it in a fresh interpreter.
    code = (
        "import json, function_app;"
        "print(json.dumps({f.get_function_name(): json.loads(f.get_function_json()) "
        "for f in function_app.app.get_functions()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert function_app.app is not None
    return json.loads(out.stdout)


def _trigger(description: dict) -> dict:
    return next(b for b in description["bindings"] if b["type"].endswith("Trigger"))


def test_registered_functions_triggers_and_routes() -> None:
    functions = _index()
    assert set(functions) >= {"upload_manuscript", "get_manuscript", "health"}

    upload = _trigger(functions["upload_manuscript"])
    assert (upload["type"], upload["route"], upload["methods"], upload["authLevel"]) == (
        "httpTrigger",
        "manuscripts",
        ["POST"],
        "FUNCTION",
    )
    queue_out = [b for b in functions["upload_manuscript"]["bindings"] if b["type"] == "queue"]
    assert queue_out == [
        {
            "direction": "OUT",
            "type": "queue",
            "name": "conversion",
            "queueName": "quire-conversions",
            "connection": "AzureWebJobsStorage",
        }
    ]

    status = _trigger(functions["get_manuscript"])
    assert (status["route"], status["methods"], status["authLevel"]) == (
        "manuscripts/{id}",
        ["GET", "HEAD"],
        "ANONYMOUS",
    )
    health = _trigger(functions["health"])
    assert (health["route"], health["authLevel"]) == ("health", "ANONYMOUS")


def test_every_function_and_its_binding() -> None:
    functions = _index()
    routes = {
        name: (_trigger(f)["route"], tuple(_trigger(f).get("methods") or ()), _trigger(f)["authLevel"])
        for name, f in functions.items()
        if _trigger(f)["type"] == "httpTrigger"
    }
    assert routes == {
        "upload_manuscript": ("manuscripts", ("POST",), "FUNCTION"),
        "create_book": ("books", ("POST",), "FUNCTION"),
        "publish_edition": ("books/{id}/editions", ("POST",), "ANONYMOUS"),
        "book": ("books/{id}", ("GET", "HEAD", "DELETE"), "ANONYMOUS"),
        "rotate_owner_key": ("books/{id}/owner-key", ("POST",), "ANONYMOUS"),
        "download_book_epub": ("books/{id}/book.epub", ("GET", "HEAD"), "ANONYMOUS"),
        "download_book_pdf": ("books/{id}/book.pdf", ("GET", "HEAD"), "ANONYMOUS"),
        "book_opds": ("books/{id}/opds", ("GET", "HEAD"), "ANONYMOUS"),
        "book_opds_json": ("books/{id}/opds.json", ("GET", "HEAD"), "ANONYMOUS"),
        "create_shelf": ("shelves", ("POST",), "FUNCTION"),
        "shelf": ("shelves/{id}", ("DELETE",), "ANONYMOUS"),
        "shelf_book": ("shelves/{id}/books/{book}", ("PUT", "DELETE"), "ANONYMOUS"),
        "shelf_opds": ("shelves/{id}/opds", ("GET", "HEAD"), "ANONYMOUS"),
        "shelf_opds_json": ("shelves/{id}/opds.json", ("GET", "HEAD"), "ANONYMOUS"),
        "shelf_opensearch": ("shelves/{id}/opensearch.xml", ("GET", "HEAD"), "ANONYMOUS"),
        "get_manuscript": ("manuscripts/{id}", ("GET", "HEAD"), "ANONYMOUS"),
        "health": ("health", ("GET", "HEAD"), "ANONYMOUS"),
        "download_epub": ("manuscripts/{id}/book.epub", ("GET", "HEAD"), "ANONYMOUS"),
        "serve_app": ("books/{id}/app/{*path}", ("GET", "HEAD"), "ANONYMOUS"),
        "book_feeds": ("books/{id}/feeds", ("GET", "HEAD", "PUT"), "ANONYMOUS"),
        "book_updates": ("books/{id}/updates", ("GET", "HEAD"), "ANONYMOUS"),
        "upload_page": ("{page?}", ("GET", "HEAD"), "ANONYMOUS"),
        "static_files": ("static/{name}", ("GET", "HEAD"), "ANONYMOUS"),
        "openapi": ("openapi.json", ("GET", "HEAD"), "ANONYMOUS"),
        "request_upload": ("uploads", ("POST",), "FUNCTION"),
        "request_edition_upload": ("books/{id}/uploads", ("POST",), "ANONYMOUS"),
        "submit_upload": ("uploads/{id}", ("POST",), "ANONYMOUS"),
    }
    queues = {name: _trigger(f)["queueName"] for name, f in functions.items() if _trigger(f)["type"] == "queueTrigger"}
    assert queues == {
        "convert": "quire-conversions",
        "convert_poison": "quire-conversions-poison",
        "refresh_feeds": "quire-feeds",
    }
    timers = {name: _trigger(f) for name, f in functions.items() if _trigger(f)["type"] == "timerTrigger"}
    assert {name: t["schedule"] for name, t in timers.items()} == {
        "refresh": "%REFRESH_SCHEDULE%",
        "reconcile": "%RECONCILE_SCHEDULE%",
    }
    assert timers["refresh"]["useMonitor"] is True and timers["refresh"]["runOnStartup"] is False
    outputs = {
        name: sorted(b["queueName"] for b in f["bindings"] if b["type"] == "queue")
        for name, f in functions.items()
        if any(b["type"] == "queue" for b in f["bindings"])
    }
    assert outputs == {
        "upload_manuscript": ["quire-conversions"],
        "create_book": ["quire-conversions"],
        "publish_edition": ["quire-conversions"],
        "book": ["quire-conversions"],
        "submit_upload": ["quire-conversions"],
        "convert": ["quire-conversions"],
        "convert_poison": ["quire-conversions"],
        "reconcile": ["quire-conversions"],
        "refresh": ["quire-feeds"],
        "refresh_feeds": ["quire-feeds"],
    }


def test_host_json_is_what_the_functions_host_expects() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert host["extensions"]["http"]["routePrefix"] == "api"
    assert host["telemetryMode"] == "OpenTelemetry"
    # Exactly what docs/settings.md ("host.json sets …"), docs/operations.md (the instance sizing: 3
    # steps of 512 MB fit 2,048 MB) and shared/settings.py (75 s of retries, ABANDONED_UPLOAD_SECONDS
    # above the function timeout) rely on: a looser value would pass a range and break those figures.
    queues = host["extensions"]["queues"]
    assert queues["batchSize"] == 2
    assert queues["newBatchThreshold"] == 1
    assert queues["maxDequeueCount"] == 5
    assert parse_timespan(queues["visibilityTimeout"]) == timedelta(seconds=15)
    assert parse_timespan(host["functionTimeout"]) == timedelta(minutes=10)


def test_importing_function_app_does_not_import_heavy_libraries() -> None:
    heavy = ("azure.storage", "azure.data", "python_multipart", "aiohttp", "feedparser_rs", "PIL", "lxml",
             "markdown_it", "nh3", "mammoth", "feedparser", "yaml")  # fmt: skip
    code = f"import sys, function_app; print(sorted(m for m in sys.modules if m.startswith({heavy!r})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_azure_worker_library_indexes_every_function() -> None:
    """Index function_app.py with azure-functions-runtime (as pinned) the way Azure's worker does at
    init: any refusal (an annotation, a parameter without a binding, a bad return) fails here."""
    code = """
import json
from devhost.worker import index
from azure_functions_runtime.handle_event import _functions
from azure_functions_runtime.bindings.meta import get_datum
indexed = index(".")
loaded = {info.name: info for info in _functions._functions.values()}
fan_out = loaded["convert"].output_types["next_steps"]
datum = get_datum(fan_out.binding_name, ["a", "b"], fan_out.pytype)
print(json.dumps({
    "indexed": sorted(f["name"] for f in indexed),
    "loaded": sorted(loaded),
    "async": sorted(n for n, i in loaded.items() if i.is_async),
    "fan_out": [fan_out.binding_name, datum.type, datum.value],
}))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    expected = sorted(_index())
    assert found["indexed"] == found["loaded"] == expected
    assert found["async"] == ["refresh_feeds"]
    # A list of messages leaves the worker as one JSON array, which the host splits into messages.
    assert found["fan_out"] == ["queue", "json", '["a", "b"]']
