"""What the books contain: structure, metadata, images, footnotes, safety. Pure, no storage."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from shared.book import Conversion, ManuscriptError, convert
from shared.book.conversion import assemble, image_batches, parse, process, render
from tests import book_corpus as corpus
from tests.book.conftest import options


def entries(result: Conversion) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def infos(result: Conversion) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        return archive.infolist()


def text(result: Conversion, name: str) -> str:
    return entries(result)[name].decode("utf-8")


def image_file(chapter: str, alt: str) -> str:
    tag = next(t for t in re.findall(r"<img [^>]*>", chapter) if f'alt="{alt}"' in t)
    match = re.search(r'src="../images/([^"]+)"', tag)
    assert match is not None, tag
    return match.group(1)


def test_ocf_container_rules(converted: dict[str, Conversion]) -> None:
    result = converted["markdown-zip-every-feature"]
    listing = infos(result)
    assert listing[0].filename == "mimetype"
    assert listing[0].compress_type == zipfile.ZIP_STORED
    assert listing[0].extra == b""
    assert entries(result)["mimetype"] == b"application/epub+zip"
    for info in listing:
        assert info.filename.isascii() and " " not in info.filename
        if info.filename.endswith((".jpg", ".png")):
            assert info.compress_type == zipfile.ZIP_STORED  # already compressed: not deflated again


def test_metadata_from_front_matter(converted: dict[str, Conversion]) -> None:
    opf = text(converted["markdown-zip-every-feature"], "OEBPS/content.opf")
    assert "<dc:title>The Harbour: a Novel</dc:title>" in opf
    assert '<meta property="dcterms:alternative">Stories from the Quay</meta>' in opf
    assert re.findall(r"<dc:creator[^>]*>([^<]+)</dc:creator>", opf) == ["Ada Writer", "Ben Editor"]
    assert "<dc:language>en-GB</dc:language>" in opf
    assert "urn:isbn:9783161484100" in opf
    assert "<dc:publisher>Quire Press</dc:publisher>" in opf
    assert '<meta property="dcterms:modified">2026-11-21T09:30:00Z</meta>' in opf
    assert 'properties="cover-image"' in opf and '<meta name="cover" content="cover-image"/>' in opf
    for prop in (
        "accessMode",
        "accessModeSufficient",
        "accessibilityFeature",
        "accessibilityHazard",
        "accessibilitySummary",
    ):
        assert f'property="schema:{prop}"' in opf


def test_chapters_nav_and_titles(converted: dict[str, Conversion]) -> None:
    result = converted["markdown-zip-every-feature"]
    files = entries(result)
    chapters = sorted(n for n in files if re.match(r"OEBPS/text/ch\d+\.xhtml", n))
    assert len(chapters) == 3  # the text before the first heading is kept, under the book's title
    assert "<title>The Harbour: a Novel</title>" in files[chapters[0]].decode()
    assert "<title>Chapter 1: The Quay — Zürich</title>" in files[chapters[1]].decode()
    nav = text(result, "OEBPS/nav.xhtml")
    assert nav.count('epub:type="toc"') == 2  # the toc nav, and its landmark
    assert "<ol></ol>" not in nav and "<ol/>" not in nav
    assert re.search(r"Chapter 1: The Quay.*?<ol><li><a [^>]*>A Section</a><ol><li><a [^>]*>Deeper Still</a>", nav)
    for landmark in ("cover", "titlepage", "toc", "bodymatter"):
        assert f'epub:type="{landmark}"' in nav
    assert "<navMap>" in text(result, "OEBPS/toc.ncx")
    for name in chapters:
        assert 'lang="en-GB"' in files[name].decode()


def test_markdown_features_render(converted: dict[str, Conversion]) -> None:
    chapter = text(converted["markdown-zip-every-feature"], "OEBPS/text/ch002.xhtml")
    assert "<em>dark</em>" in chapter and "<strong>stormy</strong>" in chapter and "<s>sunny</s>" in chapter
    assert '<th class="align-right">Tons</th>' in chapter
    assert "<blockquote>" in chapter and "<ol>" in chapter and '<pre tabindex="0"><code' in chapter
    assert "“quoted”" in text(converted["markdown-zip-every-feature"], "OEBPS/text/ch001.xhtml")  # smart quotes
    assert "…" in text(converted["markdown-zip-every-feature"], "OEBPS/text/ch001.xhtml")
    assert '<a href="#a-section">the section</a>' in chapter  # an in-chapter link is kept


def test_footnotes_are_asides_in_their_own_chapter(converted: dict[str, Conversion]) -> None:
    first = text(converted["markdown-zip-every-feature"], "OEBPS/text/ch002.xhtml")
    second = text(converted["markdown-zip-every-feature"], "OEBPS/text/ch003.xhtml")
    assert 'epub:type="noteref"' in first
    assert '<aside epub:type="footnote" role="doc-footnote" id="c2-fn1">' in first
    assert 'href="#c2-fnref1" role="doc-backlink"' in first
    assert "The storm of 1887" in first and "The storm of 1887" not in second
    assert "Second chapter’s note" in second


def test_images_are_resized_oriented_and_converted(converted: dict[str, Conversion]) -> None:
    from PIL import Image

    result = converted["markdown-zip-every-feature"]
    images = {n: d for n, d in entries(result).items() if n.startswith("OEBPS/images/")}
    assert len(images) == 6  # the cover + 5 illustrations, each stored once
    for name, data in images.items():
        with Image.open(io.BytesIO(data)) as image:
            assert max(image.size) <= 1600 and image.width * image.height <= 5_600_000, name
            assert image.mode in ("RGB", "RGBA", "P"), f"{name} is {image.mode}"  # CMYK converted; P: line art
            assert not image.getexif(), f"{name} kept its EXIF"
    chapter = text(result, "OEBPS/text/ch003.xhtml")
    rotated = image_file(chapter, "portrait")
    with Image.open(io.BytesIO(images[f"OEBPS/images/{rotated}"])) as image:
        assert image.height > image.width  # EXIF orientation 6 applied: stored landscape, shown portrait
    logo = image_file(chapter, "logo")
    assert logo.endswith(".png")  # transparency keeps PNG
    assert sum(len(d) for d in images.values()) < len(corpus.full_markdown_zip()) / 2


@pytest.mark.parametrize(
    ("source", "stored"),
    [
        ((3000, 2000), (1500, 1000)),  # half scale is 94 % of the 1600 px cap: kept as decoded
        ((2400, 1600), (1599, 1066)),  # half scale is 75 %: decoded whole, resampled to the cap
        ((1200, 800), (1200, 800)),  # under the cap: untouched
    ],
)
def test_photos_are_decoded_at_the_scale_nearest_the_cap(source: tuple[int, int], stored: tuple[int, int]) -> None:
    from shared.book.images import process_image

    image = process_image(corpus.photo_jpeg(*source), "photo.jpg")
    assert (image.width, image.height) == stored


def test_generated_cover_when_none_given(converted: dict[str, Conversion]) -> None:
    from PIL import Image

    data = entries(converted["plain-text"])["OEBPS/images/cover.jpg"]
    with Image.open(io.BytesIO(data)) as cover:
        assert cover.format == "JPEG" and cover.height > cover.width


def test_plain_text_headings_and_paragraphs(converted: dict[str, Conversion]) -> None:
    nav = text(converted["plain-text"], "OEBPS/nav.xhtml")
    # The first line is a sentence, not a title: the book is named after its file.
    assert "<dc:title>sea notes</dc:title>" in text(converted["plain-text"], "OEBPS/content.opf")
    assert re.findall(r'<a href="text/ch\d+\.xhtml">([^<]+)</a>', nav) == [
        "sea notes",
        "Chapter 1",
        "CHAPTER IV",
        "Part One",
    ]
    assert "<p>The first chapter begins here. It spans two lines in the file.</p>" in text(
        converted["plain-text"], "OEBPS/text/ch002.xhtml"
    )


def test_html_and_docx_structure(converted: dict[str, Conversion]) -> None:
    html_opf = text(converted["html"], "OEBPS/content.opf")
    assert "<dc:language>fr</dc:language>" in html_opf and "Camille Auteur" in html_opf
    docx = entries(converted["docx"])
    opf = docx["OEBPS/content.opf"].decode()
    assert "<dc:title>The Word Book</dc:title>" in opf and "Dora Docx" in opf
    one = docx["OEBPS/text/ch001.xhtml"].decode()
    assert "<title>Chapter One</title>" in one
    assert "<blockquote><p>A wise quotation.</p></blockquote>" in one
    assert "<pre tabindex=\"0\">print('code')</pre>" in one
    assert '<img alt="A photo of the quay" src="../images/' in one
    assert 'epub:type="footnote"' in one and "The first footnote." in one
    assert "The second footnote." in docx["OEBPS/text/ch002.xhtml"].decode()


def test_non_latin_and_right_to_left(converted: dict[str, Conversion]) -> None:
    ru = entries(converted["non-latin"])
    assert "<title>Глава первая</title>" in ru["OEBPS/text/ch001.xhtml"].decode()
    assert all(name.isascii() for name in ru)
    ar = entries(converted["right-to-left"])
    assert 'page-progression-direction="rtl"' in ar["OEBPS/content.opf"].decode()
    assert 'dir="rtl"' in ar["OEBPS/text/ch001.xhtml"].decode()
    assert "app" and 'dir="rtl"' in converted["right-to-left"].app_files["index.html"].decode()


@pytest.mark.parametrize("name", ["xss-markdown", "xss-html"])
def test_script_laden_manuscripts_are_rendered_harmless(name: str, converted: dict[str, Conversion]) -> None:
    result = converted[name]
    documents = [d.decode() for n, d in entries(result).items() if n.endswith(".xhtml")]
    documents += [d.decode() for n, d in result.app_files.items() if n.endswith(".html")]
    for document in documents:
        # The web-app book's own search box is the one form a page may have (webapp_search.py).
        lowered = re.sub(r'<form class="search-form" role="search" action="search.html"[^>]*>', "", document.lower())
        # The book's own scripts only: each a file of its own (js/), none written into the page.
        own = re.sub(r'<script src="(\.\./)?js/[a-z]+\.js"( defer)?>', "", lowered)
        assert "<script>alert" not in lowered and "<script" not in own
        assert not re.search(r"\son[a-z]+\s*=", lowered)
        # Refused links stay as literal text; what matters is that no attribute carries the URL.
        assert not re.search(r'(href|src|action|data)\s*=\s*"\s*(javascript|data|vbscript):', lowered)
        for tag in ("<iframe", "<object", "<embed", "<form", "<base", "<meta http-equiv", "<svg", " style="):
            assert tag not in lowered
        # MathML is kept (shared/book/mathml.py), but only as mathematics: the script inside is gone.
        assert "alert('math')" not in lowered
        assert "evil.example" not in lowered and "tracker.example" not in lowered
    assert not any(n.endswith(".js") for n in entries(result))  # no script in the EPUB at all


@pytest.mark.parametrize(
    ("make", "kind", "reason"),
    [
        (corpus.zip_bomb, "zip", "compressed suspiciously well"),
        (corpus.lying_zip, "zip", "cannot be read"),
        (corpus.zip_slip, "zip", "climbs out of the archive"),
        (corpus.zip_absolute, "zip", "unsafe name"),
        (corpus.zip_symlink, "zip", "symbolic link"),
        (corpus.image_bomb_zip, "zip", "far too large"),
        (corpus.xxe_docx, "docx", "DTD or entities"),
        (corpus.billion_laughs_docx, "docx", "DTD or entities"),
        (lambda: b"---\ntitle: [unclosed\n---\n# A\n", "markdown", "not valid YAML"),
        (lambda: b"\n\n   \n", "markdown", "no text"),
    ],
)
def test_hostile_and_broken_manuscripts_are_rejected_clearly(make, kind: str, reason: str) -> None:
    with pytest.raises(ManuscriptError) as caught:
        convert(make(), options(kind))
    assert reason in str(caught.value)


def test_two_runs_give_identical_bytes() -> None:
    data = corpus.full_markdown_zip()
    first = convert(data, options("zip"))
    for image_threads in (0, 2):
        again = convert(data, options("zip"), image_threads=image_threads)
        assert first.epub == again.epub
        assert first.app_files == again.app_files


def test_stepwise_conversion_matches_whole_conversion() -> None:
    """Steps run one at a time, through JSON checkpoints and in shuffled order, give the same bytes."""
    import random

    from shared.book.model import ParsedBook, RenderedChapter, pack_images, unpack_images

    data = corpus.full_markdown_zip()
    opts = options("zip", updates_url="../updates")
    whole = convert(data, opts)

    parsed = parse(data, opts)
    rendered = [RenderedChapter.from_dict(json.loads(json.dumps(c.to_dict()))) for c in render(parsed)]
    restored = ParsedBook.from_plain_meta(json.loads(json.dumps(parsed.plain_meta())), dict(parsed.image_sources))
    batches = image_batches(restored)
    random.Random(3).shuffle(batches)
    images = {}
    for batch in batches:  # each batch through its packed checkpoint
        for image in unpack_images(pack_images([process(restored, key) for key in batch])):
            images[image.key] = image
    random.Random(5).shuffle(rendered)
    stepwise = assemble(restored, rendered, images, opts)
    assert stepwise.epub == whole.epub
    assert stepwise.app_files == whole.app_files


def test_a_packed_image_checkpoint_round_trips_and_refuses_a_truncated_one() -> None:
    from shared.book.model import ImageCopy, ProcessedImage, pack_images, unpack_images

    copies = (ImageCopy(1, 1, b"\xff\xd8c\n"), ImageCopy(2, 2, b"\xff\xd8d"))
    images = [
        ProcessedImage(key="a", media_type="image/png", extension="png", width=2, height=3, data=b"\x89PNG\n\x00a"),
        ProcessedImage("b", "image/jpeg", "jpg", width=4, height=5, data=b"\xff\xd8b\n", copies=copies),
        ProcessedImage(key="e", media_type="image/jpeg", extension="jpg", width=4, height=5, data=b"\xff\xd8e"),
    ]
    packed = pack_images(images)
    assert unpack_images(packed) == images
    # A checkpoint written before images had copies still reads.
    assert unpack_images(b'[{"key": "e", "media_type": "image/jpeg", "extension": "jpg", "width": 4, '
                         b'"height": 5, "size": 3}]\n\xff\xd8e') == images[2:]  # fmt: skip
    with pytest.raises(ValueError, match="header"):
        unpack_images(packed[:-1])


def test_image_batches_cover_every_image_once_in_bounded_steps() -> None:
    from shared.book.conversion import IMAGE_BATCH_BYTES
    from shared.book.model import ParsedBook

    sizes = {"a": 10, "b": IMAGE_BATCH_BYTES - 5, "c": 4, "d": IMAGE_BATCH_BYTES * 2, "e": 1}
    book = ParsedBook.from_plain_meta(
        {"metadata": {}, "image_refs": {}, "image_names": {}, "cover_key": "", "warnings": []},
        {key: b"x" * size for key, size in sizes.items()},
    )
    batches = image_batches(book)
    assert [key for batch in batches for key in batch] == sorted(sizes)
    for batch in batches:  # an oversized image goes alone; no batch is over the bound otherwise
        assert len(batch) == 1 or sum(sizes[k] for k in batch) <= IMAGE_BATCH_BYTES
    assert batches == [["a"], ["b", "c"], ["d"], ["e"]]


def test_modified_time_is_the_only_time_in_the_book() -> None:
    from datetime import timedelta

    data = corpus.PLAIN_TEXT.encode()
    first = convert(data, options("text"))
    later = convert(data, options("text", modified=options("text").modified + timedelta(days=1)))
    assert first.epub != later.epub
    changed = {n for n, d in entries(first).items() if entries(later)[n] != d}
    assert changed == {"OEBPS/content.opf"}


def test_split_level_two_makes_sections_chapters() -> None:
    data = corpus.HTML_BOOK.encode()
    assert len([n for n in entries(convert(data, options("html"))) if "/ch0" in n]) == 2
    assert len([n for n in entries(convert(data, options("html", split_level=2))) if "/ch0" in n]) == 3


@pytest.mark.parametrize(
    ("mode", "image_format", "encoder_options"),
    [
        ("RGB", "JPEG", {"quality": 80, "optimize": True, "progressive": True}),
        ("RGBA", "PNG", {"compress_level": 6}),
    ],
)
def test_encoding_through_a_file_descriptor_gives_pillows_in_memory_bytes(
    mode: str, image_format: str, encoder_options: dict[str, object]
) -> None:
    """Images are encoded into a file (so Pillow lets other threads run); the bytes must not change."""
    from PIL import Image

    from shared.book.images import _encoded

    image = Image.effect_noise((400, 300), 50).convert(mode)
    in_memory = io.BytesIO()
    image.save(in_memory, image_format, **encoder_options)
    assert _encoded(image, image_format, **encoder_options) == in_memory.getvalue()


def test_the_cycle_collector_is_paused_only_while_a_parse_runs() -> None:
    import gc

    from shared.book.conversion import cycle_collector_paused

    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    manuscript = "\n\n".join(f"# Part {i}\n\nSome *text* with a [link](https://example.com/{i})." for i in range(2000))
    gc.callbacks.append(count)
    try:
        parse(manuscript.encode(), options("markdown"))
        # A hundred thousand objects, and one collection: the one that runs as the collector resumes.
        assert len(collections) <= 1
        collections.clear()
        [[index] for index in range(10_000)]  # afterwards, allocations trigger collections again
        assert collections
    finally:
        gc.callbacks.remove(count)
    assert gc.isenabled()
    with pytest.raises(ManuscriptError):
        parse(b"", options("markdown"))  # a failed parse turns it back on too
    assert gc.isenabled()

    # Overlapping parses (two threads): the one that found it on turns it on, even if the other is
    # still running, so it is never off for longer than one parse.
    first, second = cycle_collector_paused(), cycle_collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()

    gc.disable()  # someone else's choice is left alone
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_image_missing_from_the_upload_becomes_its_description_with_a_warning() -> None:
    result = convert(corpus.missing_image_markdown(), options("markdown"))
    chapter = text(result, "OEBPS/text/ch001.xhtml")
    assert "<span>a chart</span>" in chapter and "<img" not in chapter
    nameless = convert(b"# Missing\n\n![](charts/sales.png)\n", options("markdown"))
    assert "<span>[sales.png]</span>" in text(nameless, "OEBPS/text/ch001.xhtml")
    assert result.warnings == [
        "The image 'charts/sales.png' in 'Missing' is not in the upload; its description stands in its place. "
        "To include it, upload a zip holding the manuscript and its images, with the paths the text uses."
    ]
    covered = convert(b"---\ncover-image: cover.jpg\n---\n# A\n\nText.\n", options("markdown"))
    assert any("The cover image 'cover.jpg' is not in the upload" in w for w in covered.warnings)


def test_a_zip_read_from_a_file_converts_to_the_same_bytes_reading_each_image_when_needed(tmp_path) -> None:
    """The worker parses a zip from a file on disk, entry by entry: the book is the same, and the
    parse holds none of the images (each is read from the archive when processed)."""
    from shared.book.archive import ArchiveFiles
    from shared.book.conversion import finish
    from shared.book.readers.images import FilesByKey

    data = corpus.full_markdown_zip()
    opts = options("zip", updates_url="../updates")
    path = tmp_path / "book.zip"
    path.write_bytes(data)
    with path.open("rb") as file:
        parsed = parse(file, opts)
        assert isinstance(parsed.image_sources, FilesByKey)
        assert isinstance(parsed.image_sources._files, ArchiveFiles)
        assert parsed.image_sizes == {key: len(parsed.image_sources[key]) for key in parsed.image_sources}
        from_file = finish(parsed, opts)
    whole = convert(data, opts)
    assert from_file.epub == whole.epub and from_file.app_files == whole.app_files


def test_an_entry_read_from_a_file_is_held_to_the_size_it_declares(tmp_path) -> None:
    """A zip that lies about an entry's size in its central directory is stopped at that size."""
    from shared.book.archive import ArchiveFiles

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("book.md", b"# A\n\n" + b"text " * 20_000)
    raw = bytearray(buffer.getvalue())
    directory = raw.rindex(b"PK\x01\x02")
    raw[directory + 24 : directory + 28] = (1000).to_bytes(4, "little")  # the declared size, shrunk
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(raw))
    with path.open("rb") as file:
        files = ArchiveFiles(file)
        with pytest.raises(ManuscriptError, match=r"more than it declares|cannot be read"):
            files["book.md"]


