"""Manuscripts shaped like the ones authors bring from other tools, written here to the shape of
those tools' output (the markup, not anyone's text): DocBook XSL chapters, texinfo's HTML, Word
files as Word and pandoc write them, a plain-text manual, raw HTML inside Markdown."""

from __future__ import annotations

from pathlib import Path

from tests import book_corpus as corpus

# DocBook XSL 1.79 "chunked" output: a navigation header and footer, a mini table of contents as a
# <dl> of <dt>s only, <a name> anchors inside headings nested in div.section, presentational table
# attributes, figures as divs, and links to its own file name.
DOCBOOK_CHAPTER = """\
<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<title>Chapter 2. Getting Started</title>
<meta name="generator" content="DocBook XSL Stylesheets V1.79.1"></head>
<body bgcolor="white" text="black" link="#0000FF" vlink="#840084" alink="#0000FF">
<div class="navheader"><table width="100%" summary="Navigation header">
<tr><th colspan="3" align="center">Chapter 2. Getting Started</th></tr>
<tr><td width="20%" align="left"><a accesskey="p" href="ch01.html">Prev</a> </td>
<th width="60%" align="center"> </th>
<td width="20%" align="right"> <a accesskey="n" href="ch03.html">Next</a></td></tr></table><hr></div>
<div class="chapter"><div class="titlepage"><div><div><h1 class="title"><a name="start"></a>Chapter 2. Getting Started</h1></div></div></div>
<div class="toc"><p><b>Table of Contents</b></p><dl class="toc">
<dt><span class="section"><a href="ch02.html#install">Installing</a></span></dt>
<dd><dl><dt><span class="section"><a href="ch02.html#install-linux">On Linux</a></span></dt></dl></dd>
<dt><span class="section"><a href="ch02.html#configure">Configuring</a></span></dt></dl></div>
<p>This chapter takes you from nothing to a working harbour.</p>
<div class="section"><div class="titlepage"><div><div><h2 class="title" style="clear: both"><a name="install"></a>Installing</h2></div></div></div>
<p>Run the installer; see <a class="xref" href="ch02.html#configure" title="Configuring">the section called “Configuring”</a>
and <a class="xref" href="#tbl-opts" title="Table 2.1. Options">Table 2.1</a>.</p>
<div class="figure"><a name="fig-shot"></a><p class="title"><b>Figure 2.1. The screen</b></p>
<div class="figure-contents"><div class="mediaobject" align="center"><img src="images/screen.png" align="middle" width="100%" alt="The first screen: a form with three fields"></div></div></div><br class="figure-break">
<div class="section"><div class="titlepage"><div><div><h3 class="title"><a name="install-linux"></a>On Linux</h3></div></div></div>
<div class="table"><a name="tbl-opts"></a><p class="title"><b>Table 2.1. Options</b></p>
<div class="table-contents"><table summary="Options" border="1" cellpadding="2"><colgroup><col align="left"><col align="center"></colgroup>
<thead><tr><th align="left">Option</th><th align="center" valign="top">Meaning</th></tr></thead>
<tbody><tr><td align="left" valign="top"><code class="option">-v</code></td><td align="center">verbose</td></tr>
<tr><td align="justify">-q</td><td align="middle">quiet</td></tr></tbody></table></div></div><br class="table-break">
<div class="variablelist"><dl class="variablelist"><dt><span class="term"><code class="option">--prefix</code></span></dt>
<dd><p>Where to install.</p></dd><dt><span class="term"><code class="option">--dry-run</code></span></dt></dl></div>
</div></div>
<div class="section"><div class="titlepage"><div><div><h2 class="title" style="clear: both"><a name="configure"></a>Configuring</h2></div></div></div>
<div class="itemizedlist"><ul class="itemizedlist" style="list-style-type: disc; ">
<li class="listitem"><p>An item holding <span class="emphasis"><em>a note: <div class="note"><h3 class="title">Note</h3><p>Back up first.</p></div></em></span></p></li>
<li class="listitem"><figcaption>A caption out of its figure</figcaption></li>
<p>A paragraph straight inside the list.</p></ul></div>
<p>Back to <a href="#start">the start</a> or <a href="ch02.html">this chapter</a>.</p>
</div></div>
<div class="navfooter"><hr><table width="100%" summary="Navigation footer"><tr><td width="40%" align="left"><a accesskey="p" href="ch01.html">Prev</a> </td>
<td width="20%" align="center"> </td><td width="40%" align="right"> <a accesskey="n" href="ch03.html">Next</a></td></tr></table></div>
</body></html>
"""

