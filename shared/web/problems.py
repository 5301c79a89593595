"""The one place an error becomes a problem+json answer (RFC 9457).

Handlers raise instead of returning answers: a `Problem` for what only HTTP knows (a malformed id,
a body that is not JSON), or the domain error a use case raised (shared/errors.py `Refused`, an
upload's `UploadRejected`, `StorageUnavailable`). `answers_problems` wraps a handler and turns
whatever it raised of these into its answer; anything else is a bug and stays one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import azure.functions as func

from shared import logs
from shared.books.shelves import MAX_SHELF_BOOKS
from shared.errors import (
    BookErased,
    BookUnknown,
    FeedsRefused,
    JobUnknown,
    OwnerKeyRequired,
    Refused,
    ShelfErased,
    ShelfFull,
    ShelfKeyRequired,
    ShelfUnknown,
    TooManyConverting,
    UploadChanged,
    UploadExpired,
    UploadNotFinished,
    UploadUnknown,
    WrongOwnerKey,
    WrongShelfKey,
)
from shared.formats import MANUSCRIPT_TYPES
from shared.intake.rejections import Refusal, UploadRejected
from shared.library.record import MAX_CONVERTING_EDITIONS
from shared.storage import StorageUnavailable
from shared.web.responses import problem, storage_unavailable

log = logs.get_logger(__name__)

HTTP_STATUS = {
    Refusal.MALFORMED: 400,
    Refusal.LENGTH_REQUIRED: 411,
    Refusal.TOO_LARGE: 413,
    Refusal.UNSUPPORTED_TYPE: 415,
    Refusal.UNSAFE_ARCHIVE: 422,
    Refusal.INCOMPLETE: 409,
}
# When a book with too many editions converting may send another: conversions take seconds to minutes.
CONVERTING_RETRY_AFTER_SECONDS = 60
_ASK_FOR_KEY = {"WWW-Authenticate": 'Bearer realm="quire"'}


class Problem(Exception):
    """An answer only HTTP knows to give: its status, title, detail and headers."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {title}")
        self.status, self.title, self.detail, self.headers = status, title, detail, headers


def refused_answer(error: Refused) -> func.HttpResponse:
    """The answer to a refused request, by its kind."""
    match error:
        case OwnerKeyRequired(of_upload=True):
            detail = (
                "Submitting an upload needs the book's owner key (for a new book, the one handed out with the "
                "upload): send it as 'Authorization: Bearer <owner key>'."
            )
            return problem(401, "Owner key required", detail, headers=_ASK_FOR_KEY)
        case OwnerKeyRequired():
            detail = (
                "Changing a book needs its owner key, the one shown when the book was created: "
                "send it as 'Authorization: Bearer <owner key>'."
            )
            return problem(401, "Owner key required", detail, headers=_ASK_FOR_KEY)
        case WrongOwnerKey(of_upload=True):
            detail = "This is not the owner key of the upload's book (or it was rotated). Nothing was changed."
            return problem(403, "Wrong owner key", detail)
        case WrongOwnerKey():
            detail = (
                "This is not the book's owner key (or it was rotated). Use the key shown when the book was "
                "created or last rotated; nothing was changed."
            )
            return problem(403, "Wrong owner key", detail)
        case BookErased():
            return problem(410, "Book deleted", "This book was deleted by its owner. Nothing of it is kept.")
        case BookUnknown():
            return problem(404, "Unknown book", "No book has this id. Check the link.")
        case JobUnknown():
            return problem(404, "Unknown job", "No manuscript has this id. Check the link, or upload it again.")
        case TooManyConverting():
            return problem(
                429,
                "Too many editions converting",
                f"This book has {MAX_CONVERTING_EDITIONS} or more editions still converting; wait for them to "
                "finish, then send the new edition again (a direct upload is kept: submit it again).",
                headers={"Retry-After": str(CONVERTING_RETRY_AFTER_SECONDS)},
            )
        case FeedsRefused():
            return problem(400, "Feed not accepted", f"This feed list was not accepted: {error}.")
        case UploadUnknown():
            return problem(
                404,
                "Unknown upload",
                "No upload has this id: it was never handed out, or it was refused, or it expired and was "
                "deleted. Ask for a new upload.",
            )
        case UploadExpired():
            return problem(
                410,
                "Upload expired",
                "This upload was not submitted in time and was deleted. Ask for a new upload and send the file again.",
            )
        case UploadNotFinished():
            return problem(
                409,
                "Upload not finished",
                "Nothing has been committed to the upload yet. Upload every block, commit the block list "
                "(Put Block List), then submit again.",
            )
        case UploadChanged():
            return problem(409, "Upload changed", "The upload was written again while it was checked. Submit again.")
    return shelf_refused_answer(error)


