"""The OpenAPI description (shared/web/openapi.json) is true to the app: it validates as OpenAPI
3.1, every HTTP route function_app.py wires is described with each of its methods and no operation
is described that no route serves, the function key guards exactly the routes the host guards,
docs/api.md's route table lists the same operations, every `curl` of README.md and docs/api.md is
a described operation, and GET /api/openapi.json serves the file. Issue #40."""

from __future__ import annotations

import json
import re
from typing import Any

import azure.functions as func
from openapi_spec_validator import validate

from shared.web import openapi
from tests.support import ROOT
from tests.unit.test_function_app import _index, _trigger

METHODS = ("get", "head", "post", "put", "delete", "patch", "options")


def described_paths(route: str) -> list[str]:
    """The OpenAPI paths (under the `/api` server) a Functions route template serves: `{*path}`
    (a catch-all) is `{path}`, and the upload page's `{page?}` serves `/` and `/upload` alone."""
    if route == "{page?}":
        return ["/", "/upload"]
    return ["/" + route.replace("{*", "{")]


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_the_description_is_valid_openapi_3_1() -> None:
    spec = openapi.description()
    validate(spec)
    assert spec["openapi"].startswith("3.1.")
    assert re.fullmatch(r"\d+\.\d+\.\d+", spec["info"]["version"])
    assert spec["servers"] == [{"url": "/api", "description": "The app's route prefix (host.json)."}]


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    routes = {
        (method, path)
        for f in _index().values()
        if _trigger(f)["type"] == "httpTrigger"
        for method in _trigger(f)["methods"]
        for path in described_paths(_trigger(f)["route"])
    }
    described = operations(openapi.description())
    assert routes - described == set(), "routes without a description"
    assert described - routes == set(), "descriptions without a route"


def test_the_function_key_guards_exactly_the_routes_the_host_guards() -> None:
    spec = openapi.description()
    guarded = {
        (method, path)
        for f in _index().values()
        if _trigger(f)["type"] == "httpTrigger" and _trigger(f)["authLevel"] != "ANONYMOUS"
        for method in _trigger(f)["methods"]
        for path in described_paths(_trigger(f)["route"])
    }
    keyed = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if any("functionKey" in requirement for requirement in operation["security"])
    }
    assert keyed == guarded


def test_every_operation_has_an_id_a_success_and_problem_answers() -> None:
    spec = openapi.description()
    ids = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), (method, path)
            if method == "head":
                assert all("content" not in answer for answer in operation["responses"].values()), (method, path)
                continue
            for code, answer in operation["responses"].items():
                if code.startswith(("4", "5")) and "$ref" in answer:
                    assert answer["$ref"] == f"#/components/responses/Problem{code}", (method, path, code)
    assert len(ids) == len(set(ids))


def documented_operations(text: str) -> set[tuple[str, str]]:
    """(method, path) of every `METHOD /api/path` in the first cell of docs/api.md's route table."""
    found = set()
    for line in text.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and line.startswith("| `"):
            for method, path in re.findall(r"`(GET|HEAD|POST|PUT|DELETE) /api(/[^`]*)`", cells[1]):
                found.add((method, path))
    return found


def test_docs_api_md_lists_every_operation_but_head() -> None:
    documented = documented_operations((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    described = {(method, path) for method, path in operations(openapi.description()) if method != "HEAD"}
    assert documented == described


def test_the_docs_table_reader_reads_each_form() -> None:
    row = "| `GET /api/books/{id}/opds`, `GET /api/books/{id}/opds.json` | anonymous | catalogs |"
    assert documented_operations(row + "\n| `x` | not a route |\n") == {
        ("GET", "/books/{id}/opds"),
        ("GET", "/books/{id}/opds.json"),
    }


def curl_calls(text: str) -> list[tuple[str, str, str]]:
    """(method, path under /api, the command) of every `curl` in a document's shell blocks, with
    the variables the document set before it (`API=…`, `BOOK=…`) put in; a variable it never set
    (`$ID`, `$SHELF`) stands for one path segment, written `{}`."""
    variables: dict[str, str] = {}
    calls = []
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        for name, value in re.findall(r"(?:^|;\s*)([A-Z_]+)='?([^\s';]+)'?", line):
            variables[name] = value
        command = line.strip()
        if not command.startswith("curl "):
            continue
        command = command.split(" #")[0]
        for name, value in sorted(variables.items(), key=lambda item: -len(item[0])):
            command = command.replace(f"${name}", value)
        command = re.sub(r"\$[A-Z_]+", "{}", command)
        url = re.search(r"https?://[^/\s\"']+/api(/[^\s\"'?]*)", command)
        if url is None:
            continue  # not the API (the host's admin address)
        given = re.search(r"-X (\w+)", command)
        sends = re.search(r"(^|\s)(-F|-d|--data-binary)\s", command)
        calls.append((given.group(1) if given else "POST" if sends else "GET", url.group(1), command))
    return calls


def described_operation(spec: dict[str, Any], method: str, path: str) -> str | None:
    """The described path template `path` is an address of, when it has `method`."""
    segments = path.rstrip("/").split("/") if path != "/" else [""]
    for template, item in spec["paths"].items():
        parts = template.split("/") if template != "/" else [""]
        fits = len(parts) == len(segments) and method.lower() in item
        if fits and all(p == s or (p[:1] == "{" and s) for p, s in zip(parts, segments, strict=True)):
            return template
    return None


def test_every_curl_in_the_readme_and_docs_is_a_described_operation() -> None:
    spec = openapi.description()
    checked = 0
    for document in (ROOT / "README.md", ROOT / "docs" / "api.md"):
        for method, path, command in curl_calls(document.read_text(encoding="utf-8")):
            assert described_operation(spec, method, path), f"{document.name}: {command}"
            checked += 1
    assert checked >= 20


def test_the_curl_reader_puts_in_variables_and_methods() -> None:
    text = (
        "API=http://h/api\nBOOK=http://h/api/books/abc\n"
        'curl -X PUT -d \'{"feeds": []}\' "$BOOK/feeds"\ncurl -F file=@a.md \\\n  $API/books\n'
        "curl $API/shelves/$SHELF/opds | head\ncurl -X POST http://h/admin/functions/refresh\n"
    )
    assert [(m, p) for m, p, _ in curl_calls(text)] == [
        ("PUT", "/books/abc/feeds"),
        ("POST", "/books"),
        ("GET", "/shelves/{}/opds"),
    ]
    spec = openapi.description()
    assert described_operation(spec, "GET", "/shelves/{}/opds") == "/shelves/{id}/opds"
    assert described_operation(spec, "PATCH", "/books/abc") is None
    assert described_operation(spec, "PUT", "/shelves/x/books/http://h/api/books/abc") is None


def test_the_handler_serves_the_file_with_a_tag_and_answers_304_to_it() -> None:
    url = "http://localhost/api/openapi.json"
    served = openapi.serve(func.HttpRequest("GET", url, body=b""))
    assert served.status_code == 200 and served.mimetype == "application/json"
    assert json.loads(served.get_body()) == openapi.description()
    assert served.headers["Access-Control-Allow-Origin"] == "*"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    again = openapi.serve(func.HttpRequest("GET", url, body=b"", headers={"If-None-Match": served.headers["ETag"]}))
    assert (again.status_code, again.get_body()) == (304, b"")
    assert openapi.serve(func.HttpRequest("GET", url, body=b"", headers={"If-None-Match": '"old"'})).status_code == 200
