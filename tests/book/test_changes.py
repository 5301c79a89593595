"""What changed between two editions (shared/book/changes.py) and how readers are shown it
(shared/book/changes_pages.py): chapters matched by title, the share of words changed, the
fingerprint an edition keeps, the EPUB's page and the web app's changes.json."""

from __future__ import annotations

import io
import json
import zipfile

from lxml import etree

from shared.book.changes import (
    ChapterText,
    changed_share,
    chapter_texts,
    compare,
    match_chapters,
    paragraphs_of,
    percent,
    read_fingerprint,
    text_fingerprint,
)
from shared.book.changes_pages import CHANGES_STEM, app_changes, changes_page, note_paragraphs
from shared.book.conversion import convert, parse, render
from tests.book.conftest import options

WORDS = [
    "the",
    "quay",
    "was",
    "quiet",
    "at",
    "dawn",
    "and",
    "the",
    "boats",
    "rocked",
    "on",
    "the",
    "grey",
    "water",
    "while",
    "gulls",
    "waited",
]


def paragraph(n: int, length: int = 40) -> str:
    return " ".join(
        f"{WORDS[(n * 7 + i) % len(WORDS)]}{n}" if i % 5 == 0 else WORDS[i % len(WORDS)] for i in range(length)
    )


def chapter(title: str, stem: str, paragraphs: list[str]) -> ChapterText:
    return ChapterText(title, stem, paragraphs)


def test_a_chapters_text_is_its_paragraphs_without_markup() -> None:
    body = (
        '<h1 id="a">The <em>Long</em> Quay</h1><p>Ropes &amp; gulls,<br/>and tide.</p>'
        '<figure><img src="quire-image:abc" alt="A boat"/><figcaption>A boat</figcaption></figure>'
        "<ul><li>one</li><li>two</li></ul><p>  </p>"
    )
    assert paragraphs_of(body) == ["The Long Quay", "Ropes & gulls,", "and tide.", "A boat", "one", "two"]


def test_the_share_changed_counts_words_old_and_new() -> None:
    old = [paragraph(n) for n in range(10)]
    assert changed_share(old, old) == 0
    assert changed_share(old, []) == 1
    one_word = [*old]
    words = one_word[3].split()
    words[2] = "changed"
    one_word[3] = " ".join(words)
    # One word of 400 on each side: 2 of 800 words are not shared.
    assert changed_share(old, one_word) == 2 / 800
    added = [*old, paragraph(99)]
    assert changed_share(old, added) == 40 / 840
    assert percent(0) == 0 and percent(2 / 800) == 1 and percent(0.999) == 99 and percent(1.0) == 100
    assert percent(0.124) == 12


def test_chapters_are_matched_by_title_whatever_their_position() -> None:
    old = [
        chapter("Arrival", "ch001", ["a b c"]),
        chapter("The Quay", "ch002", ["d e f"]),
        chapter("Gone", "ch003", ["g"]),
    ]
    new = [
        chapter("Prologue", "ch001", ["new"]),
        chapter("arrival", "ch002", ["a b c"]),
        chapter("The  Quay", "ch003", ["d e f"]),
    ]
    assert match_chapters(old, new) == [(None, 0), (0, 1), (1, 2), (2, None)]
    summary = compare(old, new, previous_edition=4)
    assert summary == {
        "previous_edition": 4,
        "added": [{"title": "Prologue", "chapter": "ch001"}],
        "removed": [{"title": "Gone"}],
        "changed": [],
        "unchanged": 2,
        "counts": {"added": 1, "removed": 1, "changed": 0, "unchanged": 2},
    }


def test_repeated_titles_match_in_order_and_a_retitled_chapter_is_found_by_its_text() -> None:
    body = [paragraph(n) for n in range(6)]
    edited = [*body[:5], paragraph(50)]
    old = [chapter("Notes", "ch001", ["x y"]), chapter("Notes", "ch002", body), chapter("Dawn", "ch003", body[:3])]
    new = [chapter("Notes", "ch001", ["x y"]), chapter("Notes", "ch002", edited), chapter("Sunrise", "ch003", body[:3])]
    summary = compare(old, new, previous_edition=1)
    # The last paragraph replaced by one that shares 32 of its 40 words, in order: 16 of 480 words differ.
    assert summary["changed"] == [
        {"title": "Notes", "chapter": "ch002", "percent": 3},
        {"title": "Sunrise", "chapter": "ch003", "percent": 0, "previous_title": "Dawn"},
    ]
    assert summary["counts"] == {"added": 0, "removed": 0, "changed": 2, "unchanged": 1}
    # A retitled chapter whose text changed mostly is another chapter: one removed, one added.
    rewritten = [
        chapter("Notes", "ch001", ["x y"]),
        chapter("Notes", "ch002", body),
        chapter("Sunrise", "ch003", ["z"]),
    ]
    other = compare(old, rewritten, previous_edition=1)
    assert other["added"] == [{"title": "Sunrise", "chapter": "ch003"}] and other["removed"] == [{"title": "Dawn"}]


