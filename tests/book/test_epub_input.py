"""EPUBs as manuscripts: an EPUB 3, an EPUB 2, a Standard Ebooks source folder and Quire's own EPUB
go in whole (spine order, nav titles, OPF metadata, cover, images, every link between files), and a
broken EPUB is refused with a message that says what to do."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import pytest
from lxml import etree
from lxml import html as lxml_html

from shared.book import Conversion, ManuscriptError, convert
from shared.book.model import ParsedBook
from shared.book.readers import parse_manuscript
from tests import epub_corpus
from tests.book.conftest import options

OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"


def files_of(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist() if not name.endswith("/")}


def local_links(files: dict[str, bytes], paths: list[str]) -> list[tuple[str, str]]:
    """Every link in these files that stays in the book: (the file it is in, its href)."""
    found = []
    for path in paths:
        page = lxml_html.document_fromstring(files[path])
        for link in page.iter("a"):
            href = link.get("href")
            if href is not None and not urlsplit(href).scheme:
                found.append((path, href))
    return found


def assert_links_reach(files: dict[str, bytes], links: list[tuple[str, str]]) -> None:
    """Each link's file is in the EPUB, and its #id is an element of that file."""
    for path, href in links:
        parts = urlsplit(href)
        target = (
            posixpath.normpath(posixpath.join(posixpath.dirname(path), unquote(parts.path))) if parts.path else path
        )
        assert target in files, (path, href)
        if parts.fragment:
            ids = {element.get("id") for element in lxml_html.document_fromstring(files[target]).iter()}
            assert unquote(parts.fragment) in ids, (path, href)


def spine_files(epub: bytes) -> tuple[dict[str, bytes], list[str]]:
    """The EPUB's files, and its spine's files in order (as archive paths)."""
    files = files_of(epub)
    opf_path = next(name for name in files if name.endswith(".opf"))
    package = etree.fromstring(files[opf_path])
    hrefs = {item.get("id"): item.get("href") for item in package.iter(f"{OPF}item")}
    folder = posixpath.dirname(opf_path)
    spine = [posixpath.join(folder, unquote(hrefs[ref.get("idref")])) for ref in package.iter(f"{OPF}itemref")]
    return files, spine


def chapter_files(epub: bytes) -> tuple[dict[str, bytes], list[str]]:
    """Quire's output: its files, and its chapters' files in reading order."""
    files, spine = spine_files(epub)
    return files, [path for path in spine if posixpath.basename(path).startswith("ch")]


def written_metadata(epub: bytes) -> tuple[str, list[str], str]:
    files = files_of(epub)
    package = etree.fromstring(files["OEBPS/content.opf"])
    return (
        package.findtext(f".//{DC}title"),
        [creator.text for creator in package.iter(f"{DC}creator")],
        package.findtext(f".//{DC}language"),
    )


def parsed(data: bytes, kind: str = "epub", title: str = "", author: str = "", language: str = "") -> ParsedBook:
    return parse_manuscript(data, kind, title=title, author=author, language=language)


def converted(data: bytes, kind: str = "epub") -> Conversion:
    return convert(data, options(kind, updates_url="../updates"))


# -- an EPUB 3 ----------------------------------------------------------------------------------


def test_an_epub3_becomes_its_spine_in_order_with_its_metadata_and_cover() -> None:
    book = parsed(epub_corpus.epub3_book())
    # The cover page and the nav are Quire's own to make; the non-linear notes come last.
    assert [c.source_file for c in book.chapters] == [
        "OEBPS/text/ch1.xhtml",
        "OEBPS/text/ch2.xhtml",
        "OEBPS/text/ch 3.xhtml",
        "OEBPS/text/notes.xhtml",
    ]
    assert [c.title for c in book.chapters] == ["Arrival", "The Storm", "Spring", "Notes"]
    meta = book.metadata
    assert (meta.title, meta.subtitle) == ("The Lighthouse Keeper", "A Winter on the Rock")
    assert meta.authors == ["Ada Harbour", "Ben Quay"]  # the illustrator is not an author
    assert meta.language == "en-GB"
    assert meta.description == "A keeper, a storm, and the ships between."
    assert meta.identifier == "urn:uuid:0b3f1d2e-4a5b-4c6d-8e7f-901234567890"  # the unique one
    assert book.cover_key and book.cover_key in book.image_sources
    assert any("fonts" in warning for warning in book.warnings)


