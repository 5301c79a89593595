"""The house rules, checked on the source: which package may import which, and where the
environment is read. Every import counts, also those inside functions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SHARED_MODULES = {module_name(path) for path in SHARED.rglob("*.py")}


def imports_in(tree: ast.AST, by_name: bool = True) -> set[str]:
    """Every module name `tree` imports: by import statements, and (`by_name`) by strings that name
    a module."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif by_name and isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(imported_by_string(node.value))
    return found


def imported_by_string(text: str) -> set[str]:
    """A string that is exactly a module of shared is there to be imported (importlib.import_module,
    __import__, a preload list, `python -m`); one that is code (`python -c`) imports what it does."""
    if text in SHARED_MODULES:
        return {text}
    if "import " in text:
        try:
            return imports_in(ast.parse(text))
        except SyntaxError:
            return set()  # prose that mentions importing
    return set()


def app_imports(path: Path, by_name: bool = True) -> set[str]:
    """The app modules (shared.*, function_app, devhost, tests) that `path` imports."""
    found = imports_in(ast.parse(path.read_text(encoding="utf-8")), by_name)
    # `from shared import logs` names shared.logs; the bare package itself holds nothing.
    return {name for name in found if name.split(".")[0] in ("shared", "function_app", "devhost", "tests")} - {"shared"}


MODULES = {module_name(path): app_imports(path) for path in SHARED.rglob("*.py") if path != SHARED / "__init__.py"}
# Only import statements can close a cycle: a name handed to another process (`python -c`) is
# imported there, where nothing is half-built.
IN_PROCESS = {
    module_name(path): app_imports(path, by_name=False)
    for path in SHARED.rglob("*.py")
    if path != SHARED / "__init__.py"
}

# What each part of the app may import from the app, besides itself. The book core and the
# storage adapter sit at the bottom; the stores (jobs, library, feeds) above them; the application
# layer (books) above the stores; the web tier and the worker at the top, beside each other. The web
# tier reads records, never stores: it calls a use case.
BASE = ("shared.errors", "shared.formats", "shared.logs", "shared.routes")
ALLOWED = {
    "shared.errors": (),
    "shared.formats": (),
    "shared.logs": (),
    "shared.lazy": (),
    "shared.routes": (),
    "shared.settings": (*BASE, "shared.storage.connection"),
    "shared.storage": BASE,
    "shared.telemetry": (*BASE, "shared.settings"),
    "shared.book": BASE,
    "shared.intake": (*BASE, "shared.book"),
    "shared.budget": (*BASE, "shared.book"),
    "shared.cli": (*BASE, "shared.book", "shared.intake"),
    "shared.feeds": (*BASE, "shared.settings", "shared.storage", "shared.book.sanitize", "shared.telemetry"),
    "shared.jobs": (*BASE, "shared.settings", "shared.storage", "shared.intake"),
    "shared.library": (*BASE, "shared.settings", "shared.storage", "shared.intake", "shared.jobs", "shared.feeds"),
    "shared.services": (*BASE, "shared.settings", "shared.storage", "shared.feeds", "shared.telemetry"),
    "shared.books": (
        *BASE,
        "shared.settings",
        "shared.storage",
        "shared.intake",
        "shared.jobs",
        "shared.library",
        "shared.feeds",
    ),
    "shared.worker": (
        *BASE,
        "shared.settings",
        "shared.storage",
        "shared.book",
        "shared.budget",
        "shared.jobs",
        "shared.library",
        "shared.books",
        "shared.services",
        "shared.feeds",
        "shared.telemetry",
    ),
    "shared.web": (
        *BASE,
        "shared.settings",
        "shared.storage",
        "shared.intake",
        "shared.jobs.record",
        "shared.library.record",
        "shared.books",
        "shared.services",
        "shared.telemetry",
    ),
}


def part_of(module: str) -> str:
    return next(part for part in sorted(ALLOWED, key=len, reverse=True) if module.startswith(part))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_from_the_layers_below_it(module: str) -> None:
    part = part_of(module)
    allowed = (part, *ALLOWED[part])
    reaching = sorted(
        name for name in MODULES[module] if not any(name == a or name.startswith(f"{a}.") for a in allowed)
    )
    assert reaching == [], f"{module} ({part}) imports {reaching}"


# Where a thing is stored is the stores' business: the web tier names no table, container or queue.
STORAGE_NAME = re.compile(r"^shared\.storage\.names(\.|$)")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("shared.web")))
def test_the_web_tier_names_no_storage(module: str) -> None:
    assert sorted(name for name in MODULES[module] if STORAGE_NAME.match(name)) == []


def test_imports_by_name_count_as_imports(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "import importlib\n"
        "PRELOAD = ['shared.worker.steps', 'lxml.etree']\n"
        "def load() -> None:\n"
        "    importlib.import_module('shared.jobs.store')\n"
        "    __import__('shared.library')\n"
        "START = 'import sys; from shared.web import app; app.run()'\n"
        "PROSE = 'shared.worker.steps, which we import when needed'\n",
        encoding="utf-8",
    )
    assert app_imports(source) == {
        "shared.worker.steps",
        "shared.jobs.store",
        "shared.library",
        "shared.web",
        "shared.web.app",
    }


def test_the_environment_is_read_in_one_place() -> None:
    readers = sorted(
        str(path.relative_to(ROOT))
        for path in [*SHARED.rglob("*.py"), ROOT / "function_app.py"]
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv(" in path.read_text(encoding="utf-8")
    )
    assert readers == ["shared/settings.py"]


def test_production_code_has_no_fault_switches() -> None:
    for path in [*SHARED.rglob("*.py"), ROOT / "function_app.py"]:
        text = path.read_text(encoding="utf-8")
        for word in ("crash_point", "QUIRE_CRASH", "QUIRE_FAIL", "os.kill(os.getpid()", "treat_as_public"):
            assert word not in text, f"{path.relative_to(ROOT)} mentions {word}"


def test_no_module_is_too_long_to_read() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in [*SHARED.rglob("*.py"), *(ROOT / "devhost").rglob("*.py"), ROOT / "function_app.py"]
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 350
    }
    assert long == {}


def imported_modules(module: str) -> set[str]:
    """The modules of shared that `module` imports; `from package import submodule` names the
    submodule, not the package."""
    names = IN_PROCESS[module]
    return {
        name
        for name in names
        if name in MODULES and not any(other in MODULES and other.startswith(f"{name}.") for other in names)
    }


def test_no_two_modules_import_each_other() -> None:
    """A cycle needs an import hidden inside a function, and whichever module loads first sees the
    other half-built: what both need belongs in a module of its own."""
    cycles = sorted(
        (module, other)
        for module in MODULES
        for other in imported_modules(module)
        if module < other and module in imported_modules(other)
    )
    assert cycles == []
