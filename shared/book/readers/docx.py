"""Word (.docx) through mammoth: styles mapped to HTML, footnotes and images taken out, then read as HTML."""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

from shared.book.archive import ArchiveLimits, read_archive
from shared.book.errors import ManuscriptError
from shared.book.limits import check_docx_part
from shared.book.model import ParsedBook
from shared.book.readers.html import escape_text, read_html

DOCX_LIMITS = ArchiveLimits(max_entries=5000)
DOCX_STYLE_MAP = """
p[style-name='Title'] => p.doc-title:fresh
p[style-name='Subtitle'] => p.subtitle:fresh
p[style-name='Quote'] => blockquote > p:fresh
p[style-name='Intense Quote'] => blockquote > p:fresh
p[style-name='Block Text'] => blockquote > p:fresh
p[style-name='Block Quote'] => blockquote > p:fresh
p[style-name='Source Code'] => pre:separator('\\n')
p[style-name='Code'] => pre:separator('\\n')
p[style-name='HTML Preformatted'] => pre:separator('\\n')
r[style-name='Source Code'] => code
r[style-name='Verbatim Char'] => code
r[style-name='Code Char'] => code
p[style-name='Caption'] => p.caption:fresh
p[style-name='Author'] => p.author:fresh
p[style-name='Date'] => p.date:fresh
p[style-name='Abstract'] => p.abstract:fresh
p[style-name='First Paragraph'] => p:fresh
p[style-name='Body Text'] => p:fresh
p[style-name='Compact'] => p:fresh
p[style-name='Captioned Figure'] => p:fresh
p[style-name='Figure'] => p:fresh
p[style-name='Table Caption'] => p.caption:fresh
p[style-name='Image Caption'] => p.caption:fresh
"""


def read_docx(data: bytes, split_level: int) -> tuple[ParsedBook, dict[str, bytes]]:
    files = read_archive(data, "Word document", DOCX_LIMITS)
    if "word/document.xml" not in files:
        raise ManuscriptError("The Word document has no body (word/document.xml). Save it again as .docx.")
    for name, content in files.items():
        if name.endswith((".xml", ".rels")):
            check_docx_part(name, len(content))
            # The whole part is searched: a declaration can hide behind any amount of comment or text.
            if re.search(rb"<!(DOCTYPE|ENTITY)", content, re.I):
                raise ManuscriptError(
                    "The Word document contains XML declarations (DTD or entities) that Word never writes. "
                    "Open it in Word or LibreOffice and save it again as .docx."
                )
        if name.endswith(".rels") and _links_an_image_file(content):
            raise ManuscriptError(
                "The Word document links to images on a computer. Embed the images instead of linking them."
            )
    import mammoth

    images: dict[str, bytes] = {}

    def keep_image(image: Any) -> dict[str, str]:
        with image.open() as stream:
            content = stream.read(64 * 1024 * 1024 + 1)
        name = f"docx-images/image{len(images) + 1:03d}{_extension_for(image.content_type)}"
        images[name] = content
        return {"src": name, "alt": image.alt_text or ""}

    data, headings, equations, prepared = _prepared(files)
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data),
            style_map=DOCX_STYLE_MAP + headings,
            convert_image=mammoth.images.img_element(keep_image),
            external_file_access=False,
        )
    except (ManuscriptError, MemoryError):
        raise
    except Exception as error:
        raise ManuscriptError(
            f"The Word document cannot be read ({type(error).__name__}). Save it again as .docx."
        ) from None
    html, unlinked = _unlink_local_files(result.value)
    html, unconverted = _put_equations_back(html, equations)
    html, notes = _take_docx_footnotes(html)
    titles = re.findall(r'<p class="doc-title">(.*?)</p>', html, flags=re.S)
    html = re.sub(r'<p class="doc-title">.*?</p>', "", html, flags=re.S)  # it belongs on the title page
    book = read_html(f"<html><body>{html}</body></html>", split_level)
    if titles:
        from shared.book.sanitize import plain_text

        book.metadata.title = plain_text(titles[0])
    for chapter in book.chapters:
        cited = re.findall(
            r'class="quire-docx-noteref"[^>]*title="([^"]+)"|title="([^"]+)"[^>]*class="quire-docx-noteref"',
            chapter.body,
        )
        seen: list[str] = []
        for first, second in cited:
            key = first or second
            if key in notes and key not in seen:
                seen.append(key)
        chapter.footnotes = [{"id": key, "label": key, "body": notes[key]} for key in seen]
    book.warnings.extend(
        f"Word document: {m.message}"
        for m in result.messages
        # pandoc's highlighting run styles (KeywordTok, StringTok…) carry colour only.
        if "Unrecognised" in m.message and not re.search(r"run style: \w+Tok ", m.message)
    )
    book.warnings.extend(_left_out(files))
    book.warnings.extend(prepared + unlinked + unconverted)
    props = files.get("docProps/core.xml", b"")
    title = re.search(rb"<dc:title>([^<]+)</dc:title>", props)
    creator = re.search(rb"<dc:creator>([^<]+)</dc:creator>", props)
    if title and title.group(1).strip():
        book.metadata.title = " ".join(unescape(title.group(1).decode("utf-8", "replace")).split())
    if creator and creator.group(1).strip():
        book.metadata.authors = [" ".join(unescape(creator.group(1).decode("utf-8", "replace")).split())]
    return book, images


