"""The web-app book's reader settings and read-aloud, in Chromium.

Settings: kept across reloads and pages, on <html> before the first frame is drawn, every control
worked from the keyboard, and no sideways scrolling at 320 CSS px with text at 200 % (WCAG 1.4.10).

Read aloud: Debian's headless Chromium has no speech voices, so these tests put a stand-in speech
engine in the page (FAKE_SPEECH, an init script): it lists voices, records every utterance the page
hands to speechSynthesis.speak, and fires their boundary and end events when the test says. What a
real voice adds, which this cannot check: that it pronounces the text, that its boundary events come
at the words, and that the browser lets the next chapter go on speaking without a new click.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import book_corpus as corpus
from tests.browser.conftest import PHONE
from tests.browser.test_axe import serious_violations
from tests.browser.test_browser import published_book

SETTINGS_KEY = "quire:reader-settings"

FAKE_SPEECH = """
(() => {
  const spoken = [];
  const log = [];
  const voices = window.__fakeVoices || [
    { name: 'Test English', lang: 'en-GB', default: true, localService: true, voiceURI: 'test-en-gb' },
    { name: 'Test American', lang: 'en-US', default: false, localService: true, voiceURI: 'test-en-us' },
    { name: 'Test German', lang: 'de-DE', default: false, localService: true, voiceURI: 'test-de' },
  ];
  // A real utterance takes only a real SpeechSynthesisVoice, which a page cannot make.
  class Utterance extends window.SpeechSynthesisUtterance {
    get voice() { return this._voice || null; }
    set voice(value) { this._voice = value; }
  }
  window.SpeechSynthesisUtterance = Utterance;
  const synth = window.speechSynthesis;
  let queue = [];
  synth.getVoices = () => voices;
  synth.speak = (u) => {
    spoken.push({ text: u.text, lang: u.lang, voice: u.voice && u.voice.name, rate: u.rate });
    log.push('speak');
    queue.push(u);
  };
  synth.cancel = () => {
    log.push('cancel');
    const gone = queue;
    queue = [];
    gone.forEach((u) => u.dispatchEvent(new SpeechSynthesisErrorEvent('error', { utterance: u, error: 'interrupted' })));
  };
  synth.pause = () => log.push('pause');
  synth.resume = () => log.push('resume');
  Object.defineProperty(synth, 'speaking', { get: () => queue.length > 0 });
  Object.defineProperty(synth, 'pending', { get: () => queue.length > 1 });
  window.__speech = {
    spoken, log,
    boundary(charIndex) {
      const u = queue[0];
      u.dispatchEvent(new SpeechSynthesisEvent('boundary', { utterance: u, charIndex, name: 'word' }));
    },
    end() {
      const u = queue.shift();
      if (u) { u.dispatchEvent(new SpeechSynthesisEvent('end', { utterance: u, charIndex: u.text.length })); }
      return !!u;
    },
    highlighted() {
      const marked = CSS.highlights.get('quire-listen');
      return marked ? Array.from(marked).map((range) => range.toString().replace(/\\s+/g, ' ')) : [];
    },
    // The sentence being read lies between the sticky header and the read-aloud bar.
    inView() {
      const marked = CSS.highlights.get('quire-listen');
      if (!marked) { return false; }
      const rect = Array.from(marked)[0].getBoundingClientRect();
      const top = document.querySelector('header.bar').getBoundingClientRect().bottom;
      const bottom = innerHeight - document.getElementById('listen-bar').offsetHeight;
      return rect.top >= top - 1 && rect.bottom <= bottom + 1;
    },
  };
})();
"""
ONLY_GERMAN = "window.__fakeVoices = [{ name: 'Test German', lang: 'de-DE', default: true, localService: true }];"

# What the page has when its first frame is drawn, and at DOMContentLoaded.
FIRST_FRAMES = """
window.__frames = [];
(() => {
  const sample = (when) => {
    const html = document.documentElement, body = document.body;
    if (!html) { return false; }
    window.__frames.push({
      when, body: !!body, theme: html.dataset.theme || null, size: html.dataset.size || null,
      font: body ? getComputedStyle(body).fontFamily : null,
      background: body ? getComputedStyle(body).backgroundColor : null,
      fontSize: getComputedStyle(html).fontSize,
    });
    return !!body;
  };
  const frame = () => { if (!sample('frame')) { requestAnimationFrame(frame); } };
  requestAnimationFrame(frame);
  document.addEventListener('DOMContentLoaded', () => sample('DOMContentLoaded'));
})();
"""

LISTEN_MARKDOWN = """---
title: Listening Test
language: en-GB
---
# The First Chapter

