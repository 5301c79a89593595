"""What changed between two editions of a book, chapter by chapter. Pure: no I/O.

Each edition keeps a compact text of its chapters (`text_fingerprint`: every chapter's title and
paragraphs as plain text, gzipped JSON), so the next edition compares against it without opening
the previous EPUB. Chapters are matched by title (the n-th chapter of a title with the n-th of the
same title: file stems are positions, ch001…, and shift when a chapter is inserted); a chapter left
over whose title changed is matched with one left over between the same neighbours when most of
its words are the same.

How much a chapter changed is the share of its words, old and new, that the two texts do not
share, in order (difflib's ratio, on words): paragraphs are compared first, as whole strings, so
only the paragraphs that differ are compared word by word. bench/changes.py measures it on a 5 MB
book: 0.15–0.3 s with every chapter edited a little, 1.1–2.3 s with every chapter rewritten (the worst
case), about as long as parsing and rendering it.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from shared.book.model import RenderedChapter

FINGERPRINT_VERSION = 1
# A run of paragraphs that differ is compared word by word up to this many words on both sides;
# beyond it (a chapter rewritten), by the words they share in any order, which is linear.
WORD_DIFF_LIMIT = 40_000
# A chapter left over whose title changed is the same chapter when at most this share changed.
RENAMED_AT_MOST = 0.5
RENAME_CANDIDATES = 3  # how many left-over chapters of the previous edition each is tried against
# The summary lives in a table property (64 KiB, 32,768 UTF-16 units): lists and titles are bounded,
# so the fullest summary takes about 22,300 units (tests/book/test_changes.py); counts are whole.
MAX_LISTED = 50
MAX_TITLE_CHARS = 80

_BLOCK_END = re.compile(
    r"</(?:p|h[1-6]|li|dd|dt|blockquote|pre|tr|th|td|figcaption|caption|div|section|aside|header|footer)>"
    r"|<br\s*/?>|<hr\s*/?>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class ChapterText:
    """One chapter's plain text: its title, its page's stem in its edition (ch003), its paragraphs."""

    title: str
    stem: str
    paragraphs: list[str]

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


def paragraphs_of(body: str) -> list[str]:
    """A chapter's XHTML body as paragraphs of plain text (block ends split, tags dropped, entities
    read, whitespace collapsed); empty ones dropped."""
    text = html.unescape(_TAG.sub(" ", _BLOCK_END.sub("\n", body)))
    return [line for line in (" ".join(raw.split()) for raw in text.split("\n")) if line]


def chapter_texts(chapters: list[RenderedChapter]) -> list[ChapterText]:
    return [ChapterText(c.title, c.file_stem, paragraphs_of(c.body)) for c in sorted(chapters, key=lambda c: c.number)]


def text_fingerprint(texts: list[ChapterText]) -> bytes:
    """The edition's chapters as the next edition reads them (gzipped JSON; the same bytes for the
    same chapters)."""
    data = {
        "version": FINGERPRINT_VERSION,
        "chapters": [{"title": t.title, "stem": t.stem, "paragraphs": t.paragraphs} for t in texts],
    }
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=1, mtime=0)  # 5 MB of text: 0.06 s, 28%; level 6: 0.4 s, 21%


def read_fingerprint(data: bytes) -> list[ChapterText] | None:
    """The chapters of a fingerprint; None for one this code cannot read (damaged, or a later version)."""
    try:
        parsed = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError):
        return None
    if not isinstance(parsed, dict) or parsed.get("version") != FINGERPRINT_VERSION:
        return None
    return [
        ChapterText(str(c.get("title", "")), str(c.get("stem", "")), [str(p) for p in c.get("paragraphs", [])])
        for c in parsed.get("chapters", [])
        if isinstance(c, dict)
    ]


# -- measuring --------------------------------------------------------------------------------------


def _shared_words(old: list[str], new: list[str]) -> int:
    """Words two runs of paragraphs share in order (in any order, past WORD_DIFF_LIMIT)."""
    old_words = " ".join(old).split()
    new_words = " ".join(new).split()
    if not old_words or not new_words:
        return 0
    if len(old_words) + len(new_words) > WORD_DIFF_LIMIT:
        return sum((Counter(old_words) & Counter(new_words)).values())
    matcher = SequenceMatcher(None, old_words, new_words)
    return sum(block.size for block in matcher.get_matching_blocks())


def changed_share(old: list[str], new: list[str]) -> float:
    """The share (0 to 1) of the words of two chapters' paragraphs that they do not share."""
    old_counts = [len(p.split()) for p in old]  # each paragraph's words, counted once
    total = sum(old_counts) + sum(len(p.split()) for p in new)
    if total == 0:
        return 0.0
    shared = 0
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            shared += sum(old_counts[i1:i2])
        elif tag == "replace":
            shared += _shared_words(old[i1:i2], new[j1:j2])
    return max(0.0, (total - 2 * shared) / total)


