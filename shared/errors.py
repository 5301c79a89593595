"""What happens after an error, drawn once. Each kind says what the code that meets it does next.

    PermanentError              the input is at fault: fail the job with the message (written for
    │                           its author) and consume the message; every retry would fail again
    ├── ManuscriptError         shared/book/errors.py: the manuscript cannot be converted as uploaded
    └── BudgetExceeded          shared/budget/: a step needed more CPU time or memory than its budget

    TransientError              something around the work failed: let the queue retry the step with
    │                           back-off (the HTTP tier answers 503 with Retry-After instead)
    ├── StorageUnavailable      shared/storage/errors.py: storage unreachable, or a server error
    ├── StepProcessDied         shared/budget/: a step's process ended without an answer
    └── MissingCheckpoint       shared/worker/checkpoints.py: a step's input is not there (yet)

    LostRace                    another delivery or worker got there first: stop quietly, it does
    │                           (or did) the same work
    ├── Conflict                shared/storage/errors.py: an ETag-conditional write lost
    └── AlreadyExists           shared/storage/errors.py: a create-only write found its name taken; a
                                checkpoint then must hold the same bytes

    Refused                     the caller asked for what cannot be done, and nothing changed: the
    │                           web tier answers why (shared/web/problems.py)
    ├── BookUnknown             no book has this id
    ├── BookErased              the book is being erased, or was
    ├── JobUnknown              no job has this id
    ├── OwnerKeyRequired        a change without the book's owner key
    ├── WrongOwnerKey           a key that does not open the book (or the upload's book)
    ├── TooManyConverting       a book with too many editions converting for another one
    ├── FeedsRefused            a feed list with a feed that must not be followed
    ├── UploadUnknown           no direct upload (nor its job) has this id
    ├── UploadExpired           a direct upload given up before it was submitted
    ├── UploadNotFinished       a direct upload submitted before its blob was committed
    ├── UploadChanged           a direct upload written again while it was checked
    ├── ShelfUnknown            no shelf has this id
    ├── ShelfErased             the shelf is being erased, or was
    ├── ShelfKeyRequired        a change to a shelf without its shelf key
    ├── WrongShelfKey           a key that does not open the shelf
    └── ShelfFull               a shelf already holding MAX_SHELF_BOOKS books

Outside the tree, each caught where it arises:

    NotFound                    shared/storage/errors.py: no such blob or row (an unknown job: 404)
    UploadRejected              shared/intake/: an upload refused, with its kind (web/problems.py: status)
    BlockedURL, FeedError       shared/feeds/: a feed that must not be fetched, or cannot be read:
                                recorded on that feed, with back-off; never fails a book
    SettingError                shared/settings.py: a setting missing or malformed: the app does not start

Anything else is a bug: in a step it is counted on the job row and retried like a transient error,
so after maxDequeueCount deliveries the poison handler fails the job with its last failure.
"""

from __future__ import annotations


class PermanentError(Exception):
    """The input is at fault: the job fails with this message; no retry."""

    @property
    def log_summary(self) -> str:
        """What the worker's log line says of it: the message, unless a kind has a shorter one."""
        return str(self)


class TransientError(Exception):
    """Something around the work failed: retry later."""


class LostRace(Exception):
    """Someone else got there first: stop quietly."""


class Refused(Exception):
    """The caller asked for what cannot be done; nothing changed."""


class BookUnknown(Refused):
    """No book has this id."""


class BookErased(Refused):
    """The book is being erased, or was: nothing of it may be read or changed."""


class JobUnknown(Refused):
    """No job has this id."""


class OwnerKeyRequired(Refused):
    """A change was asked for without an owner key. `of_upload`: the key a direct upload's submit needs."""

    def __init__(self, *, of_upload: bool = False) -> None:
        super().__init__("owner key required")
        self.of_upload = of_upload


class WrongOwnerKey(Refused):
    """The key presented does not open the book. `of_upload`: presented at a direct upload's submit."""

    def __init__(self, *, of_upload: bool = False) -> None:
        super().__init__("wrong owner key")
        self.of_upload = of_upload


class TooManyConverting(Refused):
    """The book has too many editions still converting to take another now."""


class FeedsRefused(Refused):
    """A feed list was not accepted; the message names the first feed at fault and why."""


class UploadUnknown(Refused):
    """No direct upload has this id: never handed out, refused, or expired and deleted."""


class UploadExpired(Refused):
    """The direct upload was given up (or its book deleted) before it was submitted."""


class UploadNotFinished(Refused):
    """Nothing has been committed to the direct upload's blob yet."""


class UploadChanged(Refused):
    """The direct upload's blob was written again while it was being checked."""


class ShelfUnknown(Refused):
    """No shelf has this id."""


class ShelfErased(Refused):
    """The shelf is being erased, or was: nothing of it may be read or changed."""


class ShelfKeyRequired(Refused):
    """A change to a shelf was asked for without its shelf key."""


class WrongShelfKey(Refused):
    """The key presented does not open the shelf."""


class ShelfFull(Refused):
    """The shelf already holds as many books as a shelf may (shared/library/shelves.py MAX_SHELF_BOOKS)."""
