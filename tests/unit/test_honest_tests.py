"""No test can pass by swallowing its own failure: nothing under tests/ catches `Exception`,
`BaseException` or `AssertionError`, or uses a bare `except:`, whether as a handler (`except`,
`except*`) or inside `contextlib.suppress(...)`. A catch must name what is really expected there
(ResourceNotFoundError, ConnectionError, OSError around a host killed on purpose), so that any other
error, and every failed assert, still fails the test. Issue #42."""

from __future__ import annotations

import ast

from tests.support import ROOT

TESTS = ROOT / "tests"
BROAD = frozenset({"Exception", "BaseException", "AssertionError"})

# (file under the repository, enclosing function) → why that broad catch is harmless. Keep this
# empty if at all possible: narrow the exception instead. Every entry must still match a catch.
ALLOWED: dict[tuple[str, str], str] = {}


def _caught(expression: ast.expr | None) -> list[str]:
    """The exception names a handler or suppress() argument names; `<bare>` for `except:`."""
    if expression is None:
        return ["<bare>"]
    items = expression.elts if isinstance(expression, ast.Tuple) else [expression]
    names = []
    for item in items:
        if isinstance(item, ast.Name):
            names.append(item.id)
        elif isinstance(item, ast.Attribute):  # builtins.Exception, contextlib-style aliases
            names.append(item.attr)
    return names


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.function = "<module>"
        self.found: list[tuple[int, str, str]] = []  # (line, enclosing function, what)

    def _in_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_FunctionDef = _in_function
    visit_AsyncFunctionDef = _in_function

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:  # `except` and `except*` alike
        broad = [name for name in _caught(node.type) if name in BROAD or name == "<bare>"]
        if broad:
            what = "bare except:" if broad == ["<bare>"] else f"except {', '.join(broad)}"
            self.found.append((node.lineno, self.function, what))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "suppress":
            broad = [n for argument in node.args for n in _caught(argument) if n in BROAD]
            if broad:
                self.found.append((node.lineno, self.function, f"suppress({', '.join(broad)})"))
        self.generic_visit(node)


def broad_catches(source: str) -> list[tuple[int, str, str]]:
    finder = _Finder()
    finder.visit(ast.parse(source))
    return finder.found


def test_no_test_catches_exception_baseexception_or_assertionerror() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 50, f"found only {len(files)} files under {TESTS}"  # the scan really ran
    violations, allowed_used = [], set()
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        for line, function, what in broad_catches(path.read_text(encoding="utf-8")):
            if (relative, function) in ALLOWED:
                allowed_used.add((relative, function))
            else:
                violations.append(f"{relative}:{line} ({function}): {what}")
    assert not violations, "catches that would swallow a failure; name the expected error:\n" + "\n".join(violations)
    assert allowed_used == set(ALLOWED), f"allowlist entries that no longer match: {set(ALLOWED) - allowed_used}"


def test_the_check_finds_every_form_of_a_broad_catch() -> None:
    """A negative control: each form is found, with its line; narrow catches are not."""
    source = """
import contextlib, builtins
from contextlib import suppress

def reads():
    try:
        a()
    except:
        pass
    try:
        a()
    except Exception:
        pass
    try:
        a()
    except (OSError, AssertionError) as error:
        pass
    try:
        a()
    except* BaseException:
        pass
    try:
        a()
    except builtins.Exception:
        pass
    with contextlib.suppress(Exception):
        a()
    with suppress(OSError, AssertionError):
        a()

def narrow():
    try:
        a()
    except (OSError, ValueError, KeyError):
        pass
    with contextlib.suppress(ProcessLookupError):
        a()
"""
    found = broad_catches(source)
    assert [(line, function) for line, function, _ in found] == [
        (8, "reads"),
        (12, "reads"),
        (16, "reads"),
        (20, "reads"),
        (24, "reads"),
        (26, "reads"),
        (28, "reads"),
    ]
    assert [what for _, _, what in found] == [
        "bare except:",
        "except Exception",
        "except AssertionError",
        "except BaseException",
        "except Exception",
        "suppress(Exception)",
        "suppress(AssertionError)",
    ]