def test_upload_fields_win_over_the_epubs_metadata() -> None:
    book = parsed(epub_corpus.epub3_book(), title="Another Title", author="Eve One; Fay Two", language="de")
    assert (book.metadata.title, book.metadata.authors, book.metadata.language) == (
        "Another Title",
        ["Eve One", "Fay Two"],
        "de",
    )


def test_an_epub3_keeps_every_link_image_and_note_in_the_written_book() -> None:
    source = epub_corpus.epub3_book()
    source_files, spine = spine_files(source)
    chapters = [path for path in spine if "/cover" not in path and not path.endswith("nav.xhtml")]
    result = converted(source)
    files, written = chapter_files(result.epub)
    assert len(written) == 4
    assert written_metadata(result.epub) == ("The Lighthouse Keeper", ["Ada Harbour", "Ben Quay"], "en-GB")
    links = local_links(files, written)
    assert len(links) == len(local_links(source_files, chapters)) == 6
    assert_links_reach(files, links)
    storm = files[written[1]].decode()
    assert 'alt="The harbour under the storm"' in storm
    image = next(name for name in files if name.startswith("OEBPS/images/") and name.endswith(".png"))
    assert f'src="../images/{posixpath.basename(image)}"' in storm
    arrival = files[written[0]].decode()
    # The footnote stays beside its reference, both still marked as a note and its reference.
    assert 'role="doc-noteref"' in arrival and '<aside id="fn1" role="doc-footnote"><p>The rock is' in arrival
    assert not [w for w in result.warnings if "points at" in w], result.warnings


# -- an EPUB 2 ----------------------------------------------------------------------------------


def test_an_epub2_takes_its_titles_from_the_ncx_and_its_cover_from_the_guide() -> None:
    book = parsed(epub_corpus.epub2_book())
    assert [c.source_file for c in book.chapters] == ["letter1.html", "letter2.html"]
    assert [c.title for c in book.chapters] == ["The First Letter", "The Second Letter"]
    assert (book.metadata.title, book.metadata.authors, book.metadata.language) == (
        "Letters from the Coast",
        ["Cora Writer"],
        "fr",
    )
    assert book.metadata.identifier == "urn:isbn:9780000000002"  # its opf:scheme is ISBN
    assert book.cover_key


def test_an_epub2_keeps_its_links_and_image() -> None:
    source = epub_corpus.epub2_book()
    source_files, spine = spine_files(source)
    result = converted(source)
    files, written = chapter_files(result.epub)
    assert len(written) == 2
    assert written_metadata(result.epub) == ("Letters from the Coast", ["Cora Writer"], "fr")
    links = local_links(files, written)
    assert len(links) == len(local_links(source_files, spine[1:])) == 2
    assert_links_reach(files, links)
    assert 'alt="A map of the coast"' in files[written[1]].decode()


# -- a Standard Ebooks source folder, zipped ---------------------------------------------------


def test_a_standard_ebooks_source_zip_is_read_as_its_epub() -> None:
    book = parsed(epub_corpus.standard_ebooks_zip(), "zip")
    # The title page is Quire's own to make; the imprint is the book's.
    assert [c.source_file for c in book.chapters] == [
        "src/epub/text/imprint.xhtml",
        "src/epub/text/chapter-1.xhtml",
        "src/epub/text/chapter-2.xhtml",
    ]
    assert [c.title for c in book.chapters] == ["Imprint", "I", "II"]
    assert (book.metadata.title, book.metadata.authors, book.metadata.language) == (
        "A Short Tale",
        ["Ann Author"],
        "en-US",
    )
    result = converted(epub_corpus.standard_ebooks_zip(), "zip")
    files, written = chapter_files(result.epub)
    links = local_links(files, written)
    assert len(written) == 3 and len(links) == 1
    assert_links_reach(files, links)


