"""The upload page and its static files, shipped in shared/web/static/ (no build step).

The page sends a large manuscript straight to the blob endpoint (a direct upload), so its content
security policy lets it connect there too, and it learns from the page from what size on."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import azure.functions as func

from shared.formats import content_type_for
from shared.services import Services
from shared.web.responses import PAGE_HEADERS, problem

STATIC = Path(__file__).parent / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'{blob}; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
)
HEADERS = {"Content-Security-Policy": PAGE_CSP.format(blob=""), **PAGE_HEADERS, "Cache-Control": "no-cache"}
THRESHOLD_PLACEHOLDER = b"{{direct-upload-threshold}}"
ASSETS = {"upload.css", "upload.js", "favicon.svg"}


@lru_cache(maxsize=8)
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def upload_page(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    page = req.route_params.get("page", "") or ""
    if page not in ("", "upload"):
        return problem(404, "Not found", "There is no such page. The upload page is at /api/.")
    threshold = services.settings.direct_upload_page_threshold_bytes
    body = _read("upload.html").replace(THRESHOLD_PLACEHOLDER, str(threshold).encode())
    # Direct uploads go to the blob endpoint: the page may connect there too (the client-side
    # building of the URL costs no request).
    headers = {**HEADERS, "Content-Security-Policy": PAGE_CSP.format(blob=" " + services.storage.blob_origin())}
    return func.HttpResponse(
        body, status_code=200, headers={"Content-Type": content_type_for("upload.html"), **headers}
    )


def static_file(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("name", "")
    if name not in ASSETS:
        return problem(404, "Not found", "There is no such file.")
    return func.HttpResponse(_read(name), status_code=200, headers={"Content-Type": content_type_for(name), **HEADERS})
