"""The book model shared by the readers, the renderers and the writers. Plain, JSON-able data."""

from __future__ import annotations

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
    """One chapter as the parse step leaves it: not yet rendered or sanitised."""

    number: int
    title: str
    format: str  # "tokens" (markdown-it tokens, or their dicts in a checkpoint) or "html"
    body: Any  # tokens for "tokens", an HTML string for "html"
    footnotes: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "label", "body"}]
    size: int = 0  # characters of source text, to size render batches

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: tokens become dicts only here, when a checkpoint is written."""
        return {
            "number": self.number,
            "title": self.title,
            "format": self.format,
            "body": _plain_tokens(self.body),
            "footnotes": [{**note, "body": _plain_tokens(note["body"])} for note in self.footnotes],
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChapterSource:
        return cls(**data)


# Fields a markdown-it Token restores by default; only the rest is written to a checkpoint.
_TOKEN_DEFAULTS: dict[str, Any] = {
    "attrs": {}, "map": None, "level": 0, "children": None, "content": "",
    "markup": "", "info": "", "meta": {}, "block": False, "hidden": False,
}  # fmt: skip


def _compact_token(token: Any) -> dict[str, Any]:
    """A token as a small dict: defaults left out, and no source line map (rendering never reads it)."""
    data = token if isinstance(token, dict) else token.as_dict(children=False)
    compact = {k: v for k, v in data.items() if k != "map" and _TOKEN_DEFAULTS.get(k, object()) != v}
    compact.setdefault("type", data["type"])
    compact.setdefault("tag", data.get("tag", ""))
    compact.setdefault("nesting", data.get("nesting", 0))
    children = data.get("children") if isinstance(token, dict) else token.children
    if children:
        compact["children"] = [_compact_token(child) for child in children]
    return compact


def _plain_tokens(body: Any) -> Any:
    if isinstance(body, list):
        return [_compact_token(t) for t in body]
    return body


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

    @property
    def file_stem(self) -> str:
        return f"ch{self.number:03d}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderedChapter:
        headings = [Heading(**h) for h in data.get("headings", [])]
        return cls(**{**data, "headings": headings})


@dataclass
class ProcessedImage:
    key: str
    media_type: str
    extension: str
    width: int
    height: int
    data: bytes = field(repr=False, default=b"")

    @property
    def file_name(self) -> str:
        return f"{self.key}.{self.extension}"

    def meta(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "media_type": self.media_type,
            "extension": self.extension,
            "width": self.width,
            "height": self.height,
        }
