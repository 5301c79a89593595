"""Stylesheets shipped inside the books. Plain CSS, no remote fonts, readable on small screens."""

from __future__ import annotations

# For e-readers: leave fonts and colours to the reader's settings; no background colours (Kobo).
EPUB_CSS = """\
body { margin: 0 5%; line-height: 1.5; }
h1, h2, h3 { line-height: 1.25; page-break-after: avoid; break-after: avoid; }
h1 { margin: 2em 0 1em; font-size: 1.6em; }
p { margin: 0; text-indent: 1.2em; }
h1 + p, h2 + p, h3 + p, blockquote p, aside p, .titlepage p, li p, hr + p, p.image { text-indent: 0; }
blockquote { margin: 1em 1.5em; font-style: italic; }
/* A Quarto callout (a note, a tip, a warning): set apart by a rule, its title in bold. */
.callout { margin: 1em 0; padding: 0 0.8em; border-left: 3px solid #888; } .callout p { text-indent: 0; }
pre { white-space: pre-wrap; font-size: 0.85em; margin: 1em 0; }
code { font-family: monospace, monospace; font-size: 0.9em; }
pre code { font-size: 1em; }
/* Highlighted code: shapes, not colours, so the reader's own themes stay readable. */
.tok-k, .tok-f { font-weight: bold; } .tok-c { font-style: italic; }
img { max-width: 100%; height: auto; }
td img, th img { max-width: 90vw; }
figure { margin: 1em 0; text-align: center; }
/* A formula wider than a phone scrolls sideways instead of being cut off. */
.math-display { margin: 1em 0; overflow-x: auto; max-width: 100%; text-align: center; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #888; padding: 0.2em 0.5em; }
.align-left { text-align: left; } .align-right { text-align: right; } .align-center { text-align: center; } .align-justify { text-align: justify; }
hr { border: 0; text-align: center; margin: 1.5em 0; }
hr::after { content: "* * *"; }
sup a { text-decoration: none; }
section.footnotes { margin-top: 2em; border-top: 1px solid #888; font-size: 0.9em; }
section.cover { text-align: center; margin: 0; }
section.cover img { max-height: 98vh; }
.titlepage { text-align: center; margin-top: 20%; }
.titlepage .title { font-size: 2em; }
.titlepage .subtitle { font-size: 1.3em; margin-top: 0.5em; }
.titlepage .author { font-size: 1.2em; margin-top: 2em; }
.titlepage .publisher, .titlepage .date, .titlepage .rights { font-size: 0.9em; margin-top: 1em; }
/* The contents list titles only: a number beside "Chapter 7" would be the entry's place, not its own. */
nav#toc ol { list-style-type: none; padding-left: 1em; }
"""