BIDI_TITLE_MARKDOWN = (
    '---\ntitle: "Tides\\a \\u202Efdp.exe\\u2066"\nauthor: "Ada\\u200F Writer\\x1b"\nsubtitle: "\\u202DSalt"\n---\n'
    "# One\n\nThe first chapter.\n\n# \u202eTwo\n\nMore.\n"
)


@pytest.mark.parametrize(
    ("manuscript", "kind"),
    [
        (BIDI_TITLE_MARKDOWN, "markdown"),
        (
            "<html><head><title>Tides\u202e fdp.exe\u2066</title></head><body><h1>One</h1><p>Text.</p></body></html>",
            "html",
        ),
        ("Tides\u202e fdp.exe\x0b\n\nThe first line names the book; this one does not.\n", "text"),
    ],
    ids=["markdown-front-matter", "html-title", "text-first-line"],
)
def test_titles_from_the_manuscript_lose_controls_and_bidi_overrides(manuscript: str, kind: str) -> None:
    """A title the manuscript gives (front matter, <title>, its first line) is cleaned as a title
    sent with the upload is: what the EPUB and the web book show is the text, never the override."""
    result = convert(manuscript.encode(), options(kind))
    opf = text(result, "OEBPS/content.opf")
    assert "<dc:title>Tides fdp.exe</dc:title>" in opf, opf
    shown = [opf, *(data.decode() for name, data in entries(result).items() if name.endswith((".xhtml", ".ncx")))]
    shown += [
        data.decode() for name, data in result.app_files.items() if name.endswith((".html", ".json", ".webmanifest"))
    ]
    index = result.app_files["index.html"].decode()
    assert "<title>Tides fdp.exe</title>" in index and "<h1>Tides fdp.exe</h1>" in index, index
    for page in shown:
        assert not re.search(
            "[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x08\x0b\x0c\x0e-\x1f]", page.split("<body")[0]
        ), page[:400]
    if kind == "markdown":
        assert re.findall(r"<dc:creator[^>]*>([^<]+)</dc:creator>", opf) == ["Ada Writer"]
        assert "Salt</meta>" in opf and "\u202d" not in opf
        assert re.findall(r'<a href="text/ch\d+\.xhtml">([^<]+)</a>', text(result, "OEBPS/nav.xhtml"))[-1] == "Two"


def test_a_picture_standing_alone_is_not_indented_like_a_paragraph(converted: dict[str, Conversion]) -> None:
    from shared.book.styles import EPUB_CSS

    with zipfile.ZipFile(io.BytesIO(converted["markdown-zip-every-feature"].epub)) as book:
        chapter = book.read("OEBPS/text/ch002.xhtml").decode()
    assert re.search(r'<p class="image"><img [^>]*alt="The harbour at dawn"', chapter)
    assert "<p>It was a <em>dark</em>" in chapter  # a paragraph of text keeps its indent
    unindented = next(rule for rule in EPUB_CSS.splitlines() if "text-indent: 0" in rule and "p.image" in rule)
    assert unindented.startswith("h1 + p")
