"""GET /api/openapi.json: the API's OpenAPI 3.1 description, shipped beside this module.

The description is the contract clients read, generate from and test against: tests compare it with
the routes function_app.py wires and validate it (tests/unit/test_openapi.py), fuzz the running app
against it (tests/e2e/test_schemathesis.py), and keep a copy of
the released one to refuse a breaking change that does not move `info.version`
(tests/unit/test_openapi_versions.py).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import azure.functions as func

from shared.web.responses import NOSNIFF

DESCRIPTION = Path(__file__).parent / "openapi.json"


@lru_cache(maxsize=1)
def _served() -> tuple[bytes, str]:
    body = DESCRIPTION.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def description() -> dict[str, Any]:
    """The description as data (for tests and the client's checks)."""
    loaded: dict[str, Any] = json.loads(_served()[0])
    return loaded


def serve(req: func.HttpRequest) -> func.HttpResponse:
    """The description, with an ETag (304 when the client has it) and CORS, so a browser tool
    on another site (an API explorer) can read it."""
    body, etag = _served()
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*", **NOSNIFF}
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(body, status_code=200, mimetype="application/json", charset="utf-8", headers=headers)
