"""What a PDF holds, read by real tools: qpdf (structure, outline, metadata) and poppler's
pdftotext and pdfinfo (the text a reader copies, the page size), as a reader's software sees it."""

from __future__ import annotations

import html as html_module
import json
import re
import subprocess
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from tests import tiers

XHTML = "{http://www.w3.org/1999/xhtml}"
# CJK ideographs, kana and hangul have no spaces between words: each is a word of its own.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff])")


def _run(*command: str) -> str:
    tiers.require("tools", f"runs {command[0]}")
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout


def _file(pdf: bytes) -> Path:
    with tempfile.NamedTemporaryFile(prefix="quire-test-", suffix=".pdf", delete=False) as handle:
        handle.write(pdf)
    return Path(handle.name)


def qpdf_check(pdf: bytes) -> tuple[int, str]:
    path = _file(pdf)
    tiers.require("tools", "runs qpdf")
    done = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, check=False)
    path.unlink()
    return done.returncode, done.stdout + done.stderr


def text_of(pdf: bytes) -> str:
    path = _file(pdf)
    text = _run("pdftotext", "-enc", "UTF-8", str(path), "-")
    path.unlink()
    return text


def word_boxes(pdf: bytes) -> list[tuple[str, float, float]]:
    """Each word poppler finds, with its left and right edge in points."""
    path = _file(pdf)
    html = _run("pdftotext", "-bbox", str(path), "-")
    path.unlink()
    return [
        (html_module.unescape(word), float(left), float(right))
        for left, right, word in re.findall(
            r'<word xMin="([0-9.]+)" yMin="[0-9.]+" xMax="([0-9.]+)" yMax="[0-9.]+">([^<]*)</word>', html
        )
    ]


def page_info(pdf: bytes) -> dict[str, str]:
    path = _file(pdf)
    out = _run("pdfinfo", str(path))
    path.unlink()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}


def outline_of(pdf: bytes) -> list[Any]:
    """The bookmarks as nested [title, [children]] lists."""
    path = _file(pdf)
    data = json.loads(_run("qpdf", "--json=2", "--json-key=outlines", str(path)))
    path.unlink()

    def tree(items: list[dict[str, Any]]) -> list[Any]:
        return [[_words(item["title"]), tree(item.get("kids", []))] for item in items]

    return tree(data.get("outlines", []))


def claims_pdf_ua(pdf: bytes) -> bool:
    """Whether the XMP metadata says PDF/UA (pdfuaid:part)."""
    return b"pdfuaid:part" in _uncompressed(pdf)


def pdf_a_part(pdf: bytes) -> str:
    """The PDF/A part and conformance the XMP metadata claims ('2A', '2B'), or ''."""
    plain = _uncompressed(pdf)
    part = re.search(rb"pdfaid:part[=>\"]+\s*(\d)", plain)
    level = re.search(rb"pdfaid:conformance[=>\"]+\s*([A-Za-z])", plain)
    return (part.group(1) + level.group(1)).decode().upper() if part and level else ""


def _uncompressed(pdf: bytes) -> bytes:
    path = _file(pdf)
    plain = path.with_suffix(".qdf.pdf")
    _run("qpdf", "--qdf", "--object-streams=disable", str(path), str(plain))
    data = plain.read_bytes()
    path.unlink()
    plain.unlink()
    return data


def nav_of(epub: bytes) -> list[Any]:
    """The EPUB's table of contents, nested as outline_of gives the PDF's."""
    with zipfile.ZipFile(__import__("io").BytesIO(epub)) as archive:
        nav = etree.fromstring(archive.read("OEBPS/nav.xhtml"))
    toc = next(n for n in nav.iter(f"{XHTML}nav") if "toc" in n.get("{http://www.idpf.org/2007/ops}type", ""))

    def tree(ol: Any) -> list[Any]:
        items = []
        for li in ol.findall(f"{XHTML}li"):
            link = li.find(f"{XHTML}a")
            inner = li.find(f"{XHTML}ol")
            items.append([_words("".join(link.itertext())), tree(inner) if inner is not None else []])
        return items

    return tree(toc.find(f"{XHTML}ol"))


def chapter_words(epub: bytes) -> list[list[str]]:
    """Each chapter's running text in spine order (paragraphs, headings and list items; notes, tables,
    code, formulas and figures are placed differently on paper), as words."""
    with zipfile.ZipFile(__import__("io").BytesIO(epub)) as archive:
        opf = etree.fromstring(archive.read("OEBPS/content.opf"))
        ns = {"opf": "http://www.idpf.org/2007/opf"}
        hrefs = {i.get("id"): i.get("href") for i in opf.iterfind(".//opf:manifest/opf:item", ns)}
        spine = [hrefs[r.get("idref")] for r in opf.iterfind(".//opf:spine/opf:itemref", ns)]
        chapters = []
        for href in spine:
            if not re.search(r"text/ch\d+\.xhtml$", href):
                continue
            page = etree.fromstring(archive.read(f"OEBPS/{href}"))
            words: list[str] = []
            for element in page.iter(f"{XHTML}p", f"{XHTML}h1", f"{XHTML}h2", f"{XHTML}h3", f"{XHTML}li"):
                if any(
                    a.tag in (f"{XHTML}aside", f"{XHTML}figure", f"{XHTML}table", f"{XHTML}pre", f"{XHTML}li")
                    for a in element.iterancestors()
                ):
                    continue
                if element.find(".//{http://www.w3.org/1998/Math/MathML}math") is not None:
                    continue
                words.extend(_words(_own_text(element)).split())
            chapters.append(words)
        return chapters


def _own_text(element: Any) -> str:
    """The element's text without its notes' markers, nested lists and images' descriptions."""
    parts = [element.text or ""]
    for child in element:
        if child.tag not in (f"{XHTML}sup", f"{XHTML}ul", f"{XHTML}ol", f"{XHTML}img"):
            block = child.tag in (f"{XHTML}p", f"{XHTML}div", f"{XHTML}blockquote", f"{XHTML}br")
            parts.append(f" {_own_text(child)} " if block else _own_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CJK.sub(r" \1 ", text)
    return " ".join("".join(c for c in word if c.isalnum()) for word in text.split() if any(c.isalnum() for c in word))


def pdf_words(pdf: bytes) -> list[str]:
    """The PDF's text as words, a word hyphenated at a line's end joined again."""
    text = re.sub(r"(\w)[-\u00ad]\n(\w)", r"\1\2", text_of(pdf))
    return _words(text).split()


def missing_in_order(expected: list[str], found: list[str]) -> list[str]:
    """The words of `expected` that do not follow in `found` in order (a greedy subsequence match;
    running heads, page numbers and notes in between are skipped). A note's number is set against
    its word ("night1"), so a word followed by digits counts as the word."""
    at = 0
    missing = []
    for word in expected:
        match = next(
            (
                i
                for i in range(at, len(found))
                if found[i] == word or (found[i].startswith(word) and found[i][len(word) :].isdigit())
            ),
            None,
        )
        if match is None:
            missing.append(word)
        else:
            at = match + 1
    return missing
