"""axe-core, in Chromium, finds nothing serious on the upload page or in a web-app book: every page,
phone and desktop, light and dark."""

from __future__ import annotations

from typing import Any

import pytest

from tests import book_corpus as corpus
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_browser import published_book
from tests.support import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def serious_violations(page: Any) -> list[str]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:3]}"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="module")
def every_feature_book(site) -> dict[str, Any]:
    # Code blocks and a table wider than a phone, footnotes, images, mathematics-free.
    return published_book(site, corpus.full_markdown_zip(), "harbour.zip")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious(site, browser, every_feature_book, scheme: str, viewport: dict[str, int]) -> None:
    host, _ = site
    # axe is injected by the test, not by the pages, whose CSP allows no script but their own.
    context = browser.new_context(viewport=viewport, bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    base = host.base_url + every_feature_book["links"]["app"]
    pages = (
        "", "chapters/ch001.html", "chapters/ch002.html", "chapters/ch003.html", "updates.html",
        "search.html?q=nested", "chapters/ch002.html?q=stormy%20night",
    )  # fmt: skip
    found: dict[str, list[str]] = {}
    for url in (f"{host.base_url}/api/", *(base + path for path in pages)):
        page.goto(url)
        page.wait_for_load_state("load")
        if url.endswith("/api/"):
            # The upload page as an author with books sees it: their books listed, a new key shown.
            book = every_feature_book["book"]
            page.evaluate(
                "book => localStorage.setItem('quire:my-books', JSON.stringify([{id: book, key: 'k', title: 'Harbour'}]))",
                book,
            )
            page.reload()
            page.evaluate(
                "() => { document.getElementById('owner-key').textContent = 'quire_owner_x';"
                " document.getElementById('owner-key-box').hidden = false; }"
            )
            assert page.is_visible("#my-books") and page.is_visible("#owner-key-box")
        if url.endswith("search.html?q=nested"):
            page.wait_for_selector("#search-hits .snippet mark")
        found[url] = serious_violations(page)
        if url.endswith("chapters/ch002.html"):  # with a footnote open in its dialog
            page.click("a[role=doc-noteref]")
            page.wait_for_selector("dialog.note-dialog[open]")
            found[url + " (note)"] = serious_violations(page)
    context.close()
    assert found == {url: [] for url in found}


def test_axe_does_report_what_it_should(site, browser) -> None:
    """A page with a scrolling block nobody can reach by keyboard fails: the check above can fail."""
    host, _ = site
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{host.base_url}/api/")
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', "
        "'<pre style=\"overflow-x:auto;width:100px\">' + 'x'.repeat(400) + '</pre><img src=\"a.png\">')"
    )
    found = serious_violations(page)
    context.close()
    assert any(v.startswith("scrollable-region-focusable") for v in found), found
    assert any(v.startswith("image-alt") for v in found), found
