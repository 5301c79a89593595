"""Storage errors: the SDKs' exceptions translated into the four kinds the app acts on
(shared/errors.py draws where each sits)."""

from __future__ import annotations

import re
from typing import Any

from shared.errors import LostRace, TransientError


class StorageError(Exception):
    """Base of the storage errors below."""


class StorageUnavailable(StorageError, TransientError):
    """Storage could not be reached or answered with a server error: try again later."""


class StorageAccessDenied(StorageUnavailable):
    """Storage refused the app's credentials (403): a token for the wrong audience, an expired one,
    or an identity without its role (role assignments take minutes to apply: worth retrying)."""


class IdentityUnavailable(StorageAccessDenied):
    """No token could be had from the app's identity (its endpoint unreachable or refusing)."""


class NotFound(StorageError):
    """The blob, entity or message does not exist."""


class AlreadyExists(StorageError, LostRace):
    """A create-only write found the item already there."""


class Conflict(StorageError, LostRace):
    """An ETag-conditional write found the item changed since it was read."""


def translate_error(error: Exception) -> Exception:
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(error, StorageError):
        return error
    if isinstance(error, HttpResponseError) and error.status_code == 403:
        return StorageAccessDenied(f"storage refused the app's credentials: {_refusal_reason(error)}")
    if isinstance(error, ResourceNotFoundError):
        return NotFound(str(error))
    if isinstance(error, ResourceModifiedError):
        return Conflict(str(error))
    if isinstance(error, ResourceExistsError):
        return AlreadyExists(str(error))
    if isinstance(error, HttpResponseError) and error.status_code == 412:
        return Conflict(str(error))
    if isinstance(error, HttpResponseError) and error.status_code == 409:
        return AlreadyExists(str(error))
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return StorageUnavailable(f"storage could not be reached: {type(error).__name__}")
    if isinstance(error, HttpResponseError) and (error.status_code or 0) >= 500:
        return StorageUnavailable(f"storage answered {error.status_code}")
    return error


def _refusal_reason(error: Any) -> str:
    """The service's code and its detail line ("Invalid token audience."), never the request."""
    raw_code = getattr(error, "error_code", None)
    code = str(getattr(raw_code, "value", raw_code) or "")
    detail = re.search(r"AuthenticationErrorDetail:\s*(.+)", str(error), re.IGNORECASE)
    reason = detail.group(1).strip() if detail else ""
    return f"{code or 'Forbidden'}{f' ({reason})' if reason else ''}"


class errors_translated:
    """Context manager: re-raise SDK errors as this module's errors."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, Exception):
            translated = translate_error(exc)
            if translated is not exc:
                raise translated from exc
