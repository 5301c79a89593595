"""Readers: each manuscript format becomes one ParsedBook (metadata, chapter sources, images).

This is the parse step. It splits the book into chapters but renders nothing: chapters are
rendered (and sanitised) by the render step, in batches. Every image the text references must be
in the upload; the parse step checks that, so a missing image fails the job at once, naming it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from shared.book.archive import ArchiveLimits, normalise_reference, read_archive
from shared.book.errors import ManuscriptError
from shared.book.images import declared_size, image_key
from shared.book.limits import check_book_pixels, check_chapters, check_docx_part, check_markdown
from shared.book.model import ChapterSource, Metadata

MAX_FRONT_MATTER_BYTES = 64 * 1024
MANUSCRIPT_EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
                         ".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xhtml": "html",
                         ".docx": "docx"}  # fmt: skip
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
ISBN_NAMESPACE = uuid.UUID("6f1d3c4e-7d47-4f2a-9a57-0c7bb3c0a001")  # Quire's namespace for derived ids


@dataclass
class ParsedBook:
    metadata: Metadata
    chapters: list[ChapterSource]
    image_refs: dict[str, str]  # normalised reference → image key
    image_sources: dict[str, bytes] = field(repr=False, default_factory=dict)  # key → original bytes
    image_names: dict[str, str] = field(default_factory=dict)  # key → the name the author used
    cover_key: str = ""
    warnings: list[str] = field(default_factory=list)

    def plain_meta(self) -> dict[str, Any]:
        """Everything but the chapters and the image bytes, as JSON-able data: what the image and
        package steps need from the parse (a checkpoint; the chapters travel rendered)."""
        return {
            "metadata": self.metadata.to_dict(),
            "image_refs": self.image_refs,
            "image_names": self.image_names,
            "cover_key": self.cover_key,
            "warnings": self.warnings,
        }

    @classmethod
    def from_plain_meta(cls, data: dict[str, Any], image_sources: dict[str, bytes] | None = None) -> ParsedBook:
        return cls(
            metadata=Metadata.from_dict(data["metadata"]),
            chapters=[],
            image_refs=data["image_refs"],
            image_sources=image_sources or {},
            image_names=data["image_names"],
            cover_key=data["cover_key"],
            warnings=list(data["warnings"]),
        )


# -- entry point ----------------------------------------------------------------------------------


def parse_manuscript(
    data: bytes,
    kind: str,
    *,
    title: str = "",
    author: str = "",
    language: str = "",
    split_level: int = 1,
) -> ParsedBook:
    """The parse step: manuscript bytes of a known kind → ParsedBook."""
    if not 1 <= split_level <= 3:
        raise ValueError("split_level must be 1, 2 or 3")
    files: dict[str, bytes] = {}
    base_dir = ""
    if kind == "zip":
        files = read_archive(data, "zip archive")
        name, kind = _manuscript_in(files)
        data = files[name]
        base_dir = posixpath.dirname(name)
    if kind == "markdown":
        book = _read_markdown(_decode(data), split_level)
    elif kind == "text":
        book = _read_text(_decode(data))
    elif kind == "html":
        book = _read_html(_decode(data), split_level)
    elif kind == "docx":
        book, docx_images = _read_docx(data, split_level)
        files.update(docx_images)
    else:
        raise ManuscriptError(f"Quire cannot read '{kind}' manuscripts.")

    meta = book.metadata
    meta.title = title or meta.title or (book.chapters[0].title if book.chapters else "") or "Untitled"
    if author:
        meta.authors = [a.strip() for a in author.split(";") if a.strip()] or [author]
    meta.language = language or meta.language or "en"
    if not meta.identifier:
        meta.identifier = f"urn:uuid:{uuid.uuid5(ISBN_NAMESPACE, hashlib.sha256(data).hexdigest())}"
    if not book.chapters:
        raise ManuscriptError("The manuscript has no text. Check that you uploaded the right file.")
    check_chapters(len(book.chapters))
    for chapter in book.chapters:
        chapter.title = chapter.title or meta.title
    _attach_images(book, files, base_dir)
    check_book_pixels({key: declared_size(data) for key, data in book.image_sources.items()})
    return book


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ManuscriptError("The manuscript is not UTF-8 text. Save it as UTF-8 and upload it again.") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _manuscript_in(files: dict[str, bytes]) -> tuple[str, str]:
    candidates = [
        name
        for name in files
        if not name.startswith("__MACOSX/")
        and not posixpath.basename(name).startswith(".")
        and posixpath.splitext(name.lower())[1] in MANUSCRIPT_EXTENSIONS
    ]
    if len(candidates) != 1:
        found = ", ".join(sorted(candidates)[:5]) or "none"
        raise ManuscriptError(
            f"The zip archive must hold exactly one manuscript (.md, .txt, .html or .docx); found {found}."
        )
    name = candidates[0]
    return name, MANUSCRIPT_EXTENSIONS[posixpath.splitext(name.lower())[1]]


# -- Markdown -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def markdown_parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin

    md = MarkdownIt("commonmark", {"typographer": True})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.use(footnote_plugin).use(front_matter_plugin)
    return md


def _read_markdown(text: str, split_level: int) -> ParsedBook:
    check_markdown(text)
    md = markdown_parser()
    env: dict[str, Any] = {}
    tokens = md.parse(text, env)
    metadata = Metadata()
    if tokens and tokens[0].type == "front_matter":
        metadata = _front_matter(tokens[0].content)
        tokens = tokens[1:]

    footnotes: dict[int, list[Any]] = {}
    labels: dict[int, str] = {}
    body: list[Any] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "footnote_block_open":
            index += 1
            while index < len(tokens) and tokens[index].type != "footnote_block_close":
                opener = tokens[index]
                if opener.type == "footnote_open":
                    note_id = opener.meta["id"]
                    labels[note_id] = str(opener.meta.get("label", note_id))
                    inner = []
                    index += 1
                    while tokens[index].type != "footnote_close":
                        if tokens[index].type != "footnote_anchor":
                            inner.append(tokens[index])
                        index += 1
                    footnotes[note_id] = inner
                index += 1
            index += 1
            continue
        body.append(token)
        index += 1

    split_tags = {f"h{level}" for level in range(1, split_level + 1)}
    groups: list[list[Any]] = [[]]
    for token in body:
        if token.type == "heading_open" and token.level == 0 and token.tag in split_tags and groups[-1]:
            groups.append([])
        groups[-1].append(token)

    chapters: list[ChapterSource] = []
    for group in groups:
        if not any(
            (t.type == "inline" and t.content.strip()) or t.type in ("html_block", "fence", "code_block", "hr")
            for t in group
        ):
            continue
        starts_with_heading = group[0].type == "heading_open" and group[0].tag in split_tags
        title = _inline_text(group[1]) if starts_with_heading and len(group) > 1 else ""
        note_ids: list[int] = []
        for token in group:
            for child in token.children or ():
                if child.type == "footnote_ref" and child.meta["id"] not in note_ids:
                    note_ids.append(child.meta["id"])
        for token in group:
            # Table alignment comes as style="text-align:…"; styles are not allowed, classes are.
            if token.type in ("th_open", "td_open") and token.attrs.get("style"):
                match = re.search(r"text-align:\s*(left|right|center)", str(token.attrs.pop("style")))
                if match:
                    token.attrs["class"] = f"align-{match.group(1)}"
        notes: list[dict[str, Any]] = [
            {"id": n, "label": labels.get(n, str(n)), "body": footnotes.get(n, [])} for n in note_ids
        ]
        chapters.append(
            ChapterSource(
                number=len(chapters) + 1,
                title=title,
                format="tokens",
                body=group,
                footnotes=notes,
            )
        )
    if len(chapters) > 1 and not chapters[0].title:
        chapters[0].title = "Front matter"  # text before the first heading is kept, not lost
    return ParsedBook(metadata=metadata, chapters=chapters, image_refs={})


def _inline_text(token: Any) -> str:
    if token.type != "inline":
        return ""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())


def _front_matter(raw: str) -> Metadata:
    import yaml

    if len(raw.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise ManuscriptError("The front matter (between the --- lines) is over 64 KiB. Shorten it.")
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        raise ManuscriptError(
            f"The front matter is not valid YAML{where}. Check the lines between the --- markers."
        ) from None
    if not isinstance(data, dict):
        raise ManuscriptError("The front matter must be 'key: value' lines, such as 'title: My Book'.")
    lowered = {str(k).lower().replace("_", "-"): v for k, v in data.items()}

    def text(*keys: str) -> str:
        for key in keys:
            value = lowered.get(key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return " ".join(str(value).split())
            if value is not None and hasattr(value, "isoformat"):
                return str(value.isoformat())  # YAML dates
        return ""

    authors_raw = lowered.get("authors", lowered.get("author", lowered.get("creator", [])))
    if isinstance(authors_raw, (str, dict)):
        authors_raw = [authors_raw]
    authors = []
    for entry in authors_raw or []:
        if isinstance(entry, dict):
            entry = entry.get("name") or entry.get("text") or ""
        if isinstance(entry, str) and entry.strip():
            authors.append(" ".join(entry.split()))
    feeds_raw = lowered.get("feeds", [])
    # Only plain strings are read: a YAML alias bomb expands when a nested value is turned into text.
    feeds = [
        f.strip()
        for f in (feeds_raw if isinstance(feeds_raw, list) else [feeds_raw])
        if isinstance(f, str) and f.strip()
    ]
    identifier = text("identifier")
    isbn = re.sub(r"[^0-9Xx]", "", text("isbn"))
    if isbn:
        if len(isbn) not in (10, 13):
            raise ManuscriptError(f"The ISBN '{text('isbn')}' does not have 10 or 13 digits.")
        identifier = f"urn:isbn:{isbn.upper()}"
    language = text("language", "lang")
    if language and not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", language):
        raise ManuscriptError(f"'{language}' is not a language tag. Use one such as 'en', 'fr' or 'pt-BR'.")
    return Metadata(
        title=text("title"),
        subtitle=text("subtitle"),
        authors=authors,
        language=language,
        date=text("date"),
        publisher=text("publisher"),
        rights=text("rights", "copyright"),
        description=text("description", "abstract"),
        identifier=identifier,
        cover_image=text("cover-image", "cover"),
        feeds=feeds,
    )


# -- plain text -----------------------------------------------------------------------------------

_TEXT_HEADING = re.compile(
    r"^(?:(?:chapter|part|book)\s+(?:[0-9]+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|[a-z]+teen|twenty[- a-z]*|thirty[- a-z]*)\b.*|prologue|epilogue|preface|introduction|"
    r"afterword|foreword)$",
    re.IGNORECASE,
)


def _read_text(text: str) -> ParsedBook:
    from html import escape

    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    chapters: list[ChapterSource] = []
    current: list[str] = []
    title = ""

    def flush() -> None:
        if current:
            heading = f"<h1>{escape(title)}</h1>" if title else ""
            chapters.append(
                ChapterSource(
                    number=len(chapters) + 1,
                    title=title,
                    format="html",
                    body=heading + "".join(current),
                )
            )

    for block in blocks:
        first, _, rest = block.partition("\n")
        if len(first) <= 80 and _TEXT_HEADING.match(first.strip()):
            flush()
            current, title = [], " ".join(first.split())
            if rest.strip():
                current.append(f"<p>{escape(' '.join(rest.split()))}</p>")
            continue
        current.append(f"<p>{escape(' '.join(block.split()))}</p>")
    flush()
    if len(chapters) > 1 and not chapters[0].title:
        chapters[0].title = "Front matter"
    return ParsedBook(metadata=Metadata(), chapters=chapters, image_refs={})


# -- HTML -----------------------------------------------------------------------------------------


def _read_html(text: str, split_level: int) -> ParsedBook:
    from lxml import etree
    from lxml import html as lxml_html

    try:
        document = lxml_html.document_fromstring(text.encode("utf-8"), parser=_html_parser())
    except (etree.ParserError, ValueError):
        raise ManuscriptError("The HTML file is empty or cannot be read.") from None
    metadata = Metadata(
        title=" ".join((document.findtext(".//title") or "").split()),
        language=(document.get("lang") or document.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip(),
    )
    for meta in document.iter("meta"):
        name, content = (meta.get("name") or "").lower(), " ".join((meta.get("content") or "").split())
        if name == "author" and content:
            metadata.authors.append(content)
        elif name == "description":
            metadata.description = content
    if metadata.language and not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", metadata.language):
        metadata.language = ""
    body = document.find("body")
    if body is None:
        body = document
    return ParsedBook(metadata=metadata, chapters=_split_html(body, split_level), image_refs={})


def _html_parser() -> Any:
    from lxml import html as lxml_html

    # No network, no entity expansion: an HTML upload is data, not a set of instructions.
    return lxml_html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, encoding="utf-8")


def _split_html(body: Any, split_level: int) -> list[ChapterSource]:
    from lxml import etree

    split_tags = {f"h{level}" for level in range(1, split_level + 1)}
    container = body
    # Descend through single wrappers (<main>, <article>, <div>) that hold the whole text.
    while True:
        children = [c for c in container if isinstance(c.tag, str)]
        if (
            len(children) == 1
            and children[0].tag in ("main", "article", "div", "section")
            and not (container.text or "").strip()
        ):
            container = children[0]
        else:
            break
    groups: list[list[str]] = [[]]
    titles: list[str] = [""]
    lead = (container.text or "").strip()
    if lead:
        groups[0].append(f"<p>{_escape(lead)}</p>")
    for child in container:
        if not isinstance(child.tag, str):
            continue
        if child.tag in split_tags:
            groups.append([])
            titles.append(" ".join(child.text_content().split()))
        html = etree.tostring(child, encoding="unicode", method="html", with_tail=False)
        groups[-1].append(html)
        tail = (child.tail or "").strip()
        if tail:
            groups[-1].append(f"<p>{_escape(tail)}</p>")
    chapters: list[ChapterSource] = []
    for title, parts in zip(titles, groups, strict=True):
        if not parts:
            continue
        body = "".join(parts)
        chapters.append(
            ChapterSource(
                number=len(chapters) + 1,
                title=title or ("Front matter" if len(groups) > 1 else ""),
                format="html",
                body=body,
            )
        )
    return chapters


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


# -- DOCX -----------------------------------------------------------------------------------------

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
p[style-name='Image Caption'] => p.caption:fresh
"""


