"""The web-app book's search index (`search.json`): every word of every chapter, by chapter and
position, for a search that works offline. Pure.

The text is what a browser's DOM holds for the chapter's `<article>`: its text nodes in order, a
space at the edges of block elements (a paragraph's last word and the next one's first are two
words), MathML's source annotations and the numbers of note references left out. It is cut into
words by the same rules here and in the page script (`WORDS_JS` below, which
`webapp_script.APP_JS` includes), so a query's words are the index's words and a hit's position is
the same word in the page:

- characters are taken a cluster at a time: a base character and the combining marks after it;
- a word is a run of clusters whose base is a letter or a digit (Unicode categories L and N);
  anything else (spaces, punctuation, apostrophes, hyphens) ends it: "l'homme" is "l" then
  "homme", "well-known" is "well" then "known", and a query for "well-known" is that phrase;
- in the scripts written without spaces between words (Chinese, Japanese kana, Thai, Lao,
  Myanmar, Khmer) each cluster is a word of its own, so a search there is a search for a run of
  characters: a phrase of one-character words;
- each cluster is folded: lower case (for a Turkish or Azerbaijani book, I is ı and İ is i first),
  diacritics dropped where they are accents (Latin, Greek, Cyrillic, Hebrew and Arabic points: é is
  e, ά is α), kept where they are letters (the Indic and South-East Asian scripts, and kana's
  voicing marks), compatibility forms unified (NFKC: ﬁ is fi, full and half width alike), ß as
  ss and ς as σ.

The index is small: the chapters' words as one list, most frequent first, then each chapter as the
sequence of its words' numbers, each number a few printable characters with no separator (the last
character from one alphabet, the ones before it from another). The page script reads it into
word → [chapter, position…] when the reader first searches; a phrase is its words at consecutive
positions. No text is stored: snippets come from the chapter pages, which the service worker
caches anyway.
"""

from __future__ import annotations

import json
import re
import unicodedata
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.book.search_numbers import CONTINUATION, TERMINAL, number, numbers

SEARCH_INDEX = "search.json"
INDEX_VERSION = 1

# Scripts written without spaces between words: every character (cluster) is a word of its own.
NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B onwards
)
# Scripts whose combining marks are letters, not accents: not folded away.
KEEP_MARKS_RANGES = ((0x0900, 0x109F), (0x1780, 0x17FF), *NO_SPACE_RANGES)
TURKIC_LANGUAGES = {"tr", "az"}
# Block elements: a word ends at their edges. Skipped elements: not text a reader sees.
BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})  # fmt: skip
SKIPPED_TAGS = frozenset({"annotation", "annotation-xml", "script", "style", "template"})
# A note reference's number is no part of the word it follows ("night¹" is "night"), nor is the
# number leading back from a note.
SKIPPED_ROLES = frozenset({"doc-noteref", "doc-backlink"})


