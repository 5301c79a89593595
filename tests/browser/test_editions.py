"""An installed web-app book moves to a new edition in Chromium: offered, cached whole, read offline,
the reader's place kept."""

from __future__ import annotations

from tests.browser.conftest import PHONE, wait_for_saved_place
from tests.pipeline_support import create_book, follow, publish_edition

LONG = "\n\n".join(f"Paragraph {n} of the quay, where the ropes creak and the gulls wait." for n in range(80))


def manuscript(edition: str, with_third_chapter: bool) -> bytes:
    text = (
        f"---\ntitle: Quay Book\n---\n# Arrival\n\nThe {edition} begins here.\n\n"
        f"# The Long Quay\n\nThe {edition} of the quay.\n\n{LONG}\n"
    )
    if with_third_chapter:
        text += "\n# Departure\n\nThe boats leave.\n"
    return text.encode()


def test_an_installed_book_offers_the_new_edition_and_keeps_the_readers_place(site, browser) -> None:
    host, _ = site
    book, key = create_book(host.base_url, manuscript("first edition", with_third_chapter=True), "quay.md")
    assert follow(host.base_url, book, timeout=60)["status"] == "succeeded"
    base = f"{host.base_url}/api/books/{book}/app/"

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(base)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.goto(base + "chapters/ch002.html")
    assert page.evaluate("navigator.serviceWorker.controller !== null")

    # Offline, edition 1 reads from the device.
    context.set_offline(True)
    page.goto(base + "chapters/ch003.html")
    assert "The boats leave." in page.inner_text("main")
    page.goto(base + "chapters/ch002.html")
    assert "The first edition of the quay." in page.inner_text("main")
    page.evaluate("window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) / 2)")
    wait_for_saved_place(page)
    context.set_offline(False)

    # The author publishes edition 2, with release notes: the second chapter changed, the third is gone.
    notes = "Tides <corrected>.\n\nThanks, readers."
    second = publish_edition(
        host.base_url,
        book,
        key,
        manuscript("second edition", with_third_chapter=False),
        "quay.md",
        release_notes=notes,
    )
    assert follow(host.base_url, second, timeout=60)["status"] == "succeeded"
    # The book's regular check (on launch, then every 15 minutes while open), run now.
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    offer = page.wait_for_selector("#edition-offer", timeout=30_000)
    assert "A new edition is available" in offer.inner_text()
    # The offer shows the notes (as text) and the changed chapters, read from the waiting edition's cache.
    page.wait_for_selector("#edition-offer .edition-changes", timeout=30_000)
    assert page.eval_on_selector_all(".edition-notes", "ps => ps.map(p => p.textContent)") == [
        "Tides <corrected>.",
        "Thanks, readers.",
    ]
    chapters = page.eval_on_selector_all(
        ".edition-chapters li", "lis => lis.map(li => [li.textContent, li.querySelector('a')?.href ?? null])"
    )
    # "Arrival": 1 of its 6 words changed, on each side; "The Long Quay": 1 of its 1,000-odd.
    assert [text for text, _ in chapters[:2]] == ["Arrival (17% changed)", "The Long Quay (1% changed)"], chapters
    assert [href for _, href in chapters] == [base + "chapters/ch001.html", base + "chapters/ch002.html", None]
    assert chapters[2][0] == "Departure (removed)"
    assert "The first edition of the quay." in page.inner_text("main")  # nothing changes until the reader says

    with page.expect_navigation():
        page.click("#edition-offer button")
    page.wait_for_load_state("load")
    assert page.url == base + "chapters/ch002.html"
    assert "The second edition of the quay." in page.inner_text("main")
    fraction = page.evaluate("scrollY / (document.documentElement.scrollHeight - innerHeight)")
    assert 0.3 < fraction < 0.7, fraction  # the same place in the chapter

    # Offline again: edition 2 reads whole from the device, and the removed chapter leads to the one before.
    context.set_offline(True)
    page.goto(base + "chapters/ch001.html")
    assert "The second edition begins here." in page.inner_text("main")
    page.goto(base + "chapters/ch003.html")
    assert page.url == base + "chapters/ch002.html"
    assert "The second edition of the quay." in page.inner_text("main")

    # Edition 3 brings the third chapter back: its link in the offer takes the edition and opens it.
    context.set_offline(False)
    third = publish_edition(host.base_url, book, key, manuscript("third edition", with_third_chapter=True), "quay.md")
    assert follow(host.base_url, third, timeout=60)["status"] == "succeeded"
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    link = page.wait_for_selector(".edition-chapters a[href$='chapters/ch003.html']", timeout=30_000)
    assert link.inner_text() == "Departure" and page.is_hidden(".edition-notes")  # no notes this time
    with page.expect_navigation(url=base + "chapters/ch003.html"):
        link.click()
    assert "The boats leave." in page.inner_text("main")
    page.goto(base + "chapters/ch001.html")
    assert "The third edition begins here." in page.inner_text("main")  # the whole edition moved
    context.close()


def test_the_upload_page_creates_a_book_publishes_an_edition_and_deletes_it(site, browser, tmp_path) -> None:
    host, _ = site
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{host.base_url}/api/")
    assert page.is_hidden("#my-books")

    first = tmp_path / "quay.md"
    first.write_bytes(manuscript("first edition", with_third_chapter=True))
    page.set_input_files("#file", str(first))
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])", timeout=60_000)
    owner_key = page.inner_text("#owner-key")
    assert owner_key.startswith("quire_owner_") and page.is_visible("#owner-key-box")
    with page.expect_download() as download:
        page.click("#download-key")
    assert owner_key in download.value.path().read_text()
    app_link = page.get_attribute("#open-app", "href")
    assert app_link and app_link.endswith("/app/")
    book = app_link.split("/")[3]
    assert page.inner_text("#my-books-list").startswith("Quay Book")  # the title, once converted

    # A new edition of the same book, from this device: the key goes with it, and no new key is shown.
    page.reload()
    page.select_option("#book", book)
    second = tmp_path / "quay-2.md"
    second.write_bytes(manuscript("second edition", with_third_chapter=False))
    page.set_input_files("#file", str(second))
    page.fill("#release_notes", "The quay, revised.\n\nThanks for reading.")
    page.click("#submit")
    page.wait_for_selector("#done:not([hidden])", timeout=60_000)
    assert page.is_hidden("#owner-key-box")
    published = page.context.request.get(f"{host.base_url}/api/books/{book}").json()
    assert published["release_notes"] == "The quay, revised.\n\nThanks for reading."
    assert published["changes"]["removed"] == [{"title": "Departure"}]
    assert page.get_attribute("#open-app", "href") == app_link  # the same address, now edition 2
    chapter = page.context.request.get(f"{host.base_url}{app_link}chapters/ch002.html").text()
    assert "The second edition of the quay." in chapter

    # Deleting asks first; dismissing keeps the book.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#my-books-list button.danger")
    assert page.context.request.get(f"{host.base_url}{app_link}").status == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#my-books-list button.danger")
    page.wait_for_selector("#my-books", state="hidden")
    assert page.is_visible("#my-books-status") and "was deleted" in page.inner_text("#my-books-status")
    assert page.context.request.get(f"{host.base_url}{app_link}").status == 410
    assert console == [], console
    context.close()
