"""Real-shaped books of many kinds that several test modules read (and EPUBCheck and Ace, through
GOOD_BOOKS): an mdBook project, a Leanpub project, a Project Gutenberg plain text, an SVG figure book."""

from __future__ import annotations

import io

from PIL import Image

from tests.book_corpus import zip_of


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(out, "PNG")
    return out.getvalue()


SUMMARY = """# Summary

[Introduction](README.md)

# User Guide

- [Installation](guide/installation.md)
    - [Reading Books](guide/reading.md)
- [Creating a *Book*](guide/creating.md)
- [Plugins]()

# Reference

- [Command Line](reference/cli.md)

[Contributors](misc/contributors.md)
"""

MDBOOK_FILES = {
    "README.md": (
        "# Introduction\n\nStart with [installing](guide/installation.md), then read about "
        "[the build command](reference/cli.md#build) and [its options](./reference/cli.md#options).\n\n"
        "## Setup\n\nThe introduction's own setup; see [below](#setup).\n"
    ),
    "guide/installation.md": (
        "# Installation\n\n## Setup\n\nInstall it. Back to the [introduction](../README.md) or on to "
        "[reading](reading.md#setup).\n\n![A red square](images/red.png)\n"
    ),
    "guide/reading.md": "# Reading Books\n\n## Setup\n\nOpen the book. The [setup before](installation.md#setup).\n",
    "guide/creating.md": (
        "No heading in this file, only text; it links to [the guide's setup](./installation.md#setup) "
        "and to [the command line](../reference/cli.html).\n"
    ),
    "reference/cli.md": (
        "# Command Line\n\n## Build\n\nThe build command. [Options](#options) below, [reading](../guide/reading.md).\n\n"
        "## Options\n\nAll of them.\n"
    ),
    "misc/contributors.md": "# Contributors\n\nThanks to [everyone in the introduction](../README.md#introduction).\n",
}

BOOK_TOML = b"""[book]
title = "The Quire Guide"
authors = ["Ada Lovelace", "Alan Turing"]
language = "en"
src = "src"
"""


def mdbook_zip() -> bytes:
    entries = {"guide-main/book.toml": BOOK_TOML, "guide-main/src/SUMMARY.md": SUMMARY.encode()}
    entries |= {f"guide-main/src/{name}": text.encode() for name, text in MDBOOK_FILES.items()}
    entries["guide-main/src/guide/images/red.png"] = png((200, 20, 20))
    entries["guide-main/src/notes/unlisted.md"] = b"# Not in the summary\n"
    return zip_of(entries)


def leanpub_zip() -> bytes:
    return zip_of(
        {
            "Book.txt": b"intro.md\n\nchapter10.txt\nchapter2.md\nmissing.md\n",
            "intro.md": b"# Before We Start\n\nSee [chapter two](chapter2.md#two-begins).\n",
            "chapter2.md": b"# Chapter Two\n\n## Two begins\n\nText. [Elsewhere](other/intro.md).\n",
            "chapter10.txt": b"# Chapter Ten\n\n*Markdown*, though the file ends in .txt.\n",
        }
    )


