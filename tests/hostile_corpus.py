"""Pathological manuscripts, generated on demand (nothing large is kept in the repository).

Each case once held a worker for minutes or pushed it past 2 GB (issue #13). Every one must now
end `failed` with a reason (or be refused at upload) within the step budget. Used by
tests/e2e/test_hostile.py and bench/hostile.py.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from tests import book_corpus as corpus


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    make: Callable[[], bytes]
    expected: str  # a phrase of the job's error, or "succeeded" for shapes that are only large


def _markdown(text: str) -> Callable[[], bytes]:
    return lambda: text.encode("utf-8")


def _prose(size: int, seed: int = 13) -> str:
    """Varied words (so the archive checks see ordinary compression), about `size` characters."""
    rng = random.Random(seed)
    words = [
        w * rng.randint(1, 3)
        for w in ["sea", "lamp", "harbour", "night", "rope", "gull", "tide", "stone", "wind", "boat", "ink"]
    ]
    words += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(4000)]
    out: list[str] = []
    length = 0
    while length < size:
        sentence = " ".join(rng.choice(words) for _ in range(12)) + ". "
        out.append(sentence)
        length += len(sentence)
    return "".join(out)


def _huge_document_docx() -> bytes:
    # One document.xml of about 40 MB of paragraphs: within the archive limits (it compresses like
    # any Word file), but the whole document would be parsed, converted and rendered at once.
    text = _prose(12 * 1024 * 1024)
    paragraphs = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{text[i : i + 400]}</w:t></w:r></w:p>' for i in range(0, len(text), 400)
    )
    return corpus.docx(extra_body=paragraphs * 3)


def _big_pngs_zip(count: int) -> Callable[[], bytes]:
    # 63-megapixel PNGs, each just under the per-image pixel cap: 190 MB each once decoded.
    def make() -> bytes:
        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (9000, 7000), (200, 180, 150)).save(out, "PNG")
        png = out.getvalue()
        markdown = "# Pictures\n\n" + "".join(f"![Photo {i}](p{i}.png)\n\n" for i in range(count))
        # Each copy gets its own text chunk: distinct files (identical ones are stored once).
        return corpus.zip_of(
            {"book.md": markdown.encode(), **{f"p{i}.png": _with_text(png, str(i)) for i in range(count)}}
        )

    return make


def _with_text(png: bytes, text: str) -> bytes:
    """The PNG with a tEXt chunk after its header (8-byte signature + 25-byte IHDR chunk)."""
    data = b"Comment\x00" + text.encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:33] + chunk + png[33:]


def _padded_dtd_docx() -> bytes:
    # The entity declaration hides behind 6 KB of comment, past where a check of the start would look.
    return corpus.docx(
        document_prefix="<!--"
        + "padding " * 800
        + '-->\n<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        extra_body="<w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>",
    )


def _quarto_line(line: str) -> bytes:
    return corpus.zip_of({"_quarto.yml": b"book:\n  chapters: [a.qmd]\n", "a.qmd": f"# A\n\n{line}\n".encode()})


def _large_markdown_zip() -> bytes:
    # 63 MiB of ordinary Markdown (a chapter heading every 200 KB), zipped under the upload limit.
    prose = _prose(21 * 1024 * 1024)
    chapters = [f"# Chapter {n}\n\n{prose[i : i + 200_000]}\n\n" for n, i in enumerate(range(0, len(prose), 200_000))]
    text = "".join(chapters) * 3
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("book.md", text)
    return out.getvalue()


CASES = [
    Case("nested quotes (100k)", "quotes.md", _markdown(">" * 100_000 + " deep\n"), "100,000 levels deep"),
    Case("nested lists (50k)", "lists.md", _markdown("- " * 50_000 + "deep\n"), "100,000 levels deep"),
    Case("headings (60k)", "headings.md", _markdown("# Heading\n\n" * 60_000), "60,000 headings"),
    Case("nested inline HTML (50k)", "html.md", _markdown("<span>" * 50_000 + "deep\n"), "succeeded"),
    Case("1 MB of *", "stars.md", _markdown("*" * 1_000_000 + "\n"), "a run of 1,000,000"),
    # Shapes that once made a reader's pattern rescan the rest of the text at every step (#35 review).
    Case(
        "100k unclosed <svg> in a paragraph",
        "svgs.md",
        _markdown("# A\n\ntext " + "<svg> " * 100_000 + "\n"),
        "succeeded",
    ),
    Case(
        "200k '<svg ' never closed", "svg-open.md", _markdown("# A\n\n<svg>\n" + "<svg " * 200_000 + "\n"), "succeeded"
    ),
    Case("\\[ a 1 MB word \\]", "tex.md", _markdown("# A\n\n\\[" + "a" * 1_000_000 + "\\]\n"), "succeeded"),
    Case(
        "a .qmd line almost opening a div", "div.zip", lambda: _quarto_line(":::x" + " " * 120_000 + "y"), "succeeded"
    ),
    Case(
        "200k 'href=a.' in HTML",
        "hrefs.html",
        _markdown("<html><body><h1>A</h1><p>" + "href=a. " * 200_000 + "</p></body></html>"),
        "succeeded",
    ),
    Case("1 MB of [", "brackets.md", _markdown("[" * 1_000_000 + "\n"), "a run of 1,000,000"),
    Case("1 MB of _", "underscores.md", _markdown("_" * 1_000_000 + "\n"), "a run of 1,000,000"),
    Case(
        "100k references to one footnote",
        "refs.md",
        _markdown("Text[^1] " * 100_000 + "\n\n[^1]: The note.\n"),
        "100,001 footnote references",
    ),
    Case(
        "100k footnote definitions",
        "defs.md",
        _markdown("".join(f"[^{i}]: Note {i}.\n\n" for i in range(100_000))),
        "100,000 footnote references",
    ),
    Case(
        "a very tall table",
        "table.md",
        _markdown("| a | b |\n|---|---|\n" + "| x | y |\n" * 200_000),
        "tables are too large",
    ),
    Case("DOCX with a huge document.xml", "huge.docx", _huge_document_docx, "holds 40 MB of XML"),
    Case("DOCX with a DTD behind 6 KB of comment", "padded.docx", _padded_dtd_docx, "XML declarations"),
    # Each image is decoded alone beside the render, so eight at the pixel cap fit the step's 512 MB.
    Case("zip of eight 63-megapixel PNGs", "pngs.zip", _big_pngs_zip(8), "succeeded"),
    Case("zip of twenty 63-megapixel PNGs", "pngs20.zip", _big_pngs_zip(20), "1,260 megapixels"),
    Case("63 MiB of Markdown in a zip", "large.zip", _large_markdown_zip, "succeeded"),
]
