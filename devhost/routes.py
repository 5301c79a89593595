"""ASP.NET Core route templates, as the Functions host matches HTTP trigger routes.

Supports literals, `{name}`, `{name:constraint}` (several constraints may be chained),
`{name?}`, `{name=default}` and catch-all `{*name}`. Literals match case-insensitively.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

_PARAMETER = re.compile(r"^\{(\*{1,2})?([A-Za-z_][A-Za-z0-9_]*)((?::[^=?}]+(?:\([^)]*\))?)*)(\?)?(?:=([^}]*))?\}$")


def _int_range(low: int, high: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return low <= int(value) <= high
        except ValueError:
            return False

    return check


def _parses(kind: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            kind(value)
            return True
        except ValueError:
            return False

    return check


_SIMPLE_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": _int_range(-(2**31), 2**31 - 1),
    "long": _int_range(-(2**63), 2**63 - 1),
    "bool": lambda v: v.lower() in ("true", "false"),
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
    "guid": _parses(uuid.UUID),
    "double": _parses(float),
    "float": _parses(float),
    "decimal": _parses(float),
    "datetime": _parses(datetime.fromisoformat),
}


def _constraint(spec: str) -> Callable[[str], bool]:
    name, _, argument = spec.partition("(")
    argument = argument[:-1] if argument.endswith(")") else argument
    name = name.lower()
    if name in _SIMPLE_CONSTRAINTS and not argument:
        return _SIMPLE_CONSTRAINTS[name]
    if name == "minlength":
        return lambda v: len(v) >= int(argument)
    if name == "maxlength":
        return lambda v: len(v) <= int(argument)
    if name == "length":
        if "," in argument:
            low, high = (int(x) for x in argument.split(","))
            return lambda v: low <= len(v) <= high
        return lambda v: len(v) == int(argument)
    if name == "min":
        return lambda v: _parses(int)(v) and int(v) >= int(argument)
    if name == "max":
        return lambda v: _parses(int)(v) and int(v) <= int(argument)
    if name == "range":
        low, high = (int(x) for x in argument.split(","))
        return lambda v: _parses(int)(v) and low <= int(v) <= high
    if name == "regex":
        pattern = re.compile(argument, re.IGNORECASE)
        return lambda v: bool(pattern.search(v))
    raise ValueError(f"unknown route constraint '{spec}'")


@dataclass(frozen=True)
class Segment:
    literal: str | None = None
    name: str = ""
    constraints: tuple[Callable[[str], bool], ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    @property
    def precedence(self) -> int:
        """Lower wins, as ASP.NET orders routes: literal, constrained, plain, catch-all."""
        if self.literal is not None:
            return 1
        if self.catch_all:
            return 5
        return 2 if self.constraints else 3


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        segments = []
        parts = [p for p in template.strip("/").split("/")] if template.strip("/") else []
        for index, part in enumerate(parts):
            match = _PARAMETER.match(part)
            if match is None:
                if "{" in part or "}" in part:
                    raise ValueError(f"route '{template}': complex segment '{part}' is not supported")
                segments.append(Segment(literal=part))
                continue
            star, name, constraints, optional, default = match.groups()
            if star and index != len(parts) - 1:
                raise ValueError(f"route '{template}': a catch-all parameter must be the last segment")
            specs = [c for c in re.findall(r":([^:]+(?:\([^)]*\))?)", constraints or "")]
            segments.append(
                Segment(
                    name=name,
                    constraints=tuple(_constraint(spec) for spec in specs),
                    optional=bool(optional) or default is not None or bool(star),
                    default=default,
                    catch_all=bool(star),
                )
            )
        return cls(template=template, segments=tuple(segments))

    @property
    def sort_key(self) -> tuple[int, ...]:
        return tuple(segment.precedence for segment in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for `path` (already without the route prefix), or None."""
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                rest = "/".join(parts[index:])
                if rest:
                    if not all(check(rest) for check in segment.constraints):
                        return None
                    values[segment.name] = rest
                elif segment.default is not None:
                    values[segment.name] = segment.default
                return values
            if index >= len(parts):
                if segment.literal is None and segment.optional:
                    if segment.default is not None:
                        values[segment.name] = segment.default
                    continue
                return None
            value = parts[index]
            if segment.literal is not None:
                if value.lower() != segment.literal.lower():
                    return None
                continue
            if not value or not all(check(value) for check in segment.constraints):
                return None
            values[segment.name] = value
        if len(parts) > len(self.segments):
            return None
        return values