# For the web-app book: phone first, dark mode, comfortable measure.
APP_CSS = """\
:root { color-scheme: light dark; --fg: #1d1b18; --bg: #fbf8f2; --muted: #6b645a; --accent: #8a4b14; --rule: #d8d0c4;
  /* Code colours: each at least 4.5:1 against the code background, light and dark (WCAG AA). */
  --tok-k: #a0213a; --tok-s: #0a4a1f; --tok-c: #5c5549; --tok-n: #0b4f8a; --tok-f: #6a2fb0; --tok-b: #8a3b00; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e9e4da; --bg: #161514; --muted: #a79f93; --accent: #e0a96d; --rule: #3a3733;
    --tok-k: #ff8f87; --tok-s: #9fdca8; --tok-c: #a39a8c; --tok-n: #8cc8ff; --tok-f: #d7b4ff; --tok-b: #ffb36b; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 1.125rem/1.6 Georgia, "Iowan Old Style", "Noto Serif", serif; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: 0.5rem; z-index: 10; }
header.bar, nav.pager { display: flex; justify-content: space-between; align-items: center; gap: 0.5rem;
  padding: 0.6rem 1rem; font: 0.95rem/1.3 system-ui, sans-serif; }
header.bar { position: sticky; top: 0; background: var(--bg); border-bottom: 1px solid var(--rule); z-index: 5; }
header.bar .book { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: var(--muted); }
nav.pager { border-top: 1px solid var(--rule); margin-top: 2rem; }
nav.pager a { padding: 0.6rem 0.2rem; min-width: 44px; }
main { max-width: 38rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1, h2, h3 { line-height: 1.25; font-family: system-ui, sans-serif; }
/* Long words, URLs and headings held together by no-break spaces wrap instead of widening the page. */
main { overflow-wrap: anywhere; }
main pre, main table { overflow-wrap: normal; }
/* Monospace twice keeps browsers from shrinking it to their own 13px default. */
code, kbd, samp { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace, monospace; font-size: 0.88em; }
pre code { font-size: 1em; }
img { max-width: 100%; height: auto; }
/* A percentage max-width lets auto table layout squeeze an image in a cell to a few pixels. */
td img, th img { max-width: 80vw; }
blockquote { margin: 1em 0; padding-left: 1em; border-left: 3px solid var(--rule); font-style: italic; }
.callout { margin: 1em 0; padding: 0.2em 1em; border-left: 4px solid var(--accent); background: color-mix(in srgb, var(--fg) 4%, transparent); }
pre { overflow-x: auto; padding: 0.8em; background: color-mix(in srgb, var(--fg) 6%, transparent); font-size: 0.85em; }
.table-scroll { overflow-x: auto; max-width: 100%; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.95em; }
th, td { border: 1px solid var(--rule); padding: 0.4em 0.7em; vertical-align: top; text-align: start; }
th { background: color-mix(in srgb, var(--fg) 5%, transparent); }
.math-display { margin: 1em 0; overflow-x: auto; max-width: 100%; text-align: center; }
.tok-k { color: var(--tok-k); } .tok-s { color: var(--tok-s); } .tok-c { color: var(--tok-c); font-style: italic; }
.tok-n { color: var(--tok-n); } .tok-f { color: var(--tok-f); } .tok-b { color: var(--tok-b); }
.tok-del { color: var(--tok-k); } .tok-ins { color: var(--tok-s); }
math { font-family: "STIX Two Math", "Latin Modern Math", "Noto Sans Math", math; }
pre:focus-visible, .table-scroll:focus-visible, .math-display:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.align-left { text-align: left; } .align-right { text-align: right; } .align-center { text-align: center; } .align-justify { text-align: justify; }
hr { border: 0; text-align: center; } hr::after { content: "* * *"; color: var(--muted); }
section.footnotes { margin-top: 2.5rem; border-top: 1px solid var(--rule); font-size: 0.9em; }
aside[role="doc-footnote"]:target { background: color-mix(in srgb, var(--accent) 15%, transparent); }
/* Held to the width and 60 % of the height, the cover keeps its shape inside its box (contain), its size
   known before it loads; the shadow follows the picture, not the box. */
.cover img { display: block; max-height: 60vh; object-fit: contain; margin: 1rem auto; filter: drop-shadow(0 2px 8px rgba(0,0,0,.35)); }
/* Titles only, no numbers (see EPUB_CSS); inside <nav>, WebKit still reads an unstyled <ol> as a list. */
.toc ol { list-style: none; padding-left: 1.2rem; } .toc li { margin: 0.35rem 0; }
.toc > ol > li > a { font-weight: 600; }
.subtitle, .author { text-align: center; color: var(--muted); }
.resume { display: block; margin: 1rem auto; text-align: center; font: 1rem system-ui, sans-serif; }
.resume[hidden] { display: none; }
.updates article { border-bottom: 1px solid var(--rule); padding: 0.8rem 0; }
.updates time, .status { color: var(--muted); font: 0.85rem system-ui, sans-serif; }
.edition-offer { position: fixed; inset: auto 0.75rem 0.75rem; z-index: 20; display: flex; gap: 1rem; align-items: center;
  justify-content: space-between; padding: 0.75rem 1rem; background: var(--fg); color: var(--bg); border-radius: 0.5rem;
  font: 1rem system-ui, sans-serif; box-shadow: 0 2px 12px rgb(0 0 0 / 30%); }
.edition-offer button { font: inherit; padding: 0.4rem 1rem; border: 0; border-radius: 0.35rem; background: var(--bg); color: var(--fg); }
"""
