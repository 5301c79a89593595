"""The web-app book's files: pages, manifest, service worker, icons, no inline script or style."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from shared.book import Conversion, convert
from tests.book.conftest import GOOD_BOOKS, options


def found(pattern: str, text: str) -> str:
    """The first group of `pattern` in `text`, which must match."""
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def test_files_and_pages(converted: dict[str, Conversion]) -> None:
    files = converted["markdown-zip-every-feature"].app_files
    for path in ("index.html", "updates.html", "sw.js", "manifest.webmanifest", "css/app.css", "js/app.js",
                 "icons/icon-192.png", "icons/icon-512.png", "chapters/ch001.html", "chapters/ch003.html"):  # fmt: skip
        assert path in files, path
    index = files["index.html"].decode()
    assert 'href="chapters/ch002.html"' in index and 'href="chapters/ch002.html#a-section"' in index
    chapter = files["chapters/ch002.html"].decode()
    assert 'rel="prev"' in chapter and 'rel="next"' in chapter
    assert 'src="../images/' in chapter and "quire-image:" not in chapter
    assert "epub:type" not in chapter
    assert not re.search(r"<(\w+)([^>]*)/>", chapter.replace("<br/>", "").replace("<hr/>", "").split("<img")[0])


def test_no_inline_script_or_style_anywhere(converted: dict[str, Conversion]) -> None:
    for name, result in converted.items():
        for path, data in result.app_files.items():
            if not path.endswith(".html"):
                continue
            page = data.decode()
            scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
            assert all('src="' in attrs and not body.strip() for attrs, body in scripts), (name, path)
            assert "<style" not in page and " style=" not in page, (name, path)
            assert not re.search(r"\son[a-z]+=", page), (name, path)


def test_manifest_meets_install_criteria(converted: dict[str, Conversion]) -> None:
    from PIL import Image

    files = converted["markdown-zip-every-feature"].app_files
    manifest = json.loads(files["manifest.webmanifest"])
    assert manifest["name"] == "The Harbour: a Novel"
    assert len(manifest["short_name"]) <= 12
    assert manifest["start_url"] == "./" and manifest["scope"] == "./"
    assert manifest["display"] == "standalone"
    assert manifest["prefer_related_applications"] is False
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        with Image.open(io.BytesIO(files[icon["src"]])) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]


def test_service_worker_precaches_every_file_under_a_content_hash(converted: dict[str, Conversion]) -> None:
    files = converted["markdown-zip-every-feature"].app_files
    worker = files["sw.js"].decode()
    precache = json.loads(found(r"var PRECACHE = (\[.*?\]);", worker))
    assert set(precache) == {"./", *(p for p in files if p != "sw.js")}
    assert re.search(r"var CACHE = PREFIX \+ '[0-9a-f]{12}'", worker)
    assert 'var UPDATES = "../updates"' in worker
    other = converted["plain-text"].app_files["sw.js"].decode()
    assert found(r"'quire-([0-9a-f]{12})-", worker) != found(r"'quire-([0-9a-f]{12})-", other)


def test_updates_url_is_given_at_build_time(converted: dict[str, Conversion]) -> None:
    page = converted["markdown-zip-every-feature"].app_files["updates.html"].decode()
    assert 'data-updates="../updates"' in page
    assert 'id="updates-list"' in page


def test_reader_settings_and_read_aloud_are_files_of_the_book(converted: dict[str, Conversion]) -> None:
    files = converted["markdown-zip-every-feature"].app_files
    reader = ("css/reader.css", "js/settings.js", "js/reader.js", "js/listen.js")
    precache = json.loads(found(r"var PRECACHE = (\[.*?\]);", files["sw.js"].decode()))
    assert set(reader) <= set(precache)  # read offline too
    for path in reader:
        assert "__" not in files[path].decode(), path  # every placeholder filled in
    chapter = files["chapters/ch002.html"].decode()
    head, body = chapter.split("</head>")
    # Applied before the first paint: a synchronous script in <head> (no defer, no async).
    assert '<script src="../js/settings.js"></script>' in head
    assert '<script src="../js/reader.js" defer></script>' in head and '<script src="../js/listen.js" defer>' in head
    header = found(r'(<header class="bar">.*?</header>)', body)
    assert 'id="listen"' in header and 'id="listen-bar"' in header and 'role="status"' in header
    assert 'id="reader-settings"' in body and "<form" not in body  # a book's pages have no form
    index = files["index.html"].decode()
    assert 'id="reader-settings"' in index and 'id="listen"' not in index
    # Themes the reader picks are the system's own palettes (and sepia); every size from 80 to 200 %.
    css = files["css/reader.css"].decode()
    assert "--bg: #fbf8f2;" in found(r'html\[data-theme="light"\] \{([^}]*)\}', css)
    assert "--bg: #161514;" in found(r'html\[data-theme="dark"\] \{([^}]*)\}', css)
    assert "--bg: #f4ecd8;" in found(r'html\[data-theme="sepia"\] \{([^}]*)\}', css)
    sizes = re.findall(r'html\[data-size="(\d+)"\] \{ font-size: (\d+)%; \}', css)
    assert [int(a) for a, b in sizes if a == b] == list(range(80, 100, 10)) + list(range(110, 201, 10))


def test_the_contents_list_titles_without_numbering_them() -> None:
    chapters = "".join(f"# Chapter {n}\n\nText {n}.\n\n" for n in (7, 8, 9))
    result = convert(f"# Foreword\n\nWords.\n\n{chapters}".encode(), options("markdown"))
    index = result.app_files["index.html"].decode()
    contents = found(r'<nav class="toc" aria-label="Contents">(.*?)</nav>', index)
    assert contents.count("<ol") == 1 and contents.count("<li") == 4  # still a list for screen readers
    assert re.findall(r"<a [^>]*>([^<]*)</a>", contents) == ["Foreword", "Chapter 7", "Chapter 8", "Chapter 9"]
    app_css = result.app_files["css/app.css"].decode()
    assert "list-style: none" in found(r"\.toc ol \{([^}]*)\}", app_css)
    # The EPUB's own contents page (reading systems that show nav.xhtml as a page) numbers nothing either.
    epub = zipfile.ZipFile(io.BytesIO(result.epub))
    nav = epub.read("OEBPS/nav.xhtml").decode()
    assert '<nav epub:type="toc" id="toc"' in nav and 'href="css/book.css"' in nav
    assert "list-style-type: none" in found(r"nav#toc ol \{([^}]*)\}", epub.read("OEBPS/css/book.css").decode())


def test_the_index_links_the_print_pdf_only_when_there_is_one_and_never_caches_it() -> None:
    from shared.book.conversion import book_parts, parse, render
    from shared.book.webapp import write_webapp

    book = parse(b"# One\n\nText.\n", options("markdown"))
    parts = book_parts(book, render(book), {}, options("markdown"))
    assert "book.pdf" not in write_webapp(parts, "../updates", 2)["index.html"].decode()
    for edition, href in ((2, "../book.pdf?edition=2"), (0, "../book.pdf")):
        files = write_webapp(parts, "../updates", edition, pdf=True)
        index = files["index.html"].decode()
        assert f'<a href="{href}" download>Download PDF</a>' in index
        # Served beside the book's folder, outside the service worker's scope and its precache.
        precache = json.loads(found(r"var PRECACHE = (\[.*?\]);", files["sw.js"].decode()))
        assert not any("pdf" in path for path in precache) and not any(p.endswith(".pdf") for p in files)


@pytest.mark.parametrize("name", sorted(GOOD_BOOKS))
def test_the_publication_manifest_reads_the_book_in_order_from_its_own_files(
    name: str, converted: dict[str, Conversion]
) -> None:
    from shared.formats import WEBPUB_MEDIA_TYPE, content_type_for

    files = converted[name].app_files
    manifest = json.loads(files["publication.json"])
    assert content_type_for("app/publication.json") == WEBPUB_MEDIA_TYPE
    assert manifest["@context"] == "https://readium.org/webpub-manifest/context.jsonld"
    assert manifest["links"][0] == {"rel": "self", "href": "publication.json", "type": WEBPUB_MEDIA_TYPE}
    assert manifest["metadata"]["title"] and manifest["metadata"]["language"]
    order = [item["href"] for item in manifest["readingOrder"]]
    assert order == sorted(path for path in files if path.startswith("chapters/"))
    assert all(item["href"] in files for item in manifest["resources"])
    assert [r["rel"] for r in manifest["resources"] if "rel" in r] == ["cover"]

    def hrefs(entries: list[dict[str, object]]) -> list[str]:
        return [h for e in entries for h in [str(e["href"]), *hrefs(e.get("children", []))]]  # type: ignore[arg-type]

    assert all(href.split("#")[0] in files for href in hrefs(manifest["toc"]))
    assert "publication.json" in json.loads(found(r"var PRECACHE = (\[.*?\]);", files["sw.js"].decode()))


def test_a_search_page_and_boxes_that_need_the_script(converted: dict[str, Conversion]) -> None:
    files = converted["markdown-zip-every-feature"].app_files
    search = files["search.html"].decode()
    assert 'data-page="search"' in search
    assert '<form class="search-form" role="search"' in search and '<label for="search-q">' in search
    assert 'role="status" aria-live="polite"' in search and '<ol class="hits" id="search-hits">' in search
    assert "<noscript>" in search
    # On the index and in the chapters' bars, hidden until the script shows them: the book's CSP lets no
    # form submit, so only the script can search.
    index = files["index.html"].decode()
    assert re.search(r'<form class="search-form" role="search"[^>]* data-needs-script hidden>', index)
    assert '<a href="../search.html" data-needs-script hidden>Search</a>' in files["chapters/ch002.html"].decode()
    assert "search.json" in json.loads(found(r"var PRECACHE = (\[.*?\]);", files["sw.js"].decode()))


def test_photos_come_with_phone_sized_copies_in_a_srcset_and_the_epub_keeps_the_originals(
    converted: dict[str, Conversion],
) -> None:
    from PIL import Image

    from shared.book.images import COPY_WIDTHS
    from shared.book.webapp import IMAGE_SIZES

    result = converted["markdown-zip-every-feature"]
    files = result.app_files
    pages = [re.sub(r"([\" ])images/", r"\1../images/", files["index.html"].decode())]
    pages += [data.decode() for path, data in files.items() if path.startswith("chapters/")]
    tags = [tag for page in pages for tag in re.findall(r"<img [^>]*>", page)]
    with_copies = [tag for tag in tags if "srcset=" in tag]
    assert len(with_copies) >= 2, "the cover and the chapter's photo"
    for tag in with_copies:
        src = found(r' src="\.\./([^"]+)"', tag)  # the original stays the src (the EPUB's image)
        width, height = int(found(r' width="(\d+)"', tag)), int(found(r' height="(\d+)"', tag))
        candidates = [candidate.split(" ") for candidate in found(r' srcset="([^"]+)"', tag).split(", ")]
        assert candidates[-1] == [f"../{src}", f"{width}w"]
        assert [w for _, w in candidates[:-1]] == [f"{w}w" for w in COPY_WIDTHS if width >= w * 1.2]
        assert found(r' sizes="([^"]+)"', tag) == IMAGE_SIZES
        for path, descriptor in candidates[:-1]:
            data = files[path.removeprefix("../")]
            with Image.open(io.BytesIO(data)) as copy:
                assert copy.format == "JPEG" and f"{copy.width}w" == descriptor
                assert abs(copy.height - height * copy.width / width) <= 1  # the photo's shape
            assert len(data) < len(files[src])
    # Line art and transparent images (PNG) and small photos have none.
    assert all(".png" in tag or int(found(r' width="(\d+)"', tag)) < 576 for tag in set(tags) - set(with_copies))
    # The EPUB (and the PDF, from the same images) has the originals only.
    with zipfile.ZipFile(io.BytesIO(result.epub)) as epub:
        names = epub.namelist()
        assert not any(re.search(r"-\d+w\.jpg$", name) for name in names)
        assert not any("srcset" in epub.read(name).decode() for name in names if name.endswith(".xhtml"))


@pytest.mark.parametrize(("width", "copies"), [(2400, [480, 720, 960]), (1000, [480, 720]), (560, [])])
def test_a_photo_gets_the_copies_its_width_allows(width: int, copies: list[int]) -> None:
    from shared.book.images import process_image
    from tests.book_corpus import line_art_png, photo_jpeg

    image = process_image(photo_jpeg(width, width * 2 // 3), "photo.jpg")
    assert [copy.width for copy in image.copies] == copies
    assert [image.copy_name(copy) for copy in image.copies] == [f"{image.key}-{w}w.jpg" for w in copies]
    assert process_image(line_art_png(), "diagram.png").copies == ()