# -- Quire's own EPUB, uploaded again ---------------------------------------------------------


def test_quires_own_epub_republishes_to_the_same_book() -> None:
    first = converted(epub_corpus.republished_source_zip(), "zip")
    again = converted(first.epub)
    first_files, first_chapters = chapter_files(first.epub)
    files, chapters = chapter_files(again.epub)
    assert len(chapters) == len(first_chapters) == 3

    def titles(files: dict[str, bytes], chapters: list[str]) -> list[str]:
        return [lxml_html.document_fromstring(files[path]).findtext(".//h1") for path in chapters]

    assert titles(files, chapters) == titles(first_files, first_chapters) == ["High Water", "Low Water", "Slack Water"]
    assert written_metadata(again.epub) == written_metadata(first.epub)
    assert written_metadata(again.epub)[1] == ["Ada Writer", "Ben Editor"]
    links = local_links(files, chapters)
    assert len(links) == len(local_links(first_files, first_chapters)) == 9
    assert_links_reach(files, links)
    book = parsed(first.epub)
    assert book.metadata.subtitle == "A Harbour Almanac"
    assert book.metadata.identifier == "urn:isbn:9783161484100"
    assert book.cover_key
    assert not again.warnings, again.warnings


# -- Calibre's habits ----------------------------------------------------------------------------


def test_calibres_html_description_is_read_as_text_and_its_placeholder_date_is_no_date() -> None:
    book = parsed(epub_corpus.calibre_epub())
    # Its tags gone, its entities read, its script's code left out; a line for each paragraph.
    assert book.metadata.description == "A blurb with style & wit.\nA second\nparagraph."
    assert book.metadata.date == ""
    result = converted(epub_corpus.calibre_epub())
    index = result.app_files["index.html"].decode()
    assert "A blurb with style &amp; wit." in index and "&lt;" not in index and "alert" not in index
    files = files_of(result.epub)
    package = etree.fromstring(files["OEBPS/content.opf"])
    assert package.findtext(f".//{DC}description") == "A blurb with style & wit.\nA second\nparagraph."
    assert package.find(f".//{DC}date") is None
    assert not [name for name, data in files.items() if b"0101-01-01" in data]
    # A real date after the placeholder is the book's.
    assert parsed(epub_corpus.calibre_epub(dates=("0101-01-01", "2019-05-02"))).metadata.date == "2019-05-02"


@pytest.mark.parametrize(
    ("description", "shown"),
    [
        ("A plain blurb: x < y, and  spaced.", "A plain blurb: x < y, and spaced."),  # no markup: only cleaned
        ("<p>One</p><p>Two &amp; <b>three</b></p>", "One\nTwo & three"),
        ("<div><h2>Praise</h2><ul><li>Bold</li><li>Kind</li></ul></div>", "Praise\nBold\nKind"),
        ("<p>   </p>", ""),
    ],
)
def test_an_epub_description_is_shown_as_text(description: str, shown: str) -> None:
    assert parsed(epub_corpus.calibre_epub(description)).metadata.description == shown


# -- covers named wrong ---------------------------------------------------------------------------

IMAGE_ITEM = '<item id="ci" href="img/{}" media-type="image/jpeg" properties="cover-image"/>'
PAGE_ITEM = '<item id="ci" href="c.xhtml" media-type="image/jpeg" properties="cover-image"/>'
EPUB2_META = '<meta name="cover" content="c"/>'  # names the chapter's item


