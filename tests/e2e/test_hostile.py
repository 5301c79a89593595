"""Hostile manuscripts over HTTP: each ends quickly with a reason, memory stays bounded, nothing is retried.

Every case of tests/hostile_corpus.py is uploaded to a running host with the default step budget;
the host's whole process tree (host, worker, step processes) is sampled while it runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile_corpus import CASES, Case
from tests.pipeline_support import follow
from tests.support import ROOT, AppHost, Azurite, TreeSampler, http, start_azurite, start_host

# Each case is held to a time and a memory bound: nothing may run beside it.
pytestmark = pytest.mark.alone
MAX_SECONDS = 60  # from upload to the job's end, on this 2-core machine shared with Azurite
MAX_TREE_BYTES = 1536 * 1024 * 1024  # host + worker + step processes, as in issue #13's bound


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[Azurite]:
    """An Azurite of these tests' own: no other host may take their conversion messages."""
    emulator = start_azurite()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def hostile_host(own_azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    log = tmp_path_factory.mktemp("hostile") / "host.log"
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": own_azurite.connection_string},
        log,
        extra_args=["--functions", "upload_manuscript", "get_manuscript", "health", "convert", "convert_poison"],
    )
    yield host
    host.stop()


def _convert(host: AppHost, filename: str, data: bytes) -> tuple[dict, float, int]:
    started = time.monotonic()
    with TreeSampler(host.process.pid) as sampler:
        status, _, body = http("POST", f"{host.base_url}/api/manuscripts?filename={filename}", data)
        assert status == 202, body
        job = follow(host.base_url, json.loads(body)["id"], timeout=MAX_SECONDS + 30)
    return job, time.monotonic() - started, sampler.peak_rss


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_hostile_manuscript_ends_fast_with_a_reason(hostile_host: AppHost, case: Case) -> None:
    job, seconds, peak = _convert(hostile_host, case.filename, case.make())
    if case.expected == "succeeded":
        assert job["status"] == "succeeded", job
    else:
        assert job["status"] == "failed", job
        assert case.expected in job["error"], job["error"]
        assert "Traceback" not in job["error"] and "several times" not in job["error"]
    assert seconds < MAX_SECONDS, f"{case.name} took {seconds:.1f}s"
    assert peak < MAX_TREE_BYTES, f"{case.name} peaked at {peak / 2**20:.0f} MB"


def test_a_normal_book_still_converts_afterwards(hostile_host: AppHost) -> None:
    job, _, _ = _convert(hostile_host, "harbour.zip", (ROOT / "examples" / "harbour.zip").read_bytes())
    assert job["status"] == "succeeded"
    assert http("GET", f"{hostile_host.base_url}/api/health")[0] == 200


def test_a_step_over_its_budget_fails_the_job_once_and_for_all(
    own_azurite: Azurite, hostile_host: AppHost, tmp_path: Path
) -> None:
    """The budgets themselves, beyond the cheap refusals: a book that is only large, with budgets
    made small. Each ends `failed` with the budget's reason on its first attempt (no retries)."""
    from tests.hostile_corpus import _big_pngs_zip, _large_markdown_zip

    for settings, data, filename, reason in (
        ({"STEP_CPU_SECONDS": "2"}, _large_markdown_zip(), "large.zip", "more than 2 seconds of processing"),
        ({"STEP_MEMORY_MB": "200"}, _big_pngs_zip(2)(), "pngs.zip", "more than 200 MB of memory"),
    ):
        hostile_host.stop()  # only the host with the small budget may take the messages
        host = start_host(
            ROOT,
            {"AzureWebJobsStorage": own_azurite.connection_string, **settings},
            tmp_path / f"{filename}.log",
            extra_args=["--functions", "upload_manuscript", "get_manuscript", "health", "convert"],
        )
        try:
            job, seconds, _ = _convert(host, filename, data)
            assert job["status"] == "failed" and reason in job["error"], job
            assert seconds < 30
            log = host.log()
            assert log.count("Executing 'Functions.convert'") == 1, "the step was retried"
            assert "over its" in log and "budget" in log
        finally:
            host.stop()
