"""EPUBs as authors upload them, built by hand so every part is under the test's control: an EPUB 3
(nav, cover page, chapters in text/, images in images/, links between files, notes), an EPUB 2
(NCX and guide, no nav), a Standard Ebooks source folder zipped, and broken ones."""

from __future__ import annotations

import io
import zipfile
from html import escape

from tests.book_corpus import line_art_png, photo_jpeg, zip_of

EPUB_MIMETYPE = b"application/epub+zip"


def epub_of(entries: dict[str, bytes]) -> bytes:
    """An EPUB: `mimetype` first and stored uncompressed, as the OCF specification asks, then the rest."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype", date_time=(2020, 1, 1, 0, 0, 0)), EPUB_MIMETYPE)
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def container(opf_path: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        f'<rootfile full-path="{opf_path}" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    ).encode()


def xhtml(title: str, body: str, body_attributes: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en">'
        f'<head><title>{title}</title><link rel="stylesheet" href="../css/book.css"/></head>'
        f"<body{body_attributes}>{body}</body></html>"
    ).encode()


# -- an EPUB 3, as Vellum or Pressbooks would make it ------------------------------------------------

EPUB3_OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="pub-id" xml:lang="en">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:identifier id="isbn">urn:isbn:9780000000001</dc:identifier>
  <dc:identifier id="pub-id">urn:uuid:0b3f1d2e-4a5b-4c6d-8e7f-901234567890</dc:identifier>
  <dc:title id="t1">The Lighthouse Keeper</dc:title>
  <meta refines="#t1" property="title-type">main</meta>
  <dc:title id="t2">A Winter on the Rock</dc:title>
  <meta refines="#t2" property="title-type">subtitle</meta>
  <dc:creator id="c1">Ada Harbour</dc:creator>
  <meta refines="#c1" property="role" scheme="marc:relators">aut</meta>
  <dc:creator id="c2">Cy Sketch</dc:creator>
  <meta refines="#c2" property="role" scheme="marc:relators">ill</meta>
  <dc:creator id="c3">Ben Quay</dc:creator>
  <dc:language>en-GB</dc:language>
  <dc:description>A keeper, a storm, and the ships between.</dc:description>
  <meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>
</metadata>
<manifest>
  <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
  <item id="css" href="css/book.css" media-type="text/css"/>
  <item id="font" href="fonts/serif.woff2" media-type="font/woff2"/>
  <item id="cover-img" href="images/cover.jpg" media-type="image/jpeg" properties="cover-image"/>
  <item id="cover" href="text/cover.xhtml" media-type="application/xhtml+xml"/>
  <item id="ch1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
  <item id="notes" href="text/notes.xhtml" media-type="application/xhtml+xml"/>
  <item id="ch2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>
  <item id="ch3" href="text/ch%203.xhtml" media-type="application/xhtml+xml"/>
  <item id="harbour" href="images/harbour.png" media-type="image/png"/>
</manifest>
<spine>
  <itemref idref="cover"/>
  <itemref idref="nav"/>
  <itemref idref="ch1"/>
  <itemref idref="notes" linear="no"/>
  <itemref idref="ch2"/>
  <itemref idref="ch3"/>
</spine>
</package>
"""

EPUB3_NAV = """<nav epub:type="toc" id="toc"><h1>Contents</h1><ol>
<li><a href="text/ch1.xhtml">Arrival</a></li>
<li><a href="text/ch2.xhtml">The Storm</a><ol><li><a href="text/ch2.xhtml#sec">After</a></li></ol></li>
<li><a href="text/ch%203.xhtml">Spring</a></li>
</ol></nav>
<nav epub:type="landmarks" hidden=""><ol>
<li><a epub:type="cover" href="text/cover.xhtml">Cover</a></li>
<li><a epub:type="bodymatter" href="text/ch1.xhtml">Start</a></li>
</ol></nav>"""

# Chapter 1 has no heading: its title comes from the nav. Its links: another file's section, a
# footnote in the same file, an endnote in a non-linear file.
EPUB3_CH1 = """<section epub:type="chapter"><p>The boat left her at the rock
(<a href="../text/ch2.xhtml#sec">see the storm</a>)<a epub:type="noteref" href="#fn1" id="ref1">1</a>,
with a <a href="notes.xhtml#n1" epub:type="noteref" id="ref-n1">note</a> for later.</p>
<aside epub:type="footnote" id="fn1"><p>The rock is <a href="https://example.com/rock">charted</a>.</p></aside>
</section>"""

