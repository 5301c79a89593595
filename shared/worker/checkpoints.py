"""Checkpoints: what one step leaves in the work container for the steps after it.

    {job}/parsed.json        the parse: metadata, image names and references (plan)
    {job}/chapters.json      the rendered chapters (plan)
    {job}/source/{key}       an image's source bytes, for a fanned-out batch (plan)
    {job}/images/{i}.bin     image batch i, processed (plan for the first batches, else images:i)
    {job}/changes.json       what changed since the previous edition, as first decided (package)

Every name is fixed by the job and the step, and every write is create-only: a repeated step finds
its outputs already there, and they must be the same bytes (steps are deterministic). The job's
clean-up deletes them all once it is finished.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.errors import TransientError
from shared.jobs.store import work_blob
from shared.storage import AlreadyExists, NotFound, Storage
from shared.storage.names import WORK_CONTAINER

if TYPE_CHECKING:
    from shared.book.model import ParsedBook, ProcessedImage

PARSED = "parsed.json"
CHAPTERS = "chapters.json"

# Blob reads and writes wait on the network, not the CPU: this many side by side.
STORAGE_THREADS = 8


class MissingCheckpoint(TransientError):
    """A step's input is not there (yet): transient, the queue retries the step."""


def source_name(key: str) -> str:
    return f"source/{key}"


def image_batch_name(index: int) -> str:
    return f"images/{index}.bin"


def storage_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=STORAGE_THREADS)


def in_parallel[T, R](work: Callable[[T], R], items: list[T]) -> list[R]:
    """Blob reads and writes side by side, results in order."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(STORAGE_THREADS, len(items))) as pool:
        return list(pool.map(logs.carrying_ids(work), items))


def write_once(storage: Storage, job_id: str, name: str, data: bytes, content_type: str) -> None:
    """Create-only write; an existing checkpoint must hold the same bytes."""
    blob = work_blob(job_id, name)
    try:
        storage.create_blob(WORK_CONTAINER, blob, data, content_type=content_type)
    except AlreadyExists:
        if storage.read_blob(WORK_CONTAINER, blob) != data:
            raise RuntimeError(f"{WORK_CONTAINER}/{blob} exists with different content") from None


def first_written(storage: Storage, job_id: str, name: str, make: Callable[[], bytes]) -> bytes:
    """The checkpoint as its first writer wrote it: made and written by this call when there is
    none yet. For what depends on more than the job (another edition), which a rerun must not redo."""
    blob = work_blob(job_id, name)
    try:
        return storage.read_blob(WORK_CONTAINER, blob)
    except NotFound:
        pass
    data = make()
    try:
        storage.create_blob(WORK_CONTAINER, blob, data, content_type="application/json")
    except AlreadyExists:
        return storage.read_blob(WORK_CONTAINER, blob)
    return data


def read(storage: Storage, job_id: str, name: str) -> bytes:
    try:
        return storage.read_blob(WORK_CONTAINER, work_blob(job_id, name))
    except NotFound:
        raise MissingCheckpoint(f"job {job_id}: the checkpoint {name} is missing") from None


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def load_parsed(storage: Storage, job_id: str) -> ParsedBook:
    from shared.book.model import ParsedBook

    return ParsedBook.from_plain_meta(json.loads(read(storage, job_id, PARSED)))


def packed_image_batch(index: int, images: list[ProcessedImage]) -> tuple[str, bytes, str]:
    """One batch of processed images, in batch order, as one checkpoint blob (not a blob per image)."""
    from shared.book.model import pack_images

    return image_batch_name(index), pack_images(images), "application/octet-stream"
