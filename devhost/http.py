"""The HTTP side of the stand-in: function routes under the route prefix, and the admin API.

Requests go to the worker as the host's `RpcHttp` typed data: lower-cased header names, repeated
headers and query keys comma-joined, empty query values dropped, route values that matched, and
the raw body bytes, sent only when Content-Length is above 0. The response comes back as the
worker encoded it (status, headers, body, cookies). An exception gives 500 with an empty body; a
body over the limit gives 500 too, as the host does. Auth levels are not enforced, as under
`func start`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devhost.functions import FunctionEntry, Invoker
from devhost.routes import RouteTemplate
from devhost.wire import Datum

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
        body = await _read_body(request, body_limit) if (request.content_length or 0) > 0 else b""
        if body is None:
            return web.Response(status=500)
        result = await invoker.invoke(
            route.entry,
            http_datum(request, values, body),
            "This function was programmatically called via the host APIs.",
        )
        if not result.succeeded:
            return web.Response(status=500)
        try:
            return to_aiohttp(result.value)
        except (TypeError, ValueError) as error:
            log.error("The response of '%s' cannot be sent: %s", route.entry.name, error)
            return web.Response(status=500)

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
    # Every path reaches dispatch, a decoded line break in it too (`.` would stop at one, and aiohttp
    # would answer a text/plain 404 of its own where the Functions host routes the request).
    app.router.add_route("*", "/{tail:[\\s\\S]*}", dispatch)
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


def http_datum(request: web.Request, route_values: dict[str, str], body: bytes) -> Datum:
    """The request as the host hands it to the worker."""

    def strings(items: dict[str, str]) -> dict[str, Datum]:
        return {k: Datum("string", v) for k, v in items.items()}

    return Datum(
        "http",
        {
            "method": Datum("string", request.method),
            "url": Datum("string", str(request.url)),
            "headers": strings(_joined(request.headers, lower=True)),
            "query": strings({k: v for k, v in _joined(request.query).items() if v != ""}),
            "params": strings(route_values),
            "body": Datum("bytes", body),
        },
    )


def _joined(items: Any, lower: bool = False) -> dict[str, str]:
    """Repeated keys comma-joined, as the host passes headers and query parameters."""
    joined: dict[str, str] = {}
    for key, value in items.items():
        name = key.lower() if lower else key
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def to_aiohttp(value: Datum | None) -> web.Response:
    """The worker's return value as the host turns it into a response."""
    if value is None:
        return web.Response(status=204)
    if value.type == "http":
        response = value.value
        # The host sets content-type as the response's ContentType (RawScriptResult), so Kestrel
        # writes it as Content-Type; other names go out as the function wrote them.
        headers = {
            ("Content-Type" if k.lower() == "content-type" else k): str(v.value)
            for k, v in response.get("headers", {}).items()
        }
        body = response.get("body")
        data = body.value if body is not None else b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        result = web.Response(status=int(response["status_code"].value), body=data, headers=headers)
        for cookie in response.get("cookies") or []:
            result.headers.add("Set-Cookie", cookie)
        return result
    if value.type in ("string", "json", "bytes"):
        text = value.value.decode("utf-8") if isinstance(value.value, bytes) else str(value.value)
        try:
            envelope = json.loads(text)
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and "body" in envelope:
            content = envelope["body"]
            content_bytes = content.encode("utf-8") if isinstance(content, str) else json.dumps(content).encode()
            status = int(envelope.get("status") or envelope.get("statusCode") or 200)
            return web.Response(status=status, body=content_bytes, headers=envelope.get("headers") or {})
        return web.Response(status=200, body=text.encode("utf-8"), content_type="text/plain")
    raise TypeError(f"an HTTP function returned a {value.type} value")
