"""Traces: one per book edition, from the upload's request through every conversion step.

Steps run in different invocations, often on different instances, and meet only through the queue;
so the W3C trace context (`traceparent`) travels inside each message: the request's span is the
parent of the plan step's span, the plan's of each fanned-out image batch, and the batch that
completes the set is the parent of the package step, which publishes. A feed refresh is a trace
of its own the same way (slot → scan pages → fetch batches).

Exporting is chosen by settings, as the Functions host chooses for its own telemetry:
`APPLICATIONINSIGHTS_CONNECTION_STRING` sends to Application Insights (the Azure Monitor
distribution; with `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` through the managed identity), else
`OTEL_EXPORTER_OTLP_ENDPOINT` to any OTLP/HTTP receiver, else nothing: OpenTelemetry is then never
imported and a span costs one check of a global.

Lines logged inside a span carry its `trace` and `span` ids, so a log search leads to the trace.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from shared import logs

if TYPE_CHECKING:
    from shared.settings import Settings

log = logs.get_logger(__name__)

SERVICE_NAME = "quire"
TRACEPARENT = "traceparent"  # the key in a message, as the header is named
_TRACEPARENT_FORMAT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

_lock = threading.Lock()
_configured = False
_tracer: Any = None  # None: tracing is off in this process


def configure(settings: Settings) -> None:
    """Set up exporting once per process (the first time services are built), if a setting asks."""
    global _configured, _tracer
    with _lock:
        if _configured:
            return
        _configured = True
        if not (settings.app_insights_connection or settings.otlp_endpoint):
            return
        from opentelemetry import trace

        if settings.app_insights_connection:
            _use_azure_monitor(settings)
        else:
            _use_otlp(settings.otlp_endpoint)
        _tracer = trace.get_tracer(SERVICE_NAME)
        log.info(
            "traces export to %s",
            "Application Insights" if settings.app_insights_connection else settings.otlp_endpoint,
        )


def _use_otlp(endpoint: str) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Which instance and process sent a span: a trace crosses several of each.
    instance = f"{socket.gethostname()}:{os.getpid()}"
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.instance.id": instance}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)


def _use_azure_monitor(settings: Settings) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # the worker configured the distribution already (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY)
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = None
    if settings.app_insights_client_id:
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=settings.app_insights_client_id)
    # The distribution's default samples 5 traces a second, each process on its own: a book's steps
    # on other instances could keep spans whose parents were dropped. Sampling by trace id (ratio 1
    # unless OTEL_TRACES_SAMPLER says otherwise, e.g. microsoft.fixed_percentage) decides alike in
    # every process, so each trace is kept or dropped whole.
    sampling = {} if settings.otel_traces_sampler else {"sampling_ratio": 1.0}
    configure_azure_monitor(
        connection_string=settings.app_insights_connection, credential=credential, logger_name="shared", **sampling
    )


def enabled() -> bool:
    return _tracer is not None


@contextlib.contextmanager
def span(name: str, *, parent: str | None = None, kind: str = "internal", **attributes: object) -> Iterator[None]:
    """A span around the block, child of `parent` (a traceparent) if given and well formed, else of
    the current span (the worker sets the host's, when it has one), else the root of a new trace."""
    if _tracer is None:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = (
        TraceContextTextMapPropagator().extract({TRACEPARENT: parent})
        if parent and _TRACEPARENT_FORMAT.match(parent)
        else None
    )
    span_kind = getattr(trace.SpanKind, kind.upper())
    values = {f"quire.{key}": str(value) for key, value in attributes.items() if value is not None}
    with _tracer.start_as_current_span(name, context=context, kind=span_kind, attributes=values) as current:
        ids = current.get_span_context()
        with logs.bound(trace=f"{ids.trace_id:032x}", span=f"{ids.span_id:016x}"):
            yield


def current_traceparent() -> str | None:
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get(TRACEPARENT)


def stamped(message: str) -> str:
    """A queue message (a JSON object) carrying the current span's context, so the work it starts
    continues this trace; unchanged when tracing is off."""
    traceparent = current_traceparent()
    if traceparent is None:
        return message
    try:
        body = json.loads(message)
    except ValueError:
        return message
    if not isinstance(body, dict):
        return message
    body[TRACEPARENT] = traceparent
    return json.dumps(body, separators=(",", ":"))


def all_stamped(messages: Sequence[str]) -> list[str]:
    return [stamped(message) for message in messages] if _tracer is not None else list(messages)


def message_traceparent(body: bytes | str) -> str | None:
    """The trace context a message carries, if any (messages from before tracing carry none)."""
    if _tracer is None:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get(TRACEPARENT) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