def _read_docx(data: bytes, split_level: int) -> tuple[ParsedBook, dict[str, bytes]]:
    import io

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
        if name.endswith(".rels") and re.search(rb'TargetMode="External"[^>]*Target="file:|Target="file:', content):
            raise ManuscriptError(
                "The Word document links to files on a computer. Embed the images instead of linking them."
            )
    import mammoth

    images: dict[str, bytes] = {}

    def keep_image(image: Any) -> dict[str, str]:
        with image.open() as stream:
            content = stream.read(64 * 1024 * 1024 + 1)
        name = f"docx-images/image{len(images) + 1:03d}{_extension_for(image.content_type)}"
        images[name] = content
        return {"src": name, "alt": image.alt_text or ""}

    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data),
            style_map=DOCX_STYLE_MAP,
            convert_image=mammoth.images.img_element(keep_image),
            external_file_access=False,
        )
    except (ManuscriptError, MemoryError):
        raise
    except Exception as error:
        raise ManuscriptError(
            f"The Word document cannot be read ({type(error).__name__}). Save it again as .docx."
        ) from None
    html, notes = _take_docx_footnotes(result.value)
    titles = re.findall(r'<p class="doc-title">(.*?)</p>', html, flags=re.S)
    html = re.sub(r'<p class="doc-title">.*?</p>', "", html, flags=re.S)  # it belongs on the title page
    book = _read_html(f"<html><body>{html}</body></html>", split_level)
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
    book.warnings.extend(f"Word document: {m.message}" for m in result.messages if "Unrecognised" in m.message)
    props = files.get("docProps/core.xml", b"")
    title = re.search(rb"<dc:title>([^<]+)</dc:title>", props)
    creator = re.search(rb"<dc:creator>([^<]+)</dc:creator>", props)
    if title:
        book.metadata.title = title.group(1).decode("utf-8", "replace").strip()
    if creator:
        book.metadata.authors = [creator.group(1).decode("utf-8", "replace").strip()]
    return book, images


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
            ) or _escape(item.text_content())
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
    return _escape(root.text or "") + body, notes


