"""HTTP helpers: JSON and problem+json (RFC 9457) responses."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

RETRY_AFTER_SECONDS = 10
# On every answer: a browser must never sniff a response into another type (an API answer into HTML).
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# Pages and their files: no referrer carries a book's address to another site.
PAGE_HEADERS = {**NOSNIFF, "Referrer-Policy": "no-referrer"}
# A book's files: and no other site may embed them.
BOOK_FILE_HEADERS = {**PAGE_HEADERS, "Cross-Origin-Resource-Policy": "same-origin"}
JSON_HEADERS = {"Cache-Control": "no-store", **NOSNIFF}


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