EPUB3_CH2 = """<section epub:type="chapter"><h1>The Storm</h1>
<p>The wind came.</p>
<figure><img src="../images/harbour.png" alt="The harbour under the storm"/></figure>
<h2 id="sec">After the storm</h2>
<p>On to <a href="ch%203.xhtml#end">the end</a>.</p>
</section>"""

EPUB3_CH3 = """<section epub:type="chapter"><h1>Spring</h1>
<p id="end">The last ship came. Back to <a href="ch1.xhtml">the arrival</a>.</p>
</section>"""

EPUB3_NOTES = """<section epub:type="endnotes"><h1>Notes</h1>
<p id="n1">A note at the end. <a href="ch1.xhtml#ref-n1">Back</a>.</p></section>"""


def epub3_book() -> bytes:
    return epub_of(
        {
            "META-INF/container.xml": container("OEBPS/content.opf"),
            "OEBPS/content.opf": EPUB3_OPF.encode(),
            "OEBPS/nav.xhtml": xhtml("Contents", EPUB3_NAV),
            "OEBPS/css/book.css": b"body { font-family: serif; }",
            "OEBPS/fonts/serif.woff2": b"wOF2 not really a font",
            "OEBPS/text/cover.xhtml": xhtml("Cover", '<div><img src="../images/cover.jpg" alt="Cover"/></div>'),
            "OEBPS/text/ch1.xhtml": xhtml("Arrival", EPUB3_CH1),
            "OEBPS/text/notes.xhtml": xhtml("Notes", EPUB3_NOTES),
            "OEBPS/text/ch2.xhtml": xhtml("The Storm", EPUB3_CH2),
            "OEBPS/text/ch 3.xhtml": xhtml("Spring", EPUB3_CH3),
            "OEBPS/images/cover.jpg": photo_jpeg(800, 1200),
            "OEBPS/images/harbour.png": line_art_png(),
        }
    )


# -- an EPUB 2: an NCX and a guide, no nav, chapters beside the OPF ----------------------------------

EPUB2_OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" xmlns:opf="http://www.idpf.org/2007/opf" version="2.0"
  unique-identifier="BookId">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:title>Letters from the Coast</dc:title>
  <dc:creator opf:role="aut" opf:file-as="Writer, Cora">Cora Writer</dc:creator>
  <dc:creator opf:role="edt">Dan Editor</dc:creator>
  <dc:language>fr</dc:language>
  <dc:identifier id="BookId" opf:scheme="ISBN">9780000000002</dc:identifier>
  <meta name="cover" content="cover-image"/>
</metadata>
<manifest>
  <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
  <item id="cover-page" href="cover.html" media-type="application/xhtml+xml"/>
  <item id="cover-image" href="pics/cover.jpg" media-type="image/jpeg"/>
  <item id="letter1" href="letter1.html" media-type="application/xhtml+xml"/>
  <item id="letter2" href="letter2.html" media-type="application/xhtml+xml"/>
  <item id="map" href="pics/map.png" media-type="image/png"/>
</manifest>
<spine toc="ncx">
  <itemref idref="cover-page"/>
  <itemref idref="letter1"/>
  <itemref idref="letter2"/>
</spine>
<guide><reference type="cover" title="Cover" href="cover.html"/></guide>
</package>
"""

EPUB2_NCX = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" "http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
<head><meta name="dtb:uid" content="9780000000002"/></head>
<docTitle><text>Letters from the Coast</text></docTitle>
<navMap>
  <navPoint id="p1" playOrder="1"><navLabel><text>The First Letter</text></navLabel><content src="letter1.html"/></navPoint>
  <navPoint id="p2" playOrder="2"><navLabel><text>The Second Letter</text></navLabel><content src="letter2.html#top"/></navPoint>
</navMap>
</ncx>
"""

XHTML11 = (
    '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
    '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
)


