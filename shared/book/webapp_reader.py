"""The web-app book's reader settings and read-aloud: their markup here, their scripts and
stylesheet in webapp_files/ (plain JS and CSS, no build step), all shipped as files of the book.

Settings (text size 80–200 %, line spacing, margins, serif or sans, a theme: the system's, light,
sepia or dark) are kept on the device in localStorage, one set for every Quire book, and put on
<html> as data attributes by a small synchronous script in <head> (`js/settings.js`), so the first
paint already has them; the stylesheet (`css/reader.css`) is keyed on those attributes. The panel's
own script is `js/reader.js`. No inline script or style: the pages' CSP has no 'unsafe-inline'.

Read aloud (`js/listen.js`): a Listen button in a chapter's sticky header reads the chapter with the
browser's own speech synthesis (nothing is generated on the server) in the book's language, with
the voice and speed the reader picks (kept on the device). It reads sentence by sentence
(Intl.Segmenter in the book's language, block by block: a heading, a paragraph, a list item, a cell),
marks the sentence being read (the CSS Custom Highlight API, else an outline round its block) and
keeps it in view; it leaves footnote markers out, reads an image by its description and a formula by
its text form (its alttext, else its TeX or plain-text annotation). Pause stops the voice and Resume
starts again at the word it had reached (from the voice's word boundaries), which works in every
browser, unlike speechSynthesis.pause(). At a chapter's end the next chapter opens and goes on
reading (a flag in sessionStorage). A browser with no voice for the book's language says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.book.styles import APP_CSS

FILES = Path(__file__).parent / "webapp_files"

SETTINGS_KEY = "quire:reader-settings"
# Every setting, its choices (the first is the default) and their labels in the panel.
TEXT_SIZES = [str(size) for size in range(80, 201, 10)]
SPACINGS = {
    "normal": ("Normal", "1.6"),
    "tight": ("Tight", "1.4"),
    "relaxed": ("Relaxed", "1.9"),
    "loose": ("Loose", "2.2"),
}
MARGINS = {"normal": "Normal", "narrow": "Narrow", "wide": "Wide"}
FONTS = {"serif": "Serif", "sans": "Sans-serif"}
THEMES = {"system": "As the system", "light": "Light", "sepia": "Sepia", "dark": "Dark"}
CHOICES = {
    "size": ["100", *(size for size in TEXT_SIZES if size != "100")],
    "spacing": list(SPACINGS),
    "margins": list(MARGINS),
    "font": list(FONTS),
    "theme": list(THEMES),
}

SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif'
SEPIA = {
    "--fg": "#3b2f20", "--bg": "#f4ecd8", "--muted": "#655846", "--accent": "#87460f", "--rule": "#d6c7a6",
}  # fmt: skip


def _theme_variables() -> tuple[str, str]:
    """The light and dark colours of APP_CSS (its :root, and its :root for a dark system), so a theme
    chosen by the reader is the same palette as the system's."""
    light = re.search(r":root \{ color-scheme: light dark; (.*?)\}", APP_CSS, re.S)
    dark = re.search(r"@media \(prefers-color-scheme: dark\) \{\s*:root \{ (.*?)\}", APP_CSS, re.S)
    assert light and dark, "APP_CSS no longer has its light and dark :root blocks"
    return " ".join(light.group(1).split()), " ".join(dark.group(1).split())


def _option(value: str, label: str, chosen: str) -> str:
    return f'<option value="{value}"{" selected" if value == chosen else ""}>{label}</option>'


def _radios(name: str, choices: dict[str, str]) -> str:
    first = next(iter(choices))
    return "".join(
        f'<label><input type="radio" name="{name}" value="{value}"{" checked" if value == first else ""}> {label}</label>'
        for value, label in choices.items()
    )


