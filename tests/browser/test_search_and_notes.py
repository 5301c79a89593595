"""The web-app book's search, offline, and its footnotes opened in place, in Chromium (#39)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from shared.book.search_index import SEARCH_INDEX, WORDS_JS, read_index, words
from tests import book_corpus as corpus
from tests.book.conftest import convert_good_book
from tests.browser.conftest import PHONE
from tests.browser.test_browser import published_book

# Books in several scripts and shapes (with the published every-feature book): tables, formulas,
# SVG, Word, an EPUB, a long text.
BOOKS = (
    "non-latin", "right-to-left", "math-markdown", "math-html", "inline-drawings",
    "docx", "epub3-book", "gutenberg-text", "texinfo-manual", "quarto-book", "svg-figures", "raw-html-in-markdown",
)  # fmt: skip
STRINGS = (
    "Café crème, l’homme — well-known!", "İstanbul IŞIK", "ΣΟΦΌΣ σοφός", "Straße ẞ", "東京都に行きました。",
    "か\u3099が", "हिन्दी भाषा", "ภาษาไทย", "שָׁלוֹם", "ﬁne ｶﾀｶﾅ ①½", "e\u0301te\u0301", "𝔘𝔫𝔦 𠀋x", "ǅemal",
    "한국어 문장", "a\u00a0\u0301b x_y 3.14",
)  # fmt: skip
# Each page parsed as the search page parses the chapters it reads snippets from (DOMParser).
ARTICLE_WORDS = f"""([pages, language]) => {{
  {WORDS_JS}
  return pages.map((markup) => {{
    const article = new DOMParser().parseFromString(markup, 'text/html').querySelector('main article');
    return quireText.words(quireText.collect(article).text, language).map((found) => found.word);
  }});
}}"""


# Chapters 3 to 10 after the every-feature book's two: "brass" and "telescope" are in every one, the
# phrase "brass telescope" only in chapter 9 (ch010: the dedication is ch001), past a screen of text.
PHRASE = "the keeper’s brass telescope"
LATER_CHAPTERS = "".join(
    f"\n# Chapter {n}: The Lamp Room, floor {n}\n\n"
    + "The keeper polished the brass rail, and the old telescope stood by the window. " * 3
    + "\n\nGulls turned above the breakwater while the tide came in over the sand. " * (12 if n == 9 else 2)
    + (f"\n\nAt dusk she lifted {PHRASE} and found the boat.\n" if n == 9 else "\n")
    for n in range(3, 11)
)


@pytest.fixture(scope="module")
def harbour(site) -> dict[str, Any]:
    """The every-feature book (a footnote, formatting across words, a heading with an umlaut), with
    eight chapters more, published."""
    files = corpus.files_of(corpus.full_markdown_zip())
    files["book/manuscript.md"] = (corpus.FULL_MARKDOWN + LATER_CHAPTERS).encode()
    return published_book(site, corpus.zip_of(files), "harbour.zip")


def test_the_page_script_reads_the_words_the_index_holds(site, browser, harbour) -> None:
    """The index is made in Python and read with words cut by the page script: both must cut
    every chapter of every kind of book into the same words."""
    host, _ = site
    page = browser.new_page()
    for language in ("en", "tr"):
        cut = page.evaluate(
            f"([strings, language]) => {{ {WORDS_JS}\n"
            "return strings.map((s) => quireText.words(s, language).map((found) => found.word)); }",
            [list(STRINGS), language],
        )
        assert cut == [words(text, language) for text in STRINGS]
    base = host.base_url + harbour["links"]["app"]
    served = {SEARCH_INDEX: page.request.get(base + SEARCH_INDEX).body()}
    chapters = [chapter["href"] for chapter in read_index(served[SEARCH_INDEX])["chapters"]]
    served.update({path: page.request.get(base + path).body() for path in chapters})
    for name, files in [("every feature", served), *((name, convert_good_book(name).app_files) for name in BOOKS)]:
        index = read_index(files[SEARCH_INDEX])
        pages = [files[chapter["href"]].decode("utf-8") for chapter in index["chapters"]]
        assert page.evaluate(ARTICLE_WORDS, [pages, index["language"]]) == index["text"], name
    page.close()


def hit_in_view(page: Any) -> bool:
    return page.evaluate(
        "(() => { const r = document.getElementById('search-hit').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight; })()"
    )


def test_searching_offline_lands_on_the_hit_marked(site, browser, harbour) -> None:
    host, _ = site
    job = harbour
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    base = host.base_url + job["links"]["app"]
    page.goto(base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now the page is controlled by the service worker, which has cached the whole book
    assert page.evaluate("navigator.serviceWorker.controller !== null")

    context.set_offline(True)
    page.goto(base)
    loaded = "performance.getEntriesByType('resource').map((entry) => entry.name)"
    assert not any(SEARCH_INDEX in name for name in page.evaluate(loaded))  # not until the reader searches
    page.fill("#search-q", "Stormy NIGHT")
    page.press("#search-q", "Enter")
    page.wait_for_selector("#search-hits .snippet mark")
    assert "search.html?q=Stormy%20NIGHT" in page.url
    assert any(SEARCH_INDEX in name for name in page.evaluate(loaded))
    assert page.inner_text("#search-status") == "1 hit in 1 chapter."
    hit = page.locator("#search-hits a").first
    assert hit.locator(".hit-chapter").inner_text() == "Chapter 1: The Quay — Zürich"
    assert hit.locator("mark").inner_text() == "stormy night"
    assert "It was a dark and" in hit.inner_text()

    hit.click()
    page.wait_for_selector("mark#search-hit")
    assert "chapters/ch002.html?q=" in page.url
    marked = page.eval_on_selector_all("mark.search-hit", "marks => marks.map((m) => m.textContent).join('')")
    assert marked == "stormy night"  # across the <strong> and the text after it
    assert page.evaluate("document.activeElement.id") == "search-hit"
    assert hit_in_view(page)

    # Diacritics folded; a hit in a footnote, far down the page; then nothing to find.
    page.goto(base + "search.html?q=zurich")
    page.wait_for_selector("#search-hits .snippet mark")
    assert page.inner_text("#search-hits mark") == "Zürich"
    page.goto(base + "search.html?q=storm%20of%201887")
    page.wait_for_selector("#search-hits .snippet mark")
    page.click("#search-hits a")
    page.wait_for_selector("mark#search-hit")
    assert page.evaluate("document.getElementById('search-hit').closest('aside').id") == "c2-fn1"
    assert hit_in_view(page)
    # A phrase whose words are in every chapter, found in chapter 9 alone, lands there, in view.
    page.goto(base + "search.html?q=" + quote("Keeper's BRASS telescope"))
    page.wait_for_selector("#search-hits .snippet mark")
    assert page.inner_text("#search-status") == "1 hit in 1 chapter."
    assert page.inner_text("#search-hits .hit-chapter") == "Chapter 9: The Lamp Room, floor 9"
    page.click("#search-hits a")
    page.wait_for_selector("mark#search-hit")
    assert "chapters/ch010.html?q=" in page.url
    marked = page.eval_on_selector_all("mark.search-hit", "marks => marks.map((m) => m.textContent).join('')")
    assert marked == "keeper’s brass telescope"
    assert page.evaluate("scrollY") > 0  # the hit is below the first screen: the page moved to it
    assert page.evaluate("document.activeElement.id") == "search-hit"
    assert hit_in_view(page)
    page.goto(base + "search.html?q=submarine")
    page.wait_for_function("document.getElementById('search-status').textContent.startsWith('Nothing')")
    assert page.inner_text("#search-status") == "Nothing found for “submarine”."
    assert page.locator("#search-hits li").count() == 0
    context.close()


def test_a_footnote_opens_in_a_dialog_and_closes_with_escape(site, browser, harbour) -> None:
    host, _ = site
    job = harbour
    chapter = host.base_url + job["links"]["app"] + "chapters/ch002.html"
    page = browser.new_page(viewport=PHONE)
    page.goto(chapter)
    reference = page.locator("a[role=doc-noteref]").first
    dialog = page.get_by_role("dialog", name="Note 1")

    reference.click()
    dialog.wait_for(state="visible")
    assert page.evaluate("document.querySelector('dialog.note-dialog').matches(':modal')")
    assert "The storm of 1887" in dialog.inner_text()
    assert page.url == chapter  # the reader stays where they were reading
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "doc-noteref"

    reference.click()  # a tap outside closes it too
    dialog.wait_for(state="visible")
    page.mouse.click(4, 4)
    dialog.wait_for(state="hidden")

    reference.click()  # and it leads to the note itself
    dialog.wait_for(state="visible")
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden")
    reference.click()
    dialog.get_by_role("link", name="Go to note").click()
    dialog.wait_for(state="hidden")
    assert page.url.endswith("#c2-fn1")
    page.close()

    # Without the script, the reference is the plain link it always was.
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    plain = context.new_page()
    plain.goto(chapter)
    plain.click("a[role=doc-noteref]")
    assert plain.url.endswith("#c2-fn1")
    assert plain.locator("dialog").count() == 0
    context.close()
