"""Log lines that carry the ids of the work they belong to, in one format.

A handler binds what it works on, and every line logged inside, through `get_logger`, ends with it:

    with logs.bound(invocation=context.invocation_id):
        with logs.bound(job=job_id, step="images:2"):
            log.info("step committed (%d/%d done)", 3, 5)
    # step committed (3/5 done) [invocation=6f1c… job=Xk2… step=images:2]

The ids live in a context variable: they follow the code into `asyncio` tasks by themselves, and
into a thread pool through `carrying_ids(work)`. A step's child process binds them again from
the arguments it is given, so its lines carry them too. The same ids are on each record as
`record.ids` (a dict) for handlers that keep fields apart (Application Insights' custom dimensions).

No credential reaches a log line: `redact(text)` masks bearer tokens and Authorization values,
owner keys, SAS signatures and the query strings of URLs (a feed's may carry a subscriber's
token). `install_redaction()` applies it to every record this process makes, message and
traceback, whichever logger or handler; `Redacting` is the same as a handler's filter, for
records made elsewhere (the stand-in host shows its worker's).

    redact("GET https://feeds.example/news.xml?token=s3cret failed")
    # 'GET https://feeds.example/news.xml?… failed'
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

_NO_IDS: Mapping[str, str] = MappingProxyType({})
_bound_ids: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("quire_log_ids", default=_NO_IDS)


@contextlib.contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Add `ids` to every line logged inside the block (None values are left out)."""
    added = {name: str(value) for name, value in ids.items() if value is not None}
    token = _bound_ids.set({**_bound_ids.get(), **added})
    try:
        yield
    finally:
        _bound_ids.reset(token)


def current_ids() -> Mapping[str, str]:
    """The ids bound here: which invocation, job and step this code runs for."""
    return _bound_ids.get()


def carrying_ids[**P, R](work: Callable[P, R]) -> Callable[P, R]:
    """`work` wrapped to run with the ids bound where it was wrapped (for thread pools, which do
    not copy context variables). Each call runs in its own copy, so threads never share one."""
    ids = _bound_ids.get()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _bound_ids.set(ids)
        try:
            return work(*args, **kwargs)
        finally:
            _bound_ids.reset(token)

    return run


class _BoundIdsAdapter(logging.LoggerAdapter[logging.Logger]):
    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        ids = _bound_ids.get()
        if ids and self.isEnabledFor(level):
            suffix = " ".join(f"{name}={value}" for name, value in ids.items())
            # A line with arguments is %-formatted: the suffix must then survive it.
            msg = f"{msg} [{suffix.replace('%', '%%') if args else suffix}]"
            kwargs["extra"] = {**kwargs.get("extra", {}), "ids": dict(ids)}
        super().log(level, msg, *args, **kwargs)


def get_logger(name: str) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose lines end with the ids bound where they are logged."""
    return _BoundIdsAdapter(logging.getLogger(name))


# -- redaction ------------------------------------------------------------------------------------

REDACTED = "[redacted]"
# Each pattern keeps what names the secret (group 1) and masks the secret itself. The query of an
# absolute URL goes whole (a feed's address may carry `?token=`, a SAS URL its signature); `sig=`
# is masked wherever it appears, and a token ends at whitespace or a quote, so a stray byte after
# a key (shown as \udce9, or as itself) goes with it.
_REDACTIONS = (
    (re.compile(r"(\bhttps?://[^\s?#'\"<>]+)\?[^\s#'\"<>]*", re.IGNORECASE), r"\1?…"),
    (re.compile(r"(\bhttps?://)[^\s/?#@'\"<>]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
    (re.compile(r"([?&;]sig=)[^&\s'\"<>]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (
        re.compile(r"(\bauthorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic)\s+)?[^\s'\",}]+", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(\bbearer\s+)[^\s'\",}]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"(quire_owner_)[^\s'\",}]*"), rf"\1{REDACTED}"),
    (re.compile(r"(quire_shelf_)[^\s'\",}]*"), rf"\1{REDACTED}"),
)


def url_for_logs(url: str) -> str:
    """A URL as a log line shows it: scheme, host and path, its query (which may carry a
    subscriber's token) left out. 'https://f.example/news.xml?token=x' → 'https://f.example/news.xml?…'."""
    address, mark, _ = url.partition("?")
    return f"{address.partition('#')[0]}?…" if mark else address.partition("#")[0]


def redact(text: str) -> str:
    """`text` with its credentials masked: bearer tokens and Authorization values, owner and shelf keys
    (`quire_owner_…`, `quire_shelf_…`), SAS signatures (`sig=`), and every absolute URL's query string and user info."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Mask the credentials in a record, in place: its message (formatted now, so arguments are
    covered), its traceback and its stack. A traceback that needed masking is kept only as text."""
    try:
        message = record.getMessage()
    except Exception:
        return  # the handler reports a malformed record; it shows no argument
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        shown = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if redact(shown) != shown:
            record.exc_info, record.exc_text = None, redact(shown)
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class Redacting(logging.Filter):
    """A handler's filter that masks the credentials in every record it lets through."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_redaction() -> None:
    """Mask the credentials in every record this process makes from now on, whichever logger
    makes it and whichever handlers (added before or after) show it. Calling it again adds nothing."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacts", False):
        return

    def make_redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redact_record(record)
        return record

    make_redacted.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_redacted)