def test_a_large_book_compares_every_chapter_and_keeps_the_summary_small() -> None:
    # 300 chapters edited and retitled, 60 removed and 60 added, titles far longer than a list shows.
    long = "🌊 A very long chapter title that goes on and on about the harbour and its quay " * 3
    old = [chapter(f"{long} {n}", f"ch{n:03d}", [paragraph(n * 100 + p) for p in range(30)]) for n in range(1, 301)]
    new = [chapter(f"New {c.title}", c.stem, [*c.paragraphs[:-1], paragraph(9999)]) for c in old]
    old += [chapter(f"Gone {long} {n}", f"ch{n:03d}", [f"gone {n}"]) for n in range(301, 361)]
    new += [chapter(f"Fresh {long} {n}", f"ch{n:03d}", [f"fresh {n + 1000}"]) for n in range(301, 361)]
    summary = compare(old, new, previous_edition=2)
    assert summary["counts"] == {"added": 60, "removed": 60, "changed": 300, "unchanged": 0}
    assert len(summary["changed"]) == 50 and {c["percent"] for c in summary["changed"]} == {1}  # 16 of 2,400 words
    assert len(summary["added"]) == len(summary["removed"]) == 50
    assert all(70 < len(c["title"]) <= 80 and 70 < len(c["previous_title"]) <= 80 for c in summary["changed"])
    # A table property holds 32,768 UTF-16 units: the fullest summary fits.
    units = len(json.dumps(summary, ensure_ascii=False).encode("utf-16-le")) // 2
    assert units < 32_768, units


def test_a_fingerprint_reads_back_as_the_same_chapters_and_is_deterministic() -> None:
    texts = [chapter("Ünïcode “title”", "ch001", ["one", "two"]), chapter("B", "ch002", [])]
    data = text_fingerprint(texts)
    assert data == text_fingerprint(texts)
    assert read_fingerprint(data) == texts
    assert read_fingerprint(b"not gzip") is None


def test_the_changes_page_escapes_the_authors_text_and_links_the_chapters() -> None:
    summary = compare(
        [chapter("One", "ch001", ["a b c d"]), chapter("<Two>", "ch002", ["e"])],
        [chapter("One", "ch001", ["a b c x"]), chapter("Three & more", "ch002", ["f g"])],
        previous_edition=1,
    )
    notes = 'Fixed <script>alert("x")</script> typos.\nThanks, readers!\n\nA second paragraph.'
    page = changes_page(notes, summary)
    assert page.stem == CHANGES_STEM and page.title == "Changes in this edition"
    tree = etree.fromstring(f'<div xmlns="http://www.w3.org/1999/xhtml">{page.body}</div>'.encode())
    text = "".join(tree.itertext())
    assert "<script>" not in page.body and 'Fixed <script>alert("x")</script> typos.' in text
    links = {a.get("href"): a.text for a in tree.iter("{http://www.w3.org/1999/xhtml}a")}
    assert links == {"ch001.xhtml": "One", "ch002.xhtml": "Three & more"}
    assert "about 25% of its words changed" in text and "<Two>" in text  # removed: named, not linked
    assert note_paragraphs(notes) == [
        'Fixed <script>alert("x")</script> typos.\nThanks, readers!',
        "A second paragraph.",
    ]
    data = json.loads(app_changes(notes, summary) or b"")
    assert data == {"release_notes": notes, "changes": summary}
    assert app_changes("", None) is None  # nothing to say: no file


def test_an_edition_with_changes_ends_its_epub_with_the_page_in_the_spine_and_the_contents() -> None:
    book = b"# Arrival\n\nThe boats come in.\n\n# Departure\n\nThe boats leave.\n"
    first = convert(book, options("markdown", edition=1), with_pdf=False)
    texts = chapter_texts(render(parse(book, options("markdown"))))
    assert texts == [
        chapter("Arrival", "ch001", ["Arrival", "The boats come in."]),
        chapter("Departure", "ch002", ["Departure", "The boats leave."]),
    ]
    summary = compare(
        [
            chapter("Arrival", "ch001", ["The boats come in early."]),
            chapter("Departure", "ch002", ["The boats leave."]),
        ],
        [chapter("Arrival", "ch001", ["The boats come in."]), chapter("Departure", "ch002", ["The boats leave."])],
        previous_edition=1,
    )
    second = convert(book, options("markdown", edition=2, release_notes="Tidied.", changes=summary), with_pdf=False)
    with zipfile.ZipFile(io.BytesIO(second.epub)) as epub:
        opf = epub.read("OEBPS/content.opf").decode()
        nav = epub.read("OEBPS/nav.xhtml").decode()
        page = epub.read(f"OEBPS/text/{CHANGES_STEM}.xhtml").decode()
    spine = [line for line in opf.splitlines() if line.startswith("<itemref") and "linear" not in line]
    assert spine[-1] == f'<itemref idref="{CHANGES_STEM}"/>'
    assert f'<a href="text/{CHANGES_STEM}.xhtml">Changes in this edition</a>' in nav
    assert "Tidied." in page and '<a href="ch001.xhtml">Arrival</a>' in page and 'epub:type="backmatter"' in page
    assert json.loads(second.app_files["changes.json"])["changes"] == summary
    assert '"changes.json"' in second.app_files["sw.js"].decode()  # precached with the edition
    # Without notes or a comparison, or with the page turned off, the book is as before.
    assert CHANGES_STEM not in str(zipfile.ZipFile(io.BytesIO(first.epub)).namelist())
    assert "changes.json" not in first.app_files
    off = convert(book, options("markdown", edition=2, changes=summary, changes_page=False), with_pdf=False)
    assert CHANGES_STEM not in str(zipfile.ZipFile(io.BytesIO(off.epub)).namelist())
    assert "changes.json" in off.app_files  # the web app's offer still shows what changed


def test_an_epub_quire_made_uploaded_again_leaves_its_changes_page_out() -> None:
    book = b"# Arrival\n\nThe boats come in.\n\n# Departure\n\nThe boats leave.\n"
    made = convert(book, options("markdown", edition=2, release_notes="Tidied."), with_pdf=False)
    again = convert(made.epub, options("epub", edition=3), with_pdf=False)
    chapters = sorted(path for path in again.app_files if path.startswith("chapters/"))
    assert chapters == ["chapters/ch001.html", "chapters/ch002.html"]
    assert b"Tidied." not in b"".join(again.app_files.values())
