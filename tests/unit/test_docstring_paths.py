"""Every file or folder a docstring under shared/ names exists, so "see shared/x/y.py" never
sends a reader to a module that moved.

The rule: a word that starts with one of the repository's top folders (shared/, tests/, devhost/,
docs/, scripts/, infra/, bench/) and ends in `.py`, `.md` or `/` is a path from the repository's
root. A shorter word with a slash that ends in `.py` (`web/problems.py`, `readers/epub.py`) is
read from the module's own folder or a folder above it, up to shared/. Other words with slashes
(blob names such as `quire-books/{job}/`, URLs, media types) are not paths."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
_TOP = r"(?:shared|tests|devhost|docs|scripts|infra|bench)/"
FROM_ROOT = re.compile(rf"(?<![\w/.-])({_TOP}[\w./-]*?(?:\.py|\.md|/))(?![\w/-])")
SHORT = re.compile(rf"(?<![\w/.-])(?!{_TOP})([\w-]+(?:/[\w-]+)*/[\w-]+\.py)(?![\w/-])")


def docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    nodes = [tree, *(node for node in ast.walk(tree) if isinstance(node, kinds))]
    return [text for node in nodes if (text := ast.get_docstring(node))]


def missing_paths(text: str, module: Path) -> list[str]:
    folders = [folder for folder in module.parents if folder == SHARED or SHARED in folder.parents]
    missing = [named for named in FROM_ROOT.findall(text) if not (ROOT / named).exists()]
    missing += [named for named in SHORT.findall(text) if not any((folder / named).exists() for folder in folders)]
    return missing


def test_the_rule_finds_paths_and_only_paths() -> None:
    module = SHARED / "book" / "readers" / "epub.py"
    text = (
        "shared/worker/protocol.py, shared/budget/, readers/project.py, web/problems.py, quire-books/{job}/, "
        "application/epub+zip, and the missing shared/storage.py, shared/nowhere/ and web/upload.py"
    )
    assert missing_paths(text, module) == ["shared/storage.py", "shared/nowhere/", "web/upload.py"]


def test_every_path_a_docstring_names_exists() -> None:
    missing = sorted(
        f"{path.relative_to(ROOT)}: {named}"
        for path in SHARED.rglob("*.py")
        for text in docstrings(path)
        for named in missing_paths(text, path)
    )
    assert missing == []
