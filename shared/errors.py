"""What happens after an error, drawn once. Each kind says what the code that meets it does next.

    PermanentError              the input is at fault: fail the job with the message (written for
    │                           its author) and consume the message; every retry would fail again
    ├── ManuscriptError         shared/book/errors.py: the manuscript cannot be converted as uploaded
    └── BudgetExceeded          shared/budget/: a step needed more CPU time or memory than its budget

    TransientError              something around the work failed: let the queue retry the step with
    │                           back-off (the HTTP tier answers 503 with Retry-After instead)
    ├── StorageUnavailable      shared/storage.py: storage unreachable, or a server error
    ├── StepProcessDied         shared/budget/: a step's process ended without an answer
    └── MissingCheckpoint       shared/worker/checkpoints.py: a step's input is not there (yet)

    LostRace                    another delivery or worker got there first: stop quietly, it does
    │                           (or did) the same work
    ├── Conflict                shared/storage.py: an ETag-conditional write lost
    └── AlreadyExists           shared/storage.py: a create-only write found its name taken; a
                                checkpoint then must hold the same bytes

Outside the tree, each caught where it arises:

    NotFound                    shared/storage.py: no such blob or row (an unknown job: 404)
    UploadRejected              shared/intake/: an upload refused, with its kind (web/upload.py: status)
    BlockedURL, FeedError       shared/feeds/: a feed that must not be fetched, or cannot be read:
                                recorded on that feed, with back-off; never fails a book
    SettingError                shared/settings.py: a setting missing or malformed: the app does not start

Anything else is a bug: in a step it is counted on the job row and retried like a transient error,
so after maxDequeueCount deliveries the poison handler fails the job with its last failure.
"""

from __future__ import annotations


class PermanentError(Exception):
    """The input is at fault: the job fails with this message; no retry."""


class TransientError(Exception):
    """Something around the work failed: retry later."""


class LostRace(Exception):
    """Someone else got there first: stop quietly."""