def _left_out(files: dict[str, bytes]) -> list[str]:
    """What the book will not show, said aloud: reviewers' comments and Word's own equations."""
    warnings = []
    comments = len(re.findall(rb"<w:comment\b", files.get("word/comments.xml", b"")))
    if comments:
        warnings.append(
            f"Word document: its {comments} comment{'s are' if comments > 1 else ' is'} not part of the book. "
            "Resolve or delete them in Word if their text belongs in it."
        )
    return warnings


def _prepared(files: dict[str, bytes]) -> tuple[bytes, str, list[tuple[Any, bool]], list[str]]:
    """The document as mammoth is to read it, the style map for the headings it would miss, the
    equations taken out of it (each with whether it is displayed), marked by their index, and
    warnings for what mammoth reads silently (tracked changes, text boxes)."""
    import zipfile

    from lxml import etree

    from shared.book.readers import docx_parts

    try:
        document = docx_parts.parse_part(files["word/document.xml"])
        styles = docx_parts.parse_part(files["word/styles.xml"]) if "word/styles.xml" in files else None
    except etree.XMLSyntaxError:
        raise ManuscriptError("The Word document's XML cannot be read. Save it again as .docx.") from None
    levels = docx_parts.heading_levels(styles) if styles is not None else {}
    if styles is not None:  # the outline styles are added to it
        docx_parts.mark_outline_levels(document)
    warnings = docx_parts.revisions_and_text_boxes(document)
    changed = dict(files)
    equations: list[tuple[Any, bool]] = []
    for name in ("word/document.xml", "word/footnotes.xml", "word/endnotes.xml"):
        if name not in files:
            continue
        try:
            part = document if name == "word/document.xml" else docx_parts.parse_part(files[name])
        except etree.XMLSyntaxError:
            continue  # mammoth reports it
        found = docx_parts.take_equations(part, len(equations))
        equations.extend(found)
        if found or part is document:
            changed[name] = etree.tostring(part, xml_declaration=True, encoding="UTF-8")
    if styles is not None:
        styles.extend(docx_parts.parse_part(b"<x>" + docx_parts.outline_styles() + b"</x>"))
        changed["word/styles.xml"] = etree.tostring(styles, xml_declaration=True, encoding="UTF-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, content in changed.items():
            archive.writestr(name, content)
    return out.getvalue(), "\n" + docx_parts.style_map(levels), equations, warnings


_RELATIONSHIP = re.compile(rb"<Relationship\b[^>]*>")
_LOCAL_LINK = re.compile(r'<a href="((?i:file):[^"]*)"[^>]*>(.*?)</a>', re.S)


def _links_an_image_file(rels: bytes) -> bool:
    """Whether a relationship part points an image at a file on the author's computer. Other
    file: targets do not matter: an attached template (settings.xml.rels) is never read, and a
    hyperlink to a local file keeps its text (_unlink_local_files)."""
    for relationship in _RELATIONSHIP.findall(rels):
        target = re.search(rb'\bTarget="([^"]*)"', relationship)
        kind = re.search(rb'\bType="([^"]*)"', relationship)
        if target and kind and target.group(1).lower().startswith(b"file:") and kind.group(1).endswith(b"/image"):
            return True
    return False


def _put_equations_back(html: str, equations: list[tuple[Any, bool]]) -> tuple[str, list[str]]:
    """Each equation's MathML where its mark stands (a displayed one alone in its paragraph becomes
    a display block); one Quire cannot convert keeps its linear text, said in a warning."""
    from shared.book.omml import Unconvertible, linear_text, omml_to_mathml
    from shared.book.readers.docx_parts import EQUATION_MARK

    if not equations:
        return html, []
    warnings: list[str] = []

    def markup(mark: re.Match[str]) -> str:
        index = int(mark.group(1))
        if index >= len(equations):
            return mark.group(0)  # not one of ours: typed by the author
        equation, display = equations[index]
        formulas = equation if display else [equation]  # a displayed one: the m:oMath of its m:oMathPara
        try:
            return "".join(omml_to_mathml(formula, display) for formula in formulas if formula.tag.endswith("}oMath"))
        except Unconvertible as error:
            text = " ".join(linear_text(equation).split())
            warnings.append(
                f"Word document: the equation '{text[:80]}' uses {error}, which Quire cannot convert; "
                "it is shown as its text."
            )
            return escape_text(text)

    def block(match: re.Match[str]) -> str:
        if int(match.group(1)) >= len(equations):
            return match.group(0)
        formula = markup(match)
        return f'<div class="math-display">{formula}</div>' if formula.startswith("<math") else f"<p>{formula}</p>"

    html = re.sub(rf"<p>\s*{EQUATION_MARK.format(r'(\d+)', display='D')}\s*</p>", block, html)
    return re.sub(EQUATION_MARK.format(r"(\d+)", display="[DI]"), markup, html), warnings


def _unlink_local_files(html: str) -> tuple[str, list[str]]:
    """Links to files on the author's computer lead nowhere in a book: their text stays, unlinked."""
    warnings: list[str] = []

    def unlink(match: re.Match[str]) -> str:
        warnings.append(
            f"Word document: the link to {unescape(match.group(1))!r} points to a file on the author's computer; "
            "its text is kept without the link."
        )
        return match.group(2)

    return _LOCAL_LINK.sub(unlink, html), warnings


def _extension_for(content_type: str | None) -> str:
    return {"image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}.get(content_type or "", ".jpg")


def _take_docx_footnotes(html: str) -> tuple[str, dict[str, str]]:
    """mammoth lists every note at the end; take them out and mark their references."""
    from lxml import etree
    from lxml import html as lxml_html

    if 'id="footnote-' not in html and 'id="endnote-' not in html:
        return html, {}
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    notes: dict[str, str] = {}
    for item in list(root.iter("li")):
        note_id = item.get("id", "")
        if note_id.startswith(("footnote-", "endnote-")):
            for back in item.xpath(".//a[starts-with(@href, '#footnote-ref-') or starts-with(@href, '#endnote-ref-')]"):
                back.drop_tree()
            notes[note_id] = "".join(
                etree.tostring(child, encoding="unicode", method="html") for child in item
            ) or escape_text(item.text_content())
            parent = item.getparent()
            parent.remove(item)
            if len(parent) == 0 and parent.tag == "ol":
                parent.drop_tree()
    for ref in root.xpath("//a[starts-with(@href, '#footnote-') or starts-with(@href, '#endnote-')]"):
        target = ref.get("href", "")[1:]
        if target in notes:
            ref.set("class", "quire-docx-noteref")
            ref.set("title", target)
    body = "".join(etree.tostring(child, encoding="unicode", method="html") for child in root)
    return escape_text(root.text or "") + body, notes
