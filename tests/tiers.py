"""The test tiers, by what a test needs: unmarked tests are pure (no storage, process, browser or
external tool) and make up `make check`; the markers (pyproject.toml) name the rest.

Markers are given here, from the fixtures a test uses and the folder it is in, so they cannot drift
from what the test does; a test that starts Azurite, a host, Chromium or EPUBCheck itself, without
one of those fixtures, says so with `pytestmark` or a mark. And whatever starts one of them asks
`require` first, so a test whose marks leave it out fails at once instead of slowing `make check`
or going unseen by a tier that skips it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Each tier, and the fixtures that put a test in it (their own fixtures need the same).
BY_FIXTURE = {
    "storage": {"azurite", "storage_emulator", "web_azurite", "job_row"},
    "host": {"app", "web_app", "workers", "site"},
    "tools": {"epubcheck_reports", "ace_reports", "calibre_reads", "kindle_conversions"},
    "browser": {"ace_reports"},  # Ace drives Chromium
    "slow": {"kindle_conversions"},  # calibre converting every book to AZW3
}
# Folders whose every test starts a host on its own Azurite, or drives Chromium.
BY_FOLDER = {
    "e2e": ("storage", "host"),
    "chaos": ("storage", "host"),
    "browser": ("storage", "host", "browser"),
}
TIERS = ("storage", "host", "browser", "tools", "slow")

_running: set[str] | None = None  # the tiers of the test being run; None outside pytest


def mark(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        tiers = {tier for tier, names in BY_FIXTURE.items() if fixtures & names}
        folder = Path(str(item.path)).relative_to(TESTS).parts[0]
        tiers.update(BY_FOLDER.get(folder, ()))
        for tier in sorted(tiers):
            item.add_marker(tier)


def running(item: pytest.Item | None) -> None:
    global _running
    _running = None if item is None else {tier for tier in TIERS if item.get_closest_marker(tier)}


def require(tier: str, what: str) -> None:
    """Fail the running test if its marks do not include `tier` (it does need `what`)."""
    if _running is not None and tier not in _running:
        pytest.fail(f"this test {what}: mark it `{tier}` (tests/tiers.py)", pytrace=False)
