from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import tiers
from tests.feeds.servers import FeedServer
from tests.support import ROOT, AppHost, local_site

ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# Flags for Debian's Chromium on a machine without outside network (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    tiers.require("browser", "drives Chromium")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "Chromium is not installed: run ./scripts/install-system-deps.sh (as root) or apt-get install chromium"
        )
    return path


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppHost, FeedServer]]:
    """Quire as `make run` serves it, with a local feed server and local feeds allowed."""
    with local_site(tmp_path_factory.mktemp("browser")) as running:
        yield running


# Module scope: Playwright's sync API keeps an event loop running on this thread while it is open,
# which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright) -> Iterator[object]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def profile_browser(playwright, tmp_path: Path) -> Iterator[object]:
    """A browser with a real (persistent) profile: install checks refuse incognito ones."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_path(), args=CHROMIUM_ARGS, viewport=PHONE
    )
    yield context
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def wait_for_saved_place(page: Any, at_least: float = 0.3) -> None:
    """Until the chapter has saved the reader's place (a moment after scrolling stops) at or past
    `at_least` of the way down."""
    page.wait_for_function(
        """(least) => Object.keys(localStorage).some((key) => {
             try {
               const place = JSON.parse(localStorage.getItem(key));
               return place && place.path === location.pathname && place.fraction >= least;
             } catch (e) { return false; }
           })""",
        arg=at_least,
        timeout=5_000,
    )
