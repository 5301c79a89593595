"""A 300 MiB photo book through a direct upload: the script sends it straight to storage, the web
tier's memory stays flat while it is submitted and checked, and the book converts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline_support import follow
from tests.support import ROOT, AppHost, Azurite, TreeSampler, start_host

WEB = ["request_upload", "submit_upload", "get_manuscript", "health"]
# What a web tier may grow by while it hands out a SAS and checks a 300 MiB upload: its bytes
# never pass through it, so far less than one block (8 MiB) of them.
FLAT_BYTES = 24 * 1024 * 1024


@pytest.fixture(scope="module")
def web_tier(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    log = tmp_path_factory.mktemp("web-tier") / "host.log"
    host = start_host(ROOT, {"AzureWebJobsStorage": azurite.connection_string}, log, extra_args=["--functions", *WEB])
    yield host
    host.stop()


def upload_with_script(base_url: str, path: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "quire_upload.py"), str(path), "--url", base_url, "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    accepted: dict[str, object] = json.loads(result.stdout)
    return accepted


@pytest.mark.slow
def test_a_300_mib_book_goes_straight_to_storage_and_converts(
    web_tier: AppHost, app: AppHost, photo_book_300mib: Path
) -> None:
    """`app` (the session's full host) is the worker that converts it; `web_tier` only answers HTTP."""
    upload_with_script(web_tier.base_url, Path(ROOT / "examples" / "harbour.zip"))  # warm: imports, clients
    with TreeSampler(web_tier.process.pid) as idle:
        time.sleep(1.0)
    started = time.monotonic()
    with TreeSampler(web_tier.process.pid) as busy:
        accepted = upload_with_script(web_tier.base_url, photo_book_300mib)
    sent = time.monotonic() - started
    grown = busy.peak_rss - idle.peak_rss
    assert grown < FLAT_BYTES, f"the web tier grew by {grown / 2**20:.1f} MiB for a 300 MiB upload"
    assert accepted["manuscript"] == {
        "filename": photo_book_300mib.name,
        "type": "zip",
        "bytes": photo_book_300mib.stat().st_size,
        "sha256": "",
        "split_level": 1,
        "pdf_page": "",
    }
    job = follow(app.base_url, str(accepted["id"]), timeout=600)
    assert job["status"] == "succeeded", job
    assert job["progress"]["steps_total"] > 20  # the photos were fanned out to image steps
    print(
        f"300 MiB direct upload: sent and submitted in {sent:.1f} s; web tier peak "
        f"{busy.peak_rss / 2**20:.0f} MiB (idle {idle.peak_rss / 2**20:.0f} MiB, grew {grown / 2**20:.1f} MiB)"
    )
