"""Links inside the book reach their targets, across chapters and in notes; the rest are named."""

from __future__ import annotations

import io
import re
import zipfile

from shared.book import convert
from shared.book.links import BookAnchors, backslashes_read, internal_target, markdown_slug, slug
from tests import book_corpus as corpus
from tests.book.conftest import options
from tests.book.test_conversion import text


def hrefs(xhtml: str) -> list[str]:
    return re.findall(r'<a [^>]*?href="([^"]*)"', xhtml)


def test_slugs_are_readable_ascii_xml_names() -> None:
    assert slug("Chapter 1: The Quay — Zürich") == "chapter-1-the-quay-zurich"
    assert slug("1. Getting started") == "s-1-getting-started"
    assert slug("日本語") == "section"
    assert markdown_slug("Chapter 1: The Quay — Zürich") == "chapter-1-the-quay--zürich"


def test_ids_are_unique_in_the_book_and_authors_ids_are_kept() -> None:
    anchors = BookAnchors()
    assert anchors.heading(1, "Notes", None) == "notes"
    assert anchors.heading(2, "Notes", None) == "notes-1"
    assert anchors.keep(2, "custom") == "custom"
    assert anchors.keep(3, "custom") is None  # a duplicate: the first keeps it
    assert anchors.keep(3, "2nd place") == "s-2nd-place"
    assert anchors.keep(3, "c2-fn1") == "id-c2-fn1"  # never one of the note ids
    assert anchors.find("2nd place") == "s-2nd-place"
    assert anchors.find("Notes") == "notes"
    assert anchors.ids == {"notes": 1, "notes-1": 2, "custom": 2, "s-2nd-place": 3, "id-c2-fn1": 3}


def test_own_file_names_are_internal_and_other_files_are_not() -> None:
    own = frozenset({"book/guide.html", "guide.html"})
    assert internal_target("#a%20b", own) == "a b"
    assert internal_target("guide.html#later", own) == "later"
    assert internal_target("./book/guide.html", own) == ""
    assert internal_target("other.html#x", own) is None
    assert internal_target("https://example.com/guide.html#x", own) is None
    assert internal_target("guide.html?page=2", own) is None


def test_a_table_of_contents_reaches_every_chapter_and_missing_targets_are_named() -> None:
    result = convert(corpus.LINKED_MARKDOWN.encode(), options("markdown"))
    contents = text(result, "OEBPS/text/ch001.xhtml")
    assert hrefs(contents) == [
        "ch002.xhtml#requirements",
        "ch003.xhtml#installing-on-linux",
        "ch003.xhtml#notes",
        "ch003.xhtml#notes-1",
        "ch004.xhtml#unicode-names",
        "ch004.xhtml#unicode-names",
    ]
    assert '<h2 id="contents">' in contents
    assert "A place that is not there</a>" in contents and "Contributing</a>" in contents  # text kept
    requirements = text(result, "OEBPS/text/ch002.xhtml")
    assert 'href="ch001.xhtml#contents"' in requirements
    assert 'href="ch003.xhtml#installing-on-linux"' in requirements  # inside the footnote
    assert 'href="ch002.xhtml#requirements"' in text(result, "OEBPS/text/ch003.xhtml")  # case differs
    assert sorted(w for w in result.warnings if "link" in w) == [
        "A link to '#no-such-place' in 'Building Quay' points at nothing in the book; its text was kept.",
        "A link to '#nowhere-in-notes' in 'Requirements' points at nothing in the book; its text was kept.",
        "A link to 'CONTRIBUTING.md' in 'Building Quay' points at a file outside the book; its text was kept.",
    ]
    # Every link to a target that exists reaches it: as many as the manuscript has, less the three named.
    written = len(re.findall(r"\]\((?!https?:)[^)]*\)", corpus.LINKED_MARKDOWN))
    kept = sum(len(hrefs(text(result, f"OEBPS/text/ch00{n}.xhtml"))) for n in range(1, 5))
    notes = sum(text(result, f"OEBPS/text/ch00{n}.xhtml").count('role="doc-backlink"') * 2 for n in range(1, 5))
    assert kept - notes == written - 3


def test_the_web_app_book_links_to_its_own_pages() -> None:
    result = convert(corpus.LINKED_MARKDOWN.encode(), options("markdown"))
    page = result.app_files["chapters/ch001.html"].decode()
    assert 'href="ch002.html#requirements"' in page and "xhtml" not in page


def test_html_links_by_its_own_file_name_and_to_its_own_ids() -> None:
    result = convert(corpus.LINKED_HTML.encode(), options("html", file_name="guide.html"))
    first, second = text(result, "OEBPS/text/ch001.xhtml"), text(result, "OEBPS/text/ch002.xhtml")
    assert hrefs(first) == ["ch002.xhtml#later", "ch002.xhtml#fig-1", "#s-1st", "ch001.xhtml"]
    assert '<p id="s-1st">' in first and '<h2 id="intro-custom">' in first
    assert '<p id="later">Later.</p>' in second and "<p>The same id again.</p>" in second
    assert 'href="ch001.xhtml#intro-custom"' in second
    assert result.warnings == [
        "A link to 'other.html#x' in 'Guide' points at a file outside the book; its text was kept."
    ]


def test_without_its_file_name_a_link_to_the_manuscript_is_outside() -> None:
    result = convert(corpus.LINKED_HTML.encode(), options("html"))
    assert "A link to 'guide.html#later' in 'Guide' points at a file outside the book; its text was kept." in (
        result.warnings
    )


