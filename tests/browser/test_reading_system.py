"""Every corpus book opened in a JavaScript reading system in Debian's Chromium: foliate-js, the
engine of the Foliate e-book reader. Each item of the spine renders its text (the cover its
image), every image loads, each link from one document to another and each footnote reference,
clicked with the mouse, lands on its target, and nothing errs on the way.

foliate-js comes from npm (package.json) and runs as it ships, native ES modules with no build: a
small page (tests/browser/reading_system/) is served with it and the books from a local HTTP
server, as a web reader serves them.
"""

from __future__ import annotations

import posixpath
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.book.conftest import GOOD_BOOKS, convert_good_book
from tests.browser.conftest import DESKTOP, PHONE
from tests.support import ROOT

PAGE = Path(__file__).resolve().parent / "reading_system"
FOLIATE = ROOT / "node_modules" / "foliate-js"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".epub": "application/epub+zip"}
# Scripts from the page's own origin only, as foliate-js asks of a page that shows books (its
# README): a script in a book would be refused, and the refusal is a console error.
CSP = "script-src 'self'; object-src 'none'"
# Chromium's notice on foliate-js's own iframes (both sandbox flags, on purpose: see its README).
SANDBOX_NOTICE = "An iframe which has both allow-scripts and allow-same-origin for its sandbox attribute"
OPF = "{http://www.idpf.org/2007/opf}"
XHTML = "{http://www.w3.org/1999/xhtml}"
NOTEREF = "noteref"
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"


class BookServer:
    """The reader's page, foliate-js and the books (`books[name]` is served at /books/name.epub), on
    127.0.0.1 from a thread."""

    def __init__(self) -> None:
        self.books: dict[str, bytes] = {}
        books = self.books

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body = None
                if path in ("/", "/reader.js"):
                    body = (PAGE / ("index.html" if path == "/" else "reader.js")).read_bytes()
                elif path.startswith("/foliate-js/") and ".." not in path:
                    file = FOLIATE / path.removeprefix("/foliate-js/")
                    body = file.read_bytes() if file.is_file() else None
                elif path.startswith("/books/"):
                    body = books.get(path.removeprefix("/books/").removesuffix(".epub"))
                if body is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", TYPES[posixpath.splitext(path)[1] or ".html"])
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", CSP)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # the test reports what matters
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def epub(self, name: str) -> bytes:
        """GOOD_BOOKS[name] as the book tests convert it, served from now on."""
        if name not in self.books:
            self.books[name] = convert_good_book(name).epub
        return self.books[name]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture(scope="module")
def book_server() -> Iterator[BookServer]:
    if not (FOLIATE / "view.js").is_file():
        pytest.fail("foliate-js is not installed: run `make setup` (npm ci)")
    server = BookServer()
    yield server
    server.stop()


@dataclass(frozen=True)
class Link:
    """An `<a href>` of one spine item that leads to a place in the book."""

    source: int  # spine index of the document it is in
    href: str
    nth: int  # which of that document's links with this href
    target: int  # spine index of the document it leads to
    fragment: str  # the id it leads to, "" for the document's start
    footnote: bool

    def __str__(self) -> str:
        kind = "footnote reference" if self.footnote else "link"
        return f"section {self.source}: the {kind} {self.href!r} (to section {self.target})"


