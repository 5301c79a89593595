"""The description's version moves with every breaking change: compared with the copy of the
released description (tests/unit/openapi-released.json), a removed operation, a new required
parameter, request field or request body, a request type narrowed, or an answer's promised field
dropped or widened fails this test unless `info.version`'s major number moved (docs/api.md,
Versions). On a release, copy shared/web/openapi.json over the released copy. Issue #40."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from shared.web import openapi
from tests.support import ROOT

RELEASED = ROOT / "tests" / "unit" / "openapi-released.json"
METHODS = ("get", "head", "post", "put", "delete", "patch", "options")


def resolved(spec: dict[str, Any], node: Any) -> Any:
    """`node` with its local `$ref`s replaced by what they name, and an `allOf` merged."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolved(spec, target)
        out = {key: resolved(spec, value) for key, value in node.items()}
        for part in out.pop("allOf", []):
            out.setdefault("properties", {}).update(part.get("properties", {}))
            out["required"] = sorted({*out.get("required", []), *part.get("required", [])})
            out.setdefault("type", part.get("type"))
        return out
    if isinstance(node, list):
        return [resolved(spec, item) for item in node]
    return node


def types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows (all, when it names none)."""
    if "const" in schema:
        return {type(schema["const"]).__name__}
    kind = schema.get("type")
    if kind is None:
        return {"any"}
    return {kind} if isinstance(kind, str) else set(kind)


def narrower(old: set[str], new: set[str]) -> bool:
    return "any" not in new and ("any" in old or not old <= new)


def request_changes(old: dict[str, Any], new: dict[str, Any], where: str) -> Iterator[str]:
    """What a client that sent what `old` allowed may now be refused for."""
    if narrower(types(old), types(new)):
        yield f"{where}: type narrowed from {sorted(types(old))} to {sorted(types(new))}"
    if "enum" in new and not set(old.get("enum", [None])) <= set(new["enum"]):
        yield f"{where}: values narrowed"
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        yield f"{where}: new required field {name!r}"
    for name, schema in new.get("properties", {}).items():
        if name in old.get("properties", {}):
            yield from request_changes(old["properties"][name], schema, f"{where}.{name}")


def answer_changes(old: dict[str, Any], new: dict[str, Any], where: str) -> Iterator[str]:
    """What a client that read what `old` promised may now miss or not understand."""
    if narrower(types(new), types(old)):
        yield f"{where}: type widened from {sorted(types(old))} to {sorted(types(new))}"
    for name in sorted(set(old.get("required", [])) - set(new.get("required", []))):
        yield f"{where}: promised field {name!r} dropped"
    for name, schema in old.get("properties", {}).items():
        if name in new.get("properties", {}):
            yield from answer_changes(schema, new["properties"][name], f"{where}.{name}")


def _parameters(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["in"], p["name"]): p for p in operation.get("parameters", [])}


def operation_changes(old: dict[str, Any], new: dict[str, Any], where: str) -> Iterator[str]:
    old_params, new_params = _parameters(old), _parameters(new)
    for key, param in new_params.items():
        was = old_params.get(key)
        if param.get("required") and not (was and was.get("required")):
            yield f"{where}: new required parameter {key[1]!r}"
        if was:
            yield from request_changes(was.get("schema", {}), param.get("schema", {}), f"{where} {key[1]}")
    old_body, new_body = old.get("requestBody", {}), new.get("requestBody", {})
    if new_body.get("required") and not old_body.get("required"):
        yield f"{where}: request body now required"
    for media, content in old_body.get("content", {}).items():
        if media not in new_body.get("content", {}):
            if new_body:
                yield f"{where}: request body {media} no longer accepted"
            continue
        yield from request_changes(content["schema"], new_body["content"][media]["schema"], f"{where} body")
    for code, answer in old.get("responses", {}).items():
        if not code.startswith("2") or code not in new.get("responses", {}):
            continue
        for media, content in answer.get("content", {}).items():
            now = new["responses"][code].get("content", {}).get(media)
            if now is None:
                yield f"{where}: {code} no longer answers {media}"
            else:
                yield from answer_changes(content["schema"], now["schema"], f"{where} {code}")


def breaking_changes(old_spec: dict[str, Any], new_spec: dict[str, Any]) -> list[str]:
    old_spec, new_spec = resolved(old_spec, old_spec), resolved(new_spec, new_spec)
    found = []
    for path, item in old_spec["paths"].items():
        for method in (m for m in item if m in METHODS):
            where = f"{method.upper()} {path}"
            now = new_spec["paths"].get(path, {}).get(method)
            if now is None:
                found.append(f"{where}: removed")
            else:
                found.extend(operation_changes(item[method], now, where))
    return found


def major(spec: dict[str, Any]) -> int:
    return int(spec["info"]["version"].split(".")[0])


def test_a_breaking_change_moves_the_major_version() -> None:
    released = json.loads(RELEASED.read_text(encoding="utf-8"))
    current = openapi.description()
    changes = breaking_changes(released, current)
    assert changes == [] or major(current) > major(released), changes
    assert major(current) >= major(released)


def test_the_released_copy_is_a_valid_description_of_the_same_api() -> None:
    released = json.loads(RELEASED.read_text(encoding="utf-8"))
    assert released["openapi"].startswith("3.1.") and released["paths"]
    assert breaking_changes(released, released) == []


def _mutated(change: str) -> tuple[dict[str, Any], dict[str, Any]]:
    old = openapi.description()
    new = copy.deepcopy(old)
    schemas = new["components"]["schemas"]
    if change == "removed route":
        del new["paths"]["/shelves/{id}"]["delete"]
    elif change == "new required field":
        schemas["DirectUploadRequest"]["required"].append("title")
    elif change == "new required parameter":
        new["paths"]["/books/{id}/book.epub"]["get"]["parameters"].append(
            {"name": "format", "in": "query", "required": True, "schema": {"type": "string"}}
        )
    elif change == "narrowed type":
        schemas["DirectUploadRequest"]["properties"]["split_level"]["type"] = "integer"
    elif change == "dropped answer field":
        schemas["Book"]["required"].remove("published_edition")
    elif change == "widened answer type":
        schemas["Job"]["properties"]["edition"]["type"] = ["integer", "string"]
    return old, new


def test_each_kind_of_breaking_change_is_found() -> None:
    kinds = {
        "removed route": "DELETE /shelves/{id}: removed",
        "new required field": "POST /uploads body: new required field 'title'",
        "new required parameter": "GET /books/{id}/book.epub: new required parameter 'format'",
        "narrowed type": "POST /uploads body.split_level: type narrowed from ['integer', 'string'] to ['integer']",
        "dropped answer field": "GET /books/{id} 200: promised field 'published_edition' dropped",
        "widened answer type": "GET /manuscripts/{id} 200.edition: type widened from ['integer'] to ['integer', 'string']",
    }
    for kind, expected in kinds.items():
        old, new = _mutated(kind)
        assert expected in breaking_changes(old, new), kind


def test_additions_are_not_breaking() -> None:
    old = openapi.description()
    new = copy.deepcopy(old)
    new["paths"]["/books/{id}/notes"] = {"get": {"operationId": "notes", "responses": {"200": {"description": "x"}}}}
    new["components"]["schemas"]["DirectUploadRequest"]["properties"]["release_notes"] = {"type": "string"}
    new["components"]["schemas"]["Job"]["properties"]["summary"] = {"type": "string"}
    new["components"]["schemas"]["Job"]["required"].append("summary")
    assert breaking_changes(old, new) == []
