"""Where chapters begin and what the book is called, for every kind of manuscript."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from shared.book.conversion import render
from shared.book.limits import long_chapter_warnings
from shared.book.model import ParsedBook
from shared.book.readers import parse_manuscript
from shared.book.readers.outline import split_level_for, title_from_file_name, title_from_first_line
from tests import real_world_corpus as real_world


def test_split_level_goes_deeper_only_past_a_lone_title() -> None:
    assert split_level_for([1, 2, 1, 2], 1) == 1
    assert split_level_for([1, 2, 2, 3], 1) == 2  # one top heading: the title
    assert split_level_for([2, 3, 3], 1) == 3  # no h1, one h2: DocBook's chapter page
    assert split_level_for([1, 3, 3], 1) == 3  # a skipped level does not matter
    assert split_level_for([1], 1) == 1  # nothing deeper to split at
    assert split_level_for([], 2) == 2
    assert split_level_for([1, 2, 2], 2) == 2  # asked for 2 already


def test_titles_from_the_first_line_only_when_it_reads_like_one() -> None:
    assert title_from_first_line("\n  The Harbour   Standards \nBy A. Writer") == "The Harbour Standards"
    assert title_from_first_line("Who Goes There?\n") == "Who Goes There?"
    assert title_from_first_line("This is the first sentence of the text.") == ""
    assert title_from_first_line("x " * 100) == ""
    assert title_from_file_name("drafts/the-harbour_standards.v2.html") == "the harbour standards.v2"


def parse_html(html: str, split_level: int = 1, file_name: str = "book.html") -> ParsedBook:
    return parse_manuscript(html.encode(), "html", split_level=split_level, file_name=file_name)


def test_headings_inside_wrappers_start_chapters_and_wrapper_ids_still_lead_there() -> None:
    book = parse_html(
        "<html><body><h1>Guide</h1><p>Intro.</p>"
        '<section id="one"><h2>One</h2><p>First, see <a href="#two-detail">the detail</a>.</p></section>'
        '<div class="chapter" id="two"><div class="titlepage"><h2 id="t2">Two</h2></div>'
        '<p>Second.</p><div class="section"><h3><a name="two-detail"></a>Detail</h3><p>Deep.</p></div></div>'
        '<article id="three"><p>Before its heading.</p><h2>Three</h2><p>Third, <a href="#two">back to two</a>.</p>'
        "</article></body></html>"
    )
    assert book.split_level == 2
    assert [c.title for c in book.chapters] == ["Guide", "One", "Two", "Three"]
    chapters = render(book)
    assert 'id="one"' in chapters[1].body  # moved onto its heading
    assert '<h2 id="t2"><span id="two"></span>Two</h2>' in chapters[2].body  # inside the heading that has an id
    assert '<span id="three"></span>' in chapters[2].body  # where the article began, before its heading
    assert [(h.level, h.text) for h in chapters[2].headings] == [(3, "Detail")]
    assert 'href="quire-chapter:ch003#two-detail"' in chapters[1].body
    assert 'href="quire-chapter:ch003#two"' in chapters[3].body
    assert not [w for c in chapters for w in c.warnings]


def test_headings_inside_lists_and_quotes_do_not_cut_the_text() -> None:
    book = parse_html(
        "<body><h2>A</h2><p>a</p><blockquote><h2>Quoted</h2></blockquote><ul><li><h2>Listed</h2></li></ul>"
        "<h2>B</h2><p>b</p></body>",
        split_level=2,
    )
    assert [c.title for c in book.chapters] == ["A", "B"]


def test_navigation_chrome_is_dropped() -> None:
    book = parse_html(real_world.TEXINFO_MANUAL, file_name="harbour.html")
    bodies = "".join(c.body for c in book.chapters)
    assert "nav-panel" not in bodies and "copiable-link" not in bodies and "¶" not in bodies
    assert [c.title for c in book.chapters][:3] == [
        "Harbour Standards",
        "Table of Contents",
        "1 About the Harbour Standards",
    ]
    assert "Prev" not in "".join(c.body for c in parse_manuscript(real_world.docbook_zip(), "zip").chapters)


@pytest.mark.parametrize(
    ("manuscript", "kind", "file_name", "title"),
    [
        (
            "<html><head><title>From the head</title></head><body><h1>Heading</h1></body></html>",
            "html",
            "a.html",
            "From the head",
        ),
        ("<body><h1>First heading</h1><p>Text.</p></body>", "html", "a.html", "First heading"),
        (
            "<body><p>The Harbour Standards</p><p>Text follows here.</p></body>",
            "html",
            "a.html",
            "The Harbour Standards",
        ),
        ("The Harbour Standards\n=====\n\nText.\n", "markdown", "a.md", "The Harbour Standards"),
        ("Just text that is a sentence.\n", "markdown", "sea-notes.md", "sea notes"),
        ("The Harbour Standards\n\nThe text starts here.\n", "text", "a.txt", "The Harbour Standards"),
    ],
)
def test_the_book_is_never_untitled(manuscript: str, kind: str, file_name: str, title: str) -> None:
    book = parse_manuscript(manuscript.encode(), kind, file_name=file_name)
    assert book.metadata.title == title


def test_an_opening_that_shows_nothing_joins_the_first_chapter() -> None:
    # What Word's bookmarks leave before the first heading.
    book = parse_html('<body><p><a name="_GoBack"></a></p><h1>One</h1><p>a</p><h1>Two</h1><p>b</p></body>')
    assert [c.title for c in book.chapters] == ["One", "Two"]
    assert [c.number for c in book.chapters] == [1, 2]
    assert 'id="_GoBack"' in book.chapters[0].body
    assert book.metadata.title == "One"


def test_a_chapter_too_long_for_phones_is_named_in_a_warning() -> None:
    paragraphs = "\n\n".join(f"Paragraph {n} of a long chapter with no headings at all in it." for n in range(6000))
    chapters = render(parse_manuscript(f"# One\n\n{paragraphs}\n\n# Two\n\nShort.\n".encode(), "markdown"))
    assert [w for w in chapters[0].warnings if re.search(r"'One' is 4\d\d KB.* above 300 KB", w)]
    assert not chapters[1].warnings


def test_chapters_may_start_at_any_heading_level_down_to_h6() -> None:
    levels = "".join(f"{'#' * n} Level {n}\n\nText.\n\n{'#' * n} Level {n} again\n\nText.\n\n" for n in range(1, 7))
    for split_level in (4, 5, 6):
        book = parse_manuscript(levels.encode(), "markdown", split_level=split_level)
        assert book.split_level == split_level
        assert [c.title for c in book.chapters][-2:] == [f"Level {split_level}", f"Level {split_level} again"]
    with pytest.raises(ValueError, match="1 to 6"):
        parse_manuscript(levels.encode(), "markdown", split_level=7)


def test_the_long_chapter_warning_advises_a_level_that_exists() -> None:
    assert (
        "h4 (upload with split_level=4; on the command line, --split-level 4)"
        in long_chapter_warnings("One", 400_000, 3)[0]
    )
    assert long_chapter_warnings("One", 400_000, 6) == [
        "The chapter 'One' is 400 KB; reading systems turn its pages slowly above 300 KB. Give it headings."
    ]
    assert long_chapter_warnings("One", 300_000, 1) == []


def test_plain_text_keeps_its_line_structure_and_finds_its_headings() -> None:
    book = parse_manuscript(real_world.TEXINFO_PLAIN_TEXT.encode(), "text", file_name="harbour.txt")
    assert book.metadata.title == "Harbour Standards"
    assert [c.title for c in book.chapters] == [
        "Harbour Standards",
        "1 About the Harbour Standards",
        "2 Ships",
        "3 Tides",
    ]
    about, ships = book.chapters[1].body, book.chapters[2].body
    assert "<pre>moor --ship aurora --berth 4\ntide --check &gt; tide.log</pre>" in about
    assert "<blockquote><p>Any ship that moors here agrees to these standards, and to the fees that go" in about
    assert "<h2>2.1 Moorings</h2><pre>+--------+" in ships
    assert "<p>The first for the master,<br/>the next for the quay,<br/>the last for the boats<br/>still out" in ships
    assert "<h3>SAFETY AT NIGHT</h3>" in ships  # below the section before it
    assert "<ul><li>Keep a lantern lit on every mooring line that crosses a walkway.</li><li>Ring" in ships
    # Wrapped prose is one paragraph again.
    assert "how to moor, how to leave, and what to expect from the tides." in book.chapters[0].body
    nav = [(h.level, h.text) for h in render(book)[2].headings]
    assert nav == [(2, "2.1 Moorings"), (2, "2.2 Lanterns"), (3, "SAFETY AT NIGHT")]


def test_numbered_and_capital_lines_alone_are_headings_but_sentences_are_not() -> None:
    book = parse_manuscript(
        b"PROLOGUE\n\nIt began.\n\n1. Departure\n\nThey left.\n\n2. This line is a sentence.\n\nMore.\n", "text"
    )
    assert [c.title for c in book.chapters] == ["PROLOGUE", "1. Departure"]


def test_a_word_file_written_by_pandoc() -> None:
    book = parse_manuscript(real_world.pandoc_docx(), "docx", file_name="pandoc-writer.docx")
    assert (book.metadata.title, book.metadata.authors) == ("The Pilot’s Handbook", ["Ada Writer"])
    assert [c.title for c in book.chapters] == ["The Pilot’s Handbook", "Coming into Harbour", "Leaving Harbour"]
    # Only what is really lost is reported, not pandoc's own paragraph and highlighting styles.
    assert book.warnings == []
    chapters = render(book)
    assert (
        'alttext="d=h−t"><mrow><mi>d</mi><mo>=</mo><mi>h</mi><mo>−</mo><mi>t</mi></mrow></math> at' in chapters[1].body
    )
    # Word's bookmarks sit just before their headings: they become the headings' ids, in their chapters.
    assert chapters[1].body.startswith('<h1 id="coming-into-harbour">')
    assert chapters[2].body.startswith('<h1 id="leaving-harbour">')
    assert 'href="quire-chapter:ch003#leaving-harbour"' in chapters[1].body
    assert not [w for c in chapters for w in c.warnings]


README_SHAPES = {
    "title alone": "# My Paper\n\n## Methods\n\nm\n\n## Results\n\nr\n",
    "badges first": "[![CI](https://ci.example/badge.svg)](https://ci.example)\n\n# My Paper\n\n## Methods\n\nm\n\n## Results\n\nr\n",
    "a short line first": "Draft 3\n\n# My Paper\n\n## Methods\n\nm\n\n## Results\n\nr\n",
}


@pytest.mark.parametrize("shape", list(README_SHAPES))
def test_one_top_heading_titles_the_book_and_is_no_chapter_of_its_own(shape: str) -> None:
    markdown = README_SHAPES[shape]
    book = parse_manuscript(markdown.encode(), "markdown", file_name="README.md")
    assert book.metadata.title == "My Paper"
    titles = [c.title for c in book.chapters]
    # Before the first section, an opening that shows something is a chapter under the title.
    assert titles == (["Methods", "Results"] if shape == "title alone" else ["My Paper", "Methods", "Results"])
    rendered = render(book)
    assert '<h1 id="my-paper">My Paper</h1>' in rendered[0].body  # its id still leads somewhere
    html = f"<html><body>{markdown_to_html(markdown)}</body></html>"
    assert parse_html(html).metadata.title == "My Paper"
    assert [c.title for c in parse_html(html).chapters] == titles


def test_front_matter_and_head_titles_win_over_the_top_heading() -> None:
    markdown = "---\ntitle: The Real Title\n---\n# My Paper\n\n## Methods\n\nm\n\n## Results\n\nr\n"
    assert parse_manuscript(markdown.encode(), "markdown").metadata.title == "The Real Title"
    html = "<html><head><title>Site</title></head><body><h1>My Paper</h1><h2>A</h2><p>a</p><h2>B</h2></body></html>"
    assert parse_html(html).metadata.title == "Site"


def markdown_to_html(markdown: str) -> str:
    return str(MarkdownIt("commonmark").render(markdown))
