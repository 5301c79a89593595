"""The search index's word numbers (search_index.py): each a run of characters with no separator
between them, so a chapter is one string of them. Pure.
"""

from __future__ import annotations

# A word number: its last character from TERMINAL (base 62), those before it from CONTINUATION
# (bijective base 28). Neither alphabet needs escaping in JSON.
TERMINAL = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CONTINUATION = "!#$%&()*+-./:;<=>?@[]^_`{|}~"


def number(value: int) -> str:
    """`value` in the index's separator-free digits."""
    digits = TERMINAL[value % len(TERMINAL)]
    value //= len(TERMINAL)
    while value:
        value -= 1
        digits = CONTINUATION[value % len(CONTINUATION)] + digits
        value //= len(CONTINUATION)
    return digits


def numbers(encoded: str) -> list[int]:
    """The inverse of `number` over a run of them (what the page script does)."""
    found: list[int] = []
    pending = 0
    for char in encoded:
        place = CONTINUATION.find(char)
        if place >= 0:
            pending = pending * len(CONTINUATION) + place + 1
        else:
            found.append(pending * len(TERMINAL) + TERMINAL.index(char))
            pending = 0
    return found