def shelf_refused_answer(error: Refused) -> func.HttpResponse:
    """The answer to a refused change or read of a shelf, by its kind."""
    match error:
        case ShelfKeyRequired():
            detail = (
                "Changing a shelf needs its shelf key, the one shown when the shelf was made: "
                "send it as 'Authorization: Bearer <shelf key>'."
            )
            return problem(401, "Shelf key required", detail, headers=_ASK_FOR_KEY)
        case WrongShelfKey():
            return problem(403, "Wrong shelf key", "This is not the shelf's key. Nothing was changed.")
        case ShelfErased():
            return problem(410, "Shelf deleted", "This shelf was deleted. Nothing of it is kept.")
        case ShelfUnknown():
            return problem(404, "Unknown shelf", "No shelf has this id. Check the link.")
        case ShelfFull():
            return problem(
                409,
                "Shelf full",
                f"A shelf holds at most {MAX_SHELF_BOOKS:,} books. Take some off, or make another shelf.",
            )
    raise TypeError(f"no answer for {type(error).__name__}")  # a new kind of refusal needs its answer here


def rejection_answer(rejection: UploadRejected) -> func.HttpResponse:
    """The problem answer for a refused upload, form or direct: the status its kind maps to."""
    status = HTTP_STATUS[rejection.refusal]
    log.info("upload rejected: %s %s", status, rejection.title)
    unsupported = rejection.refusal is Refusal.UNSUPPORTED_TYPE
    extra = {"accepted": [t.kind for t in MANUSCRIPT_TYPES]} if unsupported else {}
    return problem(status, rejection.title, rejection.detail, None, **extra)


def answer_for(error: Problem | Refused | UploadRejected | StorageUnavailable) -> func.HttpResponse:
    if isinstance(error, Problem):
        return problem(error.status, error.title, error.detail, headers=error.headers)
    if isinstance(error, Refused):
        return refused_answer(error)
    if isinstance(error, UploadRejected):
        return rejection_answer(error)
    return storage_unavailable()


def answers_problems[**P](handler: Callable[P, func.HttpResponse]) -> Callable[P, func.HttpResponse]:
    """`handler`, with what it raises of the errors above answered as problems."""

    @functools.wraps(handler)
    def answered(*args: P.args, **kwargs: P.kwargs) -> func.HttpResponse:
        try:
            return handler(*args, **kwargs)
        except (Problem, Refused, UploadRejected, StorageUnavailable) as error:
            return answer_for(error)

    return answered


Reply = tuple[func.HttpResponse, str | None]


def answers_problems_sending[**P](handler: Callable[P, Reply]) -> Callable[P, Reply]:
    """As `answers_problems`, for a handler that also returns the message to send: a problem sends none."""

    @functools.wraps(handler)
    def answered(*args: P.args, **kwargs: P.kwargs) -> Reply:
        try:
            return handler(*args, **kwargs)
        except (Problem, Refused, UploadRejected, StorageUnavailable) as error:
            return answer_for(error), None

    return answered