def _within(code: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@lru_cache(maxsize=65536)
def fold(cluster: str, turkic: bool = False) -> str:
    """One cluster (a base character and its combining marks) as the index spells it."""
    base = ord(cluster[0])
    text = cluster.replace("I", "ı").replace("İ", "i") if turkic else cluster
    text = text.lower()
    if not _within(base, KEEP_MARKS_RANGES):
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")
    # Lower case again: compatibility forms (𝔄, Ⓐ) are capitals only once normalised.
    return unicodedata.normalize("NFKC", text).lower().replace("ß", "ss").replace("ς", "σ")


def _clusters(text: str) -> Iterable[str]:
    cluster = ""
    for char in text:
        if cluster and unicodedata.category(char)[0] == "M":
            cluster += char
        else:
            if cluster:
                yield cluster
            cluster = char
    if cluster:
        yield cluster


# Punctuation common in prose, which ends a word like a space does: read as one, so that more of
# the text takes the quick way (ASCII) in `words`.
_PUNCTUATION = re.compile("[\u00a0\u00ab\u00bb\u2010\u2011\u2013\u2014\u2018\u2019\u201c\u201d\u2026]")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
# A run between white spaces with a character beyond ASCII in it (\s and str.split() agree on space).
_NON_ASCII_RUN = re.compile(r"(?<!\S)\S*[^\x00-\x7f\s]\S*")


def words(text: str, language: str = "") -> list[str]:
    """The folded words of `text`, in order (see the module's docstring for the rules)."""
    turkic = language.split("-")[0].lower() in TURKIC_LANGUAGES
    text = _PUNCTUATION.sub(" ", text)
    # Each run between white spaces is read alone; ASCII ones (in Turkic, without an I) many at a time.
    if turkic:
        return [
            w
            for run in text.split()
            for w in (_run_words(run, True) if "I" in run or not run.isascii() else _ascii_words(run))
        ]
    found: list[str] = []
    at = 0
    for run in () if text.isascii() else _NON_ASCII_RUN.finditer(text):
        found += _ascii_words(text[at : run.start()])
        found += _run_words(run.group(), False)
        at = run.end()
    return found + _ascii_words(text[at:])


def _ascii_words(text: str) -> list[str]:
    return _ASCII_WORD.findall(text.lower())


def _run_words(text: str, turkic: bool) -> list[str]:
    found: list[str] = []
    word = ""
    for cluster in _clusters(text):
        if unicodedata.category(cluster[0])[0] not in "LN":
            if word:
                found.append(word)
                word = ""
        elif _within(ord(cluster[0]), NO_SPACE_RANGES):
            if word:
                found.append(word)
                word = ""
            found.append(fold(cluster, turkic))
        else:
            word += fold(cluster, turkic)
    if word:
        found.append(word)
    return found


def chapter_text(body: str) -> str:
    """The text of a chapter's HTML as the page's DOM has it, a space at each block's edges."""
    from lxml import html as lxml_html

    root = lxml_html.fragment_fromstring(body, create_parent="div")
    pieces: list[str] = []

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        name = tag.rsplit("}", 1)[-1].lower()
        if tag and name not in SKIPPED_TAGS and element.get("role") not in SKIPPED_ROLES:
            block = name in BLOCK_TAGS
            if block:
                pieces.append(" ")
            pieces.append(element.text or "")
            for child in element:
                walk(child)
            if block:
                pieces.append(" ")
        pieces.append(element.tail or "")

    for child in root:
        walk(child)
    return (root.text or "") + "".join(pieces)


@dataclass(frozen=True)
class IndexedChapter:
    href: str  # relative to the book's root
    title: str
    body: str  # the HTML of the page's <article>


def build_index(chapters: list[IndexedChapter], language: str) -> bytes:
    """`search.json` for these chapters, in reading order. Each chapter's words are numbered as
    they are read (an array of 4-byte numbers, not a list of strings: 63 MB of text took 600 MB
    as strings), then renumbered by frequency."""
    first_seen: dict[str, int] = {}
    counts: list[int] = []
    sequences: list[array[int]] = []
    for chapter in chapters:
        sequence = array("I")
        for word in words(chapter_text(chapter.body), language):
            seen = first_seen.setdefault(word, len(first_seen))
            if seen == len(counts):
                counts.append(0)
            counts[seen] += 1
            sequence.append(seen)
        sequences.append(sequence)
    # Most frequent first (the commonest words get one-character numbers), ties alphabetical.
    vocabulary = sorted(first_seen, key=lambda word: (-counts[first_seen[word]], word))
    codes = [""] * len(vocabulary)
    for position, word in enumerate(vocabulary):
        codes[first_seen[word]] = number(position)
    index = {
        "version": INDEX_VERSION,
        "language": language,
        "chapters": [{"href": chapter.href, "title": chapter.title} for chapter in chapters],
        "words": "\n".join(vocabulary),
        "text": ["".join(map(codes.__getitem__, sequence)) for sequence in sequences],
    }
    return json.dumps(index, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_index(data: bytes) -> dict[str, Any]:
    """An index's chapters as word lists again (for tests and the bench)."""
    index = json.loads(data)
    vocabulary = index["words"].split("\n") if index["words"] else []
    return {
        **index,
        "text": [[vocabulary[value] for value in numbers(encoded)] for encoded in index["text"]],
    }


def text_size(chapters: list[IndexedChapter]) -> int:
    """The book's text, in UTF-8 bytes, runs of white space counted once: what the index's size is
    measured against."""
    return sum(len(" ".join(chapter_text(chapter.body).split()).encode("utf-8")) for chapter in chapters)


# The same rules in the page script's JS (`quireText`): the same words, in the same order, as the
# index has for a chapter, with where each is in the text; `collect` reads a DOM element's text as
# `chapter_text` reads its HTML; `numbers` reads the index's word numbers.
WORDS_JS = (
    r"""var quireText = (function () {
  var NO_SPACE = __NO_SPACE__, KEEP_MARKS = __KEEP_MARKS__, TURKIC = __TURKIC__;
  var BLOCK = __BLOCK__, SKIPPED = __SKIPPED__, SKIPPED_ROLES = __SKIPPED_ROLES__;
  var TERMINAL = __TERMINAL__, CONTINUATION = __CONTINUATION__;
  var CLUSTER = /\P{M}\p{M}*|\p{M}+/gu, WORDLIKE = /^[\p{L}\p{N}]/u, ACCENT = /\p{Mn}/gu;

  function within(code, ranges) {
    for (var i = 0; i < ranges.length; i++) {
      if (code >= ranges[i][0] && code <= ranges[i][1]) { return true; }
    }
    return false;
  }

  var folded = [new Map(), new Map()];  // a book has a few thousand clusters: each is folded once

  function fold(cluster, turkic) {
    var known = folded[turkic ? 1 : 0], text = known.get(cluster);
    if (text !== undefined) { return text; }
    text = turkic ? cluster.replace(/I/g, '\u0131').replace(/\u0130/g, 'i') : cluster;
    text = text.toLowerCase();
    if (!within(cluster.codePointAt(0), KEEP_MARKS)) { text = text.normalize('NFKD').replace(ACCENT, ''); }
    text = text.normalize('NFKC').toLowerCase().replace(/\u00df/g, 'ss').replace(/\u03c2/g, '\u03c3');
    known.set(cluster, text);
    return text;
  }

  // [{word, start, end}]: each word of `text`, folded, and where it is (UTF-16 offsets).
  function words(text, language) {
    var turkic = TURKIC.indexOf(String(language || '').split('-')[0].toLowerCase()) >= 0;
    var found = [], word = '', start = 0, end = 0, match;
    var flush = function () { if (word) { found.push({ word: word, start: start, end: end }); word = ''; } };
    CLUSTER.lastIndex = 0;
    while ((match = CLUSTER.exec(text)) !== null) {
      var cluster = match[0], at = match.index;
      if (!WORDLIKE.test(cluster)) {
        flush();
      } else if (within(cluster.codePointAt(0), NO_SPACE)) {
        flush();
        found.push({ word: fold(cluster, turkic), start: at, end: at + cluster.length });
      } else {
        if (!word) { start = at; }
        word += fold(cluster, turkic);
        end = at + cluster.length;
      }
    }
    flush();
    return found;
  }

  // The text of an element as the index read it, and where each text node starts in it.
  function collect(root) {
    var parts = [], nodes = [], length = 0;
    var add = function (text, node) {
      if (node) { nodes.push({ node: node, start: length }); }
      parts.push(text);
      length += text.length;
    };
    var walk = function (node) {
      if (node.nodeType === 3) { add(node.data, node); return; }
      if (node.nodeType !== 1) { return; }
      var name = node.localName.toLowerCase();
      if (SKIPPED.indexOf(name) >= 0 || SKIPPED_ROLES.indexOf(node.getAttribute('role')) >= 0) { return; }
      var block = BLOCK.indexOf(name) >= 0;
      if (block) { add(' '); }
      for (var child = node.firstChild; child; child = child.nextSibling) { walk(child); }
      if (block) { add(' '); }
    };
    for (var child = root.firstChild; child; child = child.nextSibling) { walk(child); }
    return { text: parts.join(''), nodes: nodes };
  }

  // The index's word numbers: the last character of each from TERMINAL, any before it from CONTINUATION.
  function numbers(encoded) {
    var found = [], pending = 0;
    for (var i = 0; i < encoded.length; i++) {
      var place = CONTINUATION.indexOf(encoded[i]);
      if (place >= 0) { pending = pending * CONTINUATION.length + place + 1; }
      else { found.push(pending * TERMINAL.length + TERMINAL.indexOf(encoded[i])); pending = 0; }
    }
    return found;
  }

  return { fold: fold, words: words, collect: collect, numbers: numbers };
})();
""".replace("__NO_SPACE__", json.dumps([list(r) for r in NO_SPACE_RANGES]))
    .replace("__KEEP_MARKS__", json.dumps([list(r) for r in KEEP_MARKS_RANGES]))
    .replace("__TURKIC__", json.dumps(sorted(TURKIC_LANGUAGES)))
    .replace("__BLOCK__", json.dumps(sorted(BLOCK_TAGS)))
    .replace("__SKIPPED_ROLES__", json.dumps(sorted(SKIPPED_ROLES)))
    .replace("__SKIPPED__", json.dumps(sorted(SKIPPED_TAGS)))
    .replace("__TERMINAL__", json.dumps(TERMINAL))
    .replace("__CONTINUATION__", json.dumps(CONTINUATION))
)
