"""Plain text as people write it: hard-wrapped paragraphs, verse, _emphasis_, Project Gutenberg files."""

from __future__ import annotations

import re

from shared.book.readers import parse_manuscript
from shared.book.readers.gutenberg import LICENCE_TITLE, split_gutenberg
from tests.projects_corpus import GUTENBERG


def test_a_project_gutenberg_file_gives_its_metadata_and_keeps_its_licence_at_the_back() -> None:
    book = parse_manuscript(GUTENBERG.encode(), "text", file_name="99999.txt")
    meta = book.metadata
    assert (meta.title, meta.authors, meta.language, meta.date) == ("Harbour Days", ["Ada Writer"], "en", "2008-08-26")
    titles = [chapter.title for chapter in book.chapters]
    # The opening (the credits and the title page) keeps the book's title; a salutation and a
    # signature in capitals are not chapters in a book of CHAPTERs.
    assert titles == ["Harbour Days", "CHAPTER I.", "CHAPTER II.", "CHAPTER III.", LICENCE_TITLE]
    bodies = [chapter.body for chapter in book.chapters]
    assert not [body for body in bodies[:-1] if "Gutenberg" in body or "LICENSE" in body]
    assert "Updated editions will replace" in bodies[-1] and "START: FULL LICENSE" in bodies[-1]
    assert "This eBook is for the use of anyone" not in "".join(bodies)
    letter = bodies[2]
    assert "<p>MY DEAR SIR,</p>" in letter and "<p>JOHN HARBOURMASTER</p>" in letter
    assert "<p>The first for the master,<br/>the next for the quay,<br/>the last for the boats<br/>still" in letter
    # Hard-wrapped prose is re-flowed: no break inside a paragraph.
    prose = [p for body in bodies[1:4] for p in re.findall(r"<p>(.*?)</p>", body) if "master," not in p]
    assert prose and not [p for p in prose if "<br/>" in p or "\n" in p]
    assert "<p>It is a truth known to every sailor in the harbour that a ship which comes in on the" in bodies[1]
    assert "the fees and the <em>weather</em> and the lanterns" in bodies[1]
    assert "snake_case_names" in bodies[3] and "<em>" not in bodies[3]


def test_the_upload_s_own_metadata_wins_over_the_gutenberg_header() -> None:
    book = parse_manuscript(GUTENBERG.encode(), "text", title="Harbour", author="B. Reader", language="fr")
    assert (book.metadata.title, book.metadata.authors, book.metadata.language) == ("Harbour", ["B. Reader"], "fr")


def test_emphasis_and_verse_in_an_ordinary_manuscript() -> None:
    text = (
        "Chapter 1\n\nShe said it *twice*, and _meant_ it, though\nthe file_name_here stays and 2 * 3 * 4 is sums.\n\n"
        "*Not\n\nacross* paragraphs.\n\n- a list\n- with *stars*\n\n    col one    col two\n    1          2\n"
    )
    body = parse_manuscript(text.encode(), "text").chapters[0].body
    assert "<p>She said it <em>twice</em>, and <em>meant</em> it, though the file_name_here stays and 2 * 3 * 4" in body
    assert "<p>*Not</p><p>across* paragraphs.</p>" in body
    assert "<li>with <em>stars</em></li>" in body
    assert "<pre>col one    col two\n1          2</pre>" in body


def test_capitals_are_headings_when_no_chapter_is_named_and_roman_numerals_alone_are() -> None:
    capitals = parse_manuscript(
        b"THE VOYAGE OUT\n\nText.\n\nYours ever,\n\nADA WRITER\n\nTHE VOYAGE HOME\n\nMore text.\n", "text"
    )
    assert [c.title for c in capitals.chapters] == ["THE VOYAGE OUT", "THE VOYAGE HOME"]
    assert "<p>Yours ever,</p><p>ADA WRITER</p>" in capitals.chapters[0].body  # a signature, not a chapter
    roman = parse_manuscript(b"I\n\nText.\n\nTHE PAUSE\n\nII.\n\nMore.\n\nLetter 3\n\nDear all.\n", "text")
    assert [c.title for c in roman.chapters] == ["I", "II.", "Letter 3"]


def test_the_newer_gutenberg_header() -> None:
    header = (
        "Title: The Complete Works\n       of a Harbour Poet\n\nAuthor: Ada Writer\n\n"
        "Release date: June 1, 1998 [eBook #99998]\n                Most recently updated: March 3, 2024\n\n"
        "Language: French\n\n*** START OF THE PROJECT GUTENBERG EBOOK THE COMPLETE WORKS ***\n\nChapter 1\n\nText.\n"
    )
    found = split_gutenberg(header)
    assert found is not None and found.licence == "" and "Chapter 1" in found.book
    meta = found.metadata
    assert (meta.title, meta.language, meta.date) == ("The Complete Works of a Harbour Poet", "fr", "1998-06-01")
    assert split_gutenberg("Title: Not Gutenberg\n\nText.\n") is None
