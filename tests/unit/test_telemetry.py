"""Tracing: off unless a setting asks, and then free (OpenTelemetry is not even imported); on, the
trace context rides inside queue messages."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT


def _run(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), **env}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


SCRIPT = """
import json, sys
from shared import telemetry
from shared.settings import Settings
telemetry.configure(Settings.from_env())
with telemetry.span("step plan", parent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", job="j"):
    stamped = telemetry.stamped('{"v":1,"job":"j","step":"plan"}')
    carried = telemetry.message_traceparent(stamped)
print(json.dumps({"enabled": telemetry.enabled(), "stamped": stamped, "carried": carried,
                  "imported": sorted(m for m in sys.modules if m.startswith("opentelemetry"))[:1]}))
"""


def test_tracing_off_imports_nothing_and_leaves_messages_alone() -> None:
    out = json.loads(_run(SCRIPT, {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}))
    assert out == {"enabled": False, "stamped": '{"v":1,"job":"j","step":"plan"}', "carried": None, "imported": []}


def test_tracing_on_carries_the_parent_trace_into_the_message() -> None:
    # An endpoint nobody listens on: spans are made and their export fails quietly at exit.
    env = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    }
    out = json.loads(_run(SCRIPT, env))
    assert out["enabled"] is True
    message = json.loads(out["stamped"])
    assert message["job"] == "j" and message["traceparent"] == out["carried"]
    version, trace_id, span_id, flags = out["carried"].split("-")
    # The same trace as the parent, a new span under it.
    assert (version, trace_id, flags) == ("00", "0af7651916cd43dd8448eb211c80319c", "01")
    assert span_id != "b7ad6b7169203331"


def test_with_an_application_insights_connection_spans_reach_its_ingestion_endpoint() -> None:
    """The Azure path: the Azure Monitor distribution, pointed by the connection string's
    IngestionEndpoint at a local stand-in for Application Insights' track API."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    envelopes: list[dict[str, object]] = []

    class Track(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path.endswith("/track"):
                sent = json.loads(body)
                envelopes.extend(sent if isinstance(sent, list) else [sent])
                count = len(sent) if isinstance(sent, list) else 1
            else:
                count = 0
            answer = json.dumps({"itemsReceived": count, "itemsAccepted": count, "errors": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Track)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
        env = {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                f"InstrumentationKey=6a1f0c8e-1111-4222-8333-944455566677;IngestionEndpoint={endpoint}"
            ),
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        }
        flush = SCRIPT + "\nfrom opentelemetry import trace\ntrace.get_tracer_provider().force_flush()\n"
        out = json.loads(_run(flush, env).splitlines()[-1])
    finally:
        server.shutdown()
        server.server_close()
    assert out["enabled"] is True
    requests = [e for e in envelopes if isinstance(e.get("data"), dict) and "step plan" in json.dumps(e)]
    assert requests, envelopes
    trace_id = out["carried"].split("-")[1]
    assert any(trace_id in json.dumps(e.get("tags", {})) for e in requests)