def spine_links(epub: bytes) -> list[Link]:
    """The links in the book's spine documents that lead to another of them, and its footnote
    references; of the table of contents (in the spine too), its first link only: it is the one
    link every book has, and its others lead the same way."""
    with zipfile.ZipFile(BytesIO(epub)) as archive:
        container = etree.fromstring(archive.read("META-INF/container.xml"))
        opf_path = container.find(".//{*}rootfile").get("full-path")
        package = etree.fromstring(archive.read(opf_path))
        items = {item.get("id"): item for item in package.iter(f"{OPF}item")}
        base = posixpath.dirname(opf_path)
        spine = [
            (posixpath.join(base, items[ref.get("idref")].get("href")), items[ref.get("idref")].get("properties", ""))
            for ref in package.iter(f"{OPF}itemref")
        ]
        index = {path: number for number, (path, _) in enumerate(spine)}
        links = []
        for source, (path, properties) in enumerate(spine):
            contents = "nav" in properties.split()
            seen: dict[str, int] = {}
            for anchor in etree.fromstring(archive.read(path)).iter(f"{XHTML}a"):
                href = anchor.get("href")
                if not href or ":" in href.split("#")[0]:  # none, or another site
                    continue
                nth = seen[href] = seen.get(href, -1) + 1
                file, _, fragment = href.partition("#")
                target = index.get(posixpath.normpath(posixpath.join(posixpath.dirname(path), file)) if file else path)
                footnote = NOTEREF in anchor.get(EPUB_TYPE, "").split()
                if target is not None and (footnote or target != source):
                    links.append(Link(source, href, nth, target, fragment, footnote))
                    if contents:
                        break
    return links


class Reader:
    """foliate-js in a Chromium page, and every error and warning the page reports."""

    def __init__(self, browser: Any, server: BookServer, name: str, viewport: dict[str, int]) -> None:
        self.page = browser.new_page(viewport=viewport)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", self._console)
        self.page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))
        self.page.on("response", self._response)
        server.epub(name)
        self.page.goto(server.url + "/")
        self.page.wait_for_function("() => window.reader !== undefined")
        self.book = self.page.evaluate("url => reader.open(url)", f"/books/{name}.epub")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning") and not message.text.startswith(SANDBOX_NOTICE):
            self.problems.append(f"console {message.type}: {message.text}")

    def show(self, index: int) -> dict[str, Any]:
        return dict(self.page.evaluate("index => reader.show(index)", index))

    def follow(self, link: Link) -> str | None:
        """Click `link` with the mouse; what went wrong, if it did not land on its target."""
        # Twice at most: on a loaded machine the page can still be laying out (a picture above the
        # link decoding) when the link's place is measured, and the click then lands beside it.
        for _ in range(2):
            self.show(link.source)
            centre = self.page.evaluate("([href, nth]) => reader.bringLink(href, nth)", [link.href, link.nth])
            if centre is None:
                return f"{link} is not in the rendered document"
            self.page.mouse.click(centre["x"], centre["y"])
            try:
                self.page.wait_for_function(
                    "([index, id, after]) => reader.shows(index, id, after)",
                    arg=[link.target, link.fragment, centre["moves"]],
                    timeout=5_000,
                )
            except PlaywrightTimeoutError:
                continue
            return None
        return f"{link} leaves the reader on section {self.page.evaluate('reader.where()')['index']}, off its target"

    def close(self) -> None:
        self.page.close()


def section_problems(index: int, shown: dict[str, Any]) -> list[str]:
    problems = []
    if shown["index"] != index:
        problems.append(f"section {index}: the reader shows section {shown['index']}")
    if not shown["text"] and not shown["images"]:
        problems.append(f"section {index}: nothing to read (no text, no image)")
    if shown["text"] and not shown["visibleText"]:
        problems.append(f"section {index}: its text is not on screen")
    problems += [
        f"section {index}: image {image['src']} did not load" for image in shown["images"] if not image["loaded"]
    ]
    return problems


@pytest.mark.parametrize("name", list(GOOD_BOOKS))
def test_foliate_shows_every_section(name: str, browser: Any, book_server: BookServer) -> None:
    reader = Reader(browser, book_server, name, DESKTOP)
    sections = reader.book["sections"]
    assert len(sections) >= 3  # cover, title page, contents at least
    problems = [problem for index in range(len(sections)) for problem in section_problems(index, reader.show(index))]
    reader.close()
    assert problems + reader.problems == []


@pytest.mark.parametrize("name", list(GOOD_BOOKS))
def test_foliate_follows_links_and_footnotes(name: str, browser: Any, book_server: BookServer) -> None:
    links = spine_links(book_server.epub(name))
    reader = Reader(browser, book_server, name, DESKTOP)
    missed = [problem for link in links if (problem := reader.follow(link))]
    reader.close()
    assert missed + reader.problems == []


