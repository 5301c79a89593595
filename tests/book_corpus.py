"""Manuscripts the tests build for themselves: every feature, several scripts, and hostile ones."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

# -- images ---------------------------------------------------------------------------------------


def photo_jpeg(width: int = 2400, height: int = 1600, quality: int = 92) -> bytes:
    """A camera-like JPEG: smooth gradients plus noise, so it compresses like a photo."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def cmyk_jpeg() -> bytes:
    from PIL import Image

    image = Image.new("CMYK", (900, 600), (10, 200, 30, 20))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def exif_rotated_jpeg() -> bytes:
    """A landscape-stored JPEG whose EXIF says 'rotate 90° clockwise' (orientation 6)."""
    from PIL import Image

    image = Image.new("RGB", (1200, 800), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, 600, 800))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def line_art_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (2000, 1200), "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, 2000, 100):
        draw.line((x, 0, 2000 - x, 1200), fill="black", width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def alpha_png() -> bytes:
    from PIL import Image

    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    image.paste((20, 120, 220, 255), (100, 100, 300, 300))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG that claims 2.5 gigapixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


# -- manuscripts ----------------------------------------------------------------------------------

FULL_MARKDOWN = """---
title: "The Harbour: a Novel"
subtitle: Stories from the Quay
authors:
  - Ada Writer
  - name: Ben Editor
language: en-GB
date: 2026-11-01
publisher: Quire Press
rights: © 2026 Ada Writer
description: A test book that uses every feature.
isbn: 978-3-16-148410-0
cover-image: images/cover.jpg
feeds:
  - https://example.com/feed.xml
---
A dedication before the first chapter, "quoted" -- with dashes... and so on.

# Chapter 1: The Quay — Zürich

It was a *dark* and **stormy** night[^storm], ~~sunny~~ cloudy. Inline `code` and a [link](https://example.com).

![The harbour at dawn](images/photo.jpg "Dawn")

## A Section

| Ship    | Tons | Flag   |
|:--------|-----:|:------:|
| Aurora  | 1200 | 🇳🇴     |
| Borealis|  800 | 🇸🇪     |

> A block quote
> over two lines.
>
> — Someone

1. First
2. Second
   - nested *one*
   - nested two

```python
def harbour():
    return "ships"
```

### Deeper Still

Back to [the section](#a-section) and a scene break:

---

Raw HTML: <span class="x">kept</span> <b>bold</b>.

[^storm]: The storm of 1887, see ![a small diagram](images/diagram.png).

# Chapter 2: Colours

A CMYK print ![cmyk plate](images/cmyk.jpg), a rotated snapshot ![portrait](images/rotated.jpg)
and a transparent logo ![logo](images/logo.png). Another note[^two].

[^two]: Second chapter's note.
"""


def full_markdown_zip() -> bytes:
    return zip_of(
        {
            "book/manuscript.md": FULL_MARKDOWN.encode(),
            "book/images/cover.jpg": photo_jpeg(1600, 2400),
            "book/images/photo.jpg": photo_jpeg(),
            "book/images/diagram.png": line_art_png(),
            "book/images/cmyk.jpg": cmyk_jpeg(),
            "book/images/rotated.jpg": exif_rotated_jpeg(),
            "book/images/logo.png": alpha_png(),
        }
    )


PLAIN_TEXT = """Some words before anything else.

Chapter 1

The first chapter begins here.
It spans two lines in the file.

Another paragraph.

CHAPTER IV

A Roman numeral chapter.

Part One

A part heading.
"""

HTML_BOOK = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Le Livre</title>
<meta name="author" content="Camille Auteur"></head>
<body><main>
<h1>Premier chapitre</h1><p>Il était une fois… <em>vraiment</em>.</p>
<h2>Une section</h2><p>Texte.</p>
<h1>Deuxième chapitre</h1><p>Suite.</p><ul><li>un</li><li>deux</li></ul>
</main></body></html>
"""

NON_LATIN_MARKDOWN = """---
title: Многоязычная книга
language: ru
author: Автор
---
# Глава первая

Текст на русском языке. 日本語の文章もあります。中文也有。

# 第二章 港口

ひらがなとカタカナ。
"""

RTL_MARKDOWN = """---
title: كتاب تجريبي
language: ar
author: كاتب
---
# الفصل الأول

هذا نص باللغة العربية[^1]، مع بعض الكلمات.

[^1]: حاشية.

# פרק שני

טקסט בעברית בתוך ספר ערבי.
"""

XSS_MARKDOWN = """# Attacks

<script>alert('md-script')</script>
<img src="https://example.invalid/x.png" onerror="alert('onerror')">
<a href="javascript:alert('js-link')">click</a>
[md link](javascript:alert('md-js'))
<iframe src="https://evil.example"></iframe>
<svg onload="alert('svg')"><script>alert(1)</script></svg>
<math><mtext><script>alert('math')</script></mtext></math>
<form action="https://evil.example"><input name=x></form>
<base href="https://evil.example/">
<meta http-equiv="refresh" content="0;url=https://evil.example">
<p style="background:url(javascript:alert('css'))">styled</p>
<a href="data:text/html,<script>alert('data')</script>">data link</a>
<div onmouseover="alert('hover')">hover me</div>
<noscript><p title="</noscript><img src=https://evil.example/m.png onerror=alert('mxss')>"></noscript>
"""

XSS_HTML = """<html><head><script>alert('head')</script><style>body{background:url(javascript:x)}</style></head>
<body><h1 onclick="alert('h1')">Title</h1>
<p>Safe <a href="https://example.com" onclick="steal()">link</a></p>
<object data="evil.swf"></object><embed src="evil.swf">
<img src="https://tracker.example/pixel.gif" alt="tracker">
<h1>Second</h1><p>x<script>document.write('y')</script></p></body></html>
"""


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, data)
    return out.getvalue()


# -- DOCX, built by hand so every part is under the test's control ---------------------------------

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_DRAWING_NS = (
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"'
)


def _para(text: str, style: str = "") -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{props}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def docx(document_prefix: str = "", extra_body: str = "") -> bytes:
    image = (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="3000000" cy="2000000"/>'
        '<wp:docPr id="1" name="Picture 1" descr="A photo of the quay"/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="photo.jpg"/><pic:cNvPicPr/></pic:nvPicPr>'
        '<pic:blipFill><a:blip r:embed="rIdImage"/></pic:blipFill><pic:spPr/></pic:pic>'
        "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )
    body = (
        _para("The Word Book", "Title")
        + _para("Chapter One", "Heading1")
        + '<w:p><w:r><w:t xml:space="preserve">A paragraph with a note</w:t></w:r>'
        '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteReference w:id="1"/></w:r>'
        '<w:r><w:t xml:space="preserve"> and more.</w:t></w:r></w:p>'
        + _para("A wise quotation.", "Quote")
        + _para("print('code')", "SourceCode")
        + image
        + _para("A Section", "Heading2")
        + _para("Chapter Two", "Heading1")
        + '<w:p><w:r><w:t xml:space="preserve">Second chapter text</w:t></w:r>'
        '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr><w:footnoteReference w:id="2"/></w:r></w:p>'
        + extra_body
    )
    document = (
        f'{document_prefix}<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        if not document_prefix
        else f'<?xml version="1.0" encoding="UTF-8"?>\n{document_prefix}\n'
    ) + f"<w:document {_W} {_R} {_DRAWING_NS}><w:body>{body}</w:body></w:document>"
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:styles {_W}>'
        + "".join(
            f'<w:style w:type="{kind}" w:styleId="{sid}"><w:name w:val="{name}"/></w:style>'
            for kind, sid, name in (
                ("paragraph", "Title", "Title"),
                ("paragraph", "Heading1", "heading 1"),
                ("paragraph", "Heading2", "heading 2"),
                ("paragraph", "Quote", "Quote"),
                ("paragraph", "SourceCode", "Source Code"),
                ("character", "FootnoteReference", "footnote reference"),
            )
        )
        + "</w:styles>"
    )
    footnotes = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:footnotes {_W}>'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        '<w:footnote w:id="1"><w:p><w:r><w:t>The first footnote.</w:t></w:r></w:p></w:footnote>'
        '<w:footnote w:id="2"><w:p><w:r><w:t>The second footnote.</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        '<Relationship Id="rIdNotes" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
        '<Relationship Id="rIdImage" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image1.jpeg"/>'
        "</Relationships>"
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    package_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        "</Relationships>"
    )
    core = (
        '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties '
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Word Book</dc:title>'
        "<dc:creator>Dora Docx</dc:creator></cp:coreProperties>"
    )
    return zip_of(
        {
            "[Content_Types].xml": content_types.encode(),
            "_rels/.rels": package_rels.encode(),
            "docProps/core.xml": core.encode(),
            "word/document.xml": document.encode(),
            "word/styles.xml": styles.encode(),
            "word/footnotes.xml": footnotes.encode(),
            "word/_rels/document.xml.rels": rels.encode(),
            "word/media/image1.jpeg": photo_jpeg(1000, 700),
        }
    )


def xxe_docx() -> bytes:
    return docx(
        document_prefix='<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        extra_body="<w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>",
    )


def billion_laughs_docx() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    return docx(
        document_prefix=f"<!DOCTYPE w:document [{entities}]>", extra_body="<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"
    )


def zip_bomb() -> bytes:
    """One entry of 60 MiB of zeros (under the per-file cap), about 60 KiB compressed: ≈1000:1."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("book.md", b"# Bomb\n")
        with archive.open("images/zeros.png", "w", force_zip64=True) as entry:
            block = b"\x00" * (1024 * 1024)
            for _ in range(60):
                entry.write(block)
    return out.getvalue()


def lying_zip() -> bytes:
    """An entry whose header declares 1 KB but which inflates to 40 MB."""
    real = zip_of({"book.md": b"# Liar\n\n![x](pic.png)\n", "pic.png": b"\x00" * (40 * 1024 * 1024)})
    fixed = bytearray(real)
    name = b"pic.png"
    for offset in _all(fixed, b"PK\x01\x02"):  # central directory entries
        if fixed[offset + 46 : offset + 46 + len(name)] == name:
            fixed[offset + 24 : offset + 28] = struct.pack("<I", 1000)
    for offset in _all(fixed, b"PK\x03\x04"):
        if fixed[offset + 30 : offset + 30 + len(name)] == name:
            fixed[offset + 22 : offset + 26] = struct.pack("<I", 1000)
    return bytes(fixed)


def _all(data: bytearray, needle: bytes) -> list[int]:
    found, start = [], 0
    while (index := data.find(needle, start)) != -1:
        found.append(index)
        start = index + 1
    return found


def zip_slip() -> bytes:
    return zip_of({"book.md": b"# Slip\n", "../../evil.png": b"x"})


def zip_absolute() -> bytes:
    return zip_of({"book.md": b"# Abs\n", "/etc/cron.d/evil": b"x"})


def zip_symlink() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("book.md", b"# Link\n\n![x](link.png)\n")
        info = zipfile.ZipInfo("link.png")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    return out.getvalue()


def image_bomb_zip() -> bytes:
    return zip_of({"book.md": b"# Bomb\n\n![huge](huge.png)\n", "huge.png": png_bomb()})


def missing_image_markdown() -> bytes:
    return b"# Missing\n\n![a chart](charts/sales.png)\n"


SMALL_MARKDOWN = """---
title: A Small Book
author: Sam Small
language: en
---
Opening words.

# One

Text with a note[^n] and a picture ![a red square](img/red.jpg).

[^n]: The note.

# Two

A CMYK plate ![plate](img/plate.jpg) and more text.

## Part

Closing.
"""


def small_book_zip(variant: int = 0) -> bytes:
    """A two-chapter book with two small images; `variant` changes its text so jobs differ."""
    from PIL import Image

    red = io.BytesIO()
    Image.new("RGB", (300 + variant, 200), (200, 20, 20)).save(red, "JPEG", quality=85)
    return zip_of(
        {
            "book.md": SMALL_MARKDOWN.replace("Closing.", f"Closing {variant}.").encode(),
            "img/red.jpg": red.getvalue(),
            "img/plate.jpg": cmyk_jpeg(),
        }
    )


# A README-shaped book: a table of contents of links to headings in later chapters, written as
# GitHub slugs, as BUILDING.md files are.
LINKED_MARKDOWN = """\
# Building Quay

## Contents

- [Requirements](#requirements)
- [Installing on Linux](#installing-on-linux), [its notes](#notes) and [more notes](#notes-1)
- [Ünïcode names](#ünïcode-names) and [the same, in ASCII](#unicode-names)
- [A place that is not there](#no-such-place)
- [Contributing](CONTRIBUTING.md)

# Requirements

Back to [the contents](#contents); a note[^deps].

[^deps]: Installed as in [installing](#installing-on-linux); [nowhere](#nowhere-in-notes).

# Installing on Linux

## Notes

First notes.

## Notes

More notes; see [the requirements](#Requirements).

# Ünïcode names

The end.
"""

# An HTML manuscript that links to itself by its own file name and names its own anchors.
LINKED_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><title>The Guide</title></head><body>
<h1>Guide</h1>
<p>See <a href="guide.html#later">later</a>, <a href="./guide.html#fig-1">the figure</a>,
<a href="#1st">the first</a>, <a href="guide.html">the start</a> and <a href="other.html#x">elsewhere</a>.</p>
<h2 id="intro-custom">Intro</h2>
<p id="1st">A paragraph whose id is not an XML name.</p>
<h1>Second</h1>
<p id="later">Later.</p>
<div id="fig-1"><p>A figure.</p></div>
<p id="later">The same id again.</p>
<p><a href="#intro-custom">Back to the intro</a>.</p>
</body></html>
"""


def described_image_zip(markdown: str) -> bytes:
    """A Markdown book with one 600 × 400 photo, quay.jpg."""
    return zip_of({"book.md": markdown.encode(), "quay.jpg": photo_jpeg(600, 400)})


UNDESCRIBED_IMAGE_MARKDOWN = "# One\n\n![](quay.jpg)\n\n```\ncode\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
CAPTIONED_FIGURE_HTML = (
    '<body><h1>One</h1><figure><img src="quay.jpg"><figcaption>Boats at the quay</figcaption></figure></body>'
)


def captioned_figure_zip() -> bytes:
    return zip_of({"book.html": CAPTIONED_FIGURE_HTML.encode(), "quay.jpg": photo_jpeg(600, 400)})


MATH_MARKDOWN = r"""# Areas and sums

A circle's area is $\pi r^2$; a ticket costs $5 and a meal $10, which is not mathematics.

$$
\sum_{i=1}^{n} i = \frac{n(n+1)}{2}
$$

Written as MathML: <math><mi>E</mi><mo>=</mo><mi>m</mi><msup><mi>c</mi><mn>2</mn></msup></math>.

Not TeX that converts: $\frac{a}{$ stays as written.[^note]

[^note]: Even in a note: $e^{i\pi} + 1 = 0$.
"""

# MathML as sites and converters write it, with what an attacker would add.
MATH_HTML = """<html><body><h1>Formulas</h1>
<p>Inline <math xmlns="http://www.w3.org/1998/Math/MathML" alttext="a over b"><mfrac><mi>a</mi><mi>b</mi></mfrac></math>.</p>
<math display="block" onclick="alert(1)"><semantics><mrow><msqrt><mi href="javascript:alert(2)">x</mi></msqrt></mrow>
<annotation-xml encoding="text/html"><img src="x" onerror="alert(3)"></annotation-xml>
<annotation encoding="application/x-tex">\\sqrt{x}</annotation></semantics></math>
<p>After <math><mstyle style="color:red" mathvariant="weird"><mi>y</mi></mstyle><script>alert(4)</script></math>.</p>
</body></html>
"""


def docx_with_comments_and_an_equation() -> bytes:
    """The docx() book with a reviewer's comment and a Word equation."""
    equation = (
        '<w:p><m:oMath xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math">'
        "<m:r><m:t>x=1</m:t></m:r></m:oMath></w:p>"
    )
    comments = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:comments {_W}>'
        '<w:comment w:id="0" w:author="Editor"><w:p><w:r><w:t>Cut this?</w:t></w:r></w:p></w:comment>'
        '<w:comment w:id="1" w:author="Editor"><w:p><w:r><w:t>And this.</w:t></w:r></w:p></w:comment>'
        "</w:comments>"
    )
    with zipfile.ZipFile(io.BytesIO(docx(extra_body=equation))) as source:
        files = {name: source.read(name) for name in source.namelist()}
    return zip_of({**files, "word/comments.xml": comments.encode()})


def files_of(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        return {name: source.read(name) for name in source.namelist()}


def docx_with(extra_body: str = "", parts: dict[str, bytes] | None = None, relationships: str = "") -> bytes:
    """The docx() book with more body, more (or replaced) parts and more document relationships."""
    files = files_of(docx(extra_body=extra_body))
    rels = "word/_rels/document.xml.rels"
    files[rels] = files[rels].replace(b"</Relationships>", relationships.encode() + b"</Relationships>")
    return zip_of({**files, **(parts or {})})


def docx_with_local_files(linked_image: bool = False) -> bytes:
    """A docx with an attached template and a hyperlink on the author's disk, and perhaps a linked image."""
    settings_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
        'Target="file:///C:/Users/dora/Templates/Manuscript.dotx" TargetMode="External"/></Relationships>'
    )
    link = (
        '<w:p><w:r><w:t xml:space="preserve">See </w:t></w:r><w:hyperlink r:id="rIdLocal">'
        '<w:r><w:t>the draft notes</w:t></w:r></w:hyperlink><w:r><w:t xml:space="preserve"> for more.</w:t></w:r></w:p>'
    )
    relationships = (
        '<Relationship Id="rIdLocal" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" '
        'Target="file:///C:/Users/dora/notes.docx" TargetMode="External"/>'
    )
    if linked_image:
        relationships += (
            '<Relationship Id="rIdLinked" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" '
            'Target="file:///C:/Users/dora/photo.jpg" TargetMode="External"/>'
        )
    return docx_with(link, {"word/_rels/settings.xml.rels": settings_rels.encode()}, relationships)


def docx_with_custom_headings() -> bytes:
    """Appendices in a style based on one based on Heading 1, and a paragraph with an outline level of its own."""
    styles = (
        '<w:style w:type="paragraph" w:styleId="AppendixBase"><w:name w:val="Appendix Base"/>'
        '<w:basedOn w:val="Heading1"/></w:style>'
        '<w:style w:type="paragraph" w:styleId="AppendixHeading"><w:name w:val="Appendix Heading"/>'
        '<w:basedOn w:val="AppendixBase"/></w:style>'
        '<w:style w:type="paragraph" w:styleId="Loop"><w:name w:val="Loop"/><w:basedOn w:val="Loop"/></w:style>'
    )
    body = (
        _para("Appendix A: Tides", "AppendixHeading")
        + _para("High and low water.")
        + _para("Appendix B: Knots", "AppendixHeading")
        + _para("Bowline and hitch.", "Loop")
        + '<w:p><w:pPr><w:outlineLvl w:val="0"/></w:pPr><w:r><w:t>Glossary</w:t></w:r></w:p>'
        + _para("Words of the sea.")
    )
    with zipfile.ZipFile(io.BytesIO(docx())) as source:
        original = source.read("word/styles.xml")
    return docx_with(body, {"word/styles.xml": original.replace(b"</w:styles>", styles.encode() + b"</w:styles>")})


OMML_NAMESPACE = "http://schemas.openxmlformats.org/officeDocument/2006/math"


def docx_with_equations() -> bytes:
    """A sentence with an inline equation, then a displayed one, then one Quire cannot convert."""
    m = f'xmlns:m="{OMML_NAMESPACE}"'
    inline = f"<m:oMath {m}><m:sSup><m:e><m:r><m:t>x</m:t></m:r></m:e><m:sup><m:r><m:t>2</m:t></m:r></m:sup></m:sSup></m:oMath>"
    display = (
        f"<m:oMathPara {m}><m:oMath><m:f><m:num><m:r><m:t>a</m:t></m:r></m:num>"
        "<m:den><m:r><m:t>b</m:t></m:r></m:den></m:f></m:oMath></m:oMathPara>"
    )
    odd = f"<m:oMath {m}><m:phant><m:e><m:r><m:t>y+1</m:t></m:r></m:e></m:phant></m:oMath>"
    return docx_with(
        '<w:p><w:r><w:t xml:space="preserve">The square </w:t></w:r>'
        + inline
        + '<w:r><w:t xml:space="preserve"> grows; the ratio is</w:t></w:r></w:p>'
        + f"<w:p>{display}</w:p>"
        + _para("for every reading.")
        + f'<w:p><w:r><w:t xml:space="preserve">Hidden: </w:t></w:r>{odd}</w:p>'
    )


def docx_with_revisions_and_a_text_box() -> bytes:
    """Tracked changes (an insertion, a deletion, a changed paragraph mark) and a text box written for new and old Word."""
    box = (
        "<w:p><w:r><mc:AlternateContent "
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice Requires="wps">'
        "<w:drawing><w:txbxContent><w:p><w:r><w:t>Boxed aside.</w:t></w:r></w:p></w:txbxContent></w:drawing>"
        '</mc:Choice><mc:Fallback><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox>'
        "<w:txbxContent><w:p><w:r><w:t>Boxed aside.</w:t></w:r></w:p></w:txbxContent>"
        "</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    revised = (
        '<w:p><w:pPr><w:rPr><w:ins w:id="9" w:author="Ed"/></w:rPr></w:pPr>'
        '<w:r><w:t xml:space="preserve">The ship </w:t></w:r>'
        '<w:del w:id="1" w:author="Ed"><w:r><w:delText>slowly </w:delText></w:r></w:del>'
        '<w:ins w:id="2" w:author="Ed"><w:r><w:t xml:space="preserve">swiftly </w:t></w:r></w:ins>'
        "<w:r><w:t>sailed.</w:t></w:r></w:p>"
    )
    return docx_with(revised + box)


def word_paper() -> bytes:
    """A research paper as Word saves it: an attached template on the author's disk, a hyperlink to a
    local file, equations in the middle of sentences and displayed (sums, roots, fractions, scripts,
    a matrix), and appendices in a custom style based on Heading 1."""
    m = f'xmlns:m="{OMML_NAMESPACE}"'

    def run(text: str) -> str:
        return f"<m:r><m:t>{text}</m:t></m:r>"

    equations = [
        f"<m:oMath {m}><m:sSub><m:e>{run('p')}</m:e><m:sub>{run('0')}</m:sub></m:sSub></m:oMath>",
        f"<m:oMath {m}><m:rad><m:radPr><m:degHide m:val='1'/></m:radPr><m:deg/><m:e>{run('n')}</m:e></m:rad></m:oMath>",
        f"<m:oMath {m}><m:nary><m:naryPr><m:chr m:val='∑'/></m:naryPr><m:sub>{run('i=1')}</m:sub>"
        f"<m:sup>{run('n')}</m:sup><m:e><m:sSub><m:e>{run('x')}</m:e><m:sub>{run('i')}</m:sub></m:sSub></m:e></m:nary></m:oMath>",
        f"<m:oMath {m}><m:d><m:e><m:m><m:mr><m:e>{run('1')}</m:e><m:e>{run('0')}</m:e></m:mr>"
        f"<m:mr><m:e>{run('0')}</m:e><m:e>{run('1')}</m:e></m:mr></m:m></m:e></m:d></m:oMath>",
    ]
    display = f"<m:oMathPara {m}><m:oMath><m:f><m:num>{run('a+b')}</m:num><m:den>{run('2')}</m:den></m:f></m:oMath></m:oMathPara>"

    def sentence(before: str, equation: str, after: str) -> str:
        return (
            f'<w:p><w:r><w:t xml:space="preserve">{before}</w:t></w:r>{equation}'
            f'<w:r><w:t xml:space="preserve">{after}</w:t></w:r></w:p>'
        )

    body = (
        _para("Method", "Heading1")
        + sentence("We can reject ", equations[0], " when the evidence is strong.")
        + sentence("The error shrinks as ", equations[1], " grows, and the total ")
        + sentence("is ", equations[2], " over every reading;")
        + f"<w:p>{display}</w:p>"
        + sentence("and the identity ", equations[3], " leaves it unchanged.")
        + '<w:p><w:r><w:t xml:space="preserve">Raw data: </w:t></w:r><w:hyperlink r:id="rIdLocal">'
        "<w:r><w:t>the spreadsheet</w:t></w:r></w:hyperlink></w:p>"
        + _para("Appendix A: Proofs", "AppendixHeading")
        + _para("The proof is left to the reader.")
    )
    styles = (
        '<w:style w:type="paragraph" w:styleId="AppendixHeading"><w:name w:val="Appendix Heading"/>'
        '<w:basedOn w:val="Heading1"/></w:style>'
    )
    settings_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
        'Target="file:///C:/Users/dora/Templates/Paper.dotx" TargetMode="External"/></Relationships>'
    )
    link = (
        '<Relationship Id="rIdLocal" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" '
        'Target="file:///C:/Users/dora/data.xlsx" TargetMode="External"/>'
    )
    original = files_of(docx())["word/styles.xml"]
    parts = {
        "word/styles.xml": original.replace(b"</w:styles>", styles.encode() + b"</w:styles>"),
        "word/_rels/settings.xml.rels": settings_rels.encode(),
    }
    return docx_with(body, parts, link)


