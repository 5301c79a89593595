"""The README's statements that code can check: the status fields it tells operators to alert on
exist in the status answer, and every figure in its measurements table names a bench that exists."""

from __future__ import annotations

import re
from typing import Any

from shared.jobs.record import QueueBacklog
from tests.support import ROOT
from tests.unit.test_claims import job

README = (ROOT / "README.md").read_text(encoding="utf-8")


def queued_job_answer() -> dict[str, Any]:
    """`GET /api/manuscripts/{job}`'s body for a queued job behind a backlog, as the web tier makes it
    (a real status answer with this field is checked by tests/chaos/test_backlog.py::
    test_a_queued_job_shows_the_backlog_it_waits_behind)."""
    queued = job(book="j" * 22)
    return queued.to_public("/api", QueueBacklog(messages=40, front_waited_seconds=95))


def test_the_status_fields_the_readme_names_are_in_the_status_answer() -> None:
    named = re.findall(r"`GET /api/manuscripts/\{\w+\}`'s `([\w.]+)`", README)
    assert named, "the README names no field of the status answer: this test checks nothing"
    answer = queued_job_answer()
    for path in named:
        value: Any = answer
        for key in path.split("."):
            assert isinstance(value, dict) and key in value, f"the README names `{path}`; the answer has {answer}"
            value = value[key]


def test_every_measured_figure_names_a_bench_that_prints_it() -> None:
    section = README.split("### Scaling on paper", 1)[1]
    table = section[section.index("\n| What |") :].split("\n\n", 1)[0]
    rows = table.splitlines()[3:]  # past the blank line, the header and its rule
    assert rows, "no measurements table found under 'Scaling on paper'"
    for row in rows:
        source = row.rstrip(" |").rsplit("|", 1)[1]
        scripts = re.findall(r"`(bench/[\w/]+\.py)", source)
        assert scripts, f"a figure with no bench named: {row}"
        assert all((ROOT / script).is_file() for script in scripts), row
