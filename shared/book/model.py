"""The book model shared by the readers, the renderers and the writers. Plain, JSON-able data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

RTL_LANGUAGES = {"ar", "arc", "dv", "fa", "ha", "he", "khw", "ks", "ku", "ps", "sd", "ur", "yi"}


@dataclass
class Metadata:
    title: str = ""
    subtitle: str = ""
    authors: list[str] = field(default_factory=list)
    language: str = "en"
    date: str = ""
    publisher: str = ""
    rights: str = ""
    description: str = ""
    identifier: str = ""  # a URN: urn:isbn:..., urn:uuid:..., or the author's own
    cover_image: str = ""  # a reference to an image in the manuscript
    feeds: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return "rtl" if self.language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metadata:
        return cls(**data)


@dataclass
class ChapterSource:
    """One chapter as the parse step leaves it: not yet rendered or sanitised. Lives in memory only."""

    number: int
    title: str
    format: str  # "tokens" (markdown-it tokens) or "html"
    body: Any  # tokens for "tokens", an HTML string for "html"
    footnotes: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "label", "body"}]
    # The project file it came from, in a book of many files ('' for a one-file manuscript): its
    # links to other files and to its own headings are read relative to it (links.py).
    source_file: str = ""
    # How deep the table of contents puts it: 0 at the top, 1 under a part or a chapter, and so on.
    depth: int = 0
    part: bool = False  # a part's title page (a SUMMARY.md `# Part`), not a chapter


@dataclass
class Heading:
    level: int
    id: str
    text: str


@dataclass
class RenderedChapter:
    """A chapter as sanitised XHTML body content, with what the navigation needs."""

    number: int
    title: str
    body: str  # XHTML fragment; images as `quire-image:<key>` placeholders
    headings: list[Heading]  # h2/h3 (and deeper up to the nav depth) inside the chapter
    image_keys: list[str]
    warnings: list[str] = field(default_factory=list)
    images_without_alt: int = 0  # the package decides the accessibility summary from it
    depth: int = 0  # ChapterSource.depth
    part: bool = False  # ChapterSource.part
    # Images the chapter links to (a thumbnail's full-size picture), by key: the alt text of the
    # page each writer makes for one (links.IMAGE_PAGE_PLACEHOLDER).
    image_pages: dict[str, str] = field(default_factory=dict)

    @property
    def file_stem(self) -> str:
        return f"ch{self.number:03d}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderedChapter:
        headings = [Heading(**h) for h in data.get("headings", [])]
        return cls(**{**data, "headings": headings})


@dataclass(frozen=True)
class ImageCopy:
    """A smaller copy of a processed photo, for the web-app book's phones (`srcset`): same format."""

    width: int
    height: int
    data: bytes = field(repr=False, default=b"")


@dataclass
class ProcessedImage:
    key: str
    media_type: str
    extension: str
    width: int
    height: int
    data: bytes = field(repr=False, default=b"")
    copies: tuple[ImageCopy, ...] = ()  # narrowest first; the EPUB and the PDF use `data` only

    @property
    def file_name(self) -> str:
        return f"{self.key}.{self.extension}"

    def copy_name(self, copy: ImageCopy) -> str:
        return f"{self.key}-{copy.width}w.{self.extension}"

    def meta(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "media_type": self.media_type,
            "extension": self.extension,
            "width": self.width,
            "height": self.height,
        }


def pack_images(images: list[ProcessedImage]) -> bytes:
    """Processed images as one checkpoint: a JSON header line (metadata and sizes), then the bytes,
    each image's own followed by its copies'."""
    header = [
        {
            **image.meta(),
            "size": len(image.data),
            **({"copies": [[c.width, c.height, len(c.data)] for c in image.copies]} if image.copies else {}),
        }
        for image in images
    ]
    chunks = (chunk for image in images for chunk in (image.data, *(c.data for c in image.copies)))
    return json.dumps(header, sort_keys=True).encode() + b"\n" + b"".join(chunks)


def unpack_images(packed: bytes) -> list[ProcessedImage]:
    header_line, _, data = packed.partition(b"\n")
    images = []
    offset = 0
    for entry in json.loads(header_line):
        size = entry.pop("size")
        own = data[offset : offset + size]
        offset += size
        copies = []
        for width, height, copy_size in entry.pop("copies", []):  # none in a checkpoint from before copies
            copies.append(ImageCopy(width, height, data[offset : offset + copy_size]))
            offset += copy_size
        images.append(ProcessedImage(**entry, data=own, copies=tuple(copies)))
    if offset != len(data):
        raise ValueError("a packed image checkpoint does not match its header")
    return images


@dataclass
class ParsedBook:
    metadata: Metadata
    chapters: list[ChapterSource]
    image_refs: dict[str, str]  # normalised reference → image key
    # key → original bytes; read from the upload's files on each access (readers/images.py)
    image_sources: Mapping[str, bytes] = field(repr=False, default_factory=dict)
    image_sizes: dict[str, int] = field(default_factory=dict)  # key → bytes of the original
    image_names: dict[str, str] = field(default_factory=dict)  # key → the name the author used
    cover_key: str = ""
    warnings: list[str] = field(default_factory=list)
    # The manuscript's own file names (its path in a zip, its base name): links that use them
    # point inside the book.
    own_names: frozenset[str] = frozenset()
    # The heading level chapters begin at: the one asked for, or deeper (readers/outline.py).
    split_level: int = 1

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
    def from_plain_meta(cls, data: dict[str, Any], image_sources: Mapping[str, bytes] | None = None) -> ParsedBook:
        return cls(
            metadata=Metadata.from_dict(data["metadata"]),
            chapters=[],
            image_refs=data["image_refs"],
            image_sources=image_sources or {},
            image_names=data["image_names"],
            cover_key=data["cover_key"],
            warnings=list(data["warnings"]),
        )
