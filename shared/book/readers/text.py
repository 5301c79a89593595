"""Plain text: paragraphs, and headings recognised by their shape."""

from __future__ import annotations

import re

from shared.book.model import ChapterSource, Metadata, ParsedBook

_TEXT_HEADING = re.compile(
    r"^(?:(?:chapter|part|book)\s+(?:[0-9]+|[ivxlcdm]+|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|[a-z]+teen|twenty[- a-z]*|thirty[- a-z]*)\b.*|prologue|epilogue|preface|introduction|"
    r"afterword|foreword)$",
    re.IGNORECASE,
)


def read_text(text: str) -> ParsedBook:
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
    return ParsedBook(metadata=Metadata(), chapters=chapters, image_refs={})
