"""The print PDF: the same rendered chapters and processed images as the EPUB, typeset by Typst.

text.py       the author's text as Typst strings; a chapter's XHTML parsed
markup.py     a chapter's XHTML → Typst markup (blocks, inline, links, footnotes, images, math)
targets.py    links within the book: labels written once, where a link reaches them
tables.py     tables and lists in Typst markup
document.py   the book around the chapters: pages, fonts, title page, contents, running heads
fonts.py      the fonts for scripts Typst does not embed (CJK, Arabic, Devanagari), from their wheels
typeset.py    `write_pdf`: the source and the images in a temporary folder, compiled, PDF/UA when it can
"""