# Written on Windows: paths with backslashes, in Markdown and in raw HTML (#35).
WINDOWS_PATHS_MARKDOWN = r"""# Travel notes

The harbour: ![The harbour map](images\map.png)

The [port authority](http://example.com\ports\north?q=a\b) and, in HTML, the <a href="notes.md\#second">second part</a>.

# Second

Back to <a href=".\notes.md#travel-notes">the start</a>. It felt like <span lang="fr">déjà vu</span>,
<i xml:lang="la">ad hoc</i>.
"""


def windows_paths_zip() -> bytes:
    return zip_of({"notes.md": WINDOWS_PATHS_MARKDOWN.encode(), "images/map.png": line_art_png()})


# A thumbnail that links to its full-size picture, in Markdown and in raw HTML (#35).
THUMBNAIL_MARKDOWN = """# The harbour

[![Map of the harbour](map-small.jpg)](map-large.jpg)

The [full chart](charts/chart.png), <a href="map-large.jpg">the map again</a>, and a
[picture that is not there](missing.png).
"""


def thumbnail_zip() -> bytes:
    return zip_of(
        {
            "harbour.md": THUMBNAIL_MARKDOWN.encode(),
            "map-small.jpg": photo_jpeg(300, 200),
            "map-large.jpg": photo_jpeg(1200, 800),
            "charts/chart.png": line_art_png(),
        }
    )
