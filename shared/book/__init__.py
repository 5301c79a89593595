"""The conversion core: manuscript bytes in, EPUB 3 and web-app book bytes out.

Pure: no storage, no network, no clock. Time, ids and options are parameters. The conversion is
a sequence of small steps (`shared.book.steps`) that a worker can run and checkpoint one at a time;
`convert()` runs them all in order.

Every rejection of a manuscript raises `ManuscriptError` (shared.book.errors), whose message is
written for the author.
"""

from shared.book.errors import ManuscriptError
from shared.book.steps import Conversion, ConvertOptions, convert

__all__ = ["Conversion", "ConvertOptions", "ManuscriptError", "convert"]
