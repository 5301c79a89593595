"""Drawings written inline (`<svg>…</svg>` in HTML, or in Markdown's raw HTML) become SVG image
files of the book. Pure.

The sanitiser keeps no SVG markup in a chapter (it would carry scripts and event handlers into the
page), so an inline drawing is lifted out as it is written, made safe by shared.book.svg like any SVG
file, and referenced by an <img> whose description is the drawing's own <title> or aria-label. One
that cannot be read as a drawing stays in place, where the render step drops it with a warning.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from typing import Any

from shared.book.archive import normalise_reference
from shared.book.model import ParsedBook
from shared.book.svg import SVG_NAMESPACE, SvgError, sanitize_svg

FOLDER = "inline-drawings"
# Bounded by the next "<" or ">", so a text of unclosed "<svg " costs one pass, not one per tag.
_TAG = re.compile(r"<(/?)svg\b[^<>]*?(/?)>", re.IGNORECASE)
_TITLE = re.compile(r"<title\b[^<>]*>([^<]*)</title>", re.IGNORECASE)
_LABEL = re.compile(r"""\baria-label\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
_MARKUP = re.compile(r"<[^<>]*>")
_DEFAULT_NAMESPACE = re.compile(r"\sxmlns\s*=")
# HTML parsers lower-case every name, and SVG's mixed-case ones then mean nothing: the names as SVG
# spells them (the HTML standard adjusts the same ones when it parses an inline drawing).
_MIXED_CASE = {
    name.lower(): name
    for name in [
        "viewBox",
        "preserveAspectRatio",
        "gradientUnits",
        "gradientTransform",
        "patternUnits",
        "patternContentUnits",
        "patternTransform",
        "clipPathUnits",
        "maskUnits",
        "maskContentUnits",
        "markerUnits",
        "markerWidth",
        "markerHeight",
        "refX",
        "refY",
        "textLength",
        "lengthAdjust",
        "startOffset",
        "pathLength",
        "spreadMethod",
        "filterUnits",
        "primitiveUnits",
        "stdDeviation",
        "baseFrequency",
        "numOctaves",
        "stitchTiles",
        "kernelMatrix",
        "kernelUnitLength",
        "tableValues",
        "surfaceScale",
        "specularConstant",
        "specularExponent",
        "diffuseConstant",
        "pointsAtX",
        "pointsAtY",
        "pointsAtZ",
        "limitingConeAngle",
        "edgeMode",
        "targetX",
        "targetY",
        "xChannelSelector",
        "yChannelSelector",
        "attributeName",
        "attributeType",
        "calcMode",
        "keyPoints",
        "keySplines",
        "keyTimes",
        "repeatCount",
        "repeatDur",
        "requiredExtensions",
        "requiredFeatures",
        "systemLanguage",
        "zoomAndPan",
        "glyphRef",
        "linearGradient",
        "radialGradient",
        "clipPath",
        "textPath",
        "foreignObject",
        "feBlend",
        "feColorMatrix",
        "feComponentTransfer",
        "feComposite",
        "feConvolveMatrix",
        "feDiffuseLighting",
        "feDisplacementMap",
        "feDistantLight",
        "feDropShadow",
        "feFlood",
        "feFuncA",
        "feFuncB",
        "feFuncG",
        "feFuncR",
        "feGaussianBlur",
        "feImage",
        "feMerge",
        "feMergeNode",
        "feMorphology",
        "feOffset",
        "fePointLight",
        "feSpecularLighting",
        "feSpotLight",
        "feTile",
        "feTurbulence",
        "animateMotion",
        "animateTransform",
    ]
}
_NAME = re.compile(r"(?<=[<\s/])([a-z][a-z0-9]*[a-z])(?=[\s=/>])")


