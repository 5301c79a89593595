"""The upload page and the web-app book in a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests import book_corpus as corpus
from tests.browser.conftest import PHONE, wait_for_saved_place
from tests.feeds.servers import FeedServer
from tests.pipeline_support import follow, http_json, upload
from tests.support import ROOT, AppHost

EXAMPLE = ROOT / "examples" / "harbour.zip"


def example_with_feed(feed_url: str) -> bytes:
    """The examples/ manuscript, its feed pointed at the test's own feed server."""
    out = io.BytesIO()
    with zipfile.ZipFile(EXAMPLE) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".md"):
                data = data.replace(b"http://127.0.0.1:8765/news.xml", feed_url.encode())
            target.writestr(info, data)
    return out.getvalue()


def published_book(site: tuple[AppHost, FeedServer], data: bytes, name: str = "book.zip") -> dict[str, Any]:
    host, _ = site
    job = follow(host.base_url, upload(host.base_url, data, name), timeout=60)
    assert job["status"] == "succeeded", job
    return job


def test_upload_page_makes_a_book_and_downloads_the_epub(site, browser, artifacts: Path) -> None:
    host, _ = site
    page = browser.new_page(viewport=PHONE)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto(f"{host.base_url}/api/")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page.screenshot(path=str(artifacts / "upload-page-phone.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(artifacts / "upload-page-phone-dark.png"), full_page=True)

    page.set_input_files("#file", str(EXAMPLE))
    page.fill("#title", "The Lantern Harbour")
    page.keyboard.press("Tab")
    page.focus("#submit")
    page.keyboard.press("Enter")  # the form works from the keyboard
    page.wait_for_selector("#done:not([hidden])", timeout=60_000)
    assert page.get_attribute("#upload-bar", "value") == "100"
    assert page.get_attribute("#convert-bar", "value") == "100"
    assert page.inner_text("#convert-pct") == "100 %"
    assert "ready" in page.inner_text("#status")
    with page.expect_download() as download:
        page.click("#download-epub")
    path = download.value.path()
    with zipfile.ZipFile(path) as epub:
        assert epub.infolist()[0].filename == "mimetype"
        assert epub.read("mimetype") == b"application/epub+zip"
    assert download.value.suggested_filename == "The Lantern Harbour.epub"  # from filename*, in UTF-8
    assert console == [], console
    page.close()


def test_upload_page_shows_the_problem_detail(site, browser) -> None:
    host, _ = site
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{host.base_url}/api/upload")
    page.set_input_files("#file", files=[{"name": "book.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 x"}])
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    assert "This file is a PDF, not a manuscript" in page.inner_text("#error")
    page.close()


def test_reading_the_web_app_book(site, browser, artifacts: Path) -> None:
    host, feeds = site
    job = published_book(site, example_with_feed(feeds.url("/rss")))
    page = browser.new_page(viewport=PHONE)
    page.goto(host.base_url + job["links"]["app"])
    assert page.title() == "The Lantern Harbour"
    page.click("nav.toc >> text=The Quay")
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "The Quay"
    # The page's load event can come before a lazy image has decoded: wait for it, then check.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=10_000)
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert images and all(done and width > 0 for done, width in images)
    page.screenshot(path=str(artifacts / "chapter-phone.png"))

    chapter_url = page.url
    page.click("a[role=doc-noteref]")  # the note opens in place (test_search_and_notes.py), and leads to itself
    page.get_by_role("dialog", name="Note 1").get_by_role("link", name="Go to note").click()
    assert page.url.endswith("#c2-fn1")
    assert page.is_visible("aside#c2-fn1")
    page.click("aside#c2-fn1 a[role=doc-backlink]")
    assert page.url.endswith("#c2-fnref1")

    page.click("a[rel=next]")
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "The Storm"
    page.go_back()
    page.goto(chapter_url)  # without the fragment
    page.set_viewport_size({"width": 390, "height": 300})  # a short screen, so there is room to scroll
    height = page.evaluate("document.documentElement.scrollHeight - innerHeight")
    page.evaluate(f"window.scrollTo(0, {height // 2})")
    wait_for_saved_place(page)
    saved = page.evaluate("scrollY")
    page.reload()
    page.wait_for_load_state("load")
    page.wait_for_function(f"() => Math.abs(scrollY - {saved}) <= 2", timeout=5_000)
    page.goto(host.base_url + job["links"]["app"])
    assert "Continue reading" in page.inner_text("#resume")
    page.close()


def test_the_book_reads_offline_after_the_first_visit(site, browser) -> None:
    host, feeds = site
    job = published_book(site, example_with_feed(feeds.url("/rss")))
    book = job["id"]
    assert http_json("POST", f"{host.base_url}/admin/functions/refresh", b'{"input": ""}')[0] == 202
    deadline = time.monotonic() + 20
    while not http_json("GET", f"{host.base_url}/api/books/{book}/updates")[1]["items"]:
        assert time.monotonic() < deadline, "the refresh never produced updates"
        time.sleep(0.2)

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    base = host.base_url + job["links"]["app"]
    page.goto(base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now the page is controlled by the service worker
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    page.goto(base + "updates.html")
    page.wait_for_selector("#updates-list article")

    context.set_offline(True)
    chapters = page.evaluate("fetch('manifest.webmanifest').then(r => r.ok)")
    assert chapters
    for number, title in ((1, "The Lantern Harbour"), (2, "The Quay"), (3, "The Storm")):
        page.goto(f"{base}chapters/ch{number:03d}.html")
        assert page.title().startswith(title)
    # The quay's photo shows offline: the phone-sized copy a 390 px screen picks, precached too.
    page.goto(f"{base}chapters/ch002.html")
    page.locator("img[srcset]").scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img[srcset]').naturalWidth > 0", timeout=10_000)
    assert page.eval_on_selector("img[srcset]", "i => i.currentSrc").endswith("-480w.jpg")
    page.goto(base + "updates.html")
    page.wait_for_selector("#updates-list article")
    titles = page.eval_on_selector_all("#updates-list h2", "els => els.map(e => e.textContent)")
    assert "Launch party" in titles
    assert "Offline" in page.inner_text("#updates-status")
    context.close()


def test_manifest_service_worker_and_install_criteria(site, profile_browser) -> None:
    host, feeds = site
    job = published_book(site, example_with_feed(feeds.url("/rss")))
    page = profile_browser.new_page()
    base = host.base_url + job["links"]["app"]
    page.goto(base)
    state = page.evaluate("navigator.serviceWorker.ready.then(r => r.active && r.active.state)")
    assert state in ("activating", "activated")
    manifest = json.loads(page.request.get(base + "manifest.webmanifest").body())
    assert manifest["display"] == "standalone" and manifest["start_url"] == "./" and manifest["name"]
    for icon in manifest["icons"]:
        assert page.request.get(base + icon["src"]).ok
    cdp = page.context.new_cdp_session(page)
    deadline = time.monotonic() + 10
    while True:
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        if not errors or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert errors == [], errors
    manifest_check = cdp.send("Page.getAppManifest")
    assert manifest_check["errors"] == [], manifest_check["errors"]
    page.close()


def test_xss_manuscript_runs_no_script_and_every_page_has_a_csp(site, browser) -> None:
    host, _ = site
    job = published_book(site, corpus.XSS_MARKDOWN.encode(), "attacks.md")
    page = browser.new_page(viewport=PHONE)
    dialogs: list[str] = []
    console: list[str] = []
    missing_csp: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: console.append(message.text))

    def check(response: Any) -> None:
        if (
            "/api/books/" in response.url
            and response.status == 200
            and "content-security-policy" not in response.headers
        ):
            missing_csp.append(response.url)

    page.on("response", check)
    base = host.base_url + job["links"]["app"]
    for path in ("", "chapters/ch001.html", "updates.html"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        page.hover("body")
        time.sleep(0.3)  # a wait for nothing to happen: a script that ran would have shown by now
    assert dialogs == [], dialogs
    assert console == [], console  # not even a CSP violation: nothing tried to run
    assert missing_csp == []
    page.close()
