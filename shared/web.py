"""HTTP helpers: JSON and problem+json (RFC 9457) responses."""

from __future__ import annotations

import json
import os
from typing import Any

import azure.functions as func

# Must match `extensions.http.routePrefix` in host.json; links in responses are built on it.
API_BASE = "/api"
RETRY_AFTER_SECONDS = 10
# On every JSON answer too: a browser must never sniff an API response into HTML.
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=2) + "\n",
        status_code=status,
        headers={**JSON_HEADERS, **(headers or {})},
        mimetype="application/json",
        charset="utf-8",
    )


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> func.HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=2) + "\n",
        status_code=status,
        headers={**JSON_HEADERS, **(headers or {})},
        mimetype="application/problem+json",
        charset="utf-8",
    )


def storage_unavailable() -> func.HttpResponse:
    return problem(
        503,
        "Storage unavailable",
        "Quire cannot reach its storage right now. Nothing was saved; try again in a few seconds.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def content_type_for(path: str) -> str:
    """The Content-Type to serve a file of the books or the upload page with, by its extension."""
    return {
        ".html": "text/html; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".webmanifest": "application/manifest+json",
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".gif": "image/gif",
        ".webp": "image/webp",
        ".svg": "image/svg+xml",
    }.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
