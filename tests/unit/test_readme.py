"""The documentation's statements that code can check: the status fields docs/operations.md tells
operators to alert on exist in the status answer, every figure in its measurements table names a
bench that exists, and every relative link in README.md and docs/*.md reaches a file (and a heading)
that exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shared.jobs.record import QueueBacklog
from tests.support import ROOT
from tests.unit.test_claims import job

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
STATUS_FIELD = re.compile(r"`GET /api/manuscripts/\{\w+\}`'s `([\w.]+)`")


def section(text: str, heading: str) -> str:
    """The text under `heading` (a whole line such as "### Scaling on paper"), up to the next heading
    of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    assert heading in lines, f"no section {heading!r}"
    start = lines.index(heading) + 1
    end = next(
        (i for i in range(start, len(lines)) if re.match(rf"#{{1,{level}}} ", lines[i])),
        len(lines),
    )
    return "\n".join(lines[start:end])


def queued_job_answer() -> dict[str, Any]:
    """`GET /api/manuscripts/{job}`'s body for a queued job behind a backlog, as the web tier makes it
    (a real status answer with this field is checked by tests/chaos/test_backlog.py::
    test_a_queued_job_shows_the_backlog_it_waits_behind)."""
    queued = job(book="j" * 22)
    return queued.to_public("/api", QueueBacklog(messages=40, front_waited_seconds=95))


def test_the_status_fields_the_docs_name_are_in_the_status_answer() -> None:
    assert STATUS_FIELD.search(section(OPERATIONS, "### What to alert on")), (
        "docs/operations.md's alerts name no field of the status answer: this test checks nothing"
    )
    answer = queued_job_answer()
    for doc in [README, *DOCS]:
        for path in STATUS_FIELD.findall(doc.read_text(encoding="utf-8")):
            value: Any = answer
            for key in path.split("."):
                assert isinstance(value, dict) and key in value, f"{doc.name} names `{path}`; the answer has {answer}"
                value = value[key]


def test_every_measured_figure_names_a_bench_that_prints_it() -> None:
    scaling = section(OPERATIONS, "### Scaling on paper")
    table = scaling[scaling.index("\n| What |") :].split("\n\n", 1)[0]
    rows = table.splitlines()[3:]  # past the blank line, the header and its rule
    assert rows, "no measurements table found under 'Scaling on paper' in docs/operations.md"
    for row in rows:
        source = row.rstrip(" |").rsplit("|", 1)[1]
        scripts = re.findall(r"`(bench/[\w/]+\.py)", source)
        assert scripts, f"a figure with no bench named: {row}"
        assert all((ROOT / script).is_file() for script in scripts), row


# -- links ------------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text with code blocks and code spans taken out (`[Title]()` there is code, not a link)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", path.read_text(encoding="utf-8")), re.MULTILINE)
    return {slug(heading) for heading in headings}


def relative_links(path: Path) -> list[str]:
    targets = LINK.findall(prose(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def test_the_docs_exist_and_the_readme_links_each_of_them() -> None:
    assert {doc.name for doc in DOCS} >= {
        "api.md", "architecture.md", "conversion.md", "feeds.md", "operations.md", "settings.md", "testing.md",
    }  # fmt: skip
    linked = {(README.parent / target.split("#", 1)[0]).resolve() for target in relative_links(README)}
    assert not [doc.name for doc in DOCS if doc.resolve() not in linked], "a docs file the README does not link"


def test_every_relative_link_reaches_a_file_and_heading_that_exist() -> None:
    checked = 0
    for doc in [README, *DOCS]:
        for target in relative_links(doc):
            file_part, _, anchor = target.partition("#")
            reached = (doc.parent / file_part).resolve() if file_part else doc
            assert reached.exists(), f"{doc.relative_to(ROOT)} links {target!r}: no such file"
            if anchor and reached.suffix == ".md":
                assert anchor in anchors(reached), f"{doc.relative_to(ROOT)} links {target!r}: no such heading"
            checked += 1
    assert checked > len(DOCS), "hardly any links found: the link pattern no longer matches"


def test_the_link_check_finds_links_and_ignores_code() -> None:
    text = "See [the API](docs/api.md#erasure), `[Title]()` and\n```\n[x](nowhere.md)\n```\n[web](https://x.org)\n"
    assert LINK.findall(prose(text)) == ["docs/api.md#erasure", "https://x.org"]
    assert slug("Running under `func start`") == "running-under-func-start"
    assert slug("Large manuscripts: direct uploads (the valet key)") == "large-manuscripts-direct-uploads-the-valet-key"
