"""The web-app book's Readium Web Publication Manifest (`publication.json`). Pure.

Readium's web readers (and OPDS 2.0 catalogs, which link to it) open a publication from this one
JSON file: its metadata, the chapters in reading order, the resources they use, and the table of
contents. Every address is relative to the manifest, which sits at the web-app book's root.
See https://readium.org/webpub-manifest/.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Any

from shared.book.epub import BookParts, OutlineEntry, outline
from shared.formats import WEBPUB_MANIFEST, WEBPUB_MEDIA_TYPE, content_type_for

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?")


def _toc(entries: list[OutlineEntry]) -> list[dict[str, Any]]:
    return [
        {"href": f"chapters/{e.href}", "title": e.label, **({"children": _toc(e.children)} if e.children else {})}
        for e in entries
    ]


def publication_manifest(parts: BookParts, files: dict[str, bytes], edition: int, pdf: bool) -> bytes:
    """The manifest of the web-app book whose other files are `files` (path → bytes), of `edition`
    (0: none, from the command line). `pdf`: the edition has a print PDF beside it."""
    meta = parts.metadata
    metadata: dict[str, Any] = {
        "@type": "http://schema.org/Book",
        "title": meta.title,
        "language": meta.language,
        # To the millisecond: catalogs order editions by it, and two can be uploaded within a second.
        "modified": parts.modified.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "readingProgression": meta.direction,
    }
    if meta.subtitle:
        metadata["subtitle"] = meta.subtitle
    if meta.authors:
        metadata["author"] = list(meta.authors)
    for name in ("identifier", "description", "publisher"):
        if getattr(meta, name):
            metadata[name] = getattr(meta, name)
    if date := _DATE.match(meta.date or ""):
        metadata["published"] = date.group(0)
    chapters = sorted(parts.chapters, key=lambda c: c.number)
    reading = [f"chapters/{c.file_stem}.html" for c in chapters]
    cover = f"images/{parts.cover.file_name}"
    resources = [
        {"href": path, "type": content_type_for(path), **({"rel": "cover"} if path == cover else {})}
        for path in sorted(files)
        if path not in reading and path not in ("sw.js", WEBPUB_MANIFEST) and not path.endswith(".html")
    ]
    # This edition's own files: a newer edition's would not match this manifest.
    query = f"?edition={edition}" if edition else ""
    alternates = [{"href": f"../book.epub{query}", "type": "application/epub+zip", "rel": "alternate"}]
    if pdf:
        alternates.append({"href": f"../book.pdf{query}", "type": "application/pdf", "rel": "alternate"})
    manifest = {
        "@context": "https://readium.org/webpub-manifest/context.jsonld",
        "metadata": metadata,
        "links": [{"rel": "self", "href": WEBPUB_MANIFEST, "type": WEBPUB_MEDIA_TYPE}, *alternates],
        "readingOrder": [
            {"href": href, "type": "text/html", "title": c.title} for href, c in zip(reading, chapters, strict=True)
        ],
        "resources": resources,
        "toc": _toc(outline(chapters, "html")),
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# A book's row keeps its published edition's card, and a table property holds 64 KiB at most.
CARD_MAX_CHARS = 16_000


def catalog_card(manifest: bytes) -> dict[str, Any]:
    """What a catalog lists of an edition, from its publication manifest: the metadata and the
    cover. Kept in the book's row, so a catalog answers from one read; {} when too long for it."""
    parsed = json.loads(manifest)
    card = {
        "metadata": parsed.get("metadata", {}),
        "resources": [r for r in parsed.get("resources", []) if r.get("rel") == "cover"],
    }
    return card if len(json.dumps(card, ensure_ascii=False)) <= CARD_MAX_CHARS else {}
