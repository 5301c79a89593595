"""The upload page sends a 300 MiB photo book straight to Blob Storage in Chromium: blocks, a progress
bar that moves, a network drop it resumes from, then the book."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.browser.conftest import PHONE
from tests.pipeline_support import follow


def test_the_upload_page_sends_a_large_book_straight_to_storage_and_resumes_after_a_drop(
    site, browser, photo_book_300mib: Path
) -> None:
    host, _ = site
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    to_blob: list[tuple[str, str]] = []
    to_app: list[tuple[str, str]] = []
    page.on("request", lambda r: to_blob.append((r.method, r.url)) if "/quire-manuscripts/" in r.url else None)
    page.on("request", lambda r: to_app.append((r.method, r.url)) if "/api/" in r.url else None)
    page.goto(f"{host.base_url}/api/")

    page.set_input_files("#file", str(photo_book_300mib))
    page.click("#submit")
    fractions: set[int] = set()
    statuses: set[str] = set()
    dropped = False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and page.is_hidden("#done"):
        assert page.is_hidden("#error"), page.inner_text("#error")
        fraction = int(page.get_attribute("#upload-bar", "value") or 0)
        fractions.add(fraction)
        statuses.add(page.inner_text("#status"))
        if not dropped and fraction >= 30:
            # The network drops mid-upload for two seconds: blocks in flight fail and are sent again.
            context.set_offline(True)
            page.wait_for_timeout(2000)
            context.set_offline(False)
            dropped = True
        page.wait_for_timeout(100)
    assert page.is_visible("#done"), page.inner_text("#status")

    assert dropped and "Connection lost; resuming the upload…" in statuses
    assert len({f for f in fractions if 0 < f < 100}) >= 5  # the bar moved with the blocks
    owner_key = page.inner_text("#owner-key")
    assert owner_key.startswith("quire_owner_")
    # The manuscript went to the blob endpoint in blocks; the app only saw the ask and the submit.
    blocks = [parse_qs(urlsplit(url).query)["blockid"][0] for method, url in to_blob if "comp=block&" in url]
    block_lists = [url for method, url in to_blob if method == "PUT" and "comp=blocklist" in url]
    assert {method for method, _ in to_blob} == {"PUT"}
    assert len(set(blocks)) == 38 and len(block_lists) == 1  # 38 blocks of 8 MiB, then their list
    assert len(blocks) > 38, "no block was sent again after the drop"
    posts = [url for method, url in to_app if method == "POST"]
    assert [url.split("/api/")[1].split("/")[0] for url in posts] == ["uploads", "uploads"]
    book = page.get_attribute("#open-app", "href").split("/")[3]
    job = follow(host.base_url, book, timeout=10)
    assert job["status"] == "succeeded" and job["manuscript"]["bytes"] == photo_book_300mib.stat().st_size
    assert [m for m in console if "error" in m.lower() and "net::" not in m] == [], console
    context.close()