def test_the_link_test_has_links_to_follow(book_server: BookServer) -> None:
    """The test above follows something in every book (the contents' first link), footnote
    references in the Word and Markdown books, and links between chapters in the linked, project
    and EPUB books, one of them to an image's page out of the reading order."""
    links = {name: spine_links(book_server.epub(name)) for name in GOOD_BOOKS}
    assert all(any(link.target != link.source for link in found) for found in links.values())
    footnotes = {name for name, found in links.items() if any(link.footnote for link in found)}
    between = {name for name, found in links.items() if sum(link.target != link.source for link in found) > 1}
    assert {"docx", "markdown-zip-every-feature", "right-to-left", "math-markdown"} <= footnotes
    assert {"linked-markdown", "mdbook-project", "epub3-book", "thumbnail"} <= between


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_chapter_in_foliate(viewport: dict[str, int], browser: Any, book_server: BookServer, artifacts: Path) -> None:
    """The chapter with a photograph, a table, a list, code and a footnote, on a phone and a desktop."""
    name = "markdown-zip-every-feature"
    reader = Reader(browser, book_server, name, viewport)
    chapter = [section["id"] for section in reader.book["sections"]].index("OEBPS/text/ch002.xhtml")
    shown = reader.show(chapter)
    size = "phone" if viewport == PHONE else "desktop"
    reader.page.screenshot(path=str(artifacts / f"reading-system-chapter-{size}.png"))
    reader.close()
    assert shown["visibleText"].startswith("Chapter 1: The Quay — Zürich")
    assert shown["images"] and all(image["loaded"] for image in shown["images"])
    assert reader.problems == []


def rewritten(epub: bytes, changes: dict[str, list[tuple[bytes, bytes]]]) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(epub)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            for old, new in changes.get(info.filename, []):
                assert old in data, (info.filename, old)
                data = data.replace(old, new)
            target.writestr(info, data, compress_type=info.compress_type)
    return out.getvalue()


def test_the_reader_checks_see_a_broken_book(browser: Any, book_server: BookServer) -> None:
    """The every-feature book with its dedication hidden, a photograph's file gone, a footnote's
    target renamed and a script added: each check above reports its part, so none passes on its own."""
    epub = rewritten(
        book_server.epub("markdown-zip-every-feature"),
        {
            "OEBPS/text/ch001.xhtml": [(b"<p>A dedication before the first chapter", b'<p hidden="hidden">')],
            "OEBPS/text/ch002.xhtml": [(b'id="c2-fn1"', b'id="c2-fn9"')],
            "OEBPS/text/ch003.xhtml": [
                (b"../images/img-f966c0fb661108d3.jpg", b"../images/gone.jpg"),
                (b"</section>\n</body>", b"</section>\n<script>document.title = 'ran'</script></body>"),
            ],
        },
    )
    book_server.books["broken"] = epub
    reader = Reader(browser, book_server, "broken", DESKTOP)
    sections = [section["id"] for section in reader.book["sections"]]
    problems = [problem for index in range(len(sections)) for problem in section_problems(index, reader.show(index))]
    missed = [problem for link in spine_links(epub) if (problem := reader.follow(link))]
    reader.close()
    dedication, colours = sections.index("OEBPS/text/ch001.xhtml"), sections.index("OEBPS/text/ch003.xhtml")
    assert problems[0] == f"section {dedication}: nothing to read (no text, no image)"
    assert problems[1].startswith(f"section {colours}: image ") and problems[1].endswith(" did not load")
    assert len(problems) == 2
    chapter = sections.index("OEBPS/text/ch002.xhtml")
    assert missed == [
        f"section {chapter}: the footnote reference '#c2-fn1' (to section {chapter}) leaves the reader on section {chapter}, off its target"
    ]
    assert any("Content Security Policy" in problem for problem in reader.problems), reader.problems
