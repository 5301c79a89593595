"""The one error type the conversion raises for a manuscript it cannot use (shared/errors.py
draws where it sits among the others).

    ManuscriptError            the manuscript is unusable as uploaded (permanent: do not retry)

Its message says what is wrong and what the author can do. Anything else raised by the
conversion is a bug or a resource problem, not the author's fault.
"""

from __future__ import annotations

from shared.errors import PermanentError


class ManuscriptError(PermanentError):
    """The manuscript cannot be converted; `str(error)` tells the author why and what to do."""


# What a warning about an image missing from the upload tells the author to do.
ADD_IMAGES_ADVICE = "To include it, upload a zip holding the manuscript and its images, with the paths the text uses."