# -- images ---------------------------------------------------------------------------------------


def _attach_images(book: ParsedBook, files: dict[str, bytes], base_dir: str) -> None:
    """Find every image the text references, check it is in the upload, give it a key."""
    references = _image_references(book)
    cover_ref = book.metadata.cover_image
    if cover_ref:
        references.append(cover_ref)
    missing: list[str] = []
    for reference in references:
        if re.match(r"^[a-z][a-z0-9+.-]*:", reference, re.I) and not reference.lower().startswith("file:"):
            continue  # remote or data URLs: the render step drops them with a warning
        path = normalise_reference(reference, base_dir) if not reference.startswith("docx-images/") else reference
        if path is None or path not in files:
            missing.append(reference)
            continue
        if posixpath.splitext(path.lower())[1] not in IMAGE_EXTENSIONS and not path.startswith("docx-images/"):
            raise ManuscriptError(f"'{reference}' is not an image Quire can use (JPEG, PNG, GIF or WebP).")
        key = image_key(files[path])
        book.image_refs[reference] = key
        book.image_sources[key] = files[path]
        book.image_names.setdefault(key, reference)
    if missing:
        listed = ", ".join(f"'{m}'" for m in sorted(set(missing))[:10])
        raise ManuscriptError(
            f"The manuscript refers to images that are not in the upload: {listed}. "
            "Upload a zip holding the manuscript and its images, with the paths the text uses."
        )
    if cover_ref:
        book.cover_key = book.image_refs[cover_ref]


