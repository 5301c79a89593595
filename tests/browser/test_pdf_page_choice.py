"""The upload page's print PDF page size in Chromium: sent with a form upload and with a direct
upload, kept by the job, and "Download PDF" offered beside the EPUB once the book is made (hidden
until a status links a PDF)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import PHONE
from tests.pipeline_support import follow

# Any file goes straight to storage: the page's direct-upload threshold set to 1 byte as the page is
# parsed, before its script reads it (a page fulfilled by the test instead of the app would be
# refused the blob endpoint by Chromium's local network rules).
LOWER_THRESHOLD = """
new MutationObserver(function (records, observer) {
  var meta = document.querySelector('meta[name="quire-direct-upload-threshold"]');
  if (meta) { meta.content = '1'; observer.disconnect(); }
}).observe(document, {childList: true, subtree: true});
"""


@pytest.mark.parametrize(("size", "direct"), [("6x9", False), ("letter", True)], ids=["form", "direct"])
def test_the_page_size_chosen_on_the_page_reaches_the_job(
    site, browser, tmp_path: Path, size: str, direct: bool
) -> None:
    host, _ = site
    page = browser.new_page(viewport=PHONE)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    sent_to_blob: list[str] = []
    page.on("request", lambda r: sent_to_blob.append(r.url) if "/quire-manuscripts/" in r.url else None)
    if direct:
        page.add_init_script(LOWER_THRESHOLD)
    page.goto(f"{host.base_url}/api/")
    manuscript = tmp_path / "tides.md"
    manuscript.write_text("---\ntitle: Tides\n---\n# One\n\nHigh water.\n\n# Two\n\nLow water.\n")
    page.set_input_files("#file", str(manuscript))
    page.select_option("#pdf_page", size)
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden]), #error:not([hidden])", timeout=60_000)
    assert page.is_hidden("#error"), (page.inner_text("#error"), console)
    assert bool(sent_to_blob) == direct
    book = page.get_attribute("#open-app", "href").split("/")[3]
    job = follow(host.base_url, book, timeout=10)
    assert job["status"] == "succeeded" and job["manuscript"]["pdf_page"] == size
    assert page.is_visible("#download-pdf") and page.get_attribute("#download-pdf", "href") == job["links"]["pdf"]
    with page.expect_download() as download:
        page.click("#download-pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
    assert download.value.suggested_filename == "Tides.pdf"
    assert console == [], console
    page.close()


def test_the_page_size_is_left_to_the_language_unless_chosen(site, browser) -> None:
    host, _ = site
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{host.base_url}/api/")
    assert page.input_value("#pdf_page") == ""
    options = page.eval_on_selector_all("#pdf_page option", "els => els.map(e => [e.value, e.textContent])")
    assert options == [
        ["", "Default (by the book's language)"],
        ["a4", "A4"],
        ["letter", "US Letter"],
        ["6x9", "6 × 9 in (trade paperback)"],
        ["5.5x8.5", "5.5 × 8.5 in"],
        ["5x8", "5 × 8 in"],
    ]
    assert page.is_hidden("#download-pdf")
    page.close()


@pytest.mark.tools  # qpdf and pdfinfo read the downloaded PDF
def test_the_web_app_book_downloads_its_print_pdf(site, browser) -> None:
    from tests.book.pdf_tools import outline_of, page_info
    from tests.browser.test_browser import example_with_feed, published_book

    host, feeds = site
    job = published_book(site, example_with_feed(feeds.url("/rss")))
    page = browser.new_page(viewport=PHONE)
    page.goto(host.base_url + job["links"]["app"])
    with page.expect_download() as download:
        page.click("text=Download PDF")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and download.value.suggested_filename == "The Lantern Harbour.pdf"
    assert [title for title, _ in outline_of(pdf)] == ["the lantern harbour", "the quay", "the storm"]
    assert int(page_info(pdf)["Pages"]) >= 3
    page.close()