def epub2_book() -> bytes:
    page = XHTML11 + "<head><title>{title}</title></head><body>{body}</body></html>"
    return epub_of(
        {
            "META-INF/container.xml": container("content.opf"),
            "content.opf": EPUB2_OPF.encode(),
            "toc.ncx": EPUB2_NCX.encode(),
            "cover.html": page.format(title="Cover", body='<img src="pics/cover.jpg" alt="cover"/>').encode(),
            "letter1.html": page.format(
                title="One",
                body='<h2>The First Letter</h2><p>Dear friend, see <a href="letter2.html#map">the map</a>.</p>',
            ).encode(),
            # No heading: the NCX names it.
            "letter2.html": page.format(
                title="Two",
                body='<p id="top">And again.</p><p id="map"><img src="pics/map.png" alt="A map of the coast"/></p>'
                '<p><a href="letter1.html">The first letter</a>.</p>',
            ).encode(),
            "pics/cover.jpg": photo_jpeg(600, 900),
            "pics/map.png": line_art_png(),
        }
    )


# -- Standard Ebooks' source layout: the EPUB lives in src/, next to the repository's own files ----

SE_OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" dir="ltr" prefix="se: https://standardebooks.org/vocab/1.0"
  unique-identifier="uid" version="3.0" xml:lang="en-US">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:identifier id="uid">https://standardebooks.org/ebooks/ann-author/a-short-tale</dc:identifier>
  <dc:title id="title">A Short Tale</dc:title>
  <dc:language>en-US</dc:language>
  <dc:creator id="author">Ann Author</dc:creator>
  <meta property="role" refines="#author" scheme="marc:relators">aut</meta>
  <dc:contributor id="transcriber-1">Tim Transcriber</dc:contributor>
</metadata>
<manifest>
  <item href="css/core.css" id="core.css" media-type="text/css"/>
  <item href="images/titlepage.svg" id="titlepage.svg" media-type="image/svg+xml"/>
  <item href="images/cover.svg" id="cover.svg" media-type="image/svg+xml" properties="cover-image"/>
  <item href="text/titlepage.xhtml" id="titlepage.xhtml" media-type="application/xhtml+xml" properties="svg"/>
  <item href="text/imprint.xhtml" id="imprint.xhtml" media-type="application/xhtml+xml"/>
  <item href="text/chapter-1.xhtml" id="chapter-1.xhtml" media-type="application/xhtml+xml"/>
  <item href="text/chapter-2.xhtml" id="chapter-2.xhtml" media-type="application/xhtml+xml"/>
  <item href="toc.xhtml" id="toc.xhtml" media-type="application/xhtml+xml" properties="nav"/>
</manifest>
<spine>
  <itemref idref="titlepage.xhtml"/>
  <itemref idref="imprint.xhtml"/>
  <itemref idref="chapter-1.xhtml"/>
  <itemref idref="chapter-2.xhtml"/>
</spine>
</package>
"""

SE_TOC = """<nav id="toc" epub:type="toc"><h2 epub:type="title">Table of Contents</h2><ol>
<li><a href="text/titlepage.xhtml">Titlepage</a></li>
<li><a href="text/imprint.xhtml">Imprint</a></li>
<li><a href="text/chapter-1.xhtml">I</a></li>
<li><a href="text/chapter-2.xhtml">II</a></li>
</ol></nav>"""


def standard_ebooks_zip() -> bytes:
    """A Standard Ebooks repository, zipped: its chapters title themselves only with an ordinal `<h2>`."""
    chapter = '<section id="chapter-{n}" epub:type="chapter"><h2 epub:type="ordinal z3998:roman">{ordinal}</h2>{text}</section>'
    return zip_of(
        {
            "LICENSE.md": b"# License\n\nCC0.\n",
            "src/mimetype": EPUB_MIMETYPE,
            "src/META-INF/container.xml": container("epub/content.opf"),
            "src/epub/content.opf": SE_OPF.encode(),
            "src/epub/toc.xhtml": xhtml("Table of Contents", SE_TOC),
            "src/epub/css/core.css": b"p { margin: 0; }",
            "src/epub/images/cover.svg": b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 15"><rect width="10" height="15"/></svg>',
            "src/epub/text/titlepage.xhtml": xhtml(
                "Titlepage",
                '<section id="titlepage" epub:type="titlepage"><h1 epub:type="title">A Short Tale</h1>'
                '<p>By <b epub:type="z3998:personal-name">Ann Author</b>.</p></section>',
                ' epub:type="frontmatter"',
            ),
            "src/epub/text/imprint.xhtml": xhtml(
                "Imprint",
                '<section id="imprint" epub:type="imprint"><h2 epub:type="title">Imprint</h2>'
                "<p>This ebook is the product of many hours of volunteer work.</p></section>",
            ),
            "src/epub/text/chapter-1.xhtml": xhtml(
                "I",
                chapter.format(
                    n=1, ordinal="I", text='<p>It began on a Monday. <a href="chapter-2.xhtml#chapter-2">Later</a>.</p>'
                ),
            ),
            "src/epub/text/chapter-2.xhtml": xhtml(
                "II", chapter.format(n=2, ordinal="II", text="<p>It ended on a Friday.</p>")
            ),
        }
    )


# -- a Markdown book whose own EPUB is then uploaded again ------------------------------------------

REPUBLISHED_MARKDOWN = """---
title: The Tide Tables
subtitle: A Harbour Almanac
authors:
  - Ada Writer
  - Ben Editor