def lift_inline_svgs(book: ParsedBook, base_dir: str) -> dict[str, bytes]:
    """Replace each inline drawing in the book's chapters and notes with an <img> of its own file.
    Returns the files, by the archive path their references resolve to from `base_dir`."""
    files: dict[str, bytes] = {}
    for chapter in book.chapters:
        if chapter.format == "tokens":
            for tokens in [chapter.body] + [note["body"] for note in chapter.footnotes]:
                for token in tokens:
                    if token.type == "html_block":
                        token.content = _lift(token.content, base_dir, files)
                    elif token.children:
                        token.children = _lift_children(token.children, base_dir, files)
        else:
            chapter.body = _lift(chapter.body, base_dir, files)
            for note in chapter.footnotes:
                note["body"] = _lift(note["body"], base_dir, files)
    return files


def _lift_children(children: list[Any], base_dir: str, files: dict[str, bytes]) -> list[Any]:
    """A drawing inside a paragraph arrives as a run of inline tokens (each tag one html_inline, the
    text between them text): the run, joined, is lifted whole. One pass, pairing the tags as it goes,
    so a paragraph of unclosed <svg> tags costs no more than one of words."""
    out: list[Any] = []
    depth, start = 0, 0
    for index, child in enumerate(children):
        tag = _TAG.match(child.content) if child.type == "html_inline" else None
        if tag is None or tag.group(2):  # not a drawing's tag, or a self-closed one
            if depth == 0:
                out.append(child)
            continue
        if not tag.group(1):
            if depth == 0:
                start = index
            depth += 1
            continue
        if depth == 0:
            out.append(child)  # a closing tag with nothing open: the sanitiser's
            continue
        depth -= 1
        if depth == 0:
            run = children[start : index + 1]
            markup = "".join(c.content if c.type == "html_inline" else html.escape(c.content, quote=False) for c in run)
            lifted = _lift(markup, base_dir, files)
            if lifted == markup:
                out.extend(run)  # not a drawing that could be read: left to the sanitiser, as it is
            else:
                run[0].content = lifted
                out.append(run[0])
    if depth:
        out.extend(children[start:])  # never closed: left as written
    return out


def _lift(markup: str, base_dir: str, files: dict[str, bytes]) -> str:
    if "<svg" not in markup.lower():
        return markup
    out: list[str] = []
    position = 0
    for start, end in _outermost_drawings(markup):
        drawing = markup[start:end]
        safe = _safe(drawing)
        if safe is None:
            continue
        reference = f"{FOLDER}/drawing-{hashlib.sha256(safe).hexdigest()[:16]}.svg"
        files[normalise_reference(reference, base_dir) or reference] = safe
        out.append(markup[position:start])
        out.append(f'<img src="{reference}" alt="{html.escape(_description(drawing), quote=True)}"/>')
        position = end
    out.append(markup[position:])
    return "".join(out)


def _outermost_drawings(markup: str) -> Iterator[tuple[int, int]]:
    """The spans of top-level <svg>…</svg> elements (drawings nested in a drawing belong to it)."""
    depth, start = 0, 0
    for tag in _TAG.finditer(markup):
        closing, self_closing = tag.group(1), tag.group(2)
        if closing:
            if depth == 1:
                yield start, tag.end()
            depth = max(depth - 1, 0)
        elif not self_closing:
            if depth == 0:
                start = tag.start()
            depth += 1


def _safe(drawing: str) -> bytes | None:
    """The drawing as a safe SVG file, or None when it cannot be read as one."""
    drawing = _MARKUP.sub(lambda tag: _NAME.sub(_svg_spelling, tag.group(0)), drawing)
    opening = _TAG.match(drawing)
    if opening is not None and not _DEFAULT_NAMESPACE.search(opening.group(0)):
        # HTML lets an inline drawing leave its namespace out; a file must declare it.
        drawing = f'<svg xmlns="{SVG_NAMESPACE}"' + drawing[4:]
    try:
        return sanitize_svg(drawing.encode("utf-8"))
    except SvgError:
        return None


def _svg_spelling(name: re.Match[str]) -> str:
    return _MIXED_CASE.get(name.group(1), name.group(1))


def _description(drawing: str) -> str:
    found = _TITLE.search(drawing)
    opening = _TAG.match(drawing)
    label = _LABEL.search(opening.group(0)) if opening is not None else None
    text = found.group(1) if found else label.group(2) if label else ""
    return " ".join(html.unescape(_MARKUP.sub("", text)).split())