SETTINGS_PANEL = (
    '<details class="reader-settings"><summary>Reading settings</summary>'
    '<div class="settings-form" id="reader-settings" role="group" aria-label="Reading settings">'
    '<p><label for="set-size">Text size</label>'
    '<input type="range" id="set-size" name="size" min="80" max="200" step="10" value="100" aria-valuetext="100 %">'
    '<output id="set-size-value" for="set-size">100 %</output></p>'
    '<p><label for="set-spacing">Line spacing</label><select id="set-spacing" name="spacing">'
    + "".join(_option(value, label, "normal") for value, (label, _) in SPACINGS.items())
    + '</select></p><p><label for="set-margins">Margins</label><select id="set-margins" name="margins">'
    + "".join(_option(value, label, "normal") for value, label in MARGINS.items())
    + "</select></p>"
    f"<fieldset><legend>Typeface</legend>{_radios('font', FONTS)}</fieldset>"
    f"<fieldset><legend>Theme</legend>{_radios('theme', THEMES)}</fieldset>"
    '<p><button type="button" id="set-reset">Reset to defaults</button></p>'
    "</div></details>"
)

RATES = ["0.5", "0.75", "1", "1.25", "1.5", "1.75", "2"]
LISTEN_KEY = "quire:listen"

LISTEN_BAR = (
    '<div class="listen-bar" id="listen-bar" role="region" aria-label="Read aloud" hidden>'
    '<button type="button" id="listen-pause">Pause</button>'
    '<button type="button" id="listen-stop">Stop</button>'
    '<label>Voice <select id="listen-voice"></select></label>'
    '<label>Speed <select id="listen-rate">'
    + "".join(_option(rate, f"{rate}×", "1") for rate in RATES)
    + "</select></label></div>"
)


def reader_head(root: str) -> str:
    """For every page's <head>: the stylesheet, the settings applied before the first paint (a
    synchronous script: it runs before anything is drawn), and the panel's and read-aloud's scripts."""
    return (
        f'<link rel="stylesheet" href="{root}css/reader.css">\n'
        f'<script src="{root}js/settings.js"></script>\n'
        f'<script src="{root}js/reader.js" defer></script>\n'
        f'<script src="{root}js/listen.js" defer></script>\n'
    )


def reader_tools() -> str:
    """The settings panel, at the top of a page's text (the index's, a chapter's)."""
    return f'<div class="reader-tools">{SETTINGS_PANEL}</div>\n'


def listen_controls() -> str:
    """For a chapter's sticky header, at hand wherever the reader is: the Listen button, the
    read-aloud controls (at the foot of the screen while reading) and its messages."""
    return (
        '<button type="button" class="listen" id="listen" aria-controls="listen-bar" aria-expanded="false">Listen</button>'
        f'{LISTEN_BAR}<p class="listen-status" id="listen-status" role="status"></p>'
    )


def reader_css() -> str:
    light, dark = _theme_variables()
    sepia = " ".join(f"{name}: {value};" for name, value in SEPIA.items())
    sizes = "".join(f'html[data-size="{size}"] {{ font-size: {size}%; }}\n' for size in TEXT_SIZES if size != "100")
    spacings = "".join(
        f'html[data-spacing="{name}"] body {{ line-height: {value}; }}\n' for name, (_, value) in SPACINGS.items()
    )
    return (
        "/* Reader settings: attributes put on <html> before the first paint by js/settings.js. */\n"
        f'html[data-theme="light"] {{ color-scheme: light; {light} }}\n'
        f'html[data-theme="sepia"] {{ color-scheme: light; {sepia} }}\n'
        f'html[data-theme="dark"] {{ color-scheme: dark; {dark} }}\n'
        f"{sizes}{spacings}"
        f'html[data-font="sans"] body {{ font-family: {SANS}; }}\n' + (FILES / "reader.css").read_text(encoding="utf-8")
    )


def reader_files() -> dict[str, bytes]:
    """The settings' and read-aloud's files, by path in the book."""
    choices = json.dumps(CHOICES)

    def script(name: str) -> bytes:
        text = (FILES / name).read_text(encoding="utf-8")
        for key, value in (("__CHOICES__", choices), ("__KEY__", SETTINGS_KEY), ("__LISTEN_KEY__", LISTEN_KEY)):
            text = text.replace(key, value)
        return text.replace("__RATES__", json.dumps(RATES)).encode("utf-8")

    return {
        "css/reader.css": reader_css().encode("utf-8"),
        "js/settings.js": script("settings.js"),
        "js/reader.js": script("panel.js"),
        "js/listen.js": script("listen.js"),
    }
