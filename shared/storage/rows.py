"""Compare-and-swap on one table row: the only way a job's or a book's row changes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from shared.storage.errors import Conflict
from shared.storage.tables import TableOperations

# Commits to one row form a chain; this many lost races in a row means something is wrong.
MAX_COMMIT_ATTEMPTS = 50


def changed_row[T](
    storage: TableOperations,
    table: str,
    keys: tuple[str, str],
    parse: Callable[[dict[str, Any]], T],
    serialise: Callable[[T], dict[str, Any]],
    change: Callable[[T], T | None],
) -> T | None:
    """Read the row with its ETag, apply `change`, write the result with If-Match; on a lost race
    read again. `change` returns the new value, or None when there is nothing (left) to do: then
    nothing is written and None is returned. It must be pure: it may run several times. NotFound
    when there is no such row."""
    for attempt in range(MAX_COMMIT_ATTEMPTS):
        entity = storage.get_entity(table, *keys)
        changed = change(parse(entity.properties))
        if changed is None:
            return None
        try:
            storage.update_entity(table, serialise(changed), etag=entity.etag)
            return changed
        except Conflict:
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # another writer committed first
    raise Conflict(f"{table} {keys[0]}: gave up after {MAX_COMMIT_ATTEMPTS} lost races")