GUTENBERG = """\ufeffThe Project Gutenberg EBook of Harbour Days, by Ada Writer

This eBook is for the use of anyone anywhere at no cost and with
almost no restrictions whatsoever.  You may copy it, give it away or
re-use it under the terms of the Project Gutenberg License included
with this eBook or online at www.gutenberg.org


Title: Harbour Days

Author: Ada Writer

Release Date: August 26, 2008 [EBook #99999]

Language: English

Character set encoding: UTF-8

*** START OF THIS PROJECT GUTENBERG EBOOK HARBOUR DAYS ***




Produced by Anonymous Volunteers




HARBOUR DAYS

By Ada Writer



CHAPTER I.

It is a truth known to every sailor in the harbour that a ship which
comes in on the evening tide must leave on the morning one, whatever
the harbour master says about the fees and the _weather_ and the
lanterns on the quay.

The master himself, who had seen forty winters on the water, did not
believe a word of it, and said so to anyone who would listen to him
over a glass in the tavern by the steps.


CHAPTER II.

The letter came on a Tuesday, and the master read it out to the crew
standing on the deck in the rain, with his hat in his hand.

MY DEAR SIR,

I write to tell you that the berth you asked for is yours from the
first of the month, and that the fees are paid until the summer. Keep
the lanterns lit and the bell rung, and nobody will trouble you.

Your obedient servant,

JOHN HARBOURMASTER

The crew cheered, and the cook sang the old rhyme, as he always did:

The first for the master,
the next for the quay,
the last for the boats
still out on the sea.


CHAPTER III.

The summer came, and with it the boats, and the master forgot all
about the letter, the fees and the snake_case_names of the clerks.




End of the Project Gutenberg EBook of Harbour Days, by Ada Writer

*** END OF THIS PROJECT GUTENBERG EBOOK HARBOUR DAYS ***

***** This file should be named 99999.txt or 99999.zip *****

Updated editions will replace the previous one--the old editions
will be renamed.  Creating the works from public domain print editions
means that no one owns a United States copyright in these works.

START: FULL LICENSE

THE FULL PROJECT GUTENBERG LICENSE
"""


# A drawing as an editor saves it, with what an attacker would add.
HOSTILE_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet href="https://evil.example/sheet.css" type="text/css"?>
<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     width="400" height="200" viewBox="0 0 400 200" onload="alert(1)" inkscape:version="1.3">
  <script type="text/javascript">alert(2)</script>
  <style>@import url(https://evil.example/more.css); .box { fill: url(#shade); stroke: url(https://evil.example/x.svg#p); }</style>
  <defs>
    <linearGradient id="shade"><stop offset="0" stop-color="#369"/><stop offset="1" stop-color="#9cf"/></linearGradient>
    <circle id="dot" r="10" fill="#c33"/>
  </defs>
  <rect class="box" x="10" y="10" width="380" height="180" onclick="alert(3)" filter="url(https://evil.example/f.svg#f)"/>
  <use href="#dot" x="50" y="50"/>
  <use xlink:href="https://evil.example/sprites.svg#dot" x="80" y="50"/>
  <image href="https://evil.example/tracker.png" width="10" height="10"/>
  <image href="data:image/png;base64,iVBORw0KGgo=" width="10" height="10"/>
  <a href="javascript:alert(4)"><text x="100" y="100">Harbour &secret; map</text></a>
  <set attributeName="href" to="javascript:alert(5)"/>
  <foreignObject width="100" height="100"><div xmlns="http://www.w3.org/1999/xhtml" onclick="alert(6)">HTML</div></foreignObject>
</svg>
"""

SVG_MARKDOWN = """# The harbour

![A map of the harbour: the quay, the lighthouse and the breakwater](figure.svg)

The map shows where the ferries berth.

![A drawing that is not a drawing](broken.svg)
"""


def svg_zip() -> bytes:
    return zip_of(
        {
            "book.md": SVG_MARKDOWN.encode(),
            "figure.svg": HOSTILE_SVG,
            "broken.svg": b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>",
        }
    )


INLINE_DRAWINGS_HTML = """<!DOCTYPE html>
<html lang="en"><head><title>Drawn</title></head><body><h1>Drawn by hand</h1>
<p>The ferries:</p>
<svg viewBox="0 0 100 50" width="200" onload="alert(1)"><title>Ferries per day, rising</title>
<defs><linearGradient id="sea"><stop offset="0" stop-color="#369"/></linearGradient></defs>
<script>alert(2)</script><rect x="1" y="1" width="40" height="20" fill="url(#sea)" onclick="alert(3)"/></svg>
<p>An anchor <svg aria-label="anchor" viewBox="0 0 10 10"><circle r="4" cx="5" cy="5"/></svg> inline.</p>
</body></html>
"""
