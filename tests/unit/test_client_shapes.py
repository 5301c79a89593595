"""The client (scripts/quire_client.py) speaks the API its OpenAPI description describes: each
TypedDict of scripts/quire_types.py has the fields of the schema of its name, the same ones
required, each of the schema's types; and each client call is the operation it names. Issue #40."""

from __future__ import annotations

import importlib
import sys
import types as pytypes
import typing
from typing import Any, Literal, NotRequired, TypedDict, get_args, get_origin

from shared.web import openapi
from tests.support import ROOT
from tests.unit.test_openapi_versions import resolved, types

sys.path.insert(0, str(ROOT / "scripts"))
client = importlib.import_module("quire_client")
shapes = importlib.import_module("quire_types")

SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def json_types(annotation: Any) -> set[str]:
    """The JSON types a Python annotation admits ("any" for Any)."""
    origin = get_origin(annotation)
    if annotation is Any:
        return {"any"}
    if annotation in SIMPLE:
        return {SIMPLE[annotation]}
    if origin in (typing.Union, pytypes.UnionType):
        return set().union(*(json_types(arg) for arg in get_args(annotation)))
    if origin is Literal:
        return {SIMPLE[type(value)] for value in get_args(annotation)}
    if origin in (NotRequired, typing.Required):
        return json_types(get_args(annotation)[0])
    return {{dict: "object", list: "array"}[origin]}


def schema_types(schema: dict[str, Any]) -> set[str]:
    if "oneOf" in schema:
        return set().union(*(schema_types(option) for option in schema["oneOf"]))
    if "const" in schema:
        return {SIMPLE[type(schema["const"])]}
    found = types(schema)
    return {"object"} if found == {"any"} and "properties" in schema else found


def typed_dicts() -> dict[str, type]:
    return {
        name: value
        for name, value in vars(shapes).items()
        if isinstance(value, type) and typing.is_typeddict(value) and value.__module__ == shapes.__name__
    }


def test_every_shape_is_a_schema_of_the_description_field_for_field() -> None:
    spec = openapi.description()
    schemas = resolved(spec, spec["components"]["schemas"])
    shaped = typed_dicts()
    assert len(shaped) >= 15
    for name, shape in shaped.items():
        schema = schemas[name]
        assert set(shape.__annotations__) | set(typing.get_type_hints(shape)) == set(schema["properties"]), name
        assert set(getattr(shape, "__required_keys__")) == set(schema.get("required", [])), name  # noqa: B009
        hints = typing.get_type_hints(shape)
        for field, annotation in hints.items():
            described = schema_types(schema["properties"][field])
            assert json_types(annotation) == described or described == {"any"}, (name, field)
            if get_origin(annotation) is Literal:
                assert set(get_args(annotation)) == set(schema["properties"][field]["enum"]), (name, field)


def test_every_call_is_the_operation_it_names() -> None:
    spec = openapi.description()
    assert set(client.OPERATIONS) <= {name for name in dir(client.Quire) if not name.startswith("_")}
    for method, path, operation_id in client.OPERATIONS.values():
        expanded = [(path, operation_id)]
        if "{format}" in path:
            expanded = [
                (path.replace("{format}", f), operation_id.replace("{Format}", f.title())) for f in ("epub", "pdf")
            ]
        for one_path, one_id in expanded:
            assert spec["paths"][one_path][method.lower()]["operationId"] == one_id


def test_the_shape_reader_tells_types_apart() -> None:
    class Sample(TypedDict):
        a: int | None
        b: NotRequired[list[str]]
        c: Literal["x", "y"]

    hints = typing.get_type_hints(Sample)
    assert [json_types(hints[k]) for k in "abc"] == [{"integer", "null"}, {"array"}, {"string"}]
    assert schema_types({"oneOf": [{"type": "object", "properties": {}}, {"type": "null"}]}) == {"object", "null"}