def _image_references(book: ParsedBook) -> list[str]:
    references: list[str] = []
    for chapter in book.chapters:
        if chapter.format == "tokens":
            stacks = [chapter.body] + [note["body"] for note in chapter.footnotes]
            for tokens in stacks:
                for token in tokens:
                    for child in _field(token, "children") or ():
                        if _field(child, "type") == "image":
                            references.append(dict(_attr_pairs(_field(child, "attrs"))).get("src", ""))
                        elif _field(child, "type") == "html_inline":
                            references.extend(_html_image_sources(_field(child, "content")))
                    if _field(token, "type") == "html_block":
                        references.extend(_html_image_sources(_field(token, "content")))
        else:
            references.extend(_html_image_sources(chapter.body))
    return [r for r in references if r]


def _field(token: Any, name: str) -> Any:
    """A field of a markdown-it Token, or of its dict form in a checkpoint."""
    return token.get(name) if isinstance(token, dict) else getattr(token, name)


def _attr_pairs(attrs: Any) -> list[tuple[str, str]]:
    if not attrs:
        return []
    if isinstance(attrs, dict):
        return list(attrs.items())
    return [tuple(pair) for pair in attrs]


def _html_image_sources(html: str) -> list[str]:
    if "<img" not in html.lower():
        return []
    from shared.book.sanitize import sanitized_fragment

    return [img.get("src", "") for img in sanitized_fragment(html).iter("img")]
