"""The render step: a chapter source becomes sanitised XHTML with the structure the books need.

All HTML goes through the one sanitiser first. Only then does this module add its own structure:
readable ids on headings (for the table of contents and for links), note references and
per-chapter footnotes as `<aside epub:type="footnote">` with back links, and image placeholders
`quire-image:<key>` that the writers resolve to file names. Internal links become placeholders
that shared/book/links.py settles once every chapter is rendered; links to other files lose
their `href`, with a warning.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from functools import lru_cache
from html import escape
from typing import Any

from shared.book.errors import ADD_IMAGES_ADVICE
from shared.book.highlight import highlight_code_blocks
from shared.book.limits import long_chapter_warnings
from shared.book.links import BookAnchors, LinkContext, mark_links
from shared.book.mathml import tex_to_mathml, text_with_formulas_as_tex
from shared.book.model import ChapterSource, Heading, ProcessedImage, RenderedChapter
from shared.book.repair import repair
from shared.book.sanitize import LEFT_OUT_KINDS, fragment_to_xhtml, left_out, sanitized_fragment

IMAGE_PLACEHOLDER = "quire-image:"
# Set by this module after sanitising (the sanitiser drops every data-* attribute authors write),
# and turned into `epub:type` when serialised.
EPUB_TYPE = "data-quire-epubtype"
NAV_LEVELS_BELOW_CHAPTERS = 2  # the table of contents lists sections and subsections
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
VOID_ELEMENTS = {"br", "hr", "img", "col", "wbr", "area", "base", "embed", "input", "link", "meta", "source"}


@lru_cache(maxsize=1)
def _chapter_renderer() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    md = MarkdownIt("commonmark", {"typographer": True})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.use(footnote_plugin)

    def footnote_ref(self: Any, tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
        meta = tokens[idx].meta
        number = env["note_numbers"][meta["id"]]
        chapter = env["chapter"]
        sub = meta.get("subId", 0)
        ref_id = f"c{chapter}-fnref{number}" + (f"-{sub}" if sub else "")
        return f'<sup><a class="quire-noteref" href="#c{chapter}-fn{number}" id="{ref_id}">{number}</a></sup>'

    def formula(self: Any, tokens: list[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
        display = tokens[idx].type == "math_block"
        tex = tokens[idx].content.strip()
        markup, problem = tex_to_mathml(tex, display)
        if problem:
            env["warnings"].append(
                f"The formula '{tex[:80]}' in '{env['title']}' is not TeX that Quire can convert fully ({problem}); "
                + ("it is shown as written." if not markup else "those parts are shown as written.")
            )
        if not markup:
            return f"<pre><code>{escape(tex)}</code></pre>" if display else f"<code>{escape(tex)}</code>"
        return f'<div class="math-display">{markup}</div>' if display else markup

    md.add_render_rule("footnote_ref", footnote_ref)
    md.add_render_rule("math_inline", formula)
    md.add_render_rule("math_block", formula)
    md.add_render_rule("math_inline_double", formula)  # `$$…$$` within a line: inline (kramdown)
    return md


def _markdown_html(tokens: list[Any], env: dict[str, Any]) -> str:
    md = _chapter_renderer()
    return str(md.renderer.render(tokens, md.options, env))


def render_chapter(
    source: ChapterSource,
    image_refs: dict[str, str],
    split_level: int = 1,
    anchors: BookAnchors | None = None,
    own_names: frozenset[str] = frozenset(),
    book_files: frozenset[str] = frozenset(),
) -> RenderedChapter:
    """Render one chapter, its ids made unique among `anchors` (the book's so far), its internal
    links left as placeholders for `links.resolve_links`. `own_names`: the manuscript's own file
    names, which links may use to point inside the book; `book_files`: the files of a many-file
    book, which its links name (links.py). Pure: the same sources in the same order
    give the same XHTML."""
    anchors = anchors if anchors is not None else BookAnchors()
    chapter = source.number
    anchors.begin(source.source_file, chapter)
    links = LinkContext(own_names, source.source_file, book_files, image_refs)
    image_pages: dict[str, str] = {}
    warnings: list[str] = []
    note_numbers = {note["id"]: index for index, note in enumerate(source.footnotes, start=1)}
    env = {"chapter": chapter, "note_numbers": note_numbers, "warnings": warnings, "title": source.title}
    html = _markdown_html(source.body, env) if source.format == "tokens" else source.body
    warnings.extend(
        f"'{source.title}' contains {count} <{tag}> element{'s' if count > 1 else ''} ({LEFT_OUT_KINDS[tag]}), "
        "which books cannot carry; left out."
        + ("" if tag in ("script", "form") else " Use an image, or a link to it on the web, instead.")
        for tag, count in left_out(html).items()
    )
    root = repair(sanitized_fragment(html))
    highlight_code_blocks(root)

    if source.format == "html":
        _docx_note_refs(root, chapter, note_numbers)

    headings = _name_elements(root, chapter, split_level, anchors)
    without_alt: list[str] = []
    image_keys = _resolve_images(root, image_refs, source.title, warnings, without_alt)
    _scrollable(root)
    for ref in root.iter("a"):
        if ref.get("class") == "quire-noteref":
            ref.set(EPUB_TYPE, "noteref")
            ref.set("role", "doc-noteref")

    notes_html = (
        _footnotes(source, env, image_refs, image_keys, warnings, without_alt, links, image_pages)
        if source.footnotes
        else ""
    )
    body = _xhtml(mark_links(root, links, source.title, warnings, image_pages))
    image_keys.extend(key for key in image_pages if key not in image_keys)  # carried for their pages
    body = _restore_epub_types(body + notes_html)
    warnings.extend(long_chapter_warnings(source.title, len(body.encode()), split_level))
    return RenderedChapter(
        number=chapter,
        title=source.title,
        body=body,
        headings=headings,
        image_keys=image_keys,
        warnings=warnings,
        images_without_alt=len(without_alt),
        depth=source.depth,
        part=source.part,
        image_pages=image_pages,
    )


def _scrollable(root: Any) -> None:
    """What may be wider than a phone scrolls sideways, and keyboards must reach it: code blocks,
    display formulas, and tables, which go into a labelled scrolling region (a table itself keeps
    display: table, or screen readers stop reading it as one)."""
    from lxml import etree

    for element in list(root.iter("pre", "div", "table")):
        if element.tag == "pre" or element.get("class") == "math-display":
            element.set("tabindex", "0")
        elif element.tag == "table" and next(element.iterancestors("table"), None) is None:
            caption = element.find("caption")
            label = " ".join(caption.text_content().split()) if caption is not None else ""
            region = etree.Element("div", {"class": "table-scroll", "tabindex": "0", "role": "region"})
            region.set("aria-label", label or "Table")
            element.addprevious(region)
            region.tail, element.tail = element.tail, None
            region.append(element)


def _docx_note_refs(root: Any, chapter: int, note_numbers: dict[Any, int]) -> None:
    for ref in root.iter("a"):
        target = ref.get("title", "")
        if ref.get("class") == "quire-docx-noteref" and target in note_numbers:
            number = note_numbers[target]
            for child in list(ref):
                ref.remove(child)
            ref.text = str(number)
            ref.attrib.clear()
            ref.set("class", "quire-noteref")
            ref.set("href", f"#c{chapter}-fn{number}")
            ref.set("id", f"c{chapter}-fnref{number}")
            parent = ref.getparent()
            if parent is not None and parent.tag != "sup":
                from lxml import etree

                sup = etree.Element("sup")
                ref.addprevious(sup)
                sup.append(ref)


def _name_elements(root: Any, chapter: int, split_level: int, anchors: BookAnchors) -> list[Heading]:
    """Give every heading an id and keep the author's ids, unique in the book; the headings the
    navigation lists."""
    headings: list[Heading] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("class") == "quire-noteref":
            continue
        author_id = element.get("id")
        if element.tag in HEADING_TAGS:
            text = text_with_formulas_as_tex(element)
            element.set("id", anchors.heading(chapter, text, author_id))
            level = int(element.tag[1])
            if split_level < level <= split_level + NAV_LEVELS_BELOW_CHAPTERS and text:
                headings.append(Heading(level=level, id=element.get("id"), text=text))
        elif author_id is not None:
            kept = anchors.keep(chapter, author_id)
            if kept is None:
                del element.attrib["id"]
            else:
                element.set("id", kept)
    return headings


def _resolve_images(
    root: Any, image_refs: dict[str, str], title: str, warnings: list[str], without_alt: list[str]
) -> list[str]:
    keys: list[str] = []
    for img in list(root.iter("img")):
        src = img.get("src", "")
        alt = img.get("alt")
        if image_refs.get(src) == "":
            # In the upload but not carried (an SVG that cannot be made safe): the parse step warned.
            _replace_with_text(img, alt or f"[{posixpath.basename(src)}]")
            continue
        if src in image_refs:
            key = image_refs[src]
            img.set("src", IMAGE_PLACEHOLDER + key)
            parent = img.getparent()
            if parent is not None and parent.tag == "p" and len(parent) == 1 and not parent.text_content().strip():
                # A picture standing alone: not indented like a paragraph's first line (its column
                # would push it past the page's edge on a phone).
                parent.set("class", " ".join(filter(None, [parent.get("class"), "image"])))
            if key not in keys:
                keys.append(key)
            described = bool((alt or "").strip())
            if not described and _captioned(img):
                img.set("alt", "")  # the caption says what it shows
            elif not described:
                # alt="" would declare the image decorative: say honestly that it is not described.
                img.set("alt", f"An image with no description ({posixpath.basename(src)})")
                without_alt.append(src)
                warnings.append(
                    f"The image '{src}' in '{title}' has no alt text; readers who cannot see it are told only "
                    "its file name. Describe it in the alt text (![description](file) in Markdown)."
                )
            continue
        if re.match(r"^https?:", src, re.I):
            warnings.append(
                f"The image '{src}' in '{title}' is on the web; books must carry their images, so it was replaced by its alt text."
            )
        elif src:
            warnings.append(
                f"The image '{src}' in '{title}' is not in the upload; its description stands in its place. "
                + ADD_IMAGES_ADVICE
            )
            alt = alt or f"[{posixpath.basename(src)}]"
        _replace_with_text(img, alt or "")
    return keys


def _captioned(img: Any) -> bool:
    """An image whose figure's caption describes it: alt="" (nothing more to say) is honest."""
    figure = next(img.iterancestors("figure"), None)
    if figure is None:
        return False
    caption = figure.find("figcaption")
    return caption is not None and bool(caption.text_content().strip())


def image_files(body: str, images: dict[str, ProcessedImage], extra: str | Callable[[ProcessedImage], str] = "") -> str:
    """Image placeholders → the images' files, with their sizes unless the author gave one, so a
    page keeps their shape while they load and a table cell cannot squeeze them to nothing.
    `extra`: attributes added to every image, or made for each (the web-app book's `srcset`)."""

    def resolved(tag: re.Match[str]) -> str:
        markup = tag.group(0)
        image = images[tag.group(1)]
        size = "" if re.search(r"\s(width|height)=", markup) else f' width="{image.width}" height="{image.height}"'
        added = extra if isinstance(extra, str) else extra(image)
        return markup.replace(
            f'src="{IMAGE_PLACEHOLDER}{tag.group(1)}"', f'src="../images/{image.file_name}"{size}{added}'
        )

    return re.sub(rf'<img [^>]*?src="{IMAGE_PLACEHOLDER}([^"]+)"[^>]*>', resolved, body)


def _replace_with_text(element: Any, text: str) -> None:
    from lxml import etree

    span = etree.Element("span")
    span.text = text
    span.tail = element.tail
    element.getparent().replace(element, span)


def _footnotes(
    source: ChapterSource,
    env: dict[str, Any],
    image_refs: dict[str, str],
    image_keys: list[str],
    warnings: list[str],
    without_alt: list[str],
    links: LinkContext,
    image_pages: dict[str, str],
) -> str:
    chapter = source.number
    parts = ['<section class="footnotes" role="doc-endnotes">']
    for number, note in enumerate(source.footnotes, start=1):
        html = _markdown_html(note["body"], env) if source.format == "tokens" else note["body"]
        fragment = repair(sanitized_fragment(html))
        for key in _resolve_images(fragment, image_refs, source.title, warnings, without_alt):
            if key not in image_keys:
                image_keys.append(key)
        for element in fragment.iter():
            if isinstance(element.tag, str) and element.get("id"):
                del element.attrib["id"]  # ids inside notes could clash with the chapter's
        mark_links(fragment, links, source.title, warnings, image_pages)
        back = f'<a href="#c{chapter}-fnref{number}" role="doc-backlink">{number}.</a> '
        content = _xhtml(fragment)
        content = "<p>" + back + content[3:] if content.startswith("<p>") else f"<p>{back}</p>{content}"
        parts.append(f'<aside {EPUB_TYPE}="footnote" role="doc-footnote" id="c{chapter}-fn{number}">{content}</aside>')
    parts.append("</section>")
    return "".join(parts)


def _xhtml(root: Any) -> str:
    for element in root.iter():
        if (
            isinstance(element.tag, str)
            and element.tag not in VOID_ELEMENTS
            and element.text is None
            and len(element) == 0
        ):
            element.text = ""  # <p></p>, never <p/>: the same markup must also parse as HTML
    return fragment_to_xhtml(root)


def _restore_epub_types(xhtml: str) -> str:
    return xhtml.replace(f'{EPUB_TYPE}="', 'epub:type="')
