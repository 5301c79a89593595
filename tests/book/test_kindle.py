"""Send-to-Kindle's rules (shared/book/kindle.py): every book Quire makes keeps them, and the check
sees each one broken."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

import pytest

from shared.book import Conversion
from shared.book.kindle import kindle_problems
from tests.book.conftest import GOOD_BOOKS


@pytest.mark.parametrize("name", sorted(GOOD_BOOKS))
def test_every_book_keeps_the_kindle_rules(name: str, converted: dict[str, Conversion]) -> None:
    assert kindle_problems(converted[name].epub) == []


def rewritten(epub: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(epub)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info)))
    return out.getvalue()


def in_file(wanted: str, old: bytes, new: bytes) -> Callable[[str, bytes], bytes]:
    def change(name: str, data: bytes) -> bytes:
        return data.replace(old, new, 1) if name == wanted else data

    return change


CHAPTER = "OEBPS/text/ch002.xhtml"
BROKEN = {
    "no XML declaration": (
        in_file(CHAPTER, b'<?xml version="1.0" encoding="utf-8"?>\n', b""),
        f"{CHAPTER}: no UTF-8 XML declaration",
    ),
    "a link to a body": (
        lambda name, data: (
            re.sub(rb"<body", b'<body id="top"', data)
            if name == CHAPTER
            else data.replace(b"<p>", b'<p><a href="ch002.xhtml#top">up</a>', 1)
            if name == "OEBPS/text/ch001.xhtml"
            else data
        ),
        f"OEBPS/text/ch001.xhtml: a link to the <body> of {CHAPTER}",
    ),
    "a language that is no tag": (
        in_file("OEBPS/content.opf", b"<dc:language>en-GB</dc:language>", b"<dc:language>English</dc:language>"),
        "content.opf: dc:language 'English' is no BCP 47 tag",
    ),
    "an image without src": (in_file(CHAPTER, b"<p>", b'<p><img alt="x"/>'), f"{CHAPTER}: an <img> without src"),
    "an empty href": (in_file(CHAPTER, b"<p>", b'<p><a href="">x</a>'), f"{CHAPTER}: an empty href"),
    "no NCX": (
        in_file("OEBPS/content.opf", b'<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>', b""),
        "content.opf: no NCX",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_check_sees_each_rule_broken(case: str, converted: dict[str, Conversion]) -> None:
    change, problem = BROKEN[case]
    epub = converted["markdown-zip-every-feature"].epub
    broken = rewritten(epub, change)
    assert broken != epub
    assert kindle_problems(broken) == [problem]
