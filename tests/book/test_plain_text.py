"""Plain text as people write it: hard-wrapped paragraphs, verse, _emphasis_, chapter headings."""

from __future__ import annotations

from shared.book.readers import parse_manuscript


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
    capitals = parse_manuscript(b"THE VOYAGE OUT\n\nText.\n\nTHE VOYAGE HOME\n\nMore text.\n", "text")
    assert [c.title for c in capitals.chapters] == ["THE VOYAGE OUT", "THE VOYAGE HOME"]
    roman = parse_manuscript(b"I\n\nText.\n\nTHE PAUSE\n\nII.\n\nMore.\n\nLetter 3\n\nDear all.\n", "text")
    assert [c.title for c in roman.chapters] == ["I", "II.", "Letter 3"]
