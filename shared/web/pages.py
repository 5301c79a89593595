"""The upload page and its static files, shipped in shared/web/static/ (no build step)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import azure.functions as func

from shared.formats import content_type_for
from shared.web.responses import PAGE_HEADERS, problem

STATIC = Path(__file__).parent / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
)
HEADERS = {"Content-Security-Policy": PAGE_CSP, **PAGE_HEADERS, "Cache-Control": "no-cache"}
ASSETS = {"upload.css", "upload.js", "favicon.svg"}


@lru_cache(maxsize=8)
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def upload_page(req: func.HttpRequest) -> func.HttpResponse:
    page = req.route_params.get("page", "") or ""
    if page not in ("", "upload"):
        return problem(404, "Not found", "There is no such page. The upload page is at /api/.")
    return func.HttpResponse(
        _read("upload.html"), status_code=200, headers={"Content-Type": content_type_for("upload.html"), **HEADERS}
    )


def static_file(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    if name not in ASSETS:
        return problem(404, "Not found", "There is no such file.")
    return func.HttpResponse(_read(name), status_code=200, headers={"Content-Type": content_type_for(name), **HEADERS})