def test_in_a_book_of_many_files_links_name_a_file_and_each_files_headings_stay_its_own() -> None:
    files = frozenset({"README.md", "guide/setup.md", "guide/use.md"})
    assert internal_target("#here", frozenset(), "guide/use.md", files) == "quire-file/guide/use.md#here"
    assert internal_target("setup.md#a%20b", frozenset(), "guide/use.md", files) == "quire-file/guide/setup.md#a b"
    assert internal_target("../README.md", frozenset(), "guide/use.md", files) == "quire-file/README.md#"
    assert internal_target("./setup.html#x", frozenset(), "guide/use.md", files) == "quire-file/guide/setup.md#x"
    assert internal_target("other.md#x", frozenset(), "guide/use.md", files) is None  # not in the book
    anchors = BookAnchors()
    anchors.begin("guide/setup.md", 1)
    assert anchors.heading(1, "Notes", None) == "notes"
    anchors.begin("guide/use.md", 2)
    assert anchors.heading(2, "Notes", None) == "notes-1"
    assert anchors.heading(2, "Notes", None) == "notes-2"
    assert anchors.find_in("guide/setup.md", "notes") == "notes"
    assert anchors.find_in("guide/use.md", "notes") == "notes-1"
    assert anchors.find_in("guide/use.md", "notes-1") == "notes-2"  # as a Markdown tool numbers them in the file
    assert anchors.file_chapters == {"guide/setup.md": 1, "guide/use.md": 2}


def test_an_old_style_named_anchor_is_a_link_target_across_chapters() -> None:
    """`<a name="x">` (HTML before 5, still common in Markdown) is where `#x` links land (#35)."""
    manuscript = (
        b'# One\n\nSee [the old anchor](#old-anchor).\n\n# Two\n\n<a name="old-anchor"></a>Text at the anchor.\n'
    )
    result = convert(manuscript, options("markdown"))
    assert not [w for w in result.warnings if "old-anchor" in w], result.warnings
    assert 'href="ch002.xhtml#old-anchor"' in text(result, "OEBPS/text/ch001.xhtml")
    assert re.search(r'<a id="old-anchor"\s*(/>|></a>)', text(result, "OEBPS/text/ch002.xhtml"))


def test_another_folders_readme_is_not_the_manuscript_readme() -> None:
    manuscript = (
        "# Tool\n\nSee [the guide](docs/README.md), [the other](../other/README.md) and [the top](README.md#tool).\n"
    )
    uploaded = convert(manuscript.encode(), options("markdown", file_name="README.md"))
    zipped = convert(corpus.zip_of({"README.md": manuscript.encode()}), options("zip"))
    for result in (uploaded, zipped):
        chapter = text(result, "OEBPS/text/ch001.xhtml")
        assert hrefs(chapter) == ["#tool"]
        assert "the guide</a>" in chapter and "the other</a>" in chapter  # their text stays
        assert sorted(w for w in result.warnings if "link" in w) == [
            "A link to '../other/README.md' in 'Tool' points at a file outside the book; its text was kept.",
            "A link to 'docs/README.md' in 'Tool' points at a file outside the book; its text was kept.",
        ]


def test_backslashes_are_read_as_a_browser_reads_them() -> None:
    assert backslashes_read(r"images\map.png") == "images/map.png"
    assert backslashes_read(r"chapter2.html\#s") == "chapter2.html#s"  # an escaped '#'
    assert backslashes_read(r"HTTP://example.com\a\b?q=c\d#e\f") == "HTTP://example.com/a/b?q=c%5Cd#e%5Cf"
    assert backslashes_read(r"mailto:a\b@example.com") == "mailto:a%5Cb@example.com"
    assert backslashes_read("plain/path.md") == "plain/path.md"


def test_links_written_with_backslashes_reach_their_targets() -> None:
    result = convert(corpus.windows_paths_zip(), options("zip"))
    first, second = text(result, "OEBPS/text/ch001.xhtml"), text(result, "OEBPS/text/ch002.xhtml")
    assert "http://example.com/ports/north?q=a%5Cb" in hrefs(first)
    assert "ch002.xhtml#second" in hrefs(first)
    assert hrefs(second) == ["ch001.xhtml#travel-notes"]
    assert 'src="../images/' in first
    assert not [w for w in result.warnings if "link" in w]
    for name in zipfile.ZipFile(io.BytesIO(result.epub)).namelist():
        if name.endswith(".xhtml"):
            assert "\\" not in text(result, name), name


def test_a_thumbnail_leads_to_its_full_size_picture_on_a_page_of_its_own() -> None:
    result = convert(corpus.thumbnail_zip(), options("zip"))
    epub = zipfile.ZipFile(io.BytesIO(result.epub))
    chapter = text(result, "OEBPS/text/ch001.xhtml")
    large, chart, again = hrefs(chapter)
    assert again == large and large != chart  # one page per picture
    assert "picture that is not there</a>" in chapter  # text kept, no href
    assert [w for w in result.warnings if "link" in w] == [
        "A link to 'missing.png' in 'The harbour' points at a file outside the book; its text was kept."
    ]
    page = text(result, f"OEBPS/text/{large}")
    image = re.search(r'<img src="\.\./images/([^"]+)" alt="Map of the harbour" width="(\d+)"', page)
    assert image is not None and image.group(2) == "1200"  # the full-size picture, not the thumbnail
    assert f"OEBPS/images/{image.group(1)}" in epub.namelist()
    assert 'alt="full chart"' in text(result, f"OEBPS/text/{chart}")  # no thumbnail: the link's text
    opf = text(result, "OEBPS/content.opf")
    page_id = re.search(rf'<item id="([^"]+)" href="text/{large}"', opf)
    assert page_id is not None and f'<itemref idref="{page_id.group(1)}" linear="no"/>' in opf
    # The web-app book links to the picture itself.
    web = result.app_files["chapters/ch001.html"].decode()
    assert f'href="../images/{image.group(1)}"' in web and f"images/{image.group(1)}" in result.app_files