# texinfo 7 HTML (one file): one <h1> title, chapters as <h2> inside div.chapter-level-extent with
# the link targets on the divs, node navigation panels, <a class="index-entry-id"> anchors.
TEXINFO_MANUAL = """\
<!DOCTYPE html>
<html><head><title>Harbour Standards</title>
<meta name="description" content="Harbour Standards"><meta name="Generator" content="makeinfo"></head>
<body lang="en">
<div class="top-level-extent" id="Top">
<div class="nav-panel"><p>Next: <a href="#Preface" accesskey="n" rel="next">About the Harbour Standards</a></p></div>
<h1 class="settitle">Harbour Standards</h1>
<p>Last updated 2026-11-30.</p>
<div class="element-contents" id="SEC_Contents"><h2 class="contents-heading">Table of Contents</h2>
<div class="contents"><ul class="toc-numbered-mark">
<li><a id="toc-About" href="#Preface">1 About the Harbour Standards</a></li>
<li><a id="toc-Ships" href="#Ships">2 Ships</a><ul class="toc-numbered-mark">
<li><a id="toc-Moorings" href="#Moorings">2.1 Moorings</a></li></ul></li>
<li><a id="toc-Tides" href="#Tides">3 Tides</a></li></ul></div></div>
<hr>
<div class="chapter-level-extent" id="Preface">
<div class="nav-panel"><p>Next: <a href="#Ships" accesskey="n" rel="next">Ships</a>, Previous: <a href="#Top" accesskey="p" rel="prev">Harbour Standards</a></p></div>
<h2 class="chapter" id="About-the-Harbour-Standards"><span>1 About the Harbour Standards<a class="copiable-link" href="#About-the-Harbour-Standards"> ¶</a></span></h2>
<a class="index-entry-id" id="index-standards"></a>
<p>These standards say how a harbour is kept. See <a class="pxref" href="#Tides">Tides</a>.</p>
<div class="example"><pre class="example-preformatted">moor --ship aurora --berth 4
</pre></div>
</div>
<hr>
<div class="chapter-level-extent" id="Ships">
<div class="nav-panel"><p>Next: <a href="#Tides" accesskey="n" rel="next">Tides</a></p></div>
<h2 class="chapter" id="Ships-1"><span>2 Ships</span></h2>
<p>Ships come and go; moorings hold them (see <a class="ref" href="harbour.html#Moorings">Moorings</a>).</p>
<ul class="mini-toc"><li><a href="#Moorings" accesskey="1">Moorings</a></li></ul>
<hr>
<div class="section-level-extent" id="Moorings">
<h3 class="section" id="Moorings-1"><span>2.1 Moorings</span></h3>
<table class="multitable"><thead><tr><th width="30%">Berth</th><th width="70%">Depth</th></tr></thead>
<tbody><tr><td width="30%">4</td><td width="70%">12 m</td></tr></tbody></table>
<dl class="table"><dt><code class="code">aurora</code></dt><dd><p>The flagship.</p></dd></dl>
</div></div>
<hr>
<div class="chapter-level-extent" id="Tides">
<h2 class="chapter" id="Tides-1"><span>3 Tides</span></h2>
<p>High water twice a day. Back to <a href="#Top">the top</a>.</p>
</div></div>
</body></html>
"""

# Markdown whose raw HTML breaks content models the way real READMEs do.
RAW_HTML_MARKDOWN = """\
# Raw HTML

<p align="center"><img src="https://example.com/badge.svg" alt="build status"></p>

- An item with <figcaption>a stray caption</figcaption> inline.
- <details><summary>More</summary>Hidden text.</details>

<dl><dt>Term only</dt></dl>

<table><tr><td align="right" width="50%">right</td><td colspan="x">bad span</td></tr></table>

Text with <span><div>a block inside inline</div></span> and <em><p>a paragraph in emphasis</p></em>.
"""

# texinfo's plain-text output (makeinfo --plaintext), as GNU manuals ship: the title underlined
# with *, chapters numbered and underlined with *, sections with =, examples indented five spaces,
# a quotation indented, an ASCII table, a line in capitals, and verse inside a chapter.
TEXINFO_PLAIN_TEXT = """\
Harbour Standards
*****************

The Harbour Standards document was written by the harbour masters so that
every crew that visits knows how to moor, how to leave, and what to expect
from the tides.  Read it before you arrive.

1 About the Harbour Standards
*****************************

Run these commands before you moor:

     moor --ship aurora --berth 4
     tide --check > tide.log

     Any ship that moors here agrees to these standards, and to the fees
     that go with them.

2 Ships
*******

2.1 Moorings
============

   +--------+-------+--------+
   | Ship   | Berth | Length |
   +--------+-------+--------+
   | Aurora |     4 |   30 m |
   +--------+-------+--------+

2.2 Lanterns
============

The keeper's rhyme, as the harbour children say it:

The first for the master,
the next for the quay,
the last for the boats
still out on the sea.

SAFETY AT NIGHT

   * Keep a lantern lit on every mooring line that
     crosses a walkway.
   * Ring the bell twice before you leave.

3 Tides
*******

High water twice a day.  Low water between.
"""


FIXTURES = Path(__file__).parent / "fixtures"


def pandoc_docx() -> bytes:
    """A Word file written by pandoc's DOCX writer (tests/fixtures/README.md says how)."""
    return (FIXTURES / "pandoc-writer.docx").read_bytes()


def docbook_zip() -> bytes:
    return corpus.zip_of({"ch02.html": DOCBOOK_CHAPTER.encode(), "images/screen.png": corpus.line_art_png()})
