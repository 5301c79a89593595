"""Books of many files: an mdBook project (SUMMARY.md, book.toml), a Leanpub project (Book.txt),
and a zip of chapter files with nothing to order them, each joined into one book."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from shared.book import Conversion, ManuscriptError, convert
from shared.book.readers import project
from tests.book.conftest import options
from tests.book_corpus import zip_of
from tests.projects_corpus import MDBOOK_FILES, leanpub_zip, mdbook_zip, png


def chapters(result: Conversion) -> dict[str, str]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        return {
            name.rsplit("/", 1)[1]: archive.read(name).decode()
            for name in sorted(archive.namelist())
            if re.search(r"text/ch\d+\.xhtml$", name)
        }


def title_of(xhtml: str) -> str:
    """The chapter's title, as its page names it."""
    match = re.search(r"<title>(.*?)</title>", xhtml, re.S)
    assert match is not None
    return match.group(1).strip()


def links_and_ids(files: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, set[str]]]:
    """Every link (in which file, to which href) and every id of each file, read as XHTML."""
    links = []
    ids: dict[str, set[str]] = {}
    for name, xhtml in files.items():
        root = etree.fromstring(xhtml.encode())
        ids[name] = {element.get("id") for element in root.iter() if element.get("id")}
        links += [(name, a.get("href")) for a in root.iter("{http://www.w3.org/1999/xhtml}a") if a.get("href")]
    return links, ids


def internal_links(markdown: str) -> int:
    return len(re.findall(r"\]\((?!https?:)[^)]*\)", re.sub(r"!\[[^]]*\]\([^)]*\)", "", markdown)))


def test_an_mdbook_project_becomes_one_book_in_its_summarys_order() -> None:
    result = convert(mdbook_zip(), options("zip"))
    files = chapters(result)
    titles = [title_of(xhtml) for xhtml in files.values()]
    assert titles == [
        "Introduction",
        "User Guide",  # a part
        "Installation",
        "Reading Books",  # nested under Installation
        "Creating a Book",  # no heading: the SUMMARY's link text
        "Reference",
        "Command Line",
        "Contributors",  # a suffix chapter
    ]
    assert any("'Plugins'" in w and "draft" in w for w in result.warnings)
    assert not any("Not in the summary" in xhtml for xhtml in files.values())
    # book.toml names the book; the image resolves from its own file's folder.
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        opf = archive.read("OEBPS/content.opf").decode()
        assert any(name.startswith("OEBPS/images/") for name in archive.namelist())
    assert "<dc:title>The Quire Guide</dc:title>" in opf or ">The Quire Guide</dc:title>" in opf
    assert "Ada Lovelace" in opf and "Alan Turing" in opf
    assert "<img" in files["ch003.xhtml"] and not any("red.png" in w for w in result.warnings)
    # A part's page is a part, not a chapter, to reading systems and screen readers.
    assert 'epub:type="part" role="doc-part"' in files["ch002.xhtml"]
    assert 'epub:type="chapter" role="doc-chapter"' in files["ch003.xhtml"]
    assert not [
        name for name, xhtml in files.items() if "doc-part" in xhtml and name not in ("ch002.xhtml", "ch006.xhtml")
    ]


def links_reaching_their_targets(result: Conversion, written: int) -> list[tuple[str, str]]:
    """The book's links inside the book, as (file, href): as many as the author `written`, each
    reaching a file of the book and an id in it; none reported as pointing at nothing."""
    files = chapters(result)
    links, ids = links_and_ids(files)
    internal = [(name, href) for name, href in links if not href.startswith(("http:", "https:", "mailto:"))]
    assert len(internal) == written  # none lost
    for name, href in internal:
        target_file, _, fragment = href.partition("#")
        target_file = target_file or name
        assert target_file in files, href
        assert not fragment or fragment in ids[target_file], (name, href)
    assert not [w for w in result.warnings if "points at" in w]
    return internal


def test_every_link_between_the_files_reaches_an_id_of_the_right_chapter() -> None:
    result = convert(mdbook_zip(), options("zip"))
    internal = links_reaching_their_targets(result, sum(internal_links(text) for text in MDBOOK_FILES.values()))

    def hrefs(name: str) -> list[str]:
        return [href for file, href in internal if file == name]

    # Each file's 'Setup' heading has its own id; a link reaches the one of the file it names.
    assert hrefs("ch001.xhtml") == ["ch003.xhtml", "ch007.xhtml#build", "ch007.xhtml#options", "#setup"]
    assert hrefs("ch003.xhtml") == ["ch001.xhtml", "ch004.xhtml#setup-2"]
    assert hrefs("ch004.xhtml") == ["ch003.xhtml#setup-1"]
    assert hrefs("ch005.xhtml") == ["ch003.xhtml#setup-1", "ch007.xhtml"]  # ./x.md#id, and the .html name
    assert hrefs("ch007.xhtml") == ["#options", "ch004.xhtml"]
    assert hrefs("ch008.xhtml") == ["ch001.xhtml#introduction"]
    # The web-app book has the same links under its own file names.
    web = result.app_files["chapters/ch004.html"].decode()
    assert 'href="ch003.html#setup-1"' in web