def percent(share: float) -> int:
    """A share as a whole percentage, never 0 for a change nor 100 for a chapter that kept something."""
    if share <= 0:
        return 0
    return min(max(round(share * 100), 1), 100 if share >= 1 else 99)


# -- matching ---------------------------------------------------------------------------------------


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def _keys(texts: list[ChapterText]) -> list[str]:
    """Each chapter's key: its title, with the occurrence when a title repeats (Notes, Notes #2)."""
    seen: Counter[str] = Counter()
    keys = []
    for text in texts:
        title = _title_key(text.title)
        seen[title] += 1
        keys.append(title if seen[title] == 1 else f"{title} #{seen[title]}")
    return keys


def match_chapters(old: list[ChapterText], new: list[ChapterText]) -> list[tuple[int | None, int | None]]:
    """Pairs (old index, new index) in the new edition's order, removed chapters (new None) after:
    by key, then a renamed chapter with a left-over one between the same matched neighbours."""
    old_index = {key: i for i, key in enumerate(_keys(old))}
    paired: dict[int, int] = {}  # new -> old
    for j, key in enumerate(_keys(new)):
        if key in old_index:
            paired[j] = old_index[key]
    taken = set(paired.values())
    # The left-overs between two matched chapters may be the same chapters, retitled.
    last_old = -1
    for j in range(len(new)):
        if j in paired:
            last_old = max(last_old, paired[j])
            continue
        following = next((paired[k] for k in range(j + 1, len(new)) if k in paired), len(old))
        candidates = [i for i in range(last_old + 1, following) if i not in taken][:RENAME_CANDIDATES]
        for i in candidates:
            if changed_share(old[i].paragraphs, new[j].paragraphs) <= RENAMED_AT_MOST:
                paired[j] = i
                taken.add(i)
                last_old = i
                break
    pairs: list[tuple[int | None, int | None]] = [(paired.get(j), j) for j in range(len(new))]
    pairs += [(i, None) for i in range(len(old)) if i not in taken]
    return pairs


# -- the summary ------------------------------------------------------------------------------------


def _title(text: str) -> str:
    return text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def compare(old: list[ChapterText], new: list[ChapterText], previous_edition: int) -> dict[str, Any]:
    """The summary of what changed from `old` (edition `previous_edition`) to `new`:

        {"previous_edition": 1,
         "added": [{"title": "Departure", "chapter": "ch003"}],
         "removed": [{"title": "Arrival"}],
         "changed": [{"title": "The Long Quay", "chapter": "ch002", "percent": 12,
                      "previous_title": "The Quay"}],     # previous_title: only when it was retitled
         "unchanged": 4,
         "counts": {"added": 1, "removed": 1, "changed": 1, "unchanged": 4}}

    Lists are in the new edition's order (removed ones in the old edition's), at most MAX_LISTED
    each; `chapter` is the chapter's page in the new edition (chapters/ch003.html in the web app)."""
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    for i, j in match_chapters(old, new):
        if i is None and j is not None:
            added.append({"title": _title(new[j].title), "chapter": new[j].stem})
        elif j is None and i is not None:
            removed.append({"title": _title(old[i].title)})
        elif i is not None and j is not None:
            share = (
                0.0 if old[i].paragraphs == new[j].paragraphs else changed_share(old[i].paragraphs, new[j].paragraphs)
            )
            retitled = _title_key(old[i].title) != _title_key(new[j].title)
            if share == 0 and not retitled:
                unchanged += 1
                continue
            entry: dict[str, Any] = {"title": _title(new[j].title), "chapter": new[j].stem, "percent": percent(share)}
            if retitled:
                entry["previous_title"] = _title(old[i].title)
            changed.append(entry)
    return {
        "previous_edition": previous_edition,
        "added": added[:MAX_LISTED],
        "removed": removed[:MAX_LISTED],
        "changed": changed[:MAX_LISTED],
        "unchanged": unchanged,
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed), "unchanged": unchanged},
    }
