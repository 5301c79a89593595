"""The HTTP side of the stand-in: function routes under the route prefix, and the admin API.

Requests become `func.HttpRequest` as the worker builds them (lower-cased header names, repeated
values comma-joined, query and route parameters, the raw body bytes). Responses are passed back as
the function built them. An exception gives 500 with an empty body; a body over the limit gives
500 too, as the host does. Auth levels are not enforced, as under `func start`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func
from aiohttp import web

from devhost.functions import FunctionEntry, Invoker
from devhost.routes import RouteTemplate

log = logging.getLogger("devhost.http")

ManualRun = Callable[[FunctionEntry, str], Awaitable[None]]


class HttpRoute:
    def __init__(self, entry: FunctionEntry, prefix: str) -> None:
        self.entry = entry
        self.template = RouteTemplate.parse(str(entry.trigger.get("route") or entry.name))
        methods = entry.trigger.get("methods")
        self.methods = {m.upper() for m in methods} if methods else None
        self.prefix = prefix

    def url_path(self) -> str:
        return "/" + "/".join(p for p in (self.prefix, self.template.template.strip("/")) if p)


def build_app(
    routes: list[HttpRoute],
    all_entries: dict[str, FunctionEntry],
    invoker: Invoker,
    prefix: str,
    body_limit: int,
    manual_run: ManualRun,
) -> web.Application:
    ordered = sorted(routes, key=lambda r: r.template.sort_key)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.rstrip("/").lower().startswith("/admin/functions/") and request.method == "POST":
            return await admin_invoke(request, path.rstrip("/").split("/")[-1])
        relative = _strip_prefix(path, prefix)
        if relative is None:
            return web.Response(status=404)
        for route in ordered:
            values = route.template.match(relative)
            if values is None:
                continue
            if route.methods is not None and request.method.upper() not in route.methods:
                continue
            return await invoke_http(route, request, values)
        return web.Response(status=404)

    async def invoke_http(route: HttpRoute, request: web.Request, values: dict[str, str]) -> web.StreamResponse:
        if (request.content_length or 0) > body_limit:
            log.error("Request body too large for '%s': %s bytes", route.entry.name, request.content_length)
            return web.Response(status=500)
        body = await _read_body(request, body_limit)
        if body is None:
            return web.Response(status=500)
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=_joined(request.headers, lower=True),
            params={k: v for k, v in _joined(request.query).items() if v != ""},
            route_params=values,
            body=body,
        )
        result = await invoker.invoke(
            route.entry, http_request, "This function was programmatically called via the host APIs."
        )
        if not result.succeeded:
            return web.Response(status=500)
        return to_aiohttp(result.value)

    async def admin_invoke(request: web.Request, name: str) -> web.StreamResponse:
        entry = next((e for n, e in all_entries.items() if n.lower() == name.lower()), None)
        if entry is None:
            return web.Response(status=404)
        raw = await request.read()
        if not raw:
            return web.Response(status=400, text="A JSON body with an 'input' value is required.")
        try:
            payload = json.loads(raw)
        except ValueError:
            return web.Response(status=400, text='The body must be JSON such as {"input": "..."}.')
        text = payload.get("input", "") if isinstance(payload, dict) else ""
        await manual_run(entry, "" if text is None else str(text))
        return web.Response(status=202)

    app = web.Application(client_max_size=body_limit + 1)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _strip_prefix(path: str, prefix: str) -> str | None:
    if not prefix:
        return path
    lowered = path.lower()
    base = "/" + prefix.strip("/").lower()
    if lowered == base or lowered == base + "/":
        return ""
    if lowered.startswith(base + "/"):
        return path[len(base) + 1 :]
    return None


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(1024 * 1024):
        size += len(chunk)
        if size > limit:
            log.error("Request body too large: over %d bytes", limit)
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _joined(items: Any, lower: bool = False) -> dict[str, str]:
    """Repeated keys comma-joined, as the host passes headers and query parameters."""
    joined: dict[str, str] = {}
    for key, value in items.items():
        name = key.lower() if lower else key
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def to_aiohttp(value: Any) -> web.Response:
    if value is None:
        return web.Response(status=204)
    if isinstance(value, func.HttpResponse):
        headers = {k: v for k, v in value.headers.items()}
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = f"{value.mimetype}; charset={value.charset}" if value.charset else value.mimetype
        return web.Response(status=value.status_code, body=value.get_body(), headers=headers)
    if isinstance(value, (str, bytes)):
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        try:
            envelope = json.loads(text)
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and "body" in envelope:
            body = envelope["body"]
            body_bytes = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            status = int(envelope.get("status") or envelope.get("statusCode") or 200)
            return web.Response(status=status, body=body_bytes, headers=envelope.get("headers") or {})
        return web.Response(status=200, body=text.encode("utf-8"), content_type="text/plain")
    raise TypeError(f"an HTTP function returned {type(value).__name__}, not an HttpResponse")
