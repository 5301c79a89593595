"""The web-app book's search index (shared/book/search_index.py): its words, its size, its file.
The page script's reading of the same words, in Chromium: tests/browser/test_search_and_notes.py."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from shared.book import Conversion, convert
from shared.book.search_index import (
    SEARCH_INDEX,
    IndexedChapter,
    build_index,
    chapter_text,
    read_index,
    text_size,
    words,
)
from shared.book.search_numbers import number, numbers
from tests.book.conftest import GOOD_BOOKS, options
from tests.book_corpus import zip_of
from tests.support import ROOT


def test_words_are_folded_for_case_and_diacritics() -> None:
    assert words("Café CRÈME, Zürich; Ærø; Straße; ΣΟΦΌΣ σοφός") == [
        "cafe", "creme", "zurich", "ærø", "strasse", "σοφοσ", "σοφοσ",
    ]  # fmt: skip
    assert words("e\u0301te\u0301") == words("été") == ["ete"]  # decomposed accents too
    assert words("ﬁne ＡＢＣ 𝔄𝔟") == ["fine", "abc", "ab"]  # compatibility forms


def test_punctuation_apostrophes_and_hyphens_end_words() -> None:
    assert words("l’homme — don't; well-known (x_y) 3.14") == [
        "l", "homme", "don", "t", "well", "known", "x", "y", "3", "14",
    ]  # fmt: skip


def test_a_turkish_book_folds_its_dotted_and_dotless_i() -> None:
    assert words("IŞIK İstanbul", "tr") == ["ısık", "istanbul"]
    assert words("IŞIK İstanbul", "en") == ["isik", "istanbul"]
    assert words("Istanbul", "az-Latn") == ["ıstanbul"]


def test_scripts_without_spaces_are_searched_a_character_at_a_time() -> None:
    assert words("東京都に行きました。") == ["東", "京", "都", "に", "行", "き", "ま", "し", "た"]
    assert words("が") == words("か\u3099") == ["が"]  # kana keep their voicing mark
    assert words("ｶﾀｶﾅ") == ["カ", "タ", "カ", "ナ"]
    assert words("ภาษาไทย")[:2] == ["ภ", "า"]
    assert words("Tokyo東京") == ["tokyo", "東", "京"]


def test_marks_that_are_letters_are_kept() -> None:
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert words("שָׁלוֹם") == ["שלום"]  # Hebrew points are dropped, like accents
    assert words("Привет, ёлка") == ["привет", "елка"]


def test_chapter_text_ends_words_at_blocks_and_leaves_out_what_is_not_read() -> None:
    body = (
        '<h1>Title</h1><p>One <em>tw</em>o<sup><a class="quire-noteref" role="doc-noteref" href="#n">1</a></sup></p>'
        "<p>three<br>four <math><semantics><mi>x</mi><annotation>\\alpha</annotation></semantics></math></p>"
        '<aside role="doc-footnote" id="n"><p><a role="doc-backlink" href="#r">1.</a> The note.</p></aside>'
    )
    assert words(chapter_text(body)) == ["title", "one", "two", "three", "four", "x", "the", "note"]


@pytest.mark.parametrize("value", [0, 1, 61, 62, 1797, 1798, 50_405, 50_406, 10**7])
def test_word_numbers_read_back(value: int) -> None:
    assert numbers(number(value)) == [value]
    assert numbers(number(value) + number(3) + number(value)) == [value, 3, value]
    assert not re.search(r'["\\\s]', number(value))  # nothing JSON would escape, no separator


def test_the_index_holds_every_word_of_every_chapter_in_order() -> None:
    chapters = [
        IndexedChapter("chapters/ch001.html", "One", "<p>The harbour, the quay.</p>"),
        IndexedChapter("chapters/ch002.html", "Two", "<h1>Zürich</h1><p>The harbour at night.</p>"),
    ]
    index = json.loads(build_index(chapters, "en-GB"))
    assert index["language"] == "en-GB"
    assert index["chapters"] == [{"href": c.href, "title": c.title} for c in chapters]
    assert index["words"].split("\n")[:3] == ["the", "harbour", "at"]  # the most frequent first, ties A–Z
    assert read_index(build_index(chapters, "en-GB"))["text"] == [
        ["the", "harbour", "the", "quay"],
        ["zurich", "the", "harbour", "at", "night"],
    ]


def test_every_book_has_an_index_of_its_chapters(converted: dict[str, Conversion]) -> None:
    for name in GOOD_BOOKS:
        files = converted[name].app_files
        index = read_index(files[SEARCH_INDEX])
        pages = sorted(p for p in files if p.startswith("chapters/"))
        assert [c["href"] for c in index["chapters"]] == pages, name
        for chapter, text in zip(index["chapters"], index["text"], strict=True):
            page = files[chapter["href"]].decode()
            article = re.search(r"<article>(.*)</article>\n<nav", page, re.S)
            assert article is not None
            assert text == words(chapter_text(article.group(1)), index["language"]), (name, chapter)
    harbour = read_index(converted["markdown-zip-every-feature"].app_files[SEARCH_INDEX])
    assert "a dark and stormy night sunny cloudy" in " ".join(harbour["text"][1])  # the note's number: no word
    assert "zurich" in harbour["text"][1]


def test_the_index_of_a_book_of_prose_is_under_30_percent_of_its_text_gzipped() -> None:
    """This repository's own docs as a book: real prose, 90 kB of text (the test corpus's books are
    too short for the ratio to mean much: bench/search_index.py prints it for each)."""
    docs = {path.name: path.read_bytes() for path in sorted((ROOT / "docs").glob("*.md"))}
    files = convert(zip_of(docs), options("zip")).app_files
    chapters = [
        IndexedChapter(path, "", re.search(r"<article>(.*)</article>\n<nav", files[path].decode(), re.S).group(1))  # type: ignore[union-attr]
        for path in sorted(files)
        if path.startswith("chapters/")
    ]
    text = text_size(chapters)
    assert text > 50_000
    assert len(gzip.compress(files[SEARCH_INDEX], compresslevel=6)) <= 0.30 * text
