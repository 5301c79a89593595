"""The rules Send-to-Kindle enforces beyond EPUBCheck, checked on a finished EPUB. Pure.

Amazon's converter refuses, with the bare "E999", EPUBs that validate: XHTML without a UTF-8 XML
declaration (it then assumes ISO-8859-1), links whose target is a `<body>`, a `dc:language` that
is no BCP 47 tag, an `<img>` without `src`, an empty `href`, and a book without both a nav
document and an NCX (kindle-epub-fix documents them). `kindle_problems` names each one found, by
file; Quire's own books must have none (tests/book/test_kindle.py).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from typing import Any

from lxml import etree

XHTML = "{http://www.w3.org/1999/xhtml}"
OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
_UTF8_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']utf-8[\"']", re.IGNORECASE)
# BCP 47 as reading systems check it: a language, then optional script, region and variants.
_LANGUAGE_TAG = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)


def kindle_problems(epub: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        names = archive.namelist()
        container = etree.fromstring(archive.read("META-INF/container.xml"))
        package_path = next(e.get("full-path") for e in container.iter() if e.get("full-path"))
        package = etree.fromstring(archive.read(package_path))
        folder = posixpath.dirname(package_path)
        problems = _package_problems(package)
        documents = {
            posixpath.normpath(posixpath.join(folder, item.get("href", ""))): item
            for item in package.iter(f"{OPF}item")
            if item.get("media-type") == "application/xhtml+xml"
        }
        body_ids: dict[str, set[str]] = {}
        trees: dict[str, Any] = {}
        for name in documents:
            if name not in names:
                continue
            data = archive.read(name)
            if not _UTF8_DECLARATION.match(data):
                problems.append(f"{name}: no UTF-8 XML declaration")
            tree = etree.fromstring(data)
            trees[name] = tree
            body_ids[name] = {b.get("id") for b in tree.iter(f"{XHTML}body") if b.get("id")}
        for name, tree in trees.items():
            problems.extend(_document_problems(name, tree, body_ids))
    return problems


def _package_problems(package: Any) -> list[str]:
    problems = []
    languages = [e.text or "" for e in package.iter(f"{DC}language")]
    if not languages:
        problems.append("content.opf: no dc:language")
    problems.extend(
        f"content.opf: dc:language '{tag}' is no BCP 47 tag"
        for tag in languages
        if not _LANGUAGE_TAG.match(tag.strip())
    )
    items = list(package.iter(f"{OPF}item"))
    if not any("nav" in (item.get("properties") or "").split() for item in items):
        problems.append("content.opf: no nav document")
    if not any(item.get("media-type") == "application/x-dtbncx+xml" for item in items):
        problems.append("content.opf: no NCX")
    return problems


def _document_problems(name: str, tree: Any, body_ids: dict[str, set[str]]) -> list[str]:
    problems = []
    for img in tree.iter(f"{XHTML}img"):
        if not (img.get("src") or "").strip():
            problems.append(f"{name}: an <img> without src")
    for link in tree.iter(f"{XHTML}a"):
        href = link.get("href")
        if href is None:
            continue
        if not href.strip():
            problems.append(f"{name}: an empty href")
            continue
        path, _, fragment = href.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), path)) if path else name
        if fragment and fragment in body_ids.get(target, set()):
            problems.append(f"{name}: a link to the <body> of {target}")
    return problems
