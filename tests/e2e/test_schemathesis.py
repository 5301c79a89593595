"""Schemathesis fuzzes the running app against its OpenAPI description (shared/web/openapi.json,
served at /api/openapi.json): every operation with positive and negative data, then the links
between operations (stateful), with the checks for server errors, status codes, content types,
response schemas and response headers. Issue #40.

The app runs on an Azurite of its own. A worker converts one book first, so the fuzzer reads a
published book (its EPUB, PDF, web-app files, catalogs, feeds) and a shelf holding it, besides the
ids it makes up; then only the web tier runs, so a fuzzed upload that happens to be a readable
manuscript queues a conversion nobody spends the suite's CPU on. Settings (seed, examples,
checks, and any exclusion with its reason) are in tests/e2e/schemathesis.toml.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.web import openapi
from tests.pipeline_support import create_book, follow, http_json
from tests.support import ROOT, AppHost, Azurite, http, start_host

CONFIG = ROOT / "tests" / "e2e" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
WORKER = ["convert", "convert_poison", "health"]
BOOK = b"---\ntitle: Fuzzed Tides\nauthor: Ada Writer\nlanguage: en\n---\n\n# One\n\nThe sea.\n\n# Two\n\nThe shore.\n"


def http_functions() -> list[str]:
    code = (
        "import json, function_app;"
        "print(json.dumps([f.get_function_name() for f in function_app.app.get_functions() "
        "if any(b['type'] == 'httpTrigger' for b in json.loads(f.get_function_json())['bindings'])]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    names: list[str] = json.loads(out.stdout)
    return names


@pytest.fixture(scope="module")
def seeded(emulator: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppHost, dict[str, str]]]:
    """The web tier; a published book and a shelf that holds it, with their keys; and a second
    book and shelf for the operations that erase or rotate (ids only: the fuzzer holds no key to
    them), so the first pair stays readable for the whole run."""
    logs = tmp_path_factory.mktemp("schemathesis")
    settings = {"AzureWebJobsStorage": emulator.connection_string, "MAX_UPLOAD_BYTES": str(2 * 1024 * 1024)}
    web = start_host(ROOT, settings, logs / "web.log", extra_args=["--functions", *http_functions()])
    worker = start_host(ROOT, settings, logs / "worker.log", extra_args=["--functions", *WORKER])
    try:
        book, owner_key = create_book(web.base_url, BOOK, "tides.md")
        other_book, _ = create_book(web.base_url, BOOK, "other.md")
        assert follow(web.base_url, book, timeout=60)["status"] == "succeeded"
    finally:
        worker.stop()
    shelves = [http_json("POST", f"{web.base_url}/api/shelves", b'{"title": "Fuzz"}') for _ in range(2)]
    assert [status for status, _ in shelves] == [201, 201], shelves
    shelf, other_shelf = (answer for _, answer in shelves)
    key = {"Authorization": f"Bearer {shelf['shelf_key']}"}
    assert http("PUT", f"{web.base_url}/api/shelves/{shelf['id']}/books/{book}", b"", key)[0] == 201
    yield (
        web,
        {
            "book": book,
            "owner_key": owner_key,
            "shelf": shelf["id"],
            "shelf_key": shelf["shelf_key"],
            "victims": f'"{other_book}", "{other_shelf["id"]}"',
        },
    )
    web.stop()


def run_config(ids: dict[str, str]) -> str:
    """tests/e2e/schemathesis.toml, with the seeded ids offered for half the ids the fuzzer sends,
    and their keys sent where the description asks for an owner or shelf key."""
    return (
        CONFIG.read_text(encoding="utf-8")
        + f"""
[dictionaries.ids]
values = ["{ids["book"]}", "{ids["shelf"]}"]
[dictionaries.books]
values = ["{ids["book"]}"]
[dictionaries.paths]
values = ["index.html", "publication.json", "sw.js"]

[parameters]
"path.id" = {{ dictionary = "ids", probability = 0.5 }}
"path.book" = {{ dictionary = "books", probability = 0.5 }}
"path.path" = {{ dictionary = "paths", probability = 0.5 }}

[auth.openapi.ownerKey]
bearer = "{ids["owner_key"]}"
[auth.openapi.shelfKey]
bearer = "{ids["shelf_key"]}"

[dictionaries.victims]
values = [{ids["victims"]}]
[[operations]]
include-operation-id = ["deleteBook", "rotateOwnerKey", "deleteShelf"]
parameters = {{ "path.id" = {{ dictionary = "victims", probability = 0.5 }} }}
"""
    )


def summary(output: str) -> dict[str, int]:
    numbers = {
        "tested": r"Tested: (\d+)",
        "generated": r"(\d+) generated",
        "passed": r"generated, (\d+) passed",
        "scenarios": r"Scenarios: +(\d+)",
    }
    return {name: int(m.group(1)) for name, pattern in numbers.items() if (m := re.search(pattern, output))}


def test_the_app_answers_as_its_description_says(
    seeded: tuple[AppHost, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web, ids = seeded
    config = tmp_path / "schemathesis.toml"
    config.write_text(run_config(ids), encoding="utf-8")
    run = subprocess.run(
        [str(SCHEMATHESIS), "--no-color", "--config-file", str(config), "run", f"{web.base_url}/api/openapi.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    with capsys.disabled():
        phases = run.stdout[run.stdout.find("Examples (in") - 5 : run.stdout.find("=== WARNINGS") - 31]
        print("\n" + phases + run.stdout[run.stdout.find("=== SUMMARY") - 31 :])  # the run's summary, in the log
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
    operations = sum(len(item) for item in openapi.description()["paths"].values())
    found = summary(run.stdout)
    # Every operation but GET /openapi.json: loaded from a URL, Schemathesis leaves out the one that served it.
    assert found["tested"] == operations - 1
    assert found["generated"] == found["passed"] > 20 * operations
    assert found["scenarios"] > 0