The tide came in at dawn. Gulls cried over the quay! Did anyone hear them?[^gull] Nobody answered.

![A lighthouse on a rock](images/lighthouse.jpg)

The harbour's area is $\\pi r^2$ by the old survey.

{long}

The last words of the first chapter.

[^gull]: Herring gulls, mostly.

# The Second Chapter

Night fell on the harbour. The lamps were lit.

# The Third Chapter

The end came quietly.
"""
LONG = "\n\n".join(
    f"Paragraph {n} tells of boats and nets and weather. It goes on for a while, so that the page scrolls."
    for n in range(1, 25)
)


@pytest.fixture(scope="module")
def listening_book(site) -> dict[str, Any]:
    manuscript = LISTEN_MARKDOWN.replace("{long}", LONG).encode()
    data = corpus.zip_of({"book/manuscript.md": manuscript, "book/images/lighthouse.jpg": corpus.photo_jpeg(800, 600)})
    return published_book(site, data, "listening.zip")


@pytest.fixture(scope="module")
def harbour_book(site) -> dict[str, Any]:
    # Code and a table wider than a phone, footnotes, images.
    return published_book(site, corpus.full_markdown_zip(), "harbour.zip")


def chapter_urls(page: Any, base: str) -> list[str]:
    page.goto(base)
    return page.eval_on_selector_all("nav.toc > ol > li > a", "links => links.map(a => a.href.split('#')[0])")


def settings_of(page: Any) -> dict[str, str]:
    return json.loads(page.evaluate(f"localStorage.getItem('{SETTINGS_KEY}') || '{{}}'"))


def test_settings_by_keyboard_kept_and_applied_before_the_first_frame(
    site, browser, harbour_book, artifacts: Path
) -> None:
    host, _ = site
    base = host.base_url + harbour_book["links"]["app"]
    # No service worker, so that the test's own route below answers for the settings script.
    context = browser.new_context(viewport=PHONE, color_scheme="light", service_workers="block")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base)
    # The contents list titles only: an <ol> still (a list to a screen reader), with no numbers.
    assert page.eval_on_selector("nav.toc ol", "ol => getComputedStyle(ol).listStyleType") == "none"
    assert page.eval_on_selector("nav.toc > ol > li", "li => getComputedStyle(li).display") == "list-item"

    # Every control from the keyboard: open the panel, then Tab from one to the next.
    page.focus("details.reader-settings > summary")
    page.keyboard.press("Enter")
    assert page.eval_on_selector("details.reader-settings", "d => d.open")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "set-size"
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert page.get_attribute("#set-size", "aria-valuetext") == "150 %"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "set-spacing"
    page.keyboard.press("End")  # the last choice: loose
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "set-margins"
    page.keyboard.press("End")  # wide
    page.keyboard.press("Tab")  # into the typeface radio group, at its checked radio
    page.keyboard.press("ArrowRight")  # sans-serif
    page.keyboard.press("Tab")  # into the theme group
    page.keyboard.press("ArrowRight")  # light
    page.keyboard.press("ArrowRight")  # sepia
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "set-reset"
    page.keyboard.press("Escape")  # closes the panel, back on its summary
    assert not page.eval_on_selector("details.reader-settings", "d => d.open")
    assert page.evaluate("document.activeElement.localName") == "summary"
    chosen = {"size": "150", "spacing": "loose", "margins": "wide", "font": "sans", "theme": "sepia"}
    assert {k: settings_of(page).get(k) for k in chosen} == chosen
    assert {k: page.get_attribute("html", f"data-{k}") for k in chosen} == chosen
    sepia = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sepia == "rgb(244, 236, 216)"
    page.screenshot(path=str(artifacts / "reader-settings-sepia-phone.png"))

    # Kept across a reload and on every page, and there from the first frame drawn.
    page.add_init_script(FIRST_FRAMES)
    for path in ("", "chapters/ch002.html", "updates.html"):
        page.goto(base + path)
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.__frames.some(f => f.when === 'frame' && f.body)")
        frames = page.evaluate("window.__frames")
        drawn = [f for f in frames if f["when"] == "DOMContentLoaded" or f["body"]]
        assert drawn and all(
            f["theme"] == "sepia"
            and f["size"] == "150"
            and f["background"] == sepia
            and f["fontSize"] == "24px"
            and f["font"].startswith("system-ui")
            for f in drawn
        ), (path, frames)
    page.goto(base + "chapters/ch002.html")
    page.reload()
    assert page.get_attribute("html", "data-theme") == "sepia"
    assert page.eval_on_selector('input[name="theme"][value="sepia"]', "r => r.checked")
    assert page.input_value("#set-size") == "150"

    # The check can fail: with the settings applied only later (no head script), the first frame is plain.
    context.route("**/js/settings.js", lambda route: route.fulfill(status=200, content_type="text/javascript", body=""))
    page.goto(base + "chapters/ch002.html?unscripted")
    page.wait_for_function("() => window.__frames.some(f => f.when === 'frame' && f.body)")
    first = next(f for f in page.evaluate("window.__frames") if f["body"])
    assert first["background"] != sepia and first["fontSize"] == "16px"
    context.unroute("**/js/settings.js")

    # The system's dark scheme is followed by "As the system" and overridden by a chosen theme.
    page.goto(base)
    page.emulate_media(color_scheme="dark")
    page.click("details.reader-settings > summary")
    page.check('input[name="theme"][value="system"]')
    system_dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.check('input[name="theme"][value="light"]')
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(251, 248, 242)"
    page.emulate_media(color_scheme="light")
    page.check('input[name="theme"][value="dark"]')
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == system_dark == "rgb(22, 21, 20)"
    page.click("#set-reset")
    assert settings_of(page)["theme"] == "system" and page.get_attribute("html", "data-size") == "100"
    assert errors == []
    context.close()


def test_no_sideways_scrolling_at_320_px_with_text_at_200_percent(site, browser, harbour_book, artifacts: Path) -> None:
    host, _ = site
    base = host.base_url + harbour_book["links"]["app"]
    context = browser.new_context(viewport={"width": 320, "height": 640})
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    page.goto(base)
    every_page = ("", "chapters/ch001.html", "chapters/ch002.html", "chapters/ch003.html", "updates.html")
    overflowing: dict[str, int] = {}
    # Every page with the usual margins; the widest chapter (code, a table) with the others too.
    for margins, paths in (
        ("normal", every_page),
        ("narrow", ("chapters/ch002.html",)),
        ("wide", ("chapters/ch002.html",)),
    ):
        chosen = {"size": "200", "margins": margins, "spacing": "loose"}
        page.evaluate("([key, chosen]) => localStorage.setItem(key, JSON.stringify(chosen))", [SETTINGS_KEY, chosen])
        for path in paths:
            page.goto(base + path)
            page.wait_for_load_state("load")
            assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "32px"
            if path != "updates.html":
                page.click("details.reader-settings > summary")  # the open panel too
            if path.startswith("chapters/"):
                page.click("#listen")  # and the read-aloud bar
                page.wait_for_selector("#listen-bar:not([hidden])")
            if path == "chapters/ch002.html" and margins == "normal":
                page.screenshot(path=str(artifacts / "reader-320px-200-percent.png"))
            width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if width > 0:
                overflowing[f"{path} ({margins} margins)"] = width
    context.close()
    assert overflowing == {}


def start_listening(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    page.click("#listen")
    page.wait_for_function("() => __speech.spoken.length > 0")


def last_spoken(page: Any) -> dict[str, Any]:
    return page.evaluate("__speech.spoken.at(-1)")


def advance(page: Any) -> dict[str, Any]:
    """The current utterance ends; the next one is what the page speaks then."""
    count = page.evaluate("__speech.spoken.length")
    assert page.evaluate("__speech.end()")
    page.wait_for_function(f"() => __speech.spoken.length > {count}")
    return last_spoken(page)


def test_read_aloud_sentence_by_sentence_into_the_next_chapter(site, browser, listening_book) -> None:
    host, _ = site
    base = host.base_url + listening_book["links"]["app"]
    context = browser.new_context(viewport={"width": 390, "height": 600}, reduced_motion="reduce")
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    first, second, third = chapter_urls(page, base)
    start_listening(page, first)
    assert page.is_visible("#listen-bar")
    assert page.evaluate("document.activeElement.id") == "listen-pause"  # the controls, from the keyboard
    assert page.get_attribute("#listen", "aria-expanded") == "true"
    spoken = last_spoken(page)
    # In the book's language, with a voice for it (the book's own region first).
    assert spoken == {"text": "The First Chapter", "lang": "en-GB", "voice": "Test English", "rate": 1}
    assert page.evaluate("__speech.highlighted()") == ["The First Chapter"]
    sentences = [advance(page)["text"] for _ in range(6)]
    assert sentences == [
        "The tide came in at dawn.",
        "Gulls cried over the quay!",
        "Did anyone hear them?",  # the footnote marker after it is not read
        "Nobody answered.",
        "A lighthouse on a rock",  # the image, by its description
        "The harbour’s area is pi r 2 by the old survey.",  # the formula, by its text form (TeX)
    ]
    marked = page.evaluate("__speech.highlighted()")
    assert marked == ["The harbour’s area is πr2 by the old survey."]  # the formula marked with it

    # Paused mid-sentence and resumed from the word it had reached.
    spoken = advance(page)
    assert spoken["text"] == "Paragraph 1 tells of boats and nets and weather."
    page.evaluate("__speech.boundary(21)")  # "boats"
    page.click("#listen-pause")
    assert page.inner_text("#listen-pause") == "Resume"
    assert page.evaluate("__speech.log.at(-1)") == "cancel"
    page.click("#listen-pause")
    assert last_spoken(page)["text"] == "boats and nets and weather."
    assert page.inner_text("#listen-pause") == "Pause"

    # The reader's speed and voice, used at once and kept for next time.
    page.select_option("#listen-rate", "1.5")
    page.select_option("#listen-voice", label="Test American (en-US)")
    spoken = last_spoken(page)
    assert spoken["rate"] == 1.5 and spoken["voice"] == "Test American"
    assert spoken["text"] == "boats and nets and weather."
    kept = json.loads(page.evaluate("localStorage.getItem('quire:listen')"))
    assert kept == {"rate": "1.5", "voice": "Test American"}
    # No German voice for an English book.
    voices = page.eval_on_selector_all("#listen-voice option", "os => os.map(o => o.textContent)")
    assert voices == ["Test English (en-GB)", "Test American (en-US)"]

    # The sentence being read is kept in view, between the sticky header and the controls.
    before = page.evaluate("scrollY")
    spoken = advance(page)
    while not spoken["text"].startswith("Paragraph 12 "):
        spoken = advance(page)
        page.wait_for_function("() => __speech.inView()")
    assert page.evaluate("scrollY") > before
    assert page.evaluate("__speech.highlighted()") == [spoken["text"]]

    # The chapter's end: on into the next chapter, which goes on reading by itself.
    while not spoken["text"].startswith("The last words"):
        spoken = advance(page)
    # The note, after the chapter, with its number (its link back to the marker).
    assert [advance(page)["text"] for _ in range(2)] == ["1.", "Herring gulls, mostly."]
    page.evaluate("__speech.end()")
    page.wait_for_url(second)
    page.wait_for_function("() => __speech.spoken.length > 0")
    assert last_spoken(page) == {"text": "The Second Chapter", "lang": "en-GB", "voice": "Test American", "rate": 1.5}
    assert page.is_visible("#listen-bar")
    assert [advance(page)["text"] for _ in range(2)] == ["Night fell on the harbour.", "The lamps were lit."]
    page.evaluate("__speech.end()")
    page.wait_for_url(third)
    page.wait_for_function("() => __speech.spoken.length > 0")
    assert advance(page)["text"] == "The end came quietly."
    page.evaluate("__speech.end()")
    page.wait_for_function("() => document.getElementById('listen-bar').hidden")
    assert page.inner_text("#listen-status") == "The end of the book."
    assert page.evaluate("__speech.highlighted()") == []

    # Stop, and Listen from where the reader has scrolled to.
    page.goto(first)
    page.evaluate("document.querySelectorAll('article p')[14].scrollIntoView()")
    page.click("#listen", no_wait_after=True)
    page.wait_for_function("() => __speech.spoken.length > 0")
    spoken = last_spoken(page)
    assert spoken["text"].startswith(("Paragraph 1", "It goes on")) and page.evaluate("scrollY") > 0
    assert page.evaluate("__speech.inView()")  # the first sentence on screen, not the chapter's first
    page.click("#listen-stop")
    assert page.is_hidden("#listen-bar") and page.evaluate("document.activeElement.id") == "listen"
    assert page.evaluate("__speech.highlighted()") == []

    # A browser without the CSS Custom Highlight API: the block being read is outlined instead.
    page.add_init_script("Object.defineProperty(window, 'Highlight', { value: undefined })")
    start_listening(page, second)
    assert page.eval_on_selector_all(".listen-current", "els => els.map(e => e.localName)") == ["h1"]
    advance(page)
    assert page.eval_on_selector_all(".listen-current", "els => els.map(e => e.textContent)") == [
        "Night fell on the harbour. The lamps were lit."
    ]
    page.click("#listen-stop")
    assert page.query_selector(".listen-current") is None
    assert errors == []
    context.close()


def test_read_aloud_says_when_there_is_no_voice_for_the_language(site, browser, listening_book) -> None:
    host, _ = site
    base = host.base_url + listening_book["links"]["app"]
    context = browser.new_context(viewport=PHONE)
    context.add_init_script(ONLY_GERMAN)
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    first = chapter_urls(page, base)[0]
    page.goto(first)
    page.click("#listen")
    page.wait_for_function("() => document.getElementById('listen-status').textContent !== ''")
    message = page.inner_text("#listen-status")
    assert "no voice for British English" in message, message
    assert page.get_attribute("#listen-status", "role") == "status"
    assert page.evaluate("__speech.spoken") == [] and page.is_hidden("#listen-bar")
    context.close()

    # The browser's own speech engine: Debian's headless Chromium has no voices at all; one that has
    # an English voice starts reading.
    page = browser.new_page(viewport=PHONE)
    page.goto(first)
    page.click("#listen")
    page.wait_for_function(
        "() => document.getElementById('listen-status').textContent !== '' || !document.getElementById('listen-bar').hidden"
    )
    if page.is_hidden("#listen-bar"):
        assert "no voice for British English" in page.inner_text("#listen-status")
        assert (
            page.evaluate("speechSynthesis.getVoices().filter(v => v.lang.toLowerCase().startsWith('en')).length") == 0
        )
    page.close()


def test_axe_on_the_open_settings_and_read_aloud(site, browser, listening_book) -> None:
    host, _ = site
    base = host.base_url + listening_book["links"]["app"]
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    first = chapter_urls(page, base)[0]
    found: dict[str, list[str]] = {}
    for theme in ("light", "sepia", "dark"):
        page.evaluate("([key, theme]) => localStorage.setItem(key, JSON.stringify({theme}))", [SETTINGS_KEY, theme])
        page.goto(base)
        page.click("details.reader-settings > summary")
        found[f"index, {theme}"] = serious_violations(page)
        start_listening(page, first)
        page.click("details.reader-settings > summary")
        found[f"chapter, {theme}"] = serious_violations(page)
    context.close()
    assert found == {page: [] for page in found}