language: en-GB
isbn: 978-3-16-148410-0
cover-image: cover.jpg
---
# High Water

The tide rises[^moon]; see [low water](#low-water) and [the chart](#the-chart).

![The harbour chart](chart.png)

[^moon]: Pulled by the moon, as [the last chapter](#slack-water) says.

# Low Water

## The Chart

Back to [high water](#high-water). A second note[^sand].

[^sand]: The sand shows.

# Slack Water

Between the two: [the chart again](#the-chart).
"""


def republished_source_zip() -> bytes:
    return zip_of(
        {"tides.md": REPUBLISHED_MARKDOWN.encode(), "cover.jpg": photo_jpeg(800, 1200), "chart.png": line_art_png()}
    )


# -- Calibre's habits: a description stored as escaped HTML, a placeholder date ---------------------

CALIBRE_OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="uuid_id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
  <dc:identifier id="uuid_id" opf:scheme="uuid">6a1d1e3c-6b43-4a36-9c1e-2f5d6c0b7e11</dc:identifier>
  <dc:title>Salt and Lanterns</dc:title>
  <dc:creator opf:role="aut">Ida Shore</dc:creator>
  <dc:language>en</dc:language>
  <dc:description>{description}</dc:description>
  {dates}
  <meta name="calibre:timestamp" content="2024-03-01T10:00:00+00:00"/>
</metadata>
<manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="c"/></spine></package>"""


CALIBRE_DESCRIPTION = (
    "<div><p>A blurb with <i>style</i> &amp; wit.</p>\n<p>A second<br/>paragraph.</p><script>alert(1)</script></div>"
)


def calibre_epub(
    description: str = CALIBRE_DESCRIPTION, dates: tuple[str, ...] = ("0101-01-01T00:00:00+00:00",)
) -> bytes:
    """An EPUB as Calibre writes one: its description HTML, escaped into the OPF; its date the one
    Calibre writes for none."""
    opf = CALIBRE_OPF.format(
        description=escape(description, quote=False), dates="".join(f"<dc:date>{date}</dc:date>" for date in dates)
    )
    return epub_of(
        {
            "META-INF/container.xml": container("content.opf"),
            "content.opf": opf.encode(),
            "c.xhtml": xhtml("C", "<h1>Harbour Lights</h1><p>c</p>"),
        }
    )


# -- broken tables of contents: they only give titles, so the book is made without them ------------

BROKEN_NCX = """<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>
<navPoint id="p1"><navLabel><text>First&nbsp;Light</text></navLabel><content src="c1.xhtml"/></navPoint>
</navMap></ncx>"""
# HTML habits in XHTML: an entity XML does not know, list items and an italic never closed.
BROKEN_NAV = """<nav epub:type="toc"><ol><li><a href="c1.xhtml">First&nbsp;Light</a>
<li><a href="c2.xhtml">Second <i>Tide</a></ol></nav>"""


def epub_with_broken_contents(nav: bool) -> bytes:
    """An EPUB whose NCX is not well-formed (a Calibre habit): alone, or beside a nav document that
    is not well-formed either. Neither chapter has a heading."""
    nav_item = '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
    opf = MINIMAL_OPF.format(spine='<itemref idref="c"/><itemref idref="c2"/>').replace(
        "<manifest>",
        '<manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
        '<item id="c2" href="c2.xhtml" media-type="application/xhtml+xml"/>' + (nav_item if nav else ""),
    )
    opf = opf.replace('href="c.xhtml"', 'href="c1.xhtml"').replace("<spine>", '<spine toc="ncx">')
    entries = {
        "META-INF/container.xml": container("content.opf"),
        "content.opf": opf.encode(),
        "toc.ncx": BROKEN_NCX.encode(),
        "c1.xhtml": xhtml("One", "<p>The lamp was lit at dusk.</p>"),
        "c2.xhtml": xhtml("Two", "<p>The tide turned at dawn.</p>"),
    }
    if nav:
        entries["nav.xhtml"] = xhtml("Contents", BROKEN_NAV)
    return epub_of(entries)


# -- covers named wrong: the book is made, with the cover it can have --------------------------------


def epub_with_cover(item: str, meta: str = "", cover_page: str = "") -> bytes:
    """A one-chapter EPUB whose manifest also holds `item` (naming its cover, EPUB 3's way) and whose
    metadata holds `meta` (EPUB 2's way); when `cover_page` names an image, a first page that only
    shows it. The EPUB holds an image, img/real.jpg, and a scan Quire cannot use, img/scan.tif."""
    opf = MINIMAL_OPF.format(
        spine='<itemref idref="cover"/><itemref idref="c"/>' if cover_page else '<itemref idref="c"/>'
    )
    page = '<item id="cover" href="cover.xhtml" media-type="application/xhtml+xml"/>' if cover_page else ""
    opf = opf.replace("<manifest>", "<manifest>" + item + page).replace("</metadata>", meta + "</metadata>")
    entries = {
        "META-INF/container.xml": container("content.opf"),
        "content.opf": opf.encode(),
        "c.xhtml": xhtml("C", "<h1>Landfall</h1><p>c</p>"),
        "img/real.jpg": photo_jpeg(600, 900),
        "img/scan.tif": b"II*\x00",
    }
    if cover_page:
        entries["cover.xhtml"] = xhtml("Cover", f'<img src="{cover_page}" alt="Cover"/>')
    return epub_of(entries)


# -- broken EPUBs: each should be refused with a message, never crash -------------------------------

MINIMAL_OPF = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>
<dc:title>Broken</dc:title><dc:language>en</dc:language></metadata>
<manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine>{spine}</spine></package>"""


def epub_without_container() -> bytes:
    return epub_of({"OEBPS/content.opf": MINIMAL_OPF.format(spine='<itemref idref="c"/>').encode()})


def epub_with_missing_opf() -> bytes:
    return epub_of({"META-INF/container.xml": container("OEBPS/package.opf"), "OEBPS/c.xhtml": xhtml("C", "<p>c</p>")})


def epub_with_empty_spine() -> bytes:
    return epub_of(
        {
            "META-INF/container.xml": container("content.opf"),
            "content.opf": MINIMAL_OPF.format(spine="").encode(),
            "c.xhtml": xhtml("C", "<p>c</p>"),
        }
    )


def epub_with_broken_opf() -> bytes:
    return epub_of({"META-INF/container.xml": container("content.opf"), "content.opf": b"<package><metadata>"})


# Entities that expand a thousandfold at each level, and one that reads a file of the server.
LAUGHS = (
    '<!DOCTYPE package [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY h "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
)
EXTERNAL_ENTITY = '<!DOCTYPE package [<!ENTITY h SYSTEM "file:///etc/passwd">]>'


def epub_declaring(doctype: str, encoding: str = "UTF-8") -> bytes:
    """An EPUB whose OPF declares entities, written in `encoding`. In UTF-7, the declaration's `<` is
    written in base64 (`+ADw-`), as UTF-7 allows and Python does not do unasked."""
    opf = MINIMAL_OPF.format(spine='<itemref idref="c"/>').replace("<package", doctype + "\n<package", 1)
    opf = opf.replace("<dc:title>Broken</dc:title>", "<dc:title>Broken &h;</dc:title>")
    opf = opf.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>', 1)
    data = opf.encode(encoding)
    if encoding == "UTF-7":
        data = data.replace(b"<!ENTITY", b"+ADw-!ENTITY")
    return epub_of(
        {
            "META-INF/container.xml": container("content.opf"),
            "content.opf": data,
            "c.xhtml": xhtml("C", "<p>c</p>"),
        }
    )
