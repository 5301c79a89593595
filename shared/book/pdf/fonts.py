"""Fonts for what Typst's embedded fonts (Libertinus Serif, New Computer Modern, DejaVu Sans Mono:
Latin, Greek, Cyrillic, Hebrew) do not cover. They come as Python wheels (requirements.txt), so
they deploy with the app: Flex Consumption cannot install system fonts.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

FONT_PACKAGES = (
    "manimgx_fonts",  # Noto Sans for Arabic, Indic, Thai, Khmer, Ethiopic...; Noto Emoji; symbols
    "cvttf_NotoSansCJK_Regular",  # Noto Sans CJK, static Regular (the variable one opens at Thin)
)
# After the body font, in the order Typst tries them for a character the ones before lack.
FALLBACK_FAMILIES = (
    "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Devanagari", "Noto Sans Bengali",
    "Noto Sans Gurmukhi", "Noto Sans Gujarati", "Noto Sans Oriya", "Noto Sans Tamil",
    "Noto Sans Telugu", "Noto Sans Kannada", "Noto Sans Malayalam", "Noto Sans Sinhala",
    "Noto Sans Thai", "Noto Sans Lao", "Noto Sans Khmer", "Noto Sans Myanmar", "Noto Sans Georgian",
    "Noto Sans Armenian", "Noto Sans Ethiopic", "Noto Sans CJK TC", "Noto Sans", "Noto Sans Symbols",
    "Noto Emoji",
)  # fmt: skip
BODY_FONT = "Libertinus Serif"
CODE_FONT = "DejaVu Sans Mono"


@cache
def font_folders() -> tuple[str, ...]:
    """The folders holding the extra fonts that are installed (a missing one is skipped: its
    scripts' text then fails the PDF/UA check, which names the text)."""
    folders = []
    for package in FONT_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            folders.append(str(Path(spec.origin).parent))
    return tuple(folders)


def body_fonts() -> tuple[str, ...]:
    return (BODY_FONT, *FALLBACK_FAMILIES)


def code_fonts() -> tuple[str, ...]:
    return (CODE_FONT, *FALLBACK_FAMILIES)
