"""Lighthouse (npm `lighthouse`, on Debian's Chromium) on the web-app book at phone size, on
simulated slow 4G (its mobile default): #39's targets, accessibility 100, best practices ≥ 95 and
performance ≥ 95, on a chapter with a photo (chapter 1 of the every-feature book) and on the
contents page with its cover. The book is converted by the CLI and served with Quire's own headers
for a book's files (tests/lighthouse_support.py, which bench/lighthouse.py uses too).

Lighthouse's performance score moves from run to run on a busy machine (the simulation scales the
CPU time it observed): each category is held to its median of three runs. The third run is left out
when the first two both reach every target, since the median then reaches them whatever it gives.
A run takes 20–40 s, so this is the slow tier's (`make test-slow`, which runs `npm ci` first); where
Lighthouse is not installed the test is skipped, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import tiers
from tests.browser.conftest import chromium_path
from tests.lighthouse_support import (
    CHAPTER,
    CONTENTS,
    LIGHTHOUSE,
    TARGETS,
    build_book,
    failing,
    lighthouse,
    metrics,
    scores,
    served,
)

pytestmark = [pytest.mark.slow, pytest.mark.alone]
RUNS = 3


@pytest.fixture(scope="module")
def book_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tiers.require("slow", "runs Lighthouse, 20–40 s a page")
    if not LIGHTHOUSE.exists():
        pytest.skip(f"Lighthouse is not installed ({LIGHTHOUSE} is missing): `npm ci` installs it")
    with served(build_book(tmp_path_factory.mktemp("lighthouse"))) as base:
        yield base


def holds(report: dict[str, Any]) -> bool:
    got = scores(report)
    return all(got[name] >= target for name, target in TARGETS.items())


@pytest.mark.parametrize("page", [CHAPTER, CONTENTS], ids=["chapter", "contents"])
def test_lighthouse_at_phone_size_on_slow_4g(book_url: str, page: str) -> None:
    chrome = chromium_path()
    reports: list[dict[str, Any]] = []
    while len(reports) < RUNS and not (len(reports) == RUNS - 1 and all(holds(r) for r in reports)):
        reports.append(lighthouse(book_url + page, chrome))
    runs = [scores(report) for report in reports]
    # With three runs the second best is the median; with two that both held, the lower of them.
    medians = {name: sorted(run[name] for run in runs)[-2] for name in TARGETS}
    missed = {name: medians[name] for name, target in TARGETS.items() if medians[name] < target}
    details = "\n".join(
        f"run {n}: {scores(r)}; {metrics(r)}; not passed: {failing(r)}" for n, r in enumerate(reports, 1)
    )
    assert not missed, f"{page}: {missed} under the targets {TARGETS}\n{details}"
