"""SVG figures: carried in the EPUB and the web-app book, made safe; one that cannot be, described."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from shared.book import convert
from shared.book.svg import SvgError, is_svg, sanitize_svg, svg_size
from tests.book.conftest import options
from tests.book_corpus import zip_of
from tests.projects_corpus import HOSTILE_SVG, INLINE_DRAWINGS_HTML, svg_zip


def _assert_safe(svg: bytes) -> None:
    text = svg.decode()
    for unsafe in ("<script", "alert(", "onload", "onclick", "evil.example", "foreignObject", "DOCTYPE", "ENTITY"):
        assert unsafe not in text, (unsafe, text)
    assert "file:" not in text and "passwd" not in text
    assert "@import" not in text
    assert "inkscape" not in text
    assert "<set" not in text


def test_sanitize_svg_keeps_the_drawing_and_drops_everything_active_or_external() -> None:
    safe = sanitize_svg(HOSTILE_SVG)
    _assert_safe(safe)
    text = safe.decode()
    assert 'href="#dot"' in text  # a reference to the drawing's own part stays
    assert "url(#shade)" in text
    assert "data:image/png;base64" in text  # a raster carried inside stays
    assert "<rect" in text and "<linearGradient" in text and "Harbour" in text
    assert svg_size(safe) == (400, 200)


@pytest.mark.parametrize(
    "data",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>",  # not well-formed
        b"<html><body>not a drawing</body></html>",
        b"<svg><rect/></svg>",  # no SVG namespace: not an SVG document
        # A billion laughs: the entities are not expanded, and the parser refuses the document.
        b'<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(9))
        + b']><svg xmlns="http://www.w3.org/2000/svg"><text>&j;</text></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g>" * 300 + b"</g>" * 300 + b"</svg>",  # too deep
    ],
)
def test_sanitize_svg_refuses_what_is_not_an_svg_drawing(data: bytes) -> None:
    with pytest.raises(SvgError):
        sanitize_svg(data)


def test_svg_images_are_known_by_their_extension() -> None:
    assert is_svg("art/Figure.SVG") and is_svg("figure.svg#layer") and is_svg("figure.svg?v=2")
    assert not is_svg("figure.svg.png") and not is_svg("figure.png")


def test_svg_size_comes_from_the_view_box_when_the_size_is_relative() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 120 60"/>'
    assert svg_size(svg) == (120, 60)
    assert svg_size(b'<svg xmlns="http://www.w3.org/2000/svg"/>') == (300, 150)


def test_an_svg_figure_is_carried_in_the_epub_and_the_web_app_made_safe() -> None:
    result = convert(svg_zip(), options("zip"))
    with zipfile.ZipFile(io.BytesIO(result.epub)) as epub:
        names = epub.namelist()
        svgs = [n for n in names if n.endswith(".svg")]
        assert len(svgs) == 1, names
        _assert_safe(epub.read(svgs[0]))
        opf = epub.read("OEBPS/content.opf").decode()
        file_name = svgs[0].rsplit("/", 1)[1]
        assert re.search(rf'href="images/{re.escape(file_name)}" media-type="image/svg\+xml"', opf), opf
        chapter = next(epub.read(n).decode() for n in names if n.startswith("OEBPS/text/ch"))
    assert f'src="../images/{file_name}"' in chapter
    assert 'alt="A map of the harbour: the quay, the lighthouse and the breakwater"' in chapter
    assert 'width="400" height="200"' in chapter
    # The drawing that cannot be read: its description stands in its place, with a warning.
    assert "A drawing that is not a drawing" in chapter and "broken.svg" not in chapter
    assert any("broken.svg" in w and "cannot be carried" in w for w in result.warnings), result.warnings
    assert not any("figure.svg" in w for w in result.warnings), result.warnings
    app_svgs = {name: data for name, data in result.app_files.items() if name.endswith(".svg")}
    assert list(app_svgs) == [f"images/{file_name}"]
    _assert_safe(app_svgs[f"images/{file_name}"])


def test_an_svg_cover_gives_a_generated_cover_with_a_warning() -> None:
    manuscript = "---\ntitle: Maps\ncover-image: figure.svg\n---\n\n# One\n\nText.\n"
    result = convert(zip_of({"book.md": manuscript.encode(), "figure.svg": HOSTILE_SVG}), options("zip"))
    with zipfile.ZipFile(io.BytesIO(result.epub)) as epub:
        assert 'properties="cover-image"' in epub.read("OEBPS/content.opf").decode()
        assert 'media-type="image/jpeg" properties="cover-image"' in epub.read("OEBPS/content.opf").decode()
    assert any("figure.svg" in w and "generated cover" in w for w in result.warnings), result.warnings


def test_inline_drawings_become_safe_svg_images_described_by_their_title() -> None:
    markdown = "# Drawn\n\n<svg viewBox='0 0 10 10'><title>A dot</title><circle r='4'/></svg>\n\nText.\n"
    for manuscript, kind in ((INLINE_DRAWINGS_HTML, "html"), (markdown, "markdown")):
        result = convert(manuscript.encode(), options(kind))
        with zipfile.ZipFile(io.BytesIO(result.epub)) as epub:
            chapter = epub.read("OEBPS/text/ch001.xhtml").decode()
            drawings = {name: epub.read(name) for name in epub.namelist() if name.endswith(".svg")}
        assert "<svg" not in chapter and not [w for w in result.warnings if "drawing" in w], result.warnings
        images = re.findall(r'<img src="../images/(img-[0-9a-f]+\.svg)" [^>]*alt="([^"]*)"', chapter)
        assert [alt for _, alt in images] == (["Ferries per day, rising", "anchor"] if kind == "html" else ["A dot"]), (
            chapter
        )
        for name, _ in images:
            _assert_safe(drawings[f"OEBPS/images/{name}"])
            assert b"viewBox=" in drawings[f"OEBPS/images/{name}"]  # SVG's spelling, not the HTML parser's
        page = result.app_files["chapters/ch001.html"].decode()
        assert "<svg" not in page and len(re.findall(r"<img [^>]*\.svg", page)) == len(images)
    # 200 wide by its viewBox's 2:1 proportion.
    assert re.search(r'width="200" height="100" alt="Ferries per day, rising"', chapter_of(INLINE_DRAWINGS_HTML))


def chapter_of(html: str) -> str:
    with zipfile.ZipFile(io.BytesIO(convert(html.encode(), options("html")).epub)) as epub:
        return epub.read("OEBPS/text/ch001.xhtml").decode()