@pytest.mark.parametrize(
    ("item", "meta", "cover_page", "has_cover", "warned"),
    [
        # EPUB 3 and EPUB 2 alike: a cover that is not an image is passed over, never fails the book.
        (PAGE_ITEM, "", "", False, "names 'c.xhtml' as its cover image, but it is not an image"),
        ("", EPUB2_META, "", False, "names 'c.xhtml' as its cover image, but it is not an image"),
        # One missing from the EPUB is the EPUB's to fix, not an upload's.
        (
            IMAGE_ITEM.format("none.jpg"),
            "",
            "",
            False,
            "names 'img/none.jpg' as its cover image, but it is not in the EPUB",
        ),
        (IMAGE_ITEM.format("none.jpg"), "", "img/real.jpg", True, "so the image its cover page shows is the cover"),
        ("", "", "img/none.jpg", False, "cover page shows 'img/none.jpg', which is not in the EPUB"),
        ("", "", "img/scan.tif", False, "cover page shows 'img/scan.tif', which is not an image Quire can use"),
        # The first cover named that is an image in the EPUB is the one.
        (PAGE_ITEM + IMAGE_ITEM.format("real.jpg").replace('"ci"', '"r"'), "", "", True, ""),
    ],
    ids=[
        "epub3-page",
        "epub2-page",
        "missing",
        "missing-page-stands-in",
        "page-image-missing",
        "page-tiff",
        "first-usable",
    ],
)
def test_a_cover_named_wrong_is_passed_over_with_what_to_do(
    item: str, meta: str, cover_page: str, has_cover: bool, warned: str
) -> None:
    book = parsed(epub_corpus.epub_with_cover(item, meta, cover_page))
    assert [c.title for c in book.chapters] == ["Landfall"]
    assert bool(book.cover_key) == has_cover
    covers = [w for w in book.warnings if "cover" in w]
    if warned:
        assert len(covers) == 1 and warned in covers[0] and "Export the EPUB again" in covers[0], covers
    else:
        assert covers == []
    assert not [w for w in book.warnings if "upload a zip" in w]


# -- broken tables of contents ------------------------------------------------------------------


def test_a_broken_ncx_is_skipped_with_a_warning_and_a_broken_nav_still_gives_titles() -> None:
    # Beside a nav that is not well-formed XML either: the nav is read as HTML, and titles the chapters.
    book = parsed(epub_corpus.epub_with_broken_contents(nav=True))
    assert [c.title for c in book.chapters] == ["First Light", "Second Tide"]
    skipped = [w for w in book.warnings if "'toc.ncx' is not well-formed XML" in w]
    assert len(skipped) == 1 and "skipped" in skipped[0] and "Export the EPUB again" in skipped[0]
    # Alone: the book is still made, its chapters titled by their text.
    book = parsed(epub_corpus.epub_with_broken_contents(nav=False))
    assert [c.source_file for c in book.chapters] == ["c1.xhtml", "c2.xhtml"]
    assert [w for w in book.warnings if "'toc.ncx'" in w] == skipped


# -- broken EPUBs ---------------------------------------------------------------------------------


DECLARES = "'content.opf' declares XML entities"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (epub_corpus.epub_without_container, "has no META-INF/container.xml"),
        (epub_corpus.epub_with_missing_opf, "names 'OEBPS/package.opf', which is not in the EPUB"),
        (epub_corpus.epub_with_empty_spine, "spine lists no chapter file"),
        (epub_corpus.epub_with_broken_opf, "'content.opf' is not well-formed XML"),
        (lambda: epub_corpus.epub_declaring(epub_corpus.LAUGHS), DECLARES),
        (lambda: epub_corpus.epub_declaring(epub_corpus.EXTERNAL_ENTITY), DECLARES),
        # UTF-16 (either byte order, a BOM or none) is searched between its NULs; UTF-7's `+ADw-!ENTITY`
        # is caught by the parser's own record of the DOCTYPE: refused by name, whatever the encoding.
        (lambda: epub_corpus.epub_declaring(epub_corpus.LAUGHS, "UTF-16"), DECLARES),
        (lambda: epub_corpus.epub_declaring(epub_corpus.EXTERNAL_ENTITY, "UTF-16"), DECLARES),
        (lambda: epub_corpus.epub_declaring(epub_corpus.EXTERNAL_ENTITY, "UTF-16-BE"), DECLARES),
        (lambda: epub_corpus.epub_declaring(epub_corpus.EXTERNAL_ENTITY, "UTF-7"), DECLARES),
    ],
)
def test_a_broken_epub_is_refused_with_what_to_do(make: Callable[[], bytes], expected: str) -> None:
    with pytest.raises(ManuscriptError) as refused:
        parsed(make())
    assert expected in str(refused.value)
    assert "Export the EPUB again" in str(refused.value)
