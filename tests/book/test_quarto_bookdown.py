"""Quarto and bookdown book projects: the chapters in the order their project file gives, parts,
metadata, links and cross-references between files, code cells, and none of the tools' own
syntax left on a page."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from lxml import etree, html

from shared.book import Conversion, ManuscriptError, convert
from tests.book.conftest import options
from tests.book.test_projects import chapters, internal_links, links_reaching_their_targets, title_of
from tests.book_corpus import zip_of
from tests.pandoc_books import BOOKDOWN_FILES, QUARTO_FILES, bookdown_zip, quarto_zip

# What the tools write that a reader must never see: a cell's header or options, a fenced div's
# fence, heading attributes, front matter, a shortcode.
RAW_SYNTAX = re.compile(
    r"\{r[ ,}]|\{python\}|#\||:::|\{-\}|\{#|\{\.|^---$|^title:|execute:|\{\{<|\(PART|\(APPENDIX", re.M
)
CROSS_REFERENCE = re.compile(r"(?<![\w@])-?@(?:sec|fig|tbl)-[\w-]*\w|\\@ref\([\w:.-]+\)")


def opf(result: Conversion) -> str:
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        return archive.read("OEBPS/content.opf").decode()


def text_outside_code(xhtml: str) -> str:
    """A page's text as a reader sees it, code aside (code may show a tool's syntax on purpose)."""
    root = html.fromstring(xhtml.encode())
    for code in root.xpath("//*[local-name()='code']"):
        code.drop_tree()
    return "\n".join(line.strip() for line in root.text_content().splitlines())


def toc_tree(result: Conversion) -> list[object]:
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    with zipfile.ZipFile(io.BytesIO(result.epub)) as archive:
        nav = etree.fromstring(archive.read("OEBPS/nav.xhtml"))

    def tree(ol: etree._Element) -> list[object]:
        items: list[object] = []
        for li in ol.findall("x:li", ns):
            label = "".join(li.find("x:a", ns).itertext())
            inner = li.find("x:ol", ns)
            chapter_level = inner is not None and "#" not in (inner.find("x:li/x:a", ns).get("href") or "")
            items.append((label, tree(inner)) if chapter_level and inner is not None else label)
        return items

    toc = nav.find(".//x:nav[@id='toc']/x:ol", ns)
    assert toc is not None
    return tree(toc)


def links_written(sources: dict[str, str]) -> int:
    """The links between and within files an author wrote: Markdown links and cross-references
    (outside code, where they are shown as written)."""
    texts = [re.sub(r"`[^`\n]*`", "", text) for text in sources.values()]
    return sum(internal_links(text) + len(CROSS_REFERENCE.findall(text)) for text in texts)


def assert_every_link_resolves(result: Conversion, sources: dict[str, str]) -> None:
    links_reaching_their_targets(result, links_written(sources))


def assert_no_raw_syntax(result: Conversion) -> None:
    for name, xhtml in chapters(result).items():
        assert not RAW_SYNTAX.findall(text_outside_code(xhtml)), (name, RAW_SYNTAX.findall(text_outside_code(xhtml)))
    for name, page in result.app_files.items():
        if name.startswith("chapters/"):
            assert not RAW_SYNTAX.findall(text_outside_code(page.decode())), name


def test_a_quarto_book_follows_its_chapters_parts_and_appendices() -> None:
    result = convert(quarto_zip(), options("zip"))
    titles = [title_of(xhtml) for xhtml in chapters(result).values()]
    assert titles == [
        "Preface",
        "Introduction",
        "Predictions",  # `- part: "Predictions"`
        "Harmonic analysis",
        "Field notes",  # a .md chapter among the .qmd ones
        "In practice",  # `- part: practice.qmd`: the file is the part's page
        "Summary",  # its title is in its front matter
        "References",
        "Appendices",
        "Glossary",
    ]
    assert toc_tree(result) == [
        "Preface",
        "Introduction",
        ("Predictions", ["Harmonic analysis", "Field notes"]),
        ("In practice", ["Summary"]),
        "References",
        ("Appendices", ["Glossary"]),
    ]
    package = opf(result)
    assert ">Tide Tables</dc:title>" in package and "Reading the Sea with Code" in package
    assert "Norah Jones" in package and "Ada Lovelace" in package
    assert "<dc:language>en-GB</dc:language>" in package and "How the tides are predicted" in package
    assert result.warnings == []


def test_a_quarto_books_links_and_cross_references_reach_their_targets() -> None:
    result = convert(quarto_zip(), options("zip"))
    assert_every_link_resolves(result, QUARTO_FILES)
    files = chapters(result)
    # A cross-reference reads as its target's title or caption, Quarto's numbers aside.
    assert '<a href="ch002.xhtml#sec-intro">Introduction</a>' in files["ch001.xhtml"]
    assert '<a href="#fig-tide">Water level over one day</a>' in files["ch002.xhtml"]
    assert '<a href="#tbl-brest">High and low waters at Brest</a>' in files["ch002.xhtml"]
    assert '<table id="tbl-brest">\n<caption>High and low waters at <em>Brest</em></caption>' in files["ch002.xhtml"]
    assert '<a href="#fig-constituents">The main constituents</a>' in files["ch004.xhtml"]
    assert '<a href="ch010.xhtml#sec-datum">glossary</a>' in files["ch002.xhtml"]
    assert "@knuth84" in files["ch002.xhtml"]  # a citation: Quire has no bibliography, the key stays


def test_a_quarto_books_code_cells_are_highlighted_code_and_callouts_are_notes() -> None:
    result = convert(quarto_zip(), options("zip"))
    files = chapters(result)
    assert_no_raw_syntax(result)
    harmonics = files["ch004.xhtml"]
    assert '<code id="fig-constituents" class="language-python"><span class="tok-k">import</span> math' in harmonics
    assert (
        '<code class="language-r">' in files["ch001.xhtml"] and '<span class="tok-n">1</span>' in files["ch001.xhtml"]
    )
    assert "echo" not in text_outside_code(files["ch007.xhtml"]) and "summary" in files["ch007.xhtml"]
    note = '<div class="callout callout-note" role="note">\n<p class="callout-title"><strong>Note</strong></p>'
    assert note in files["ch002.xhtml"]
    assert '<p class="callout-title"><strong>Try it yourself</strong></p>' in harmonics  # its heading
    assert '<p class="callout-title"><strong>Datum</strong></p>' in harmonics  # its title attribute
    assert '<div class="column-margin">' in files["ch005.xhtml"] and '<div id="refs"></div>' in files["ch008.xhtml"]
    assert "<h2" not in harmonics  # a callout's title is no section of the chapter


def test_a_bookdown_book_reads_its_rmd_files_in_name_order_with_parts() -> None:
    result = convert(bookdown_zip(), options("zip"))
    titles = [title_of(xhtml) for xhtml in chapters(result).values()]
    assert titles == [
        "About",
        "The basics",  # `# (PART) The basics {-}`
        "Hello bookdown",
        "Cross-references",
        "Going further",  # `# (PART\*)`: an unnumbered part
        "Parts",
        "Appendix",  # `# (APPENDIX) Appendix {-}`
        "More to say",
    ]  # _common.Rmd is left out, as bookdown leaves out files whose names start with _
    assert toc_tree(result) == [
        "About",
        ("The basics", ["Hello bookdown", "Cross-references"]),
        ("Going further", ["Parts"]),
        ("Appendix", ["More to say"]),
    ]
    package = opf(result)
    assert ">A Minimal Book Example</dc:title>" in package and "John Doe" in package
    assert "<dc:language>en-US</dc:language>" in package and "minimal example of using the bookdown" in package
    assert "<dc:date>" not in package and "Sys.Date" not in result.app_files["index.html"].decode()  # R code
    assert result.warnings == []


def test_a_bookdown_books_references_resolve_and_its_chunks_are_r_code() -> None:
    result = convert(bookdown_zip(), options("zip"))
    assert_every_link_resolves(result, BOOKDOWN_FILES)
    assert_no_raw_syntax(result)
    files = chapters(result)
    assert '<a href="ch003.xhtml#intro">Hello bookdown</a>' in files["ch001.xhtml"]
    # `\@ref(fig:nice-fig)` reaches the chunk that draws the figure, and reads as its caption.
    assert '<a href="#fig-nice-fig">Here is a nice figure!</a>' in files["ch004.xhtml"]
    assert '<code id="fig-nice-fig" class="language-r"><span class="tok-f">par</span>' in files["ch004.xhtml"]
    assert '<code class="language-r"><span class="tok-c"># automatically create' in files["ch001.xhtml"]
    assert "<h3" in files["ch003.xhtml"] and "An unnumbered section</h3>" in files["ch003.xhtml"]


def test_bookdowns_rmd_files_choose_the_html_list_and_book_filename_names_an_untitled_book() -> None:
    data = zip_of(
        {
            "_bookdown.yml": b'book_filename: "tide-notes"\nrmd_files:\n  latex: [b.Rmd]\n  html: [b.Rmd, a.Rmd]\n',
            "a.Rmd": b"# Alpha\n\nText.\n",
            "b.Rmd": b"# Beta\n\nSee \\@ref(alpha).\n",
            "c.Rmd": b"# Not listed\n",
        }
    )
    result = convert(data, options("zip"))
    files = chapters(result)
    assert [title_of(x) for x in files.values()] == ["Beta", "Alpha"]
    assert '<a href="ch002.xhtml#alpha">Alpha</a>' in files["ch001.xhtml"]  # bookdown's own id for a heading
    assert ">tide notes</dc:title>" in opf(result)
    only_latex = zip_of({"_bookdown.yml": b"rmd_files:\n  latex: [b.Rmd]\n", "a.Rmd": b"# A\n", "b.Rmd": b"# B\n"})
    assert [title_of(x) for x in chapters(convert(only_latex, options("zip"))).values()] == ["B"]


def test_the_uploads_own_fields_win_over_quartos() -> None:
    result = convert(quarto_zip(), options("zip", title="My Tides", author="Grace Hopper", language="fr"))
    package = opf(result)
    assert "My Tides" in package and "Grace Hopper" in package and "Norah Jones" not in package
    assert "<dc:language>fr</dc:language>" in package


def test_a_quarto_book_of_one_chapter_is_still_a_project() -> None:
    data = zip_of(
        {
            "_quarto.yml": b"project:\n  type: book\nbook:\n  title: One Page\n  author: Solo Writer\n  chapters:\n"
            b"    - index.qmd\n",
            "index.qmd": b"# Only {#sec-only}\n\nSee @sec-only.\n",
        }
    )
    result = convert(data, options("zip"))
    assert ">One Page</dc:title>" in opf(result) and "Solo Writer" in opf(result)
    assert '<a href="#sec-only">Only</a>' in chapters(result)["ch001.xhtml"]


@pytest.mark.parametrize(
    ("project_file", "message"),
    [
        (b"book:\n  chapters: [index.qmd\n", "not valid YAML"),
        (b"project:\n  type: book\nbook:\n  title: No Chapters\n", "lists no chapters"),
        (b"- index.qmd\n", "'key: value' lines"),
        (b"book:\n  chapters: [gone.qmd]\n", "lists no chapter file that is in the zip"),
    ],
)
def test_a_bad_quarto_project_file_is_a_clear_manuscript_error(project_file: bytes, message: str) -> None:
    data = zip_of({"_quarto.yml": project_file, "index.qmd": b"# A\n", "b.qmd": b"# B\n"})
    with pytest.raises(ManuscriptError, match=message):
        convert(data, options("zip"))


def test_yaml_aliases_cannot_make_a_quarto_list_endless() -> None:
    """A part whose chapters are itself, and many parts that repeat one list: cut short, or refused."""
    endless = b"book:\n  chapters: &all\n    - index.qmd\n    - part: Again\n      chapters: *all\n"
    result = convert(zip_of({"_quarto.yml": endless, "index.qmd": b"# A\n"}), options("zip"))
    assert any("part inside a part" in w for w in result.warnings)
    names = "[" + ", ".join(["index.qmd"] * 50) + "]"
    wide = f"a: &a {names}\nbook:\n  chapters:\n"
    wide += "".join(f"    - part: P{n}\n      chapters: *a\n" for n in range(100))
    with pytest.raises(ManuscriptError, match="more than 2,000 chapters"):
        convert(zip_of({"_quarto.yml": wide.encode(), "index.qmd": b"# A\n"}), options("zip"))


def test_missing_and_unreadable_chapters_are_left_out_with_warnings() -> None:
    data = zip_of(
        {
            "_quarto.yml": b"book:\n  chapters:\n    - index.qmd\n    - missing.qmd\n    - nb.ipynb\n    - 42\n",
            "index.qmd": b"# A\n",
            "nb.ipynb": b"{}",
        }
    )
    result = convert(data, options("zip"))
    assert [title_of(x) for x in chapters(result).values()] == ["A"]
    assert any("'missing.qmd'" in w and "not in the zip" in w for w in result.warnings)
    assert any("'nb.ipynb'" in w and "not Markdown" in w for w in result.warnings)
    assert any("neither a file nor a part" in w for w in result.warnings)
    bad_yaml = zip_of({"_bookdown.yml": b"rmd_files: [a.Rmd\n", "a.Rmd": b"# A\n", "b.Rmd": b"# B\n"})
    with pytest.raises(ManuscriptError, match=r"_bookdown\.yml is not valid YAML"):
        convert(bad_yaml, options("zip"))


def test_raw_blocks_and_unclosed_divs_are_handled_as_pandoc_would() -> None:
    data = zip_of(
        {
            "_quarto.yml": b"book:\n  chapters: [a.qmd]\n",
            "a.qmd": b"# A\n\n```{=latex}\n\\newpage\n```\n\n```{=html}\n<p class='raw'>kept</p>\n```\n\n"
            b"::: {.callout-important}\nNever closed.\n\n```\n:::\n```\n",
        }
    )
    page = chapters(convert(data, options("zip")))["ch001.xhtml"]
    assert "newpage" not in page and '<p class="raw">kept</p>' in page
    assert "<strong>Important</strong>" in page and "Never closed." in page
    assert "<code>:::\n</code>" in page  # a fence inside a code block is code


def test_a_zip_of_one_qmd_file_is_read_as_quarto() -> None:
    data = zip_of(
        {
            "talk/talk.qmd": b"---\ntitle: A Talk\n---\n\n# Opening {#sec-open}\n\nSee @sec-close.\n\n"
            b"# Closing {#sec-close .unnumbered}\n\n```{r}\n#| echo: false\nplot(x)\n```\n"
        }
    )
    result = convert(data, options("zip"))
    files = chapters(result)
    assert [title_of(x) for x in files.values()] == ["Opening", "Closing"] and ">A Talk</dc:title>" in opf(result)
    assert '<a href="ch002.xhtml#sec-close">Closing</a>' in files["ch001.xhtml"]
    assert_no_raw_syntax(result)


def test_a_part_names_its_page_by_any_file_name_quire_reads() -> None:
    """`- part: practice.markdown` is the part's page, as `- part: practice.qmd` is, and a notebook
    named as a part is a file Quire leaves out, not a part called 'nb.ipynb'."""
    data = zip_of(
        {
            "_quarto.yml": b"book:\n  chapters:\n    - index.qmd\n    - part: practice.markdown\n"
            b"      chapters: [b.qmd]\n    - part: nb.ipynb\n      chapters: [c.qmd]\n",
            "index.qmd": b"# Preface\n",
            "practice.markdown": b"# In practice\n\nThe part's page.\n",
            "b.qmd": b"# B\n",
            "c.qmd": b"# C\n",
            "nb.ipynb": b"{}",
        }
    )
    result = convert(data, options("zip"))
    assert [title_of(x) for x in chapters(result).values()] == ["Preface", "In practice", "B", "C"]
    assert any("'nb.ipynb'" in w and "not Markdown" in w for w in result.warnings)


DEEP_FLOW = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"_quarto.yml": f"book: {DEEP_FLOW}\n", "x.qmd": "# X\n"}, r"_quarto\.yml nests lists or mappings"),
        ({"_bookdown.yml": f"rmd_files: {DEEP_FLOW}\n", "x.Rmd": "# X\n"}, r"_bookdown\.yml nests lists or mappings"),
        (
            {
                "_quarto.yml": "book:\n  chapters: [x.qmd]\n",
                "x.qmd": f"---\ntitle: {'[ ' * 3000}{'] ' * 3000}\n---\n# X\n",
            },
            "The front matter nests lists or mappings",
        ),
        (
            {"paper.md": f"---\ntitle: {'[ ' * 3000}{'] ' * 3000}\n---\n# X\n"},
            "The front matter nests lists or mappings",
        ),
    ],
    ids=["quarto", "bookdown", "qmd-front-matter", "md-front-matter"],
)
def test_yaml_nested_thousands_deep_is_a_manuscript_error_not_a_crash(entries: dict[str, str], message: str) -> None:
    """The YAML reader recurses once per level: without a bound the worker's RecursionError is
    retried until the job is poisoned; the author should hear what to fix instead."""
    with pytest.raises(ManuscriptError, match=message):
        convert(zip_of({name: text.encode() for name, text in entries.items()}), options("zip"))


def test_a_line_that_almost_opens_a_div_is_text() -> None:
    """`:::x`, spaces, then a word is no div's opening. (Its long form, which once took the div
    pattern half a minute, is a hostile case: tests/hostile_corpus.py.)"""
    line = ":::x" + " " * 200 + "y"
    data = zip_of({"_quarto.yml": b"book:\n  chapters: [a.qmd]\n", "a.qmd": f"# A\n\n{line}\n".encode()})
    page = chapters(convert(data, options("zip")))["ch001.xhtml"]
    assert ":::x" in page and "y</p>" in page  # not a div: read as the text it is


def test_a_quarto_project_that_is_no_book_is_read_as_any_zip() -> None:
    """A default, manuscript or website project has a _quarto.yml with no chapter list: one
    manuscript is the book, several are joined in file-name order, .qmd still read as Quarto."""
    paper = zip_of({"_quarto.yml": b"project:\n  type: default\n", "paper.md": b"# Paper\n\nText.\n"})
    result = convert(paper, options("zip"))
    assert [title_of(x) for x in chapters(result).values()] == ["Paper"] and result.warnings == []
    website = zip_of(
        {
            "_quarto.yml": b"project:\n  type: website\nwebsite:\n  title: Tides\n",
            "index.qmd": b"# Home {#sec-home}\n\n```{r}\n#| echo: false\n1 + 1\n```\n",
            "about.md": b"# About\n\nText.\n",
            "posts/2-tides.qmd": b"# Tides\n",
            "posts/10-waves.qmd": b"# Waves\n",
        }
    )
    result = convert(website, options("zip"))
    assert [title_of(x) for x in chapters(result).values()] == ["About", "Home", "Tides", "Waves"]
    assert any("file-name order" in w and "_quarto.yml under 'book:'" in w for w in result.warnings)
    assert_no_raw_syntax(result)


def part_pages(result: Conversion) -> list[str]:
    """The titles of the pages the EPUB marks as parts."""
    return [title_of(x) for x in chapters(result).values() if '<section epub:type="part" role="doc-part">' in x]


def test_quarto_and_bookdown_parts_are_part_pages_in_the_epub() -> None:
    """`- part: "Title"`, `- part: practice.qmd` and the appendices (Quarto), `# (PART)` and
    `# (APPENDIX)` headings (bookdown): each a part page, as a reading system shows one."""
    assert part_pages(convert(quarto_zip(), options("zip"))) == ["Predictions", "In practice", "Appendices"]
    assert part_pages(convert(bookdown_zip(), options("zip"))) == ["The basics", "Going further", "Appendix"]


@pytest.mark.parametrize(
    ("entries", "wanted", "unwanted"),
    [
        ({"_bookdown.yml": b"- a.Rmd\n"}, "'rmd_files:' followed by", "'book:'"),
        ({"_bookdown.yml": b"rmd_files: [gone.Rmd]\n"}, "_bookdown.yml lists no chapter file", "SUMMARY.md"),
        ({"_quarto.yml": b"book:\n  chapters: [gone.qmd]\n"}, "_quarto.yml lists no chapter file", "SUMMARY.md"),
        ({"manuscript/Book.txt": b"gone.md\n"}, "Book.txt lists no chapter file", "SUMMARY.md"),
    ],
)
def test_a_project_files_errors_tell_its_author_what_that_file_needs(
    entries: dict[str, bytes], wanted: str, unwanted: str
) -> None:
    """bookdown is told about `rmd_files:`, not Quarto's `book:`; a project file that lists nothing
    in the zip is named, with what to write in it, not told to add a SUMMARY.md."""
    data = zip_of(entries | {"a.Rmd": b"# A\n", "manuscript/b.md": b"# B\n"})
    with pytest.raises(ManuscriptError, match=re.escape(wanted)) as raised:
        convert(data, options("zip"))
    assert unwanted not in str(raised.value)
