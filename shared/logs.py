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
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
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
