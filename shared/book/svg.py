"""SVG images made safe to carry in a book: an allow-list walk over the parsed drawing. Pure.

An SVG is a document of its own: it may run scripts, react to events, embed HTML and fetch other
files. EPUB reading systems and browsers show it through <img>, where scripts do not run, but a
book must not carry them at all (EPUBCheck and the stores refuse remote resources), and a reader
that opens the file directly would run them. So the drawing is parsed without a DTD, entities or
network, and only the drawing is kept: SVG elements (no <script>, no <foreignObject>), their
attributes without event handlers, and references only to the drawing's own parts ('#id') or to
raster images carried inside it as data: URIs. Stylesheets lose @import and any url() that points
outside. What cannot be parsed, or is not an SVG drawing, raises SvgError.
"""

from __future__ import annotations

import re
from typing import Any

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
XLINK_NAMESPACE = "http://www.w3.org/1999/xlink"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
MEDIA_TYPE = "image/svg+xml"
# SVG's default size when it declares none (as browsers draw an <img> of unknown size).
DEFAULT_SIZE = (300, 150)
MAX_BYTES = 5_000_000

# Elements that run code or embed another kind of document: dropped with their content.
_DROPPED = {"script", "foreignobject", "iframe", "handler", "listener", "discard"}
# Animations that could set a reference or a handler at run time.
_ANIMATIONS = {"set", "animate", "animatetransform", "animatemotion"}
_RASTER_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")


class SvgError(ValueError):
    """The SVG cannot be read as a drawing, so it cannot be made safe."""


def is_svg(reference: str) -> bool:
    return re.split(r"[?#]", reference.lower(), maxsplit=1)[0].endswith(".svg")


def _local(value: str) -> bool:
    value = value.strip()
    return value.startswith("#") or bool(_RASTER_DATA.match(value))


def _clean_style(css: str) -> str:
    """@import rules out; url() to anything but the drawing's own parts becomes 'none'."""
    css = _IMPORT.sub("", css)
    return _URL.sub(lambda m: m.group(0) if m.group(2).strip().startswith("#") else "none", css)


def _clean_element(element: Any) -> None:
    for name in list(element.attrib):
        namespace, _, local = name.rpartition("}")
        namespace = namespace.lstrip("{")
        value = element.get(name, "")
        lowered = local.lower()
        if namespace not in ("", XLINK_NAMESPACE, XML_NAMESPACE) or (namespace == XML_NAMESPACE and lowered == "base"):
            del element.attrib[name]  # editors' private attributes, xml:base
        elif lowered.startswith("on"):
            del element.attrib[name]  # event handlers
        elif lowered == "href" or lowered == "src":
            if not _local(value):
                del element.attrib[name]
        elif lowered == "style":
            element.set(name, _clean_style(value))
        elif "url(" in value.lower() and _clean_style(value) != value:
            del element.attrib[name]  # fill="url(http://…)" and the like
        elif lowered == "attributename" and ("href" in value.lower() or value.lower().startswith("on")):
            del element.attrib[name]


def sanitize_svg(data: bytes) -> bytes:
    """The drawing, safe to carry: see the module's docstring. Raises SvgError."""
    from lxml import etree

    if len(data) > MAX_BYTES:
        raise SvgError("it is larger than 5 MB")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise SvgError("it is not well-formed XML, is nested too deeply, or has entities that expand too far") from None
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise SvgError("it is not an SVG drawing (its root is not <svg> in the SVG namespace)")
    for element in list(root.iter()):
        if element is not root and element.getparent() is None:
            continue  # inside a subtree already removed
        if not isinstance(element.tag, str):
            _remove(element)  # an entity reference left unresolved
            continue
        namespace, _, local = element.tag.rpartition("}")
        local = local.lower()
        if namespace.lstrip("{") != SVG_NAMESPACE or local in _DROPPED:
            _remove(element)
            continue
        if local in _ANIMATIONS and _animates_reference(element):
            _remove(element)
            continue
        _clean_element(element)
        if local == "style":
            element.text = _clean_style(element.text or "")
    etree.cleanup_namespaces(root)
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=True))


def _animates_reference(element: Any) -> bool:
    target = element.get("attributeName", "").lower()
    return "href" in target or target.startswith("on")


def _remove(element: Any) -> None:
    """Remove an element and its content, keeping the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def svg_size(data: bytes) -> tuple[int, int]:
    """The drawing's size in CSS pixels: its width and height, else its viewBox's, else 300×150."""
    from lxml import etree

    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    width, height = _length(root.get("width")), _length(root.get("height"))
    box = (root.get("viewBox") or "").replace(",", " ").split()
    box_size: tuple[float, float] | None = None
    if len(box) == 4:
        try:
            box_size = (float(box[2]), float(box[3]))
        except ValueError:
            box_size = None
        if box_size and (box_size[0] <= 0 or box_size[1] <= 0):
            box_size = None
    if width and height:
        return round(width), round(height)
    if box_size:
        if width:
            return round(width), round(width * box_size[1] / box_size[0])
        if height:
            return round(height * box_size[0] / box_size[1]), round(height)
        return round(box_size[0]), round(box_size[1])
    return DEFAULT_SIZE


def _length(value: str | None) -> float:
    match = _LENGTH.match(value or "")
    return float(match.group(1)) if match and float(match.group(1)) > 0 else 0.0
