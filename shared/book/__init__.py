"""The conversion core: manuscript bytes in, EPUB 3 and web-app book bytes out.

Pure: no storage, no network, no clock. Time, ids and options are parameters. The conversion is
a sequence of small steps (`shared.book.conversion`) that a worker can run and checkpoint one at a time;
`convert()` runs them all in order.

Every rejection of a manuscript raises `ManuscriptError` (shared.book.errors), whose message is
written for the author.
"""

from __future__ import annotations

from typing import Any

from shared.book.errors import ManuscriptError

__all__ = ["Conversion", "ConvertOptions", "ManuscriptError", "convert"]


def __getattr__(name: str) -> Any:
    # The steps pull in every reader and writer; load them when first used, not when the
    # Functions app is imported (cold start).
    if name in ("Conversion", "ConvertOptions", "convert"):
        from shared.book import conversion

        return getattr(conversion, name)
    raise AttributeError(name)