def test_the_contents_nest_chapters_under_their_parts_and_parent_chapters() -> None:
    import zipfile

    result = convert(mdbook_zip(), options("zip"))
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        nav = etree.fromstring(archive.read("OEBPS/nav.xhtml"))
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    toc = nav.find(".//x:nav[@id='toc']/x:ol", ns)
    assert toc is not None

    def tree(ol: etree._Element) -> list[object]:
        items: list[object] = []
        for li in ol.findall("x:li", ns):
            link = li.find("x:a", ns)
            assert link is not None
            label = "".join(link.itertext())
            inner = li.find("x:ol", ns)
            items.append((label, tree(inner)) if inner is not None else label)
        return items

    assert tree(toc) == [
        ("Introduction", ["Setup"]),
        ("User Guide", [("Installation", ["Setup", ("Reading Books", ["Setup"])]), "Creating a Book"]),
        ("Reference", [("Command Line", ["Build", "Options"])]),
        "Contributors",
    ]
    index = result.app_files["index.html"].decode()  # the web-app book's contents nest the same way
    assert index.index("Reference") < index.index("Command Line") < index.index("Contributors")


def test_book_toml_gives_way_to_the_uploads_own_fields() -> None:
    result = convert(mdbook_zip(), options("zip", title="My Own Title", author="Grace Hopper"))
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        opf = archive.read("OEBPS/content.opf").decode()
    assert "My Own Title" in opf and "Grace Hopper" in opf and "Ada Lovelace" not in opf


def test_a_leanpub_project_follows_book_txt() -> None:
    data = leanpub_zip()
    result = convert(data, options("zip", title="Lean"))
    files = chapters(result)
    assert [title_of(x) for x in files.values()] == ["Before We Start", "Chapter Ten", "Chapter Two"]
    assert "<em>Markdown</em>" in files["ch002.xhtml"]
    assert 'href="ch003.xhtml#two-begins"' in files["ch001.xhtml"]
    assert any("'missing.md'" in w and "not in the zip" in w for w in result.warnings)
    # A link to a file of the same name in another folder is not a link to the chapter of that name.
    assert "Elsewhere" in files["ch003.xhtml"] and 'href="ch001.xhtml"' not in files["ch003.xhtml"]
    assert any("'other/intro.md'" in w and "outside the book" in w for w in result.warnings)


def test_chapter_files_with_nothing_to_order_them_are_joined_in_natural_order_with_advice() -> None:
    data = zip_of(
        {
            "book/ch10.md": b"# Ten\n\nBack to [two](ch2.md).\n",
            "book/ch2.md": b"# Two\n\nText.\n",
            "book/ch1.md": b"# One\n\nOn to [ten](ch10.md#ten).\n",
        }
    )
    result = convert(data, options("zip", title="Natural"))
    files = chapters(result)
    assert [title_of(x) for x in files.values()] == ["One", "Two", "Ten"]
    assert 'href="ch003.xhtml#ten"' in files["ch001.xhtml"] and 'href="ch002.xhtml"' in files["ch003.xhtml"]
    assert any("file-name order" in w and "SUMMARY.md" in w for w in result.warnings)


def test_a_word_document_among_several_files_is_refused_and_a_projects_text_is_held_to_one_manuscripts_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ManuscriptError, match="one is a Word document"):
        convert(zip_of({"a.md": b"# A\n", "b.docx": b"PK"}), options("zip"))
    monkeypatch.setattr(project, "MAX_PROJECT_TEXT_BYTES", 100)
    with pytest.raises(ManuscriptError, match="more than 0 MiB of text"):
        convert(zip_of({"ch1.md": b"# One\n" + b"x" * 60, "ch2.md": b"# Two\n" + b"y" * 60}), options("zip"))


def test_an_unsafe_entry_in_a_project_is_refused_as_in_any_zip() -> None:
    data = zip_of({"SUMMARY.md": b"- [A](a.md)\n", "a.md": b"# A\n", "../evil.md": b"# Evil\n"})
    with pytest.raises(ManuscriptError, match="climbs out of the archive"):
        convert(data, options("zip"))


def test_a_project_read_from_a_file_entry_by_entry_is_the_same_book(tmp_path: Path) -> None:
    """The worker parses a zip from a file on disk (ArchiveFiles); the project reads the same."""
    from shared.book.conversion import finish, parse

    data = mdbook_zip()
    opts = options("zip", updates_url="../updates")
    path = tmp_path / "guide.zip"
    path.write_bytes(data)
    with path.open("rb") as file:
        from_file = finish(parse(file, opts), opts)
    whole = convert(data, opts)
    assert from_file.epub == whole.epub and from_file.app_files == whole.app_files


def test_a_zip_without_a_manuscript_is_refused_with_what_it_lacks() -> None:
    with pytest.raises(ManuscriptError, match="holds no manuscript"):
        convert(zip_of({"images/a.png": png((1, 2, 3))}), options("zip"))


def test_a_thumbnail_in_a_chapter_of_a_subfolder_leads_to_its_full_size_picture() -> None:
    data = zip_of(
        {
            "SUMMARY.md": b"- [A](ch/a.md)\n- [B](ch/b.md)\n",
            "ch/a.md": b"# A\n\n[![The quay, small](../img/small.png)](../img/large.png)\n",
            "ch/b.md": b'# B\n\n<a href="../img/large.png"><img src="../img/small.png" alt="The quay"></a>\n',
            "img/small.png": png((1, 2, 3)),
            "img/large.png": png((200, 2, 3)),
        }
    )
    result = convert(data, options("zip"))
    files = chapters(result)
    pages = {re.search(r'<a href="(img-[0-9a-f]+\.xhtml)">', files[name]) for name in ("ch001.xhtml", "ch002.xhtml")}
    assert None not in pages and len({page.group(1) for page in pages if page}) == 1, files
    assert not [w for w in result.warnings if "outside the book" in w], result.warnings
